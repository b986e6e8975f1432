"""The log on both databases: the stored Merkle tree matches the stored entries, checkpoints are signed notes
over it, proofs from the API verify against them, and bad requests change nothing."""

from __future__ import annotations

import base64
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from fusioncell.charter import load_charter
from fusioncell.errors import LogKeyError
from fusioncell.ledger import log, merkle
from fusioncell.ledger.entries import entry_leaf
from fusioncell.ledger.models import LedgerCheckpoint, LedgerEntry
from fusioncell.ledger.note import Checkpoint, Signer, open_checkpoint
from tests.conftest import ledger_size, table_count
from tests.ledger.legacy import format_1
from tests.traffic.helpers import draft


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def stored_leaves(cell) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Leaf hashes recomputed from the entry rows as the database holds them (not from the tree table)."""
    with cell.reading() as session:
        rows = session.execute(select(LedgerEntry).order_by(LedgerEntry.index)).scalars().all()
    assert [r.index for r in rows] == list(range(len(rows)))
    return [merkle.leaf_hash(entry_leaf(r)) for r in rows]


def send_some(client, crew, n: int, tag: str = "a") -> None:  # type: ignore[no-untyped-def]
    # concurrent sends share group-commit transactions: several entries, one tree update
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(
            lambda i: client.post("/api/v1/messages", json=draft(precedence="ROUTINE", subject=f"m{i}",
                                  client_txn_id=f"{tag}{i}"), headers=(crew["sy"] if i % 2 else crew["il"]).headers),
            range(n),
        ))  # fmt: skip
    assert all(r.status_code == 201 for r in results)


def checkpoint_of(client, member):  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/ledger/checkpoint", headers=member.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


def test_tree_checkpoint_and_proofs(client, cell, crew) -> None:
    send_some(client, crew, 12)
    leaves = stored_leaves(cell)
    key = log.log_signer(cell).verifier
    first, _ = open_checkpoint(checkpoint_of(client, crew["il"]), key, cell.charter.mechanism.log_origin)
    assert first.size == len(leaves) and first.root == merkle.root_of(leaves)

    send_some(client, crew, 7, "b")
    assert checkpoint_of(client, crew["il"]) == checkpoint_of(client, crew["sy"])  # not re-signed on read
    log.sign_checkpoint(cell)
    second, _ = open_checkpoint(checkpoint_of(client, crew["undof"]), key)
    leaves = stored_leaves(cell)
    assert second.size == len(leaves) == first.size + 7 and second.root == merkle.root_of(leaves)
    assert table_count(cell, LedgerCheckpoint) == 2  # every checkpoint is kept

    # anyone can check an entry header it may read against its leaf, and the leaf against the checkpoint
    headers = client.get(f"/api/v1/ledger/entries?start=0&end={second.size}", headers=crew["il"].headers).json()
    for h in headers["items"]:
        r = client.get(
            f"/api/v1/ledger/proof/inclusion?index={h['index']}&size={second.size}", headers=crew["il"].headers
        )
        proof = r.json()
        from datetime import datetime

        leaf = entry_leaf(
            type("H", (), {**h, "leaf_format": h["format"], "recorded_at": datetime.fromisoformat(h["recorded_at"])})
        )
        assert b64(proof["leaf_hash"]) == merkle.leaf_hash(leaf)
        merkle.verify_inclusion(
            h["index"], second.size, merkle.leaf_hash(leaf), [b64(x) for x in proof["hashes"]], second.root
        )

    r = client.get(
        f"/api/v1/ledger/proof/consistency?first={first.size}&second={second.size}", headers=crew["sy"].headers
    )
    merkle.verify_consistency(first.size, second.size, first.root, second.root, [b64(x) for x in r.json()["hashes"]])


@pytest.mark.parametrize(
    "query",
    [
        "/proof/inclusion?index=0&size=0",
        "/proof/inclusion?index=5&size=5",
        "/proof/inclusion?index=0&size=999999",
        "/proof/inclusion?index=-1&size=2",
        "/proof/inclusion?index=x&size=2",
        "/proof/inclusion?size=2",
        "/proof/consistency?first=3&second=2",
        "/proof/consistency?first=1&second=999999",
        "/proof/consistency?first=1&second=99999999999999999999",
    ],
)
def test_proof_requests_out_of_range(client, cell, crew, query: str) -> None:
    send_some(client, crew, 4)
    before = (ledger_size(cell), table_count(cell, LedgerCheckpoint))
    r = client.get("/api/v1/ledger" + query, headers=crew["sy"].headers)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]
    assert (ledger_size(cell), table_count(cell, LedgerCheckpoint)) == before


def test_ledger_reads_need_a_token(client) -> None:
    for path in ("/checkpoint", "/proof/inclusion?index=0&size=1", "/proof/consistency?first=0&second=1"):
        assert client.get("/api/v1/ledger" + path).status_code == 401


def test_tree_and_checkpoints_are_append_only(cell) -> None:
    from fusioncell.policy import Principal, resolve_audience

    with cell.command() as uow:
        for i in range(4):  # interior nodes to refuse to change
            with uow.command():
                uow.record(action="test.entry", actor=Principal.system("cli:test"), subject=f"t:{i}", content={},
                           audience=resolve_audience("joint", cell.charter.roster))  # fmt: skip
    log.sign_checkpoint(cell)
    with cell.reading() as session:
        assert session.execute(text("SELECT count(*) FROM ledger_nodes")).scalar_one() > 0
    for statement in ("UPDATE ledger_nodes SET hash = hash", "DELETE FROM ledger_nodes",
                      "UPDATE ledger_checkpoints SET note = 'x'", "DELETE FROM ledger_checkpoints"):  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only"), cell.db.engine.begin() as conn:
            conn.execute(text(statement))


def test_two_signers_of_one_size_agree(cell) -> None:
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: log.sign_checkpoint(cell), range(2))
    assert a.note == b.note
    with cell.reading() as session:
        assert session.execute(select(func.count()).select_from(LedgerCheckpoint)).scalar_one() == 1


def test_log_key_file(cell, tmp_path: Path) -> None:
    path = log.log_key_path(cell.settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # made by init, for its owner only
    signer = log.load_log_key(cell.settings, cell.charter)
    assert signer.name == cell.charter.mechanism.log_origin

    os.chmod(path, 0o644)
    with pytest.raises(LogKeyError, match="chmod 600"):
        log.load_log_key(cell.settings, cell.charter)
    os.chmod(path, 0o600)

    # a charter that names another key refuses this one; one that names this key accepts it
    other = Signer.generate(cell.charter.mechanism.log_origin)
    raw = cell.settings.charter_path.read_text()
    for vkey, ok in ((other.verifier, False), (signer.verifier, True)):
        charter_file = tmp_path / f"charter-{ok}.yaml"
        charter_file.write_text(raw + f'ledger:\n  log_key: "{vkey}"\n')
        charter = load_charter(charter_file)
        if ok:
            assert log.load_log_key(cell.settings, charter) == signer
        else:
            with pytest.raises(LogKeyError, match="not the log key the charter names"):
                log.load_log_key(cell.settings, charter)


def test_checkpoint_text_is_the_c2sp_format(cell) -> None:
    signed = log.sign_checkpoint(cell)
    origin, size, root, mapped, blank, sig, end = signed.note.split("\n")
    assert (origin, int(size), base64.b64decode(root), blank, end) == (
        cell.charter.mechanism.log_origin, signed.size, signed.root, "", "")  # fmt: skip
    assert sig.startswith(f"— {origin} ")
    # the verifiable map's root is the checkpoint's one extension line (C2SP tlog-checkpoint allows them)
    assert mapped.startswith("fusioncell-map ") and len(base64.b64decode(mapped.split(" ")[1])) == 32
    parsed = Checkpoint.parse(f"{origin}\n{size}\n{root}\n{mapped}\n")
    assert parsed.root == signed.root and parsed.extensions == (mapped,)


AWKWARD = [
    'say "hi"', "back\\slash", "tab\there", "line\nbreak", "bell\x07\x1f", 'x:null,"audience":y', ':null,"audience":',
    "é ü 中文 😀", "\u2028\u2029\x7f",
]  # fmt: skip


def served_leaves(cell, start: int, end: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    from fusioncell.ledger import service

    body = service.leaves(cell=cell, start=start, end=end)
    assert body.endswith(b"\n") or body == b""
    return body.split(b"\n")[:-1]


def row_leaves(cell, start: int, end: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        rows = session.execute(
            select(LedgerEntry).where(LedgerEntry.index >= start, LedgerEntry.index < end).order_by(LedgerEntry.index)
        ).scalars()
        return [entry_leaf(r) for r in rows]


def test_leaves_served_are_the_leaves_hashed_whatever_the_values(cell, clock, monkeypatch) -> None:
    """The database writes the common leaf itself; a leaf with a value JSON must escape (a quote, a backslash,
    a control character, the null marker inside a subject) is written again with escaping, so every served line
    is byte for byte the leaf the tree hashed."""
    from datetime import timedelta

    from fusioncell.ledger import entries
    from fusioncell.policy import Principal, resolve_audience

    queries = []
    fetch = entries._fetch
    monkeypatch.setattr(entries, "_fetch", lambda *a: queries.append(a[1]) or fetch(*a))
    clock.advance(timedelta(seconds=1, microseconds=123457))  # every digit of the time written
    joint = resolve_audience("joint", cell.charter.roster)
    plain_from = ledger_size(cell)
    for legacy in (False, True, False):  # a page of both leaf formats, as an upgraded log holds
        with format_1() if legacy else nullcontext(), cell.command() as uow:
            for i in range(7):
                with uow.command():
                    uow.record(action="test.plain", actor=Principal("sy.liaison", "SY", frozenset({"liaison"})),
                               audience=joint, subject=f"plain:{legacy}:{i}", content={"i": i})  # fmt: skip
    awkward_from = ledger_size(cell)
    # only a format-1 leaf holds values a client chose (a format-2 leaf has the server's own audience label, hex
    # and a time), so the awkward values are appended as a log before migration 0006 did
    with format_1(), cell.command() as uow:
        for i, value in enumerate(AWKWARD):
            with uow.command():
                uow.record(action="test.awkward", actor=Principal(f"u{i}", value[:16], frozenset()),
                           audience=joint, subject=value, content={"v": value})  # fmt: skip
    size = ledger_size(cell)
    assert served_leaves(cell, plain_from, awkward_from) == row_leaves(cell, plain_from, awkward_from)
    assert len(queries) == 1  # clean leaves: the database's text, checked, served as it is
    assert b".123457Z" in served_leaves(cell, plain_from, plain_from + 1)[0]
    queries.clear()
    assert served_leaves(cell, plain_from, size) == row_leaves(cell, plain_from, size)  # a mixed page
    assert len(queries) == 2  # the page, then its rows read again and formatted here, escaping what must be
    for k in range(awkward_from, size):
        assert served_leaves(cell, k, k + 1) == row_leaves(cell, k, k + 1)
    hashes = [merkle.leaf_hash(x) for x in served_leaves(cell, 0, size)]
    assert merkle.root_of(hashes) == log.sign_checkpoint(cell).root
    assert served_leaves(cell, size, size + 5) == []
    assert {json.loads(leaf)["format"] for leaf in served_leaves(cell, plain_from, plain_from + 7)} == {2}
    assert all("format" not in json.loads(leaf) for leaf in served_leaves(cell, plain_from + 7, plain_from + 14))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL stores timestamps, not text
def test_a_stored_time_in_another_spelling_is_served_as_the_leaf_spells_it(cell) -> None:
    """A time SQLite holds without microseconds (written by hand, say) is not cut from the text blindly: the
    page is formatted again, and says what the row says."""
    from tests.ledger.test_mirror import tamper

    tamper(cell, """UPDATE ledger_entries SET recorded_at = '2026-01-01 08:00:00' WHERE "index" = 0""")
    assert served_leaves(cell, 0, 1) == row_leaves(cell, 0, 1)
    assert b'"recorded_at":"2026-01-01T08:00:00.000000Z"' in served_leaves(cell, 0, 1)[0]


def test_an_entry_time_is_spelled_in_utc_from_any_offset() -> None:
    from datetime import datetime, timedelta, timezone

    from fusioncell.ledger.entries import _iso

    moment = datetime(2026, 11, 28, 12, 30, 5, 7, tzinfo=timezone(timedelta(hours=2)))
    assert _iso(moment) == "2026-11-28T10:30:05.000007Z"
    with pytest.raises(ValueError, match="naive"):
        _iso(datetime(2026, 11, 28, 12, 30))


def test_salts_are_fresh_for_every_entry_even_across_a_fork() -> None:
    from fusioncell.ledger.entries import new_salt

    salts = [new_salt() for _ in range(2000)]  # several refills of the pool
    assert all(len(s) == 32 for s in salts) and len(set(salts)) == len(salts)
    new_salt()  # the pool is part-used when the process forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next salts, to the parent
        os.write(write, b"".join(new_salt() for _ in range(4)))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 1024)
    os.close(read)
    parent = b"".join(new_salt() for _ in range(4))
    assert len(child) == 128 and child != parent


def test_proofs_from_remembered_upper_nodes_still_verify(cell) -> None:
    """Nodes over 256 entries and more are remembered after a first read (they never change); proofs made with
    them, cold or warm, verify against the signed root, and consistency proofs too."""
    import random

    from fusioncell.ledger import tree
    from fusioncell.policy import Principal, resolve_audience

    joint = resolve_audience("joint", cell.charter.roster)
    actor = Principal("sy.liaison", "SY", frozenset({"liaison"}))
    for batch in range(3):
        with cell.command() as uow:
            for i in range(300):
                with uow.command():
                    uow.record(action="test.bulk", actor=actor, audience=joint, subject=f"b:{batch}:{i}",
                               content={"i": i})  # fmt: skip
        if batch == 0:
            early = log.sign_checkpoint(cell)
    checkpoint = log.sign_checkpoint(cell)
    leaves = stored_leaves(cell)
    rng = random.Random(5)
    for _ in range(2):  # cold, then warm
        for index in [0, 255, 256, 511, checkpoint.size - 1, *rng.sample(range(checkpoint.size), 20)]:
            leaf, proof = log.inclusion(cell, index, checkpoint.size)
            assert leaf == leaves[index]
            merkle.verify_inclusion(index, checkpoint.size, leaf, proof, checkpoint.root)
        proof = log.consistency(cell, early.size, checkpoint.size)
        merkle.verify_consistency(early.size, checkpoint.size, early.root, checkpoint.root, proof)
    remembered = tree._UPPER[cell.db]
    assert remembered and all(i >> 56 >= tree.CACHED_LEVEL for i in remembered)


def test_the_migration_gives_an_existing_ledger_the_tree_appends_would(cell) -> None:
    """A ledger from before the tree (revision 0002) gets, on upgrade, the interior nodes an append writes: the
    checkpoint root is the root of its entries, and proofs verify."""
    from alembic import command

    from fusioncell.migrate import alembic_config, upgrade
    from fusioncell.policy import Principal, resolve_audience

    with format_1(), cell.command() as uow:
        for i in range(37):
            with uow.command():
                uow.record(action="test.entry", actor=Principal.system("cli:test"), subject=f"m:{i}", content={"i": i},
                           audience=resolve_audience("joint", cell.charter.roster))  # fmt: skip
    cell.db.dispose()
    # a log holding format-2 entries cannot go back below revision 0006, which alone knows their format
    command.downgrade(alembic_config(str(cell.db.url)), "0006")
    with pytest.raises(RuntimeError, match="format-2 entries"):
        command.downgrade(alembic_config(str(cell.db.url)), "0005")
    upgrade(cell.db)
    # a ledger of revision 0002 held format-1 entries only: so are the set-up's own entries here
    with cell.db.engine.begin() as conn:
        if cell.db.is_sqlite:
            conn.execute(text("DROP TRIGGER ledger_entries_no_update"))
        else:
            conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE ledger_entries SET leaf_format = 1"))
    leaves = stored_leaves(cell)
    cell.db.dispose()
    command.downgrade(alembic_config(str(cell.db.url)), "0002")
    upgrade(cell.db)
    with cell.reading() as session:
        # every complete perfect subtree above the leaves, no row per leaf: n minus the set bits of n
        assert session.execute(text("SELECT count(*) FROM ledger_nodes")).scalar_one() == len(leaves) - bin(
            len(leaves)
        ).count("1")
    checkpoint = log.sign_checkpoint(cell)
    assert checkpoint.size == len(leaves) and checkpoint.root == merkle.root_of(leaves)
    for index in (0, 17, len(leaves) - 1):
        leaf, proof = log.inclusion(cell, index, checkpoint.size)
        merkle.verify_inclusion(index, checkpoint.size, leaf, proof, checkpoint.root)


def plain_lists(cell, size: int) -> dict[str, dict[str, list[int]]]:  # type: ignore[no-untyped-def]
    """For each audience and subject, the indices of the entries below `size` about it, read plainly from the rows:
    an entry is about its own subject, a batch of receipts about each message it names too, and a recall about the
    release it recalls."""
    from collections import defaultdict

    found: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    with cell.reading() as session:
        rows = session.execute(select(LedgerEntry).where(LedgerEntry.index < size).order_by(LedgerEntry.index))
        for e in rows.scalars():
            found[e.audience][e.subject].append(e.index)
            if e.subject.startswith("deliveries:"):
                for message in {d["message_id"] for d in json.loads(e.content)["deliveries"]}:
                    found[e.audience][f"message:{message}"].append(e.index)
            if e.subject.startswith("intel-recall:"):
                found[e.audience][f"intel-release:{json.loads(e.content)['release']}"].append(e.index)
    return found


def map_from_scratch(cell, size: int) -> bytes:  # type: ignore[no-untyped-def]
    """The map every entry below `size` makes, recomputed plainly: each audience's map of its subjects, and the
    top map of the audiences' salted roots."""
    from fusioncell.ledger import map as ledger_map
    from fusioncell.ledger import smt

    seed = log.log_signer(cell).seed
    top = {}
    for audience, subjects in plain_lists(cell, size).items():
        inner = smt.root_of({ledger_map.subject_key(s): smt.chain(v) for s, v in subjects.items()})
        salt = ledger_map.audience_salt(seed, audience)
        top[ledger_map.audience_key(audience)] = ledger_map.audience_value(salt, inner)
    return smt.root_of(top)


def test_each_checkpoint_carries_the_map_of_its_entries(client, cell, crew) -> None:
    """The map's root in every signed note is the map of every entry below its size, however the checkpoints
    fell: moved on in memory, or read afresh from the stored values by another instance."""
    from fusioncell.ledger import map as ledger_map
    from fusioncell.ledger.note import open_checkpoint

    key = log.log_signer(cell).verifier
    sizes = []
    from fusioncell.auth.service import authenticate
    from fusioncell.traffic.service import Receipt, record_receipts

    screens = [authenticate(cell=cell, raw_token=crew[party].token) for party in ("sy", "il")]
    for round_ in range(4):
        send_some(client, crew, 3 + round_, tag=f"r{round_}")
        # the parties' screens receive this round's messages (each those addressed to it): a batch of receipts per
        # delegation, listed under each message it names
        with cell.reading() as session:
            fresh = session.execute(
                select(LedgerEntry.subject).where(LedgerEntry.subject.like("message:%")).order_by(LedgerEntry.index)
            ).scalars()
            sent = sorted({int(s.split(":")[1]) for s in fresh})
        receipts = [
            Receipt(message_id=m, audience="joint", principal=screen, at=cell.clock.now())
            for m in sent
            for screen in screens
        ]
        record_receipts(cell=cell, receipts=receipts)
        if round_ == 1:  # a release and its recall, listed under the release too
            from tests.intel.stixdata import indicator

            item = client.post("/api/v1/intel/items", json={"stix": [indicator()]}, headers=crew["sy_analyst"].headers)
            done = [
                client.post(f"/api/v1/intel/items/{item.json()['id']}/{verb}", json=body, headers=crew["us"].headers)
                for verb, body in (("release", {"audience": "joint"}), ("revoke", {"reason": "Wrong grid"}))
            ]
            assert [r.status_code for r in done] == [200, 200]
        if round_ == 2:  # another instance signs this one: its keeper starts from the database
            cell._derived.pop("ledger_map")
        signed = log.sign_checkpoint(cell)
        checkpoint, _ = open_checkpoint(signed.note, key)
        assert ledger_map.root_of_extensions(checkpoint.extensions) == map_from_scratch(cell, signed.size)
        sizes.append(signed.size)
    with cell.reading() as session:
        stored = session.execute(text("SELECT count(*) FROM ledger_map_values")).scalar_one()
        # a fresh process proves against an older checkpoint from the stored values
        keeper = ledger_map.MapKeeper(log.log_signer(cell).seed)
        first = session.execute(
            select(LedgerEntry.subject)
            .where(LedgerEntry.audience == "joint", LedgerEntry.subject.like("message:%"))
            .order_by(LedgerEntry.index)
            .limit(1)
        ).scalar_one()  # the first message sent
        proof = keeper.proofs(session, sizes[1], [("joint", first)])[("joint", first)]
    indices = plain_lists(cell, sizes[1])["joint"][first]
    assert stored > 0 and proof.count == len(indices) > 1  # the message, and the batch of receipts naming it
    from fusioncell.ledger import smt

    smt.verify(proof.audience_root, ledger_map.subject_key(first), smt.chain(indices), proof.inner)
    value = ledger_map.audience_value(proof.salt, proof.audience_root)
    smt.verify(map_from_scratch(cell, sizes[1]), ledger_map.audience_key("joint"), value, proof.outer)

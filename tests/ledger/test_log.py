"""The log on both databases: the stored Merkle tree matches the stored entries, checkpoints are signed notes
over it, proofs from the API verify against them, and bad requests change nothing."""

from __future__ import annotations

import base64
import os
import stat
from concurrent.futures import ThreadPoolExecutor
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

        leaf = entry_leaf(type("H", (), {**h, "recorded_at": datetime.fromisoformat(h["recorded_at"])}))
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
    log.sign_checkpoint(cell)
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
    origin, size, root, blank, sig, end = signed.note.split("\n")
    assert (origin, int(size), base64.b64decode(root), blank, end) == (
        cell.charter.mechanism.log_origin, signed.size, signed.root, "", "")  # fmt: skip
    assert sig.startswith(f"— {origin} ")
    assert Checkpoint.parse(f"{origin}\n{size}\n{root}\n").root == signed.root

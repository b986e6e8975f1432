"""The whole flow on SQLite and PostgreSQL: traffic, checkpoints, two party witnesses cosign, an evidence bundle
is exported, `fusioncell verify` passes offline — and fails, with the reason, when any byte that matters is
changed. Each party's bundle carries only the contents its audience may read."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusioncell.auth.service import authenticate
from fusioncell.cli import app as cli
from fusioncell.ledger import log
from fusioncell.ledger.evidence import EvidenceError, verify
from fusioncell.ledger.log import Checkpointer
from fusioncell.traffic.service import Receipt, record_receipts
from tests.ledger.test_witness_flow import with_witnesses, witness_processes
from tests.traffic.helpers import draft


def cli_verify(path: Path, *args: str, process: bool = False) -> subprocess.CompletedProcess[str]:
    """`fusioncell verify`: in a process of its own when `process` (what the arbiter runs, offline), otherwise in
    this one, as the command line reads it (a second each saved: the many tampered bundles are checked here)."""
    command = ["verify", str(path), *args]
    if process:
        return subprocess.run([sys.executable, "-m", "fusioncell.cli", *command], capture_output=True, text=True)
    r = CliRunner().invoke(cli, command)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info  # a refusal, never a crash
    return subprocess.CompletedProcess(command, r.exit_code, r.stdout, r.stderr)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def witnessed(client, cell, crew, tmp_path: Path):  # type: ignore[no-untyped-def]
    """SY sends a joint FLASH and a mediated:SY message, IL's client receives the FLASH in a batch with another
    message, IL acknowledges, and both parties' witnesses cosign."""
    vkey = str(log.log_signer(cell).verifier)
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", vkey)) as [
        (sy_url, sy, _),
        (il_url, il, _),
    ]:
        with_witnesses(cell, ("SY", sy_url, sy), ("IL", il_url, il))
        joint = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()["id"]
        private = client.post("/api/v1/messages", json=draft(audience="mediated:SY", precedence="ROUTINE"),
                              headers=crew["sy"].headers).json()["id"]  # fmt: skip
        # IL's screen receives it with another joint message: one batch of receipts names both
        other = client.post("/api/v1/messages", json=draft(subject="Second convoy"), headers=crew["sy"].headers)
        screen = authenticate(cell=cell, raw_token=crew["il"].token)
        at = cell.clock.now()
        received = [
            Receipt(message_id=m, audience="joint", principal=screen, at=at) for m in (joint, other.json()["id"])
        ]
        assert sorted(record_receipts(cell=cell, receipts=received)) == sorted(r.message_id for r in received)
        r = client.post(f"/api/v1/messages/{joint}/ack", json={}, headers=crew["il"].headers)
        assert r.status_code == 200, r.text
        checkpointer = Checkpointer(cell)
        checkpointer.tick()
        checkpointer.witnesses.close()
        yield {"joint": joint, "private": private, "keys": (sy, il)}


def export(client, member, subject: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/ledger/evidence", params={"subject": subject}, headers=member.headers)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    return r.json()


def test_export_and_verify_offline(client, cell, crew, witnessed, tmp_path: Path) -> None:
    bundle = export(client, crew["il"], f"message:{witnessed['joint']}")
    assert all("content" in e for e in bundle["entries"])  # joint: IL reads them all
    assert all(set(json.loads(e["leaf"])) == {"index", "recorded_at", "audience", "commitment", "format"}
               for e in bundle["entries"])  # fmt: skip
    actions = [json.loads(e["content"])["@action"] for e in bundle["entries"]]
    assert actions[0] == "charter.adopted" and "message.sent" in actions and "message.acknowledged" in actions
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    sy, il = witnessed["keys"]
    pins = ["--witness-key", str(sy.verifier), "--witness-key", str(il.verifier)]
    r = cli_verify(path, "--log-key", str(log.log_signer(cell).verifier), *pins, process=True)
    assert r.returncode == 0, r.stderr
    assert "Verified" in r.stdout and "sy.witness.example" in flat(r.stdout) and "il.witness.example" in flat(r.stdout)

    # one changed byte anywhere that matters fails, with the place named
    def flipped(mutate) -> str:  # type: ignore[no-untyped-def]
        b = json.loads(path.read_text())
        mutate(b)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(b))
        r = cli_verify(bad, *pins)
        assert r.returncode == 1, r.stdout
        return flat(r.stderr)

    sent = next(i for i, e in enumerate(bundle["entries"]) if '"@action":"message.sent"' in e["content"])
    index = json.loads(bundle["entries"][sent]["leaf"])["index"]

    def content(b):  # type: ignore[no-untyped-def]
        e = b["entries"][sent]
        e["content"] = e["content"].replace("Four", "Five", 1)

    assert f"entry {index}: the content does not match its commitment" in flipped(content)

    def leaf(b):  # type: ignore[no-untyped-def]
        b["entries"][sent]["leaf"] = b["entries"][sent]["leaf"].replace('"joint"', '"mediated:IL"')

    assert f"entry {index}:" in flipped(leaf)

    def proof(b):  # type: ignore[no-untyped-def]
        h = bytearray(base64.b64decode(b["entries"][sent]["proof"][0]))
        h[0] ^= 1
        b["entries"][sent]["proof"][0] = base64.b64encode(bytes(h)).decode()

    assert f"entry {index}: the inclusion proof" in flipped(proof)

    def cosignature(b):  # type: ignore[no-untyped-def]
        lines = b["checkpoint"].split("\n")
        last = next(i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("— il."))
        name, sig = lines[last].rsplit(" ", 1)
        raw = bytearray(base64.b64decode(sig))
        raw[-1] ^= 1
        lines[last] = f"{name} {base64.b64encode(bytes(raw)).decode()}"
        b["checkpoint"] = "\n".join(lines)

    assert "checkpoint: the cosignature of il.witness.example does not verify" in flipped(cosignature)

    def root(b):  # type: ignore[no-untyped-def]
        lines = b["checkpoint"].split("\n")
        lines[2] = base64.b64encode(bytes(32)).decode()
        b["checkpoint"] = "\n".join(lines)

    assert "checkpoint: the signature of" in flipped(root)

    def unfinal(b):  # type: ignore[no-untyped-def]
        b["checkpoint"] = "\n".join(line for line in b["checkpoint"].split("\n") if not line.startswith("— il."))

    assert "not final — no valid cosignature from the witness of IL" in flipped(unfinal)

    def unrelated(b):  # type: ignore[no-untyped-def]
        b["subject"] = f"message:{witnessed['private']}"

    assert "is not about" in flipped(unrelated)

    def renamed(b):  # type: ignore[no-untyped-def]
        b["witnesses"][1]["name"] = "somebody.else"  # to slip past the pin of il.witness.example

    assert "pin somebody.else with --witness-key" in flipped(renamed)

    other = tmp_path / "other.json"
    other.write_text(json.dumps(bundle))
    r = cli_verify(other, "--log-key", str(log.Signer.generate(cell.charter.mechanism.log_origin).verifier), *pins)
    assert r.returncode == 1 and "not the key you pinned" in flat(r.stderr)
    # the bundle's own keys prove nothing: a log could have made them all
    r = cli_verify(other, "--log-key", str(log.log_signer(cell).verifier))
    assert r.returncode == 1 and "pin il.witness.example, sy.witness.example with --witness-key" in flat(r.stderr)
    r = cli_verify(other, "--witness-key", str(sy.verifier))
    assert r.returncode == 1 and "pin il.witness.example with --witness-key" in flat(r.stderr)


def test_each_party_gets_only_what_it_may_read(client, cell, crew, witnessed) -> None:
    subject = f"message:{witnessed['private']}"
    mine = export(client, crew["sy"], subject)
    assert all("content" in e for e in mine["entries"])
    assert [e for e in mine["entries"] if '"@action":"message.sent"' in e["content"]]
    sy, il = witnessed["keys"]
    assert verify(mine, witness_keys=[str(sy.verifier), str(il.verifier)]).entries == len(mine["entries"])
    # IL learns nothing of SY's proximity message from a bundle: not its content, not even which entries of
    # mediated:SY are about it, nor when they were written
    r = client.get("/api/v1/ledger/evidence", params={"subject": subject}, headers=crew["il"].headers)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"  # as for no subject
    assert "Four vehicles" not in r.text and "mediated:SY" not in r.text


def test_export_refusals(client, cell, crew) -> None:
    for subject in ("message:999999", "message:\u00b2", "message:" + "9" * 40):  # ² is a digit to str.isdigit
        r = client.get("/api/v1/ledger/evidence", params={"subject": subject}, headers=crew["sy"].headers)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
    sent = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()["id"]
    r = client.get("/api/v1/ledger/evidence", params={"subject": f"message:{sent}"}, headers=crew["sy"].headers)
    assert r.status_code == 409 and "final" in r.json()["detail"]  # no witness has cosigned anything
    assert client.get("/api/v1/ledger/evidence", params={"subject": "x"}).status_code == 401


def test_verify_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    for text, reason in [("{", "is not JSON"), ("[]", "not a JSON object"), ('{"format": "x"}', "not a fusioncell")]:
        path = tmp_path / "b.json"
        path.write_text(text)
        r = cli_verify(path)
        assert r.returncode == 1 and reason in flat(r.stderr)
    with pytest.raises(EvidenceError, match="'subject' is missing"):
        verify({"format": "fusioncell-evidence/1"})
    r = cli_verify(tmp_path / "missing.json", process=True)
    assert r.returncode == 2 and "cannot read" in flat(r.stderr)


def test_a_bundle_proves_it_holds_every_entry_its_exporter_may_read(client, cell, crew, witnessed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13.5: SY exports the evidence about its joint message and takes out IL's acknowledgement; an arbiter
    must not be told that IL never acknowledged. The checkpoint's map lists every entry about the message in each
    audience SY reads, and the log signed who exported the bundle, so every way of hiding the entry fails."""
    sy, il = witnessed["keys"]
    pins = [str(sy.verifier), str(il.verifier)]
    subject = f"message:{witnessed['joint']}"
    bundle = export(client, crew["sy"], subject)
    result = verify(bundle, witness_keys=pins)
    assert result.complete and result.exported_by == "sy.liaison (SY)"
    audiences = {m["audience"] for m in bundle["map"]}
    assert audiences == {"joint", "mediated:SY"}  # what SY reads; nothing of IL's home audience
    [own] = [m for m in bundle["map"] if (m["audience"], m["subject"]) == ("joint", subject)]
    assert own["indices"] and not [m for m in bundle["map"] if m["audience"] == "mediated:SY" and m["indices"]]
    # nothing in SY's proofs is a hash of IL's home audience's map: not its root, a node or a leaf of it, which SY
    # could test guesses of IL's subjects and entries against (its salted root in the top map is all there is)
    from fusioncell.ledger import map as ledger_map
    from fusioncell.ledger import smt

    with cell.reading() as session:
        state = ledger_map._load(session, result.size, ledger_map.keeper(cell).salt)
    hidden = state.audiences["mediated:IL"]
    assert len(hidden) > 0
    pairs = hidden.items()
    secret = {hidden.root, *hidden._nodes.values(), *(smt.leaf_hash(k, v) for k, v in pairs.items()),
              *pairs.keys(), *pairs.values(), ledger_map.keeper(cell).salt("mediated:IL")}  # fmt: skip

    def hashes(value):  # type: ignore[no-untyped-def]
        if isinstance(value, dict):
            return {h for v in value.values() for h in hashes(v)}
        if isinstance(value, list):
            return {h for v in value for h in hashes(v)}
        try:
            raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
        except ValueError:
            return set()
        return {raw} if len(raw) == 32 else set()

    assert not secret & hashes(bundle["map"])
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    r = cli_verify(path, *(x for k in pins for x in ("--witness-key", k)))
    assert r.returncode == 0 and "Complete: these are all the entries about" in flat(r.stdout), r.stdout + r.stderr

    acked = next(json.loads(e["leaf"])["index"] for e in bundle["entries"]
                 if '"@action":"message.acknowledged"' in e.get("content", ""))  # fmt: skip

    def tampered(change) -> str:  # type: ignore[no-untyped-def]
        b = json.loads(json.dumps(bundle))
        change(b)
        with pytest.raises(EvidenceError) as caught:
            verify(b, witness_keys=pins)
        return str(caught.value)

    def drop_entry(b) -> None:  # type: ignore[no-untyped-def]
        b["entries"] = [e for e in b["entries"] if json.loads(e["leaf"])["index"] != acked]

    assert tampered(drop_entry).startswith(f"entry {acked} is missing from the bundle: the log's map")
    # the batch of receipts that shows when IL's screen received the message is accounted for the same way
    batch = next(json.loads(e["leaf"])["index"] for e in bundle["entries"]
                 if '"@subject":"deliveries:IL"' in e.get("content", ""))  # fmt: skip
    assert batch in own["indices"]

    def drop_receipts(b) -> None:  # type: ignore[no-untyped-def]
        b["entries"] = [e for e in b["entries"] if json.loads(e["leaf"])["index"] != batch]

    assert tampered(drop_receipts).startswith(f"entry {batch} is missing from the bundle: the log's map")

    def drop_entry_and_listing(b) -> None:  # type: ignore[no-untyped-def]
        drop_entry(b)
        for m in b["map"]:
            m["indices"] = [i for i in m["indices"] if i != acked]

    assert "does not hold exactly entries" in tampered(drop_entry_and_listing)
    assert "leaves out entries about" in tampered(drop_entry_and_listing)

    def drop_listing(b) -> None:  # type: ignore[no-untyped-def]
        drop_entry(b)
        b["map"] = [m for m in b["map"] if (m["audience"], m["subject"]) != ("joint", subject)]

    assert f"does not account for the entries about {subject} in joint" in tampered(drop_listing)

    def as_someone_else(b) -> None:  # type: ignore[no-untyped-def]
        b["exported_by"]["username"] = "sy.duty-officer"

    assert "statement: the log did not sign this bundle as it stands" in tampered(as_someone_else)

    def at_another_time(b) -> None:  # type: ignore[no-untyped-def]
        b["exported_at"] = "2026-01-01T00:00:00Z"

    assert "statement: the log did not sign this bundle as it stands" in tampered(at_another_time)

    def as_an_admin(b) -> None:  # type: ignore[no-untyped-def]  # who reads nothing, so owes no list at all
        drop_entry(b)
        b["exported_by"] = {"username": "sy.admin", "delegation": "SY", "roles": ["admin"]}
        b["map"] = []

    assert "is in the bundle but not in the map's lists" in tampered(as_an_admin)

    def as_format_1(b) -> None:  # type: ignore[no-untyped-def]
        drop_entry(b)
        b["format"] = "fusioncell-evidence/1"
        del b["map"], b["statement"]

    assert "altered to say less" in tampered(as_format_1)

    def forged_map_root(b) -> None:  # type: ignore[no-untyped-def]  # the checkpoint is signed: its map line too
        lines = b["checkpoint"].split("\n")
        lines[3] = "fusioncell-map " + base64.b64encode(bytes(32)).decode()
        b["checkpoint"] = "\n".join(lines)

    assert "checkpoint: the signature of" in tampered(forged_map_root)
    bad = tmp_path / "bad.json"
    b = json.loads(json.dumps(bundle))
    drop_entry(b)
    bad.write_text(json.dumps(b))
    r = cli_verify(bad, *(x for k in pins for x in ("--witness-key", k)))
    assert r.returncode == 1 and f"entry {acked} is missing from the bundle" in flat(r.stderr)
    # a bundle is a file a party made: what it says is printed as codes, never as terminal control or markup
    b = json.loads(json.dumps(bundle))
    b["subject"] = "message:1\x1b[2K\r[green]Verified[/]"
    bad.write_text(json.dumps(b))
    r = cli_verify(bad, *(x for k in pins for x in ("--witness-key", k)), process=True)
    assert r.returncode == 1 and "\x1b[2K" not in r.stderr and "\r" not in r.stderr
    assert "message:1\\x1b[2K\\r[green]Verified[/]" in r.stderr


def test_the_evidence_about_a_release_accounts_for_its_recall(client, cell, crew, tmp_path: Path) -> None:
    """A recall has its own subject (`intel-recall:<uuid>`), so that its header names no release; the map lists it
    under the release it recalls too, so a bundle about the release that leaves the recall out fails."""
    from fusioncell.intel.models import IntelItem
    from tests.intel.stixdata import indicator

    vkey = str(log.log_signer(cell).verifier)
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", vkey)) as [
        (sy_url, sy, _),
        (il_url, il, _),
    ]:
        with_witnesses(cell, ("SY", sy_url, sy), ("IL", il_url, il))
        item = client.post("/api/v1/intel/items", json={"stix": [indicator(name="Launcher at grid 37S")]},
                           headers=crew["sy_analyst"].headers).json()  # fmt: skip
        us = crew["us"].headers
        assert client.post(
            f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us
        ).is_success
        r = client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "Wrong grid"}, headers=us)
        assert r.status_code == 200, r.text
        checkpointer = Checkpointer(cell)
        checkpointer.tick()
        checkpointer.witnesses.close()
    with cell.reading() as session:
        release = session.get(IntelItem, item["id"]).release_id  # type: ignore[union-attr]
    pins = [str(sy.verifier), str(il.verifier)]
    bundle = export(client, crew["il"], f"intel-release:{release}")
    actions = [json.loads(e["content"])["@action"] for e in bundle["entries"][1:]]
    assert actions == ["intel.released", "intel.revoked"]
    assert verify(bundle, witness_keys=pins).complete
    recall = json.loads(bundle["entries"][-1]["leaf"])["index"]
    bundle["entries"] = bundle["entries"][:-1]
    with pytest.raises(EvidenceError, match=f"entry {recall} is missing from the bundle"):
        verify(bundle, witness_keys=pins)


def test_export_evidence_on_the_command_line(client, cell, crew, witnessed, tmp_path: Path) -> None:
    """Issue 14.9: the bundle is written readable by its owner only, the command printed to check it is one that
    works, and an unknown subject is said to be unknown."""
    import shlex
    import stat

    from typer.testing import CliRunner

    from fusioncell.cli import app as cli
    from tests.server import serving

    runner = CliRunner()
    with serving(client.app) as url:
        out = tmp_path / "evidence.json"
        args = ["export-evidence", "--subject", f"message:{witnessed['joint']}", "--out", str(out),
                "--server", url, "--token", crew["il"].token]  # fmt: skip
        made = runner.invoke(cli, args)
        assert made.exit_code == 0, made.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        printed = [line.strip() for line in made.output.splitlines() if line.strip().startswith("fusioncell verify")]
        assert [p.endswith("--charter CHARTER.yaml") for p in printed] == [True, False]
        # the keys are placeholders for what each party published, never the bundle's own (a forged bundle would
        # name forged ones); the bundle's are listed to compare against
        assert "SY_WITNESS_KEY" in printed[1] and "IL_WITNESS_KEY" in printed[1]
        sy, il = witnessed["keys"]
        assert f"SY  {sy.verifier}" in made.output and f"IL  {il.verifier}" in made.output
        published = {"SY_WITNESS_KEY": str(sy.verifier), "IL_WITNESS_KEY": str(il.verifier)}
        command = [published.get(word, word) for word in shlex.split(printed[1])[1:]]
        checked = runner.invoke(cli, command)
        assert checked.exit_code == 0 and "Complete" in flat(checked.output), checked.output
        args[2] = "message:999999"
        unknown = runner.invoke(cli, args)
        assert unknown.exit_code == 1 and "no entry about 'message:999999'" in unknown.output

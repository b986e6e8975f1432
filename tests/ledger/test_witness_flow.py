"""The log and two party witnesses, for real: `fusioncell witness serve` processes, checkpoints offered and
cosigned, finality, renewal, and a refusal recorded in the ledger — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from fusioncell.charter.model import LedgerRules, Witness
from fusioncell.ledger import log
from fusioncell.ledger.log import Checkpointer, write_private_key
from fusioncell.ledger.models import LedgerEntry
from fusioncell.ledger.note import ALG_COSIGNATURE_V1, Signer, Verifier, open_note, parse_note, verify_cosignature
from tests.ledger.test_log import send_some
from tests.server import free_port


@contextmanager
def witness_processes(tmp: Path, *witnesses: tuple[str, str]) -> Iterator[list[tuple[str, Signer, Path]]]:
    """`fusioncell witness serve` processes, one for each (name, log key): all started before any is waited for,
    so that they come up side by side (each takes a second or so to start)."""
    started = []
    try:
        for name, log_key in witnesses:
            signer = Signer.generate(name, alg=ALG_COSIGNATURE_V1)
            key_file = tmp / f"{name}.key"
            write_private_key(key_file, signer)
            state = tmp / f"{name}-state"
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "fusioncell.cli", "witness", "serve", "--key", str(key_file), "--state",
                 str(state), "--log-key", log_key, "--port", str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ},
            )  # fmt: skip
            started.append((proc, f"http://127.0.0.1:{port}", signer, state))
        deadline = time.monotonic() + 30
        for proc, url, _, _ in started:
            while True:
                with suppress(httpx.HTTPError):
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the witness did not come up"
                time.sleep(0.1)
        yield [(url + "/api/v1/ledger/witness", signer, state) for _, url, signer, state in started]
    finally:
        for proc, *_ in started:
            proc.terminate()
        for proc, *_ in started:
            proc.wait(timeout=10)


def with_witnesses(cell, *witnesses: tuple[str, str, Signer]) -> None:  # type: ignore[no-untyped-def]
    rules = LedgerRules(
        witnesses=[Witness(name=s.name, delegation=d, key=str(s.verifier), url=url) for d, url, s in witnesses]
    )
    cell.charter = cell.charter.model_copy(update={"ledger": rules})


def refusals(cell) -> list[dict]:  # type: ignore[no-untyped-def]
    import json

    with cell.reading() as session:
        rows = session.execute(select(LedgerEntry).where(LedgerEntry.action == "witness.refused")).scalars().all()
    return [json.loads(r.content) for r in rows]


def test_a_witness_is_reached_by_its_base_address_or_its_submission_path(client, cell, crew, tmp_path) -> None:
    """Issue 14.13: the charter's `url` for a witness may be the address `witness serve` prints or the full
    add-checkpoint path; either way the checkpoint becomes final."""
    vkey = str(log.log_signer(cell).verifier)
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", vkey)) as [
        (sy_url, sy, _),
        (il_url, il, _),
    ]:
        with_witnesses(cell, ("SY", sy_url + "/add-checkpoint/", sy), ("IL", il_url, il))
        send_some(client, crew, 3)
        Checkpointer(cell).tick()
        r = client.get("/api/v1/ledger/checkpoint", headers=crew["il"].headers)
        assert r.headers["fusioncell-final"] == "yes", r.text


def test_two_party_witnesses_make_checkpoints_final(client, cell, crew, tmp_path: Path) -> None:
    vkey = str(log.log_signer(cell).verifier)
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", vkey)) as [
        (sy_url, sy, sy_state),
        (il_url, il, _),
    ]:
        with_witnesses(cell, ("SY", sy_url, sy), ("IL", il_url, il))
        checkpointer = Checkpointer(cell)
        send_some(client, crew, 5)
        first = checkpointer.tick()
        r = client.get("/api/v1/ledger/checkpoint", headers=crew["il"].headers)
        assert r.headers["fusioncell-final"] == "yes"
        note = parse_note(r.text)
        assert [s.name for s in note.signatures] == [cell.charter.mechanism.log_origin, sy.name, il.name]
        for signer, sig in zip((sy, il), note.signatures[1:], strict=True):
            verify_cosignature(signer.verifier, note.text, sig)
        open_note(r.text, [Verifier.parse(vkey)])  # the log's own signature still verifies, cosignatures ignored

        # more entries: the witnesses check the consistency proof from what they cosigned
        send_some(client, crew, 9, "b")
        cell.clock.advance(cell.charter.ledger.checkpoint_interval)
        second = checkpointer.tick()
        assert second.size == first.size + 9
        page = client.get("/api/v1/ledger/checkpoints", headers=crew["sy"].headers).json()
        assert [c["size"] for c in page["items"]][:2] == [second.size, first.size]
        assert page["items"][0]["final"] and page["latest_final_size"] == second.size
        assert {c["delegation"] for c in page["items"][0]["cosignatures"]} == {"SY", "IL"}
        assert len(list((sy_state).rglob("*.note"))) == 2  # the witness keeps every checkpoint it cosigned

        # a heartbeat renews the cosignatures of the newest checkpoint
        before = {c.witness: c.timestamp for c in log.cosignatures(cell, second.size)}
        time.sleep(1.1)  # cosignature timestamps are the witness's own clock, in seconds
        cell.clock.advance(cell.charter.ledger.heartbeat)
        checkpointer.tick()
        after = {c.witness: c.timestamp for c in log.cosignatures(cell, second.size)}
        assert all(after[w] > before[w] for w in before)
        assert refusals(cell) == []
        checkpointer.witnesses.close()


def test_a_refusal_is_recorded_once_and_the_checkpoint_is_not_final(client, cell, crew, tmp_path: Path) -> None:
    vkey = str(log.log_signer(cell).verifier)
    stranger = str(Signer.generate(cell.charter.mechanism.log_origin).verifier)  # IL's witness trusts another key
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", stranger)) as [
        (sy_url, sy, _),
        (il_url, il, _),
    ]:
        with_witnesses(cell, ("SY", sy_url, sy), ("IL", il_url, il))
        checkpointer = Checkpointer(cell)
        send_some(client, crew, 3)
        checkpointer.tick()
        cell.clock.advance(cell.charter.ledger.heartbeat)
        checkpointer.tick()  # offered again: refused again, not recorded again
        found = refusals(cell)
        assert len(found) == 1 and found[0]["witness"] == il.name and found[0]["status"] == 403
        assert found[0]["delegation"] == "IL"
        r = client.get("/api/v1/ledger/checkpoint", headers=crew["sy"].headers)
        assert r.headers["fusioncell-final"] == "no"
        assert [s.name for s in parse_note(r.text).signatures] == [cell.charter.mechanism.log_origin, sy.name]
        # the refusal is in the shared record: both parties read it
        entries = client.get("/api/v1/ledger/entries?start=0&end=1000", headers=crew["sy"].headers).json()["items"]
        refused = [e for e in entries if e["action"] == "witness.refused"]
        assert len(refused) == 1
        for member in ("sy", "il"):
            assert (
                client.get(
                    f"/api/v1/ledger/entries/{refused[0]['index']}/content", headers=crew[member].headers
                ).status_code
                == 200
            )
        checkpointer.witnesses.close()


def test_an_unreachable_witness_is_not_a_refusal(client, cell, crew) -> None:
    sy = Signer.generate("sy.witness.example", alg=ALG_COSIGNATURE_V1)
    il = Signer.generate("il.witness.example", alg=ALG_COSIGNATURE_V1)
    dead = f"http://127.0.0.1:{free_port()}"
    with_witnesses(cell, ("SY", dead, sy), ("IL", dead, il))
    checkpointer = Checkpointer(cell)
    send_some(client, crew, 2)
    checkpointer.tick()
    assert refusals(cell) == [] and log.latest_final(cell) is None
    checkpointer.witnesses.close()


def test_log_info_is_public(client, cell) -> None:
    info = client.get("/api/v1/ledger/log").json()
    assert info["origin"] == cell.charter.mechanism.log_origin
    assert Verifier.parse(info["log_key"]) == log.log_signer(cell).verifier


@pytest.mark.parametrize("witness", [False, True])
def test_keys_new(tmp_path: Path, witness: bool) -> None:
    out = tmp_path / "k"
    args = ["keys", "new", "--out", str(out), "--name", "w.example"] + (["--witness"] if witness else [])
    r = subprocess.run([sys.executable, "-m", "fusioncell.cli", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    verifier = Verifier.parse(r.stdout.strip().splitlines()[-1])
    assert verifier == log.read_private_key(out).verifier and verifier.alg == (4 if witness else 1)
    again = subprocess.run([sys.executable, "-m", "fusioncell.cli", *args], capture_output=True, text=True)
    assert again.returncode == 2 and "never overwritten" in " ".join(again.stderr.split())

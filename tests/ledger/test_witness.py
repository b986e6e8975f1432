"""The witness protocol step (C2SP tlog-witness add-checkpoint) against a log kept in memory: every status the
spec names, the state only ever moving forward, a forked log caught with both signed checkpoints kept, and
(issue 13.12) no way for anyone who can post to fill the witness's disk with cases."""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fusioncell.ledger import merkle
from fusioncell.ledger.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    Signer,
    parse_signature_line,
    sign_note,
    verify_cosignature,
)
from fusioncell.ledger.witness import (
    MAX_EVIDENCE_BYTES,
    SIZE_MEDIA_TYPE,
    WitnessState,
    add_checkpoint,
    make_witness_app,
)

ORIGIN = "fusioncell.example/test"


class Log:
    def __init__(self, signer: Signer, leaves: list[bytes] | None = None) -> None:
        self.signer = signer
        self.leaves = leaves or []

    def grow(self, n: int, tag: bytes = b"") -> None:
        start = len(self.leaves)
        self.leaves += [merkle.leaf_hash(tag + i.to_bytes(4, "big")) for i in range(start, start + n)]

    def checkpoint(self, size: int | None = None) -> tuple[Checkpoint, str]:
        size = len(self.leaves) if size is None else size
        cp = Checkpoint(ORIGIN, size, merkle.root_of(self.leaves[:size]))
        return cp, str(sign_note(cp.text, self.signer))

    def proof(self, old: int, new: int) -> list[bytes]:
        if old in (0, new):
            return []
        nodes: dict[merkle.Node, bytes] = merkle.new_nodes(0, self.leaves[:new], {})
        return merkle.resolve(merkle.consistency_ranges(old, new), nodes.__getitem__)


def request(old: int, proof: list[bytes], note: str) -> bytes:
    return (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + note).encode()


@pytest.fixture
def evidence_cap() -> int:
    return MAX_EVIDENCE_BYTES


@pytest.fixture
def setup(tmp_path: Path, evidence_cap: int):  # type: ignore[no-untyped-def]
    log_key = Signer.generate(ORIGIN)
    witness = Signer.generate("sy.witness.example", alg=ALG_COSIGNATURE_V1)
    state = WitnessState(tmp_path / "state", max_evidence_bytes=evidence_cap)

    def submit(body: bytes, now: int = 1_800_000_000):  # type: ignore[no-untyped-def]
        return add_checkpoint(body, logs={ORIGIN: log_key.verifier}, signer=witness, state=state, now=now)

    return Log(log_key), witness, state, submit


def test_cosigns_a_growing_log_and_refuses_stale_sizes(setup) -> None:  # type: ignore[no-untyped-def]
    log, witness, state, submit = setup
    log.grow(5)
    cp, note = log.checkpoint()
    answer = submit(request(0, [], note))
    assert answer.status == 200, answer.body
    sig = parse_signature_line(answer.body.rstrip("\n"))
    assert verify_cosignature(witness.verifier, cp.text, sig) == 1_800_000_000
    assert state.latest(ORIGIN).size == 5

    log.grow(9)
    cp2, note2 = log.checkpoint()
    stale = submit(request(0, [], note2))  # the log must prove from what the witness cosigned
    assert (stale.status, stale.body, stale.media_type) == (409, "5\n", SIZE_MEDIA_TYPE)
    assert submit(request(5, log.proof(5, 14), note2)).status == 200
    assert state.latest(ORIGIN).size == 14
    again = submit(request(14, [], note2), now=1_800_000_060)  # a heartbeat renews the cosignature
    assert again.status == 200
    assert (
        verify_cosignature(witness.verifier, cp2.text, parse_signature_line(again.body.rstrip("\n"))) == 1_800_000_060
    )
    assert submit(request(5, log.proof(5, 14), note2)).status == 409  # never rolled back
    assert len(list((state._dir(ORIGIN) / "checkpoints").iterdir())) == 2  # every full checkpoint kept


def test_a_fork_is_refused_and_both_checkpoints_are_kept(setup) -> None:  # type: ignore[no-untyped-def]
    log, _, state, submit = setup
    log.grow(8)
    _, honest = log.checkpoint()
    assert submit(request(0, [], honest)).status == 200

    forked = Log(log.signer, list(log.leaves))
    forked.leaves[3] = merkle.leaf_hash(b"rewritten")
    _, same_size = forked.checkpoint()
    answer = submit(request(8, [], same_size))
    assert answer.status == 409 and "two different roots" in answer.body

    forked.grow(4, b"f")
    _, later = forked.checkpoint()
    answer = submit(request(8, forked.proof(8, 12), later))  # a proof from the forked tree
    assert answer.status == 422
    assert state.latest(ORIGIN).size == 8  # unchanged
    # the two signed roots for size 8 are the evidence; an unsigned proof that fails is none (see below)
    [case] = cases_of(state)
    assert (case / "cosigned.note").read_text() == honest
    assert (case / "offered.note").read_text() == same_size
    assert (case / "reason").read_text() == "two roots for size 8\n"


def cases_of(state: WitnessState) -> list[Path]:
    return sorted((state._dir(ORIGIN) / "misbehaviour").iterdir())


def test_a_genuine_checkpoint_with_a_bogus_proof_is_refused_counted_and_not_kept(setup, caplog) -> None:  # type: ignore[no-untyped-def]
    """Anyone may post: a checkpoint the log really signed (it is public), with a proof of random hashes, again and
    again. The proof is not signed, so it proves nothing about the log: no case is made, the refusals are counted
    and logged, and the witness's state does not move."""
    log, _, state, submit = setup
    log.grow(8)
    assert submit(request(0, [], log.checkpoint()[1])).status == 200
    log.grow(5)
    _, genuine = log.checkpoint()
    with caplog.at_level(logging.WARNING, logger="fusioncell.ledger.witness"):
        for n in range(40):
            bogus = [bytes([n, i]) * 16 for i in range(4)]
            answer = submit(request(8, bogus, genuine))
            assert answer.status == 422 and "does not verify" in answer.body
    assert cases_of(state) == []
    assert state.tallies(state._dir(ORIGIN)) == {"unverified_proofs": 40}
    refusals = [r.getMessage() for r in caplog.records if "does not verify" in r.getMessage()]
    assert len(refusals) == 40 and "not evidence: 40 such so far" in refusals[-1]
    assert state.latest(ORIGIN).size == 8
    assert submit(request(8, log.proof(8, 13), genuine)).status == 200  # the true proof still goes through


def test_one_case_per_conflicting_pair(setup) -> None:  # type: ignore[no-untyped-def]
    """The log's second root for a size, offered fifty times, is one case; a third root is a second case."""
    log, _, state, submit = setup
    log.grow(6)
    _, honest = log.checkpoint()
    assert submit(request(0, [], honest)).status == 200
    forks = []
    for tag in (b"a", b"b"):
        forked = Log(log.signer, list(log.leaves))
        forked.leaves[0] = merkle.leaf_hash(tag)
        forks.append(forked.checkpoint()[1])
    for _ in range(50):
        assert submit(request(6, [], forks[0])).status == 409
    assert len(cases_of(state)) == 1
    assert submit(request(6, [], forks[1])).status == 409
    cases = cases_of(state)
    assert len(cases) == 2
    assert sorted((c / "offered.note").read_text() for c in cases) == sorted(forks)
    assert all((c / "cosigned.note").read_text() == honest for c in cases)


@pytest.mark.parametrize("evidence_cap", [1_000])
def test_the_cases_keep_within_their_cap_and_the_rest_is_logged(setup, caplog, evidence_cap: int) -> None:  # type: ignore[no-untyped-def]
    """A log that signs root after root for one size cannot fill the disk: past the cap a new case is not kept
    (logged and counted), the witness still refuses it, and the cases already kept are untouched."""
    log, _, state, submit = setup
    log.grow(6)
    _, honest = log.checkpoint()
    assert submit(request(0, [], honest)).status == 200
    forks = []
    for n in range(6):
        forked = Log(log.signer, list(log.leaves))
        forked.leaves[0] = merkle.leaf_hash(bytes([n]))
        forks.append(forked.checkpoint()[1])
    assert submit(request(6, [], forks[0])).status == 409
    [first] = cases_of(state)
    first_files = {f.name: f.read_text() for f in first.iterdir()}
    with caplog.at_level(logging.WARNING, logger="fusioncell.ledger.witness"):
        answers = [submit(request(6, [], fork)) for fork in forks[1:]]
    assert {a.status for a in answers} == {409}
    kept = cases_of(state)
    size = sum(f.stat().st_size for c in kept for f in c.iterdir())
    assert 1 < len(kept) < len(forks) and size <= evidence_cap
    assert {f.name: f.read_text() for f in first.iterdir()} == first_files  # the first evidence stays as it was
    not_kept = len(forks) - len(kept)
    assert state.tallies(state._dir(ORIGIN)) == {"evidence_not_kept": not_kept}
    dropped = [r.getMessage() for r in caplog.records if "is not kept" in r.getMessage()]
    assert len(dropped) == not_kept and f"({not_kept} not kept so far)" in dropped[-1]
    assert state.latest(ORIGIN).size == 6

    app = TestClient(make_witness_app(logs={ORIGIN: log.signer.verifier}, signer=setup[1], state=state))
    summary = app.get("/").text
    assert f"misbehaviour cases kept: {len(kept)} (not kept, past the cap: {not_kept})" in summary


def test_the_evidence_cap_is_a_witness_serve_option() -> None:
    from typer.testing import CliRunner

    from fusioncell.cli import app as cli

    shown = CliRunner().invoke(cli, ["witness", "serve", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "--max-evidence-bytes" in shown.output and "FUSIONCELL_WITNESS_MAX_EVIDENCE_BYTES" in shown.output


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda log, note: b"old 0\n" + note.encode(), 400),  # no blank line
        (lambda log, note: request(0, [], note).replace(b"old 0", b"old 00"), 400),
        (lambda log, note: request(0, [], note).replace(b"old 0", b"new 0"), 400),
        (lambda log, note: request(0, [b"short"], note), 400),
        (lambda log, note: request(0, [bytes(32)] * 64, note), 400),  # more than 63 proof lines
        (lambda log, note: request(0, [], note.replace("3\n", "03\n", 1)), 400),  # malformed checkpoint
        (lambda log, note: request(4, [], note), 400),  # old beyond the checkpoint
        (lambda log, note: request(0, [], note.replace(ORIGIN, "elsewhere.example/log")), 404),
        (
            lambda log, note: request(
                0, [], str(sign_note(Checkpoint(ORIGIN, 3, bytes(32)).text, Signer.generate(ORIGIN)))
            ),
            403,
        ),  # fmt: skip
        (lambda log, note: request(0, [], note.replace("\n3\n", "\n2\n", 1)), 403),  # signature broken
        (lambda log, note: request(0, [bytes(32)], note), 422),  # a proof from size 0
    ],
)
def test_bad_requests_leave_the_state_alone(setup, make, status: int) -> None:  # type: ignore[no-untyped-def]
    log, _, state, submit = setup
    log.grow(3)
    _, note = log.checkpoint()
    answer = submit(make(log, note))
    assert answer.status == status, answer.body
    assert state.latest(ORIGIN) is None


def test_concurrent_submissions_never_roll_back(setup) -> None:  # type: ignore[no-untyped-def]
    log, _, state, submit = setup
    log.grow(2)
    assert submit(request(0, [], log.checkpoint()[1])).status == 200
    log.grow(30)
    results: list[int] = []
    notes = [(n, log.checkpoint(n)[1]) for n in range(3, 33)]

    def offer(n: int, note: str) -> None:
        results.append(submit(request(2, log.proof(2, n), note)).status)

    threads = [threading.Thread(target=offer, args=item) for item in notes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1 and set(results) <= {200, 409}  # one wins; the rest learn the new size
    assert state.latest(ORIGIN).size in range(3, 33)

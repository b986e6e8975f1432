"""The witness protocol step (C2SP tlog-witness add-checkpoint) against a log kept in memory: every status the
spec names, the state only ever moving forward, and a forked log caught with both signed checkpoints kept."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest

from fusioncell.ledger import merkle
from fusioncell.ledger.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    Signer,
    parse_signature_line,
    sign_note,
    verify_cosignature,
)
from fusioncell.ledger.witness import SIZE_MEDIA_TYPE, WitnessState, add_checkpoint

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
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    log_key = Signer.generate(ORIGIN)
    witness = Signer.generate("sy.witness.example", alg=ALG_COSIGNATURE_V1)
    state = WitnessState(tmp_path / "state")

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
    cases = sorted((state._dir(ORIGIN) / "misbehaviour").iterdir())
    assert len(cases) == 2
    for case in cases:
        assert (case / "cosigned.note").read_text() == honest
        assert (case / "offered.note").read_text() in (same_size, later)


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

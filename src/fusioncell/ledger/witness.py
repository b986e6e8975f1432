"""A party's witness (C2SP tlog-witness): checks that each checkpoint the log offers extends the last one it
cosigned, and cosigns it (C2SP tlog-cosignature v1).

The state lives in a directory the party controls: per origin, the newest cosigned checkpoint (replaced
atomically under a file lock, so two submissions can never roll it back), every full checkpoint it accepted,
and — when the log misbehaves — both conflicting signed checkpoints, as evidence.
`add_checkpoint` is the protocol step; the HTTP service around it is thin.

What is evidence: two checkpoints that both carry the log's signature and give one size two roots. No one but
the log can make that, and anyone can check it with the log's key alone. A consistency proof is not signed: a
checkpoint the log really signed, offered with a proof that does not verify, shows only that someone (anyone may
post) sent a bad proof, so it is refused, counted and logged, and nothing more is kept. Each conflicting pair is
kept once, however often it is offered, and the cases together take at most `max_evidence_bytes` (default 16 MiB);
past it a new case is logged and counted, not kept, and the cases already kept stay as they are.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fusioncell.ledger import merkle
from fusioncell.ledger.note import (
    Checkpoint,
    NoteError,
    Signer,
    UnverifiedNote,
    Verifier,
    cosign,
    open_note,
    parse_note,
)

log = logging.getLogger(__name__)

MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024
SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_EVIDENCE_BYTES = 16 * 1024 * 1024  # per log: a case is two notes, at most 2 x MAX_BODY, usually under 1 KiB


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    media_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Stored:
    size: int
    root: bytes
    note: str


class WitnessState:
    """The witness's memory, one directory per log origin under `root`."""

    def __init__(self, root: Path, *, max_evidence_bytes: int = MAX_EVIDENCE_BYTES) -> None:
        if max_evidence_bytes < 0:
            raise ValueError("max_evidence_bytes cannot be negative")
        self.root = root
        self.max_evidence_bytes = max_evidence_bytes
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _dir(self, origin: str) -> Path:
        d = self.root / hashlib.sha256(origin.encode()).hexdigest()[:32]
        (d / "checkpoints").mkdir(parents=True, exist_ok=True)
        (d / "misbehaviour").mkdir(exist_ok=True)
        origin_file = d / "origin"
        if not origin_file.exists():
            origin_file.write_text(origin + "\n")
        return d

    @contextmanager
    def locked(self, origin: str) -> Iterator[Path]:
        d = self._dir(origin)
        with open(d / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield d
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def latest(self, origin: str) -> Stored | None:
        path = self._dir(origin) / "latest.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return Stored(data["size"], base64.b64decode(data["root"]), data["note"])

    @staticmethod
    def _write_atomic(path: Path, text: str) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        # the rename itself must survive a crash: a witness that forgot what it cosigned could cosign a fork
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def store(self, d: Path, checkpoint: Checkpoint, note: str) -> None:
        self._write_atomic(d / "checkpoints" / f"{checkpoint.size:020d}-{checkpoint.root.hex()[:16]}.note", note)
        record = {"size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode(), "note": note}
        self._write_atomic(d / "latest.json", json.dumps(record) + "\n")

    def keep_evidence(self, d: Path, stored: Stored, offered: Checkpoint, note: str) -> Path | None:
        """Keep the log's two signed roots for one size (the one this witness cosigned, and `note`) as a case: once
        per pair, and only while the cases fit in `max_evidence_bytes`. The case, or None if it was not kept."""
        cases = d / "misbehaviour"
        pair = hashlib.sha256(stored.root + offered.root).hexdigest()[:32]
        case = cases / f"{stored.size:020d}-{pair}"
        if case.exists():
            log.info("the log's fork at size %d is already kept as evidence in %s", stored.size, case)
            return case
        files = {
            "reason": f"two roots for size {stored.size}\n",
            "cosigned.note": stored.note,
            "offered.note": note,
        }
        needed = sum(len(text.encode()) for text in files.values())
        used = _bytes_under(cases)
        if used + needed > self.max_evidence_bytes:
            dropped = self.tally(d, "evidence_not_kept")
            log.warning(
                "the log signed another root for size %d (%s), but the evidence of %s already takes %d of its %d "
                "bytes: this case is not kept (%d not kept so far); the cases kept are unchanged",
                stored.size,
                offered.root.hex(),
                offered.origin,
                used,
                self.max_evidence_bytes,
                dropped,
            )
            return None
        # written aside and renamed into place: a case is there whole or not at all, so a repeat finds it complete
        partial = cases / f".{case.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for name, text in files.items():
            (partial / name).write_text(text)
        os.replace(partial, case)
        log.warning("the log signed two roots for size %d: kept as evidence in %s", stored.size, case)
        return case

    def tally(self, d: Path, what: str) -> int:
        """Add one to a tally kept for the operator (`counts.json`); the new total."""
        counts = self.tallies(d)
        counts[what] = counts.get(what, 0) + 1
        tmp = d / "counts.json.tmp"
        tmp.write_text(json.dumps(counts, sort_keys=True) + "\n")
        os.replace(tmp, d / "counts.json")  # no fsync: a tally lost in a crash costs nothing
        return counts[what]

    def tallies(self, d: Path) -> dict[str, int]:
        path = d / "counts.json"
        return json.loads(path.read_text()) if path.exists() else {}


def _bytes_under(directory: Path) -> int:
    return sum((Path(parent) / name).stat().st_size for parent, _, names in os.walk(directory) for name in names)


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """`old N` line, proof lines, blank line, signed checkpoint. NoteError if malformed."""
    if len(body) > MAX_BODY:
        raise NoteError("the request is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError("the request is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise NoteError("the request has no blank line before the checkpoint")
    lines = head.split("\n")
    old_line, proof_lines = lines[0], lines[1:]
    word, _, number = old_line.partition(" ")
    if word != "old" or not number.isascii() or not number.isdigit() or (number != "0" and number[0] == "0"):
        raise NoteError("the first line must be 'old <size>'")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise NoteError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        try:
            h = base64.b64decode(line.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError) as exc:
            raise NoteError("a consistency proof line is not base64") from exc
        if len(h) != merkle.HASH_SIZE:
            raise NoteError("a consistency proof line is not a 32-byte hash")
        proof.append(h)
    return int(number), proof, note


def add_checkpoint(body: bytes, *, logs: dict[str, Verifier], signer: Signer, state: WitnessState, now: int) -> Answer:
    """The tlog-witness add-checkpoint step, with its status codes: 400 malformed, 404 unknown origin, 403 no
    valid log signature, 409 old size not ours (body: our size) or a fork at our size, 422 bad proof, 200 the
    cosignature line."""
    try:
        old, proof, note_text = parse_request(body)
        checkpoint = Checkpoint.parse(parse_note(note_text).text)
    except NoteError as exc:
        return Answer(400, f"malformed request: {exc}\n")
    key = logs.get(checkpoint.origin)
    if key is None:
        return Answer(404, f"unknown log origin {checkpoint.origin!r}\n")
    try:
        open_note(note_text, [key])
    except UnverifiedNote:
        return Answer(403, "the checkpoint is not signed by the log's key\n")
    except NoteError as exc:
        return Answer(403, f"the checkpoint's signature does not verify: {exc}\n")
    if old > checkpoint.size:
        return Answer(400, f"old size {old} is beyond the checkpoint's size {checkpoint.size}\n")
    with state.locked(checkpoint.origin) as d:
        stored = state.latest(checkpoint.origin)
        ours = stored.size if stored else 0
        if old != ours:
            return Answer(409, f"{ours}\n", SIZE_MEDIA_TYPE)
        if stored is not None and checkpoint.size == stored.size and checkpoint.root != stored.root:
            state.keep_evidence(d, stored, checkpoint, note_text)
            return Answer(409, f"the log signed two different roots for size {stored.size}\n")
        if stored is None and proof:
            return Answer(422, "a consistency proof from size 0 must be empty\n")
        if stored is not None:
            try:
                merkle.verify_consistency(stored.size, checkpoint.size, stored.root, checkpoint.root, proof)
            except merkle.ProofError as exc:
                # the proof carries no signature: it proves nothing about the log, so it is no case to keep
                total = state.tally(d, "unverified_proofs")
                log.warning(
                    "refused a checkpoint of size %d offered with a consistency proof from %d that does not verify "
                    "(%s); not evidence: %d such so far",
                    checkpoint.size,
                    stored.size,
                    exc,
                    total,
                )
                return Answer(422, f"the consistency proof does not verify: {exc}\n")
        state.store(d, checkpoint, note_text)
    return Answer(200, cosign(signer, checkpoint.text, now).line())


# -- which logs to trust ------------------------------------------------------------------------------------------


class TrustError(Exception):
    """The log keys cannot be established: the message says why and what to do."""


def trusted_log_keys(
    state: Path, log_url: str | None, log_keys: list[str], *, say: Callable[[str], None] = lambda _: None
) -> dict[str, Verifier]:
    """The log keys to trust, by origin: given explicitly, or learned from the log's public `/api/v1/ledger/log`
    on first use and pinned in the state directory; a later different key is refused, as SSH refuses a changed
    host key."""
    import httpx

    from fusioncell.ledger.note import ALG_ED25519

    keys: dict[str, Verifier] = {}
    explicit: set[str] = set()
    for text in log_keys:
        try:
            v = Verifier.parse(text)
        except NoteError as exc:
            raise TrustError(f"--log-key {text}: {exc}") from None
        keys[v.name] = v
        explicit.add(v.name)
    pins = state / "pinned-log-keys"
    pins.mkdir(parents=True, exist_ok=True, mode=0o700)
    if log_url:
        try:
            info = httpx.get(log_url.rstrip("/") + "/api/v1/ledger/log", timeout=10).raise_for_status().json()
            served = Verifier.parse(info["log_key"])
        except (httpx.HTTPError, ValueError, KeyError, NoteError) as exc:
            raise TrustError(f"cannot read the log's key from {log_url}: {exc}") from None
        if served.name in keys and keys[served.name] != served:
            raise TrustError(f"the log at {log_url} serves key {served}, not the --log-key given")
        keys[served.name] = served
    for v in keys.values():
        if v.alg != ALG_ED25519:
            raise TrustError(f"{v.name}: a log key is an Ed25519 note key (type 0x01)")
        pin = pins / (hashlib.sha256(v.name.encode()).hexdigest()[:32] + ".vkey")
        if pin.exists() and pin.read_text().strip() != str(v):
            raise TrustError(
                f"the log {v.name} now has key {v}, but this witness pinned {pin.read_text().strip()}: "
                "a log does not change keys silently. Stop and ask the cell."
            )
        if not pin.exists():
            pin.write_text(str(v) + "\n")
            if v.name not in explicit:
                say(f"pinned the key the log serves: {v} (check it with the cell)")
    for pin in pins.glob("*.vkey"):
        v = Verifier.parse(pin.read_text())
        keys.setdefault(v.name, v)
    if not keys:
        raise TrustError("no log to witness: give --log URL or --log-key VKEY")
    return keys


# -- the witness's HTTP service ---------------------------------------------------------------------------------

SUBMISSION_PATH = "/api/v1/ledger/witness/add-checkpoint"


def make_witness_app(*, logs: dict[str, Verifier], signer: Signer, state: WitnessState, clock=None):  # type: ignore[no-untyped-def]
    """A small ASGI app: `POST <prefix>/add-checkpoint` (at the contract's path and at the root), `/healthz`, and
    `GET /` with what the witness has cosigned, for its operator."""
    import time

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    now = clock or (lambda: int(time.time()))

    async def submit(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("the request is too large\n", status_code=413)
        answer = add_checkpoint(bytes(body), logs=logs, signer=signer, state=state, now=now())
        return Response(answer.body, status_code=answer.status, media_type=answer.media_type)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def summary(request: Request) -> Response:
        lines = [f"witness {signer.name}", f"key {signer.verifier}"]
        for origin in sorted(logs):
            stored = state.latest(origin)
            lines.append(f"log {origin}: " + (f"cosigned size {stored.size}" if stored else "nothing cosigned yet"))
            d = state._dir(origin)
            cases = sum(1 for case in (d / "misbehaviour").iterdir() if not case.name.startswith("."))
            counts = state.tallies(d)
            lines.append(
                f"  misbehaviour cases kept: {cases} (not kept, past the cap: {counts.get('evidence_not_kept', 0)}); "
                f"checkpoints refused for a proof that did not verify: {counts.get('unverified_proofs', 0)}"
            )
        return PlainTextResponse("\n".join(lines) + "\n")

    return Starlette(
        routes=[
            Route(SUBMISSION_PATH, submit, methods=["POST"]),
            Route("/add-checkpoint", submit, methods=["POST"]),
            Route("/healthz", health),
            Route("/", summary),
        ]
    )

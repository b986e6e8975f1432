"""A party's witness (C2SP tlog-witness): checks that each checkpoint the log offers extends the last one it
cosigned, and cosigns it (C2SP tlog-cosignature v1).

The state lives in a directory the party controls: per origin, the newest cosigned checkpoint (replaced
atomically under a file lock, so two submissions can never roll it back), every full checkpoint it accepted,
and — when the log misbehaves — both conflicting signed checkpoints with the offered proof, as evidence.
`add_checkpoint` is the protocol step; the HTTP service around it is thin.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
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

MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024
SIZE_MEDIA_TYPE = "text/x.tlog.size"


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

    def __init__(self, root: Path) -> None:
        self.root = root
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

    def keep_evidence(self, d: Path, reason: str, stored: Stored | None, offered: str, proof: list[bytes]) -> Path:
        """Both signed checkpoints and the proof that failed, named by time of arrival."""
        n = len(list((d / "misbehaviour").iterdir()))
        case = d / "misbehaviour" / f"{n:06d}"
        case.mkdir()
        (case / "reason").write_text(reason + "\n")
        if stored is not None:
            (case / "cosigned.note").write_text(stored.note)
        (case / "offered.note").write_text(offered)
        (case / "proof").write_text("".join(base64.b64encode(h).decode() + "\n" for h in proof))
        return case


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
            state.keep_evidence(d, f"two roots for size {stored.size}", stored, note_text, proof)
            return Answer(409, f"the log signed two different roots for size {stored.size}\n")
        if stored is None and proof:
            return Answer(422, "a consistency proof from size 0 must be empty\n")
        if stored is not None:
            try:
                merkle.verify_consistency(stored.size, checkpoint.size, stored.root, checkpoint.root, proof)
            except merkle.ProofError as exc:
                state.keep_evidence(d, f"not consistent with size {stored.size}: {exc}", stored, note_text, proof)
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
        return PlainTextResponse("\n".join(lines) + "\n")

    return Starlette(
        routes=[
            Route(SUBMISSION_PATH, submit, methods=["POST"]),
            Route("/add-checkpoint", submit, methods=["POST"]),
            Route("/healthz", health),
            Route("/", summary),
        ]
    )

"""The log: its signing key, its signed checkpoints, and the proofs that tie entries to them.

The sequencer is the unit of work (`fusioncell.db`): every appending transaction locks the ledger head row,
takes the next indices, writes the entries and the Merkle nodes they complete, and moves the head, so there is
one writer at a time on either database and each command knows its index before it returns. This module
signs what the sequencer wrote.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from fusioncell.cell import Cell
from fusioncell.charter import Charter
from fusioncell.charter.model import Witness
from fusioncell.errors import InvalidInput, LogKeyError
from fusioncell.files import write_owner_only
from fusioncell.ledger import map as ledger_map
from fusioncell.ledger import tree
from fusioncell.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerHead, LedgerMapValue
from fusioncell.ledger.note import (
    ALG_ED25519,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    parse_note,
    parse_signature_line,
    sign_note,
    verify_cosignature,
)
from fusioncell.ledger.witness import SIZE_MEDIA_TYPE
from fusioncell.policy import JOINT, DelegationKind, Principal, resolve_audience
from fusioncell.settings import Settings

log = logging.getLogger(__name__)


# -- keys -----------------------------------------------------------------------------------------------------


def write_private_key(path: Path, signer: Signer) -> None:
    """Create `path` readable and writable by its owner only (never overwriting a key)."""
    write_owner_only(path, str(signer) + "\n", exclusive=True)


def read_private_key(path: Path) -> Signer:
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise LogKeyError(f"cannot read the key file {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise LogKeyError(f"the key file {path} is readable by others: `chmod 600 {path}`, then start again")
    try:
        return Signer.parse(text)
    except NoteError as exc:
        raise LogKeyError(f"{path} is not a fusioncell private key: {exc}") from exc


def log_key_path(settings: Settings) -> Path:
    return settings.log_key_file or settings.data / "keys" / "log.key"


def load_log_key(settings: Settings, charter: Charter, *, create: bool = True) -> Signer:
    """The log's signing key: from its file, made there on first start unless the charter names a key (then
    the operator must bring that key's file)."""
    path = log_key_path(settings)
    origin = charter.mechanism.log_origin
    if not path.exists():
        if charter.ledger.log_key or not create:
            raise LogKeyError(
                f"no log key at {path}: the charter names the log key {charter.ledger.log_key}; put its private "
                "key file there (or set FUSIONCELL_LOG_KEY_FILE)"
                if charter.ledger.log_key
                else f"no log key at {path}: run `fusioncell keys new --name {origin} --out {path}`"
            )
        write_private_key(path, Signer.generate(origin))
        log.info("made a new log signing key at %s", path)
    signer = read_private_key(path)
    if signer.alg != ALG_ED25519 or signer.name != origin:
        raise LogKeyError(f"{path} holds the key {signer.name!r}, not a note key named after the origin {origin!r}")
    if charter.ledger.log_key and str(signer.verifier) != charter.ledger.log_key:
        raise LogKeyError(f"{path} is not the log key the charter names ({charter.ledger.log_key})")
    return signer


def log_signer(cell: Cell) -> Signer:
    return cell.derived("log_signer", lambda: load_log_key(cell.settings, cell.charter))


# -- checkpoints ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    signed_at: datetime
    map_root: bytes | None = None  # the verifiable map's root (None: signed before the log kept the map)


def _row(r: LedgerCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint(r.size, bytes(r.root), r.note, r.signed_at, bytes(r.map_root) if r.map_root else None)


def latest(cell: Cell) -> SignedCheckpoint | None:
    with cell.reading() as session:
        row = session.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)).scalar()
        return _row(row) if row else None


def history(cell: Cell, *, before: int | None, limit: int) -> list[SignedCheckpoint]:
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(limit)
    if before is not None:
        query = query.where(LedgerCheckpoint.size < before)
    with cell.reading() as session:
        return [_row(r) for r in session.execute(query).scalars()]


def at_size(cell: Cell, size: int) -> SignedCheckpoint | None:
    with cell.reading() as session:
        row = session.get(LedgerCheckpoint, size)
        return _row(row) if row else None


def sign_checkpoint(cell: Cell) -> SignedCheckpoint:
    """Sign the log at its current size, unless that size is signed already; returns the newest checkpoint.
    Two instances signing the same size write the same note (Ed25519 is deterministic): the second insert is
    refused by the key and the first one stands."""
    with cell.reading() as session:
        size = session.execute(select(LedgerHead.size)).scalar_one()
        newest = session.execute(select(func.max(LedgerCheckpoint.size))).scalar()
        if newest is not None and newest >= size:
            row = session.get(LedgerCheckpoint, newest)
            assert row is not None
            return _row(row)
        with tree.NodeReader.within(session) as reader:
            root = reader.root(size)
        mapped, values = ledger_map.keeper(cell).advance(session, size)
    body = Checkpoint(cell.charter.mechanism.log_origin, size, root, (ledger_map.map_line(mapped.root),))
    note = str(sign_note(body.text, log_signer(cell)))
    signed = SignedCheckpoint(size, root, note, cell.clock.now(), mapped.root)
    try:
        with cell.command() as uow:
            if values:
                uow.session.execute(insert(LedgerMapValue.__table__), values)
            uow.session.execute(
                insert(LedgerCheckpoint.__table__),
                {"size": size, "root": root, "note": note, "signed_at": signed.signed_at,
                 "map_root": mapped.root},
            )  # fmt: skip
    except IntegrityError:  # another instance signed this size first, with the same map (it is deterministic)
        ledger_map.keeper(cell).keep(mapped)
        existing = at_size(cell, size)
        assert existing is not None
        return existing
    ledger_map.keeper(cell).keep(mapped)
    return signed


# -- witnesses ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cosigned:
    witness: str
    delegation: str
    line: str
    timestamp: int


def cosignatures(cell: Cell, size: int) -> list[Cosigned]:
    """The stored cosignatures of the checkpoint of `size`, in the charter's order of witnesses."""
    with cell.reading() as session:
        rows = {
            r.witness: r
            for r in session.execute(select(LedgerCosignature).where(LedgerCosignature.size == size)).scalars()
        }
    return [
        Cosigned(w.name, w.delegation, rows[w.name].line, rows[w.name].timestamp)
        for w in cell.charter.ledger.witnesses
        if w.name in rows
    ]


def party_delegations(charter: Charter) -> list[Any]:
    return [d for d in charter.delegations if d.kind is DelegationKind.PARTY]


def party_witnesses(charter: Charter) -> list[Witness]:
    parties = {d.code for d in party_delegations(charter)}
    return [w for w in charter.ledger.witnesses if w.delegation in parties]


def is_final(charter: Charter, cosigned: list[Cosigned]) -> bool:
    """Final: every party has a witness in the charter, and every party's witness cosigned."""
    parties = {d.code for d in charter.delegations if d.kind is DelegationKind.PARTY}
    needed = party_witnesses(charter)
    if not needed or {w.delegation for w in needed} != parties:
        return False
    return {w.name for w in needed} <= {c.witness for c in cosigned}


def latest_final(cell: Cell) -> SignedCheckpoint | None:
    """The newest checkpoint every party's witness cosigned."""
    needed = party_witnesses(cell.charter)
    if not needed or not is_final(cell.charter, [Cosigned(w.name, w.delegation, "", 0) for w in needed]):
        return None
    with cell.reading() as session:
        size = session.execute(
            select(LedgerCosignature.size)
            .where(LedgerCosignature.witness.in_([w.name for w in needed]))
            .group_by(LedgerCosignature.size)
            .having(func.count() == len(needed))
            .order_by(LedgerCosignature.size.desc())
            .limit(1)
        ).scalar()
    return at_size(cell, size) if size is not None else None


def with_cosignatures(checkpoint: SignedCheckpoint, cosigned: list[Cosigned]) -> str:
    """The checkpoint note with the witnesses' cosignature lines added (C2SP: more signatures on one note)."""
    return checkpoint.note + "".join(c.line for c in cosigned)


def _cosigned_size(cell: Cell, witness: str) -> int:
    with cell.reading() as session:
        return (
            session.execute(
                select(func.max(LedgerCosignature.size)).where(LedgerCosignature.witness == witness)
            ).scalar()
            or 0
        )


def _store_cosignature(cell: Cell, size: int, witness: str, line: str, timestamp: int) -> None:
    table = LedgerCosignature.__table__
    values = {"line": line, "timestamp": timestamp, "received_at": cell.clock.now()}
    with cell.command() as uow:
        key = (table.c.size == size) & (table.c.witness == witness)
        if uow.session.execute(update(table).where(key).values(**values)).rowcount == 0:
            uow.session.execute(insert(table).values(size=size, witness=witness, **values))


@dataclass(frozen=True)
class Submission:
    witness: str
    status: int | None  # None: the witness could not be reached
    detail: str


class WitnessClient:
    """Submits checkpoints to the charter's witnesses (C2SP tlog-witness) and keeps their cosignatures."""

    DEADLINE = 5.0  # seconds a witness may take to answer, all of it: a slow one must not hold up the log
    MAX_ANSWER = 64 * 1024

    def __init__(self, cell: Cell, http: httpx.Client | None = None) -> None:
        self.cell = cell
        self.http = http or httpx.Client(timeout=httpx.Timeout(self.DEADLINE, connect=2.0))
        self._refusing: dict[str, tuple[int, int]] = {}  # witness -> (status, size) of the refusal last recorded

    def _post(self, url: str, body: bytes) -> tuple[int, str, str]:
        """(status, content type, text) within DEADLINE and MAX_ANSWER, however the witness trickles its bytes."""
        deadline = time.monotonic() + self.DEADLINE
        with self.http.stream("POST", url, content=body) as r:
            data = bytearray()
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > self.MAX_ANSWER:
                    raise httpx.ReadError("the witness's answer is too large")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the witness took too long to answer")
            return r.status_code, r.headers.get("content-type", ""), data.decode("utf-8", "replace")

    def _request(self, old: int, checkpoint: SignedCheckpoint) -> bytes:
        proof = consistency(self.cell, old, checkpoint.size) if old else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return f"old {old}\n{lines}\n{checkpoint.note}".encode()

    def submit(self, witness: Witness, checkpoint: SignedCheckpoint) -> Submission:
        old = min(_cosigned_size(self.cell, witness.name), checkpoint.size)
        # the charter may give the witness's base address or its submission path itself: both reach it
        url = witness.url.rstrip("/").removesuffix("/add-checkpoint") + "/add-checkpoint"
        for _ in range(2):  # a 409 with a size tells us what the witness has: once more from there
            try:
                status, ctype, answer = self._post(url, self._request(old, checkpoint))
            except httpx.HTTPError as exc:
                log.warning("witness %s unreachable: %s", witness.name, exc)
                return Submission(witness.name, None, str(exc))
            if status == 409 and ctype.startswith(SIZE_MEDIA_TYPE) and answer.strip().isdigit():
                theirs = int(answer.strip())
                if theirs > checkpoint.size:  # it already cosigned a newer checkpoint (another instance offered it)
                    return Submission(witness.name, 409, f"superseded: the witness has cosigned {theirs}")
                if theirs != old:
                    old = theirs
                    continue
            break
        if status != 200:
            return self._refused(witness, checkpoint, status, answer.strip()[:500])
        verifier = Verifier.parse(witness.key)
        text = parse_note(checkpoint.note).text
        for line in answer.splitlines():
            try:
                timestamp = verify_cosignature(verifier, text, parse_signature_line(line))
            except NoteError:
                continue  # another key of the witness, or not a cosignature: ignored, as the spec says
            _store_cosignature(self.cell, checkpoint.size, witness.name, line + "\n", timestamp)
            self._refusing.pop(witness.name, None)
            return Submission(witness.name, 200, f"cosigned at {timestamp}")
        return self._refused(witness, checkpoint, 200, "no valid cosignature by the witness's key in its answer")

    def _refused(self, witness: Witness, checkpoint: SignedCheckpoint, status: int, reason: str) -> Submission:
        """A refusal to cosign is recorded in the ledger (once per refusal, not once per retry)."""
        log.warning("witness %s refused checkpoint %d: %s %s", witness.name, checkpoint.size, status, reason)
        if self._refusing.get(witness.name, (None, None))[0] != status:
            with self.cell.command() as uow:
                uow.record(
                    action="witness.refused",
                    actor=Principal.system("log"),
                    audience=resolve_audience(JOINT, self.cell.charter.roster),
                    subject=f"checkpoint:{checkpoint.size}",
                    content={
                        "witness": witness.name,
                        "delegation": witness.delegation,
                        "size": checkpoint.size,
                        "root": base64.b64encode(checkpoint.root).decode(),
                        "status": status,
                        "reason": reason,
                    },
                )
            self._refusing[witness.name] = (status, checkpoint.size)
        return Submission(witness.name, status, reason)

    def submit_all(self, checkpoint: SignedCheckpoint, *, renew: bool = False) -> list[Submission]:
        """Offer the checkpoint to every witness that has not cosigned it yet (to all of them if `renew`), all at
        once: each has DEADLINE seconds, so one slow witness does not delay the others."""
        have = {c.witness for c in cosignatures(self.cell, checkpoint.size)}
        due = [w for w in self.cell.charter.ledger.witnesses if renew or w.name not in have]
        if len(due) <= 1:
            return [self.submit(w, checkpoint) for w in due]
        with ThreadPoolExecutor(len(due), thread_name_prefix="fusioncell-witness") as pool:
            return list(pool.map(lambda w: self.submit(w, checkpoint), due))

    def close(self) -> None:
        self.http.close()


class Checkpointer:
    """Signs a checkpoint at most every `checkpoint_interval` while entries arrive (and at start), offers it to
    the witnesses, and at least every `heartbeat` offers the newest again for fresh cosignatures. Runs in a
    background thread; `tick()` is one step, for tests with a manual clock."""

    def __init__(self, cell: Cell, witnesses: WitnessClient | None = None) -> None:
        self.cell = cell
        self.witnesses = witnesses or WitnessClient(cell)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed: datetime | None = None

    def tick(self) -> SignedCheckpoint:
        checkpoint = sign_checkpoint(self.cell)
        now = self.cell.clock.now()
        renew = self._renewed is None or now - self._renewed >= self.cell.charter.ledger.heartbeat
        if self.cell.charter.ledger.witnesses:
            self.witnesses.submit_all(checkpoint, renew=renew)
        if renew:
            self._renewed = now
        return checkpoint

    def start(self) -> None:
        interval = self.cell.charter.ledger.checkpoint_interval.total_seconds()

        def run() -> None:
            while True:
                try:
                    self.tick()
                except Exception:  # a database hiccup: try again next time
                    log.exception("signing a checkpoint failed")
                if self._stop.wait(interval):
                    return

        self._thread = threading.Thread(target=run, name="fusioncell-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.witnesses.close()


# -- proofs ---------------------------------------------------------------------------------------------------


def inclusion(cell: Cell, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, proof) of entry `index` in the tree of `size` entries."""
    with tree.NodeReader.open(cell.db) as reader:
        current = reader.size()
        if not 0 < size <= current:
            raise InvalidInput(f"size must be between 1 and the log's size, {current}", field="size")
        if not 0 <= index < size:
            raise InvalidInput(f"index must be below size ({size})", field="index")
        return reader.inclusion(index, size)


def consistency(cell: Cell, first: int, second: int) -> list[bytes]:
    with tree.NodeReader.open(cell.db) as reader:
        current = reader.size()
        if not 0 <= second <= current:
            raise InvalidInput(f"second must be between 0 and the log's size, {current}", field="second")
        if not 0 <= first <= second:
            raise InvalidInput(f"first must be between 0 and second ({second})", field="first")
        return reader.consistency(first, second)

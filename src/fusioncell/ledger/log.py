"""The log: its signing key, its signed checkpoints, and the proofs that tie entries to them.

The sequencer is the unit of work (`fusioncell.db`): every appending transaction locks the ledger head row,
takes the next indices, writes the entries and the Merkle nodes they complete, and moves the head, so there is
one writer at a time on either database and each command knows its index before it returns. This module
signs what the sequencer wrote.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from fusioncell.cell import Cell
from fusioncell.charter import Charter
from fusioncell.errors import InvalidInput, LogKeyError
from fusioncell.ledger import tree
from fusioncell.ledger.models import LedgerCheckpoint, LedgerHead
from fusioncell.ledger.note import ALG_ED25519, Checkpoint, NoteError, Signer, sign_note
from fusioncell.settings import Settings

log = logging.getLogger(__name__)


# -- keys -----------------------------------------------------------------------------------------------------


def write_private_key(path: Path, signer: Signer) -> None:
    """Create `path` readable and writable by its owner only (never overwriting a key)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(str(signer) + "\n")


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


def _row(r: LedgerCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint(r.size, bytes(r.root), r.note, r.signed_at)


def latest(cell: Cell) -> SignedCheckpoint | None:
    with cell.reading() as session:
        row = session.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)).scalar()
        return _row(row) if row else None


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
        root = tree.root(session, size)
    note = str(sign_note(Checkpoint(cell.charter.mechanism.log_origin, size, root).text, log_signer(cell)))
    signed = SignedCheckpoint(size, root, note, cell.clock.now())
    try:
        with cell.command() as uow:
            uow.session.execute(
                insert(LedgerCheckpoint.__table__),
                {"size": size, "root": root, "note": note, "signed_at": signed.signed_at},
            )
    except IntegrityError:  # another instance signed this size first
        existing = at_size(cell, size)
        assert existing is not None
        return existing
    return signed


class Checkpointer:
    """Signs a checkpoint at most every `checkpoint_interval` while entries arrive (and at start), from a
    background thread; `tick()` is the step, for tests with a manual clock."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> SignedCheckpoint:
        return sign_checkpoint(self.cell)

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
            self._thread.join(timeout=10)


# -- proofs ---------------------------------------------------------------------------------------------------


def _current_size(session: object) -> int:
    return session.execute(select(LedgerHead.size)).scalar_one()  # type: ignore[attr-defined, no-any-return]


def inclusion(cell: Cell, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, proof) of entry `index` in the tree of `size` entries."""
    with cell.reading() as session:
        current = _current_size(session)
        if not 0 < size <= current:
            raise InvalidInput(f"size must be between 1 and the log's size, {current}", field="size")
        if not 0 <= index < size:
            raise InvalidInput(f"index must be below size ({size})", field="index")
        return tree.leaf_hash_at(session, index), tree.inclusion_proof(session, index, size)


def consistency(cell: Cell, first: int, second: int) -> list[bytes]:
    with cell.reading() as session:
        current = _current_size(session)
        if not 0 <= second <= current:
            raise InvalidInput(f"second must be between 0 and the log's size, {current}", field="second")
        if not 0 <= first <= second:
            raise InvalidInput(f"first must be between 0 and second ({second})", field="first")
        return tree.consistency_proof(session, first, second)


def root(cell: Cell, size: int) -> bytes:
    with cell.reading() as session:
        current = _current_size(session)
        if not 0 <= size <= current:
            raise InvalidInput(f"size must be between 0 and the log's size, {current}", field="size")
        return tree.root(session, size)

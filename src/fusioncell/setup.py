"""Initialising a data directory: charter, database schema, the charter's adoption as ledger entry 0."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.charter import Charter, load_charter
from fusioncell.charter.loader import CharterError
from fusioncell.clock import Clock, SystemClock
from fusioncell.db import Database
from fusioncell.errors import Conflict
from fusioncell.events import EventBus
from fusioncell.ledger.log import log_signer
from fusioncell.ledger.models import LedgerEntry, LedgerHead
from fusioncell.migrate import upgrade
from fusioncell.policy import JOINT, Principal, resolve_audience
from fusioncell.settings import Settings


def is_initialised(settings: Settings) -> bool:
    return settings.charter_path.exists()


def init_cell(settings: Settings, charter_file: Path, *, actor: Principal, clock: Clock | None = None) -> Cell:
    """Validate the charter, create the data directory and schema, and adopt the charter in the ledger."""
    charter = load_charter(charter_file)
    data = settings.data
    if settings.charter_path.exists():
        existing = settings.charter_path.read_bytes()
        if existing != charter_file.read_bytes():
            raise Conflict(
                f"{data} is already initialised with a different charter; charter changes are agreed "
                "amendments, not re-initialisation"
            )
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    db = Database(settings.resolved_database_url())
    upgrade(db)
    cell = Cell(settings=settings, charter=charter, db=db, clock=clock or SystemClock(), bus=EventBus())
    log_signer(cell)  # made now (or checked against the charter), so `init` can tell the witnesses its key
    with cell.reading() as session:
        size = session.execute(select(LedgerHead.size)).scalar_one()
    raw = charter_file.read_bytes()
    if size == 0:
        _adopt(cell, charter, raw, actor)
    else:
        _check_adopted(cell, raw)
    if not settings.charter_path.exists():
        shutil.copyfile(charter_file, settings.charter_path)
        os.chmod(settings.charter_path, 0o600)
    return cell


def _adopt(cell: Cell, charter: Charter, raw: bytes, actor: Principal) -> None:
    with cell.command() as uow:
        uow.record(
            action="charter.adopted",
            actor=actor,
            audience=resolve_audience(JOINT, charter.roster),
            subject=f"charter:{charter.mechanism.log_origin}",
            content={"sha256": hashlib.sha256(raw).hexdigest(), "charter": charter.model_dump(mode="json")},
        )


def _check_adopted(cell: Cell, raw: bytes) -> None:
    """A second instance joining a shared database must bring the charter the ledger adopted."""
    import json

    with cell.reading() as session:
        entry = session.get(LedgerEntry, 0)
    adopted = json.loads(entry.content).get("sha256") if entry and entry.action == "charter.adopted" else None
    if adopted and adopted != hashlib.sha256(raw).hexdigest():
        raise Conflict(
            f"the database already adopted a different charter (sha256 {adopted[:16]}…); "
            "use the charter file that database was initialised with"
        )


def ensure_charter_readable(settings: Settings) -> Charter:
    if not settings.charter_path.exists():
        raise CharterError(
            str(settings.charter_path),
            [f"no charter: run `fusioncell init --charter FILE --data {settings.data}` first"],
        )
    return load_charter(settings.charter_path)

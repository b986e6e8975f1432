"""The running cell: settings, charter, database, clock and event bus, handed to every service."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from fusioncell.charter import Charter
from fusioncell.clock import Clock
from fusioncell.db import Database, UnitOfWork
from fusioncell.events import EventBus
from fusioncell.settings import Settings


@dataclass
class Cell:
    settings: Settings
    charter: Charter
    db: Database
    clock: Clock
    bus: EventBus = field(default_factory=EventBus)

    def command(self) -> UnitOfWork:
        """A unit of work for one command: `with cell.command() as uow: ...`."""
        return UnitOfWork(self.db, clock=self.clock, bus=self.bus)

    def reading(self) -> AbstractContextManager[Session]:
        return self.db.reading()

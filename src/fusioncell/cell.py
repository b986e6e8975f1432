"""The running cell: settings, charter, database, clock and event bus, handed to every service."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from fusioncell.charter import Charter
from fusioncell.clock import Clock
from fusioncell.db import Database, UnitOfWork
from fusioncell.events import EventBus
from fusioncell.groupcommit import GroupCommitter
from fusioncell.settings import Settings

T = TypeVar("T")


@dataclass
class Cell:
    settings: Settings
    charter: Charter
    db: Database
    clock: Clock
    bus: EventBus = field(default_factory=EventBus)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)
    group_commit: GroupCommitter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the writer that runs concurrent commands in one transaction (see `fusioncell.groupcommit`); its thread
        # starts on first use
        self.group_commit = GroupCommitter(self.db, clock=self.clock, bus=self.bus)

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """Something computed once from the charter (a glossary matcher, say) and kept for the cell's life."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def command(self) -> UnitOfWork:
        """A unit of work for one command: `with cell.command() as uow: ...`."""
        return UnitOfWork(self.db, clock=self.clock, bus=self.bus)

    def close(self) -> None:
        """Let queued commands finish and stop the group-commit writer."""
        self.group_commit.close()

    def reading(self) -> AbstractContextManager[Session]:
        return self.db.reading()

"""Engines, the SQLite pragmas, the declarative base, and the unit of work every command runs in.

One write path: authorize -> change state -> append the ledger entry -> commit -> publish the event.
Services only flush; the unit of work commits (or rolls back) at the boundary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from fusioncell.clock import Clock
    from fusioncell.events import EventBus
    from fusioncell.ledger.entries import CommittedEntry
    from fusioncell.policy import Audience, Principal

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def fresh_id(session: Session, model: type[Any]) -> int:
    """An id for a new row of the model: random (schemas.random_row_id), and none of its rows has it yet."""
    from fusioncell.schemas import random_row_id

    while True:
        candidate = random_row_id()
        if session.get(model, candidate) is None:
            return candidate


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Tables that are a command's bookkeeping rather than shared state (tokens, login attempts, jobs,
    # the ledger itself) set this, so writing them does not demand a ledger entry.
    __ledger_exempt__ = False


def driver_mark(session: Session) -> str:
    """The parameter marker of the session's driver, for the few statements written straight to it."""
    return "?" if session.get_bind().dialect.name == "sqlite" else "%s"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite, which stores no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: fusioncell stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Per connection (a pool holds a few): a page cache big enough for the ledger's indexes to stay in memory as it
# grows past a million entries. (No mmap: SQLite's own reads keep an I/O error an error, not a SIGBUS.)
SQLITE_CACHE_KIB = 32_768


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not the driver, open transactions (so writers can BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: no deadlock upgrading a read lock later.
        if conn.get_execution_options().get("fusioncell_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """The engines of one database; nothing is opened until first use."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        # asked on every append: worked out once
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.url.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
            kwargs["pool_pre_ping"] = False  # a file does not drop connections; the ping costs every checkout
        self.engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
        self.write_engine = self.engine.execution_options(fusioncell_write=True)
        # SQLite has one writer at a time. Its busy handler makes a waiting writer sleep and poll (up to 100 ms a
        # turn), which under concurrent commands costs far more than the work; writers of this process queue on
        # a lock instead and start the moment the previous one commits. Other processes still meet busy_timeout.
        self.write_lock: threading.RLock | None = threading.RLock() if self.is_sqlite else None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session for queries; it never commits."""
        session = Session(bind=self.engine, expire_on_commit=False, autoflush=False)
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable, detached

    def dispose(self) -> None:
        self.engine.dispose()

    def start_checkpointer(self, interval: float = 0.5) -> Callable[[], None]:
        """SQLite: copy the WAL back into the database from a background thread every `interval`, so the WAL
        never grows to the size at which SQLite would checkpoint (and fsync) inside a committing writer. Returns
        the function that stops it. A no-op elsewhere."""
        if not self.is_sqlite:
            return lambda: None
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(interval):
                try:
                    with self.engine.connect() as conn:
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:  # a busy or missing database: try again next time
                    log.debug("WAL checkpoint failed", exc_info=True)

        thread = threading.Thread(target=run, name="fusioncell-wal-checkpoint", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)

        return halt


_EXEMPT_TABLES: tuple[int, frozenset[str]] = (-1, frozenset())


def _exempt_tables() -> frozenset[str]:
    """Tables of the models marked `__ledger_exempt__` (bookkeeping, not shared state); worked out again when
    more models have been mapped."""
    global _EXEMPT_TABLES
    mappers = Base.registry.mappers
    if _EXEMPT_TABLES[0] != len(mappers):
        _EXEMPT_TABLES = (
            len(mappers),
            frozenset(m.local_table.name for m in mappers if getattr(m.class_, "__ledger_exempt__", False)),
        )
    return _EXEMPT_TABLES[1]


_LEDGER: Any = None


def _ledger() -> Any:
    """`fusioncell.ledger.entries`, imported on first use (it imports this module's Base)."""
    global _LEDGER
    if _LEDGER is None:
        from fusioncell.ledger import entries

        _LEDGER = entries
    return _LEDGER


class _Command:
    """`UnitOfWork.command()`: a class rather than a generator, as it wraps every command of a batch."""

    __slots__ = ("uow", "callbacks", "next_index")

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __enter__(self) -> UnitOfWork:
        uow = self.uow
        uow._batched = True
        uow._command_start = len(uow.entries)
        uow._shared_state_written = False
        uow.command_wrote = False
        self.callbacks = len(uow._after_commit)
        self.next_index = uow._next_index
        return uow

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        uow = self.uow
        if exc_type is None:
            try:
                uow._check_command()
                return False
            except BaseException:
                self._undo()
                raise
        self._undo()
        return False

    def _undo(self) -> None:
        uow = self.uow
        if uow._pending():
            uow.command_wrote = True  # changes not yet flushed are writes too: the attempt must be undone
        start = uow._command_start
        del uow.entries[start:]
        del uow._rows[start:]
        del uow._leaves[start:]
        del uow._after_commit[self.callbacks :]
        uow._next_index = self.next_index


class LedgerEntryMissing(RuntimeError):
    """A command changed shared state without recording its ledger entry: a programming error."""


class UnitOfWork:
    """One transaction for one command — or, under group commit, for several commands, each in its own savepoint
    with its own ledger entry. Either way: one entry per command that changes shared state, the ledger head locked
    once and moved once, events published only after commit."""

    def __init__(self, db: Database, *, clock: Clock, bus: EventBus | None = None) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.session = Session(bind=db.write_engine, expire_on_commit=False, autoflush=True)
        self.entries: list[CommittedEntry] = []
        self._rows: list[tuple[Any, ...]] = []  # the entries' rows, inserted together just before commit
        self._leaves: list[bytes] = []  # their Merkle leaf hashes
        self._after_commit: list[Callable[[], None]] = []
        self._shared_state_written = False
        self.command_wrote = False  # the current command has written to the database (not just recorded)
        self._command_start = 0  # index into self.entries where the current command's entries begin
        self._batched = False
        self._head: int | None = None  # the ledger's size at the start of this transaction, once locked
        self._next_index: int | None = None
        event.listen(self.session, "before_flush", self._watch_flush)
        event.listen(self.session, "do_orm_execute", self._watch_bulk)

    def _watch_flush(self, session: Session, _ctx: Any, _instances: Any) -> None:
        def shared(obj: Any) -> bool:
            return not getattr(obj, "__ledger_exempt__", False)

        if session.new or session.deleted or session.dirty:
            self.command_wrote = True
        if any(shared(o) for o in (*session.new, *session.deleted)) or any(
            shared(o) and session.is_modified(o) for o in session.dirty
        ):
            self._shared_state_written = True

    def next_ledger_index(self) -> int:
        """The index this command's entry will have (locking the ledger head on first use), so a record can name
        its entry before the entry is written."""
        if self._next_index is None:
            self._head = self._next_index = _ledger().lock_head(self.session)
        return self._next_index

    def record(
        self, *, action: str, actor: Principal, audience: Audience, subject: str, content: dict[str, Any]
    ) -> CommittedEntry:
        """Append this command's ledger entry in its transaction. One command, one entry. The row is written with
        the others of the transaction, in one statement, just before commit."""
        ledger = _ledger()
        if len(self.entries) > self._command_start:
            recorded = self.entries[self._command_start].action
            raise RuntimeError(f"a command records one ledger entry; {recorded} is already recorded")
        now = self.clock.now()
        row, plain, leaf = ledger.entry_row(
            index=self.next_ledger_index(),
            now=now,
            action=action,
            actor=actor,
            audience=audience,
            subject=subject,
            content=content,
            sqlite=self.db.is_sqlite,
        )
        self._rows.append(row)
        self._leaves.append(leaf)
        index = row[0]
        self._next_index = index + 1
        entry = ledger.CommittedEntry(
            index=index,
            recorded_at=now,
            action=action,
            actor=actor.username,
            actor_delegation=actor.delegation,
            audience=audience.label,
            subject=subject,
            content=plain,  # exactly what was committed to, as JSON
            commitment=row[-1],
        )
        self.entries.append(entry)
        return entry

    def _watch_bulk(self, state: Any) -> None:
        # INSERT/UPDATE/DELETE statements (ORM-enabled or on a plain table) bypass the flush: look at the table
        if state.is_insert or state.is_update or state.is_delete:
            self.command_wrote = True
            table = getattr(state.statement, "table", None)
            if table is None or table.name not in _exempt_tables():
                self._shared_state_written = True

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def _pending(self) -> bool:
        """The session holds changes not yet flushed. (Session._is_clean is what flush itself asks; the public
        new/dirty/deleted build a set each, and this runs for every command.)"""
        return not self.session._is_clean()

    def _check_command(self) -> None:
        if self._pending():
            self.session.flush()
        if self._shared_state_written and len(self.entries) == self._command_start:
            raise LedgerEntryMissing("a command changed shared state but recorded no ledger entry")

    def command(self) -> _Command:
        """One command of a group commit. If it fails before writing anything, its entry and callbacks are
        dropped and the others in the transaction go on; if it fails after writing (`command_wrote`), the
        transaction is spoiled and the group committer runs the others again without it. No savepoint per command:
        two statements per command saved on the common path, where nothing fails."""
        return _Command(self)

    def __enter__(self) -> UnitOfWork:
        lock = self.db.write_lock
        if lock is not None:
            lock.acquire()
        try:
            self.session.begin()
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from fusioncell.ledger import tree

        try:
            if exc_type is not None:
                self.session.rollback()
                return
            try:
                if not self._batched:
                    self._check_command()
                if self.entries:
                    ledger = _ledger()
                    ledger.insert_entries(self.session, self._rows)
                    # the Merkle tree grows in the same transaction, under the same head lock
                    tree.append(self.session, self._head, self._leaves)  # type: ignore[arg-type]
                    ledger.set_head(self.session, self._next_index)
                self.session.flush()
            except BaseException:
                self.session.rollback()
                raise
            self.session.commit()
        finally:
            try:
                self.session.close()
            finally:
                if self.db.write_lock is not None:
                    self.db.write_lock.release()
        # Published only once the change is durable: a subscriber never sees a rolled-back event.
        if self.bus is not None:
            for entry in self.entries:
                self.bus.publish(entry)
        for callback in self._after_commit:
            try:
                callback()
            except Exception:  # a failing listener must not undo or hide a committed command
                log.exception("after-commit callback failed")

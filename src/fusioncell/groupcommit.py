"""Group commit: commands that arrive together share one transaction.

Eight liaisons sending at once would otherwise queue for the ledger head one transaction at a time, each paying
for its own BEGIN, head lock and COMMIT (and on PostgreSQL its own WAL flush). A single writer thread takes
whatever commands are waiting, runs each in its own savepoint with its own ledger entry, and commits them
together; only then does any caller get its answer (a sender's 201 still means "durable"). A command that fails
before writing is simply left out; one that fails after writing spoils the attempt, which is rolled back and
made again without it (rare: validation refuses before writing); if the commit itself fails, every command in
it fails.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from fusioncell.clock import Clock
from fusioncell.db import Database, UnitOfWork
from fusioncell.events import EventBus

log = logging.getLogger(__name__)

T = TypeVar("T")
Command = Callable[[UnitOfWork], Any]

MAX_BATCH = 64


class GroupCommitter:
    def __init__(self, db: Database, *, clock: Clock, bus: EventBus | None, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.max_batch = max_batch
        # each writer thread has its own queue, so a writer started after close() never takes the old one's stop
        self._queue: queue.SimpleQueue[tuple[Command, Future[Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # transactions committed (for metrics and tests)
        self.commands = 0

    def submit(self, command: Callable[[UnitOfWork], T]) -> Future[T]:
        """Queue a command; the future resolves once its transaction has committed (or with its error)."""
        future: Future[T] = Future()
        with self._lock:
            if self._thread is None:
                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="fusioncell-group-commit", daemon=True
                )
                self._thread.start()
            self._queue.put((command, future))
        return future

    @property
    def waiting(self) -> int:
        """Commands queued and not yet taken by the writer."""
        return self._queue.qsize()

    async def run(self, command: Callable[[UnitOfWork], T]) -> T:
        """From the event loop: run a command in the next group and wait for its commit."""
        return await asyncio.wrap_future(self.submit(command))

    def call(self, command: Callable[[UnitOfWork], T]) -> T:
        """From a worker thread: run a command in the next group and wait for its commit."""
        return self.submit(command).result()

    def close(self) -> None:
        """Finish what is queued, then stop the writer (a later submit starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout=30)

    def _run(self, jobs: queue.SimpleQueue[tuple[Command, Future[Any]] | None]) -> None:
        while True:
            item = jobs.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._execute(batch)
            if stop:
                return

    def _execute(self, batch: list[tuple[Command, Future[Any]]]) -> None:
        pending = [(command, future) for command, future in batch if future.set_running_or_notify_cancel()]
        failed: list[tuple[Future[Any], BaseException]] = []  # commands that spoiled an attempt, left out after
        while True:
            outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
            spoiler: tuple[Future[Any], BaseException] | None = None
            try:
                with UnitOfWork(self.db, clock=self.clock, bus=self.bus) as uow:
                    for command, future in pending:
                        try:
                            with uow.command():
                                result = command(uow)
                        except Exception as exc:
                            if uow.command_wrote or _database_error(exc):
                                # its writes (or the database's error state) are in the transaction: roll it
                                # all back and run the others again without it
                                spoiler = (future, exc)
                                raise _Spoiled from exc
                            outcomes.append((future, None, exc))  # refused before writing: nothing to undo
                        else:
                            outcomes.append((future, result, None))
            except _Spoiled:
                assert spoiler is not None
                failed.append(spoiler)
                pending = [(c, f) for c, f in pending if f is not spoiler[0]]
                continue
            except BaseException as exc:  # the commit failed: nothing in this group happened
                log.exception("group commit of %d commands failed", len(pending))
                for future, _result, own_error in outcomes:
                    future.set_exception(own_error or exc)
                for _command, future in pending[len(outcomes) :]:
                    future.set_exception(exc)
                for future, error in failed:
                    future.set_exception(error)
                return
            break
        self.batches += 1
        self.commands += len(outcomes)
        for future, error in failed:
            future.set_exception(error)
        for future, result, own_error in outcomes:
            if own_error is not None:
                future.set_exception(own_error)
            else:
                future.set_result(result)


def _database_error(exc: BaseException) -> bool:
    """The command met a database error, even one it caught and turned into a domain error: on PostgreSQL the
    transaction is then aborted, and nothing after it in the attempt could succeed."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, DBAPIError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _Spoiled(Exception):
    """A command failed after writing: the attempt is rolled back and made again without it."""

"""Fan-out of committed ledger entries to WebSocket subscribers.

One hub per app instance keeps a window of the newest entries (5,000 to 10,000). A wake-up (an in-process commit, or a
PostgreSQL NOTIFY from another instance) makes the hub read what is new, once, and wake every subscriber;
each subscriber then sends, in index order, the entries its reader may see. A subscriber behind the window
(a replay, a slow client) reads from the database instead, so nothing is missed and nothing repeats.

With each batch of new entries the hub reads the count of token revocations (`fusioncell.auth.revocations`); when
it has moved, the hub checks every subscriber's token in one query before the batch goes out and cuts off those
no longer valid, so no entry committed after a token was revoked reaches its socket. A revocation wakes the hub
as a commit does, on every instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import bindparam, select

from fusioncell.auth import revocations
from fusioncell.auth import service as auth_service
from fusioncell.cell import Cell
from fusioncell.ledger.entries import NOTIFY_CHANNEL, jsonable
from fusioncell.ledger.models import LedgerEntry, LedgerHead
from fusioncell.stream.frames import FrameType

log = logging.getLogger(__name__)

WINDOW = 5_000
FETCH = 2_000


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """A committed entry as the stream sends it: its frame encoded once for every subscriber, and no more
    objects than it takes (the window holds thousands; the garbage collector walks them all)."""

    index: int
    audience: str
    frame: str  # one JSON text frame
    message_id: int | None = None  # for message.sent: the message and the delegations it is addressed to
    addressed: tuple[str, ...] = ()


@dataclass(eq=False)
class Subscription:
    """A subscriber as the hub knows it: woken when there is something to send, and cut off when its token is
    found revoked."""

    token_digest: str
    # every revocation up to this generation had committed when the token was last found valid
    generation: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    refused: str | None = None  # why the token no longer holds, once the hub has found out


_entries = LedgerEntry.__table__.c
_NEW_ENTRIES = (
    select(
        _entries.index,
        _entries.recorded_at,
        _entries.action,
        _entries.actor_delegation,
        _entries.audience,
        _entries.subject,
        _entries.content,
    )
    .where(_entries.index > bindparam("after"))
    .order_by(_entries.index)
    .limit(bindparam("limit"))
)


def stream_event(entry: Any) -> StreamEvent:
    """From a ledger entry, or a row with its columns."""
    head = json.dumps(
        {
            "type": FrameType.EVENT,
            "index": entry.index,
            "time": jsonable(entry.recorded_at),
            "action": entry.action,
            "delegation": entry.actor_delegation,
            "audience": entry.audience,
            "subject": entry.subject,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    # the content is canonical JSON already: spliced in as it is, not parsed and encoded again
    frame = f'{head[:-1]},"content":{entry.content}}}'
    if entry.action != "message.sent":
        return StreamEvent(entry.index, entry.audience, frame)
    sent = json.loads(entry.content)["message"]
    return StreamEvent(entry.index, entry.audience, frame, sent["id"], tuple(sent["addressed"]))


def position(cell: Cell) -> tuple[int, int]:
    """The ledger's size, and the count of token revocations read in the same snapshot after it: any revocation
    committed before one of those entries is counted."""
    with cell.reading() as session:
        size = session.execute(select(LedgerHead.size)).scalar_one()
        return size, revocations.generation(session)


class StreamHub:
    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        # the newest entries, oldest first; trimmed in steps so that appending and slicing stay cheap
        self.window: list[StreamEvent] = []
        self.tail = -1  # highest index read into the window
        # the count of token revocations read with the window's newest entries; every subscriber's token has been
        # found valid since the revocations it counts (else the subscriber checks its own before sending)
        self.generation = 0
        self._unknown_tail = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._listener: _Watcher | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- life cycle (the app's lifespan) --

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            size, self.generation = await asyncio.to_thread(position, self.cell)
            self.tail = size - 1
        except Exception:
            # the database is down at start: serve anyway (health says so); read the head when it returns
            log.exception("stream hub could not read the ledger head; will retry")
            self._unknown_tail = True
            self._wake.set()
        self._unsubscribe = self.cell.bus.subscribe(lambda _entry: self.wake())
        if self.cell.db.is_postgres:
            self._listener = _PgListener(self.cell, self.wake)
            self._listener.start()
        elif self.cell.db.is_sqlite:
            self._listener = _SqliteWatcher(self.cell, self.wake)
            self._listener.start()
        self._task = asyncio.create_task(self._run(), name="fusioncell-stream-hub")
        self._ticker = asyncio.create_task(self._tick(), name="fusioncell-stream-ticker")

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._listener:
            self._listener.stop()
        for task in (self._task, self._ticker):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def wake(self) -> None:
        """Thread-safe: something was committed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- subscribers --

    def subscribe(self, *, token_digest: str, generation: int) -> Subscription:
        """A subscriber whose token was found valid after `generation` revocations had committed."""
        subscription = Subscription(token_digest, generation)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def after(self, index: int) -> list[StreamEvent] | None:
        """Entries after `index` from the window, or None when the window no longer reaches back that far."""
        if not self.window:
            return [] if index >= self.tail else None
        first = self.window[0].index
        if index < first - 1:
            return None
        return self.window[max(index - first + 1, 0) :]

    async def _tick(self) -> None:
        """Wake every subscriber a few times per heartbeat interval, so each can send its heartbeat and re-check
        its token on time, without a timer of its own per wait."""
        while True:
            await asyncio.sleep(self.cell.settings.stream_heartbeat_seconds / 4)
            for subscription in list(self._subscribers):
                subscription.wake.set()

    # -- the reader --

    def _fetch(self, after: int) -> tuple[list[StreamEvent], int]:
        """New entries, and the count of token revocations read after them: any revocation committed before one
        of these entries is counted."""
        # plain rows, not entities: every instance reads every entry once, and nothing here is kept but the frame
        with self.cell.reading() as session:
            fresh = [stream_event(row) for row in session.execute(_NEW_ENTRIES, {"after": after, "limit": FETCH})]
            return fresh, revocations.generation(session)

    async def _recheck(self, generation: int) -> None:
        """Tokens were revoked since the hub last looked: check, in one query read after `generation`, the token of
        every subscriber not yet checked since, and cut off those no longer valid."""
        stale = [s for s in self._subscribers if s.generation < generation and s.refused is None]
        if stale:
            refused = await asyncio.to_thread(
                auth_service.refused_tokens, cell=self.cell, digests=[s.token_digest for s in stale]
            )
            for subscription in stale:
                reason = refused.get(subscription.token_digest)
                if reason is None:
                    subscription.generation = max(subscription.generation, generation)
                else:
                    subscription.refused = reason
                    subscription.wake.set()
        self.generation = max(self.generation, generation)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._unknown_tail:
                    size, generation = await asyncio.to_thread(position, self.cell)
                    await self._recheck(generation)
                    self.tail = size - 1
                    self._unknown_tail = False
                while True:
                    fresh, generation = await asyncio.to_thread(self._fetch, self.tail)
                    if generation > self.generation:
                        await self._recheck(generation)  # before any of these entries can go out
                    if not fresh:
                        break
                    self.window.extend(fresh)
                    if len(self.window) > 2 * WINDOW:
                        del self.window[: len(self.window) - WINDOW]
                    self.tail = fresh[-1].index
                    for subscription in list(self._subscribers):
                        subscription.wake.set()
                    if len(fresh) < FETCH:
                        break
            except Exception:
                log.exception("stream hub could not read new entries; retrying on the next wake-up")
                await asyncio.sleep(0.5)
                self._wake.set()


class _Watcher(ABC):
    """A thread that learns of commits by other processes and wakes the hub; reconnects after failures."""

    name = "fusioncell-watch"

    def __init__(self, cell: Cell, wake: Callable[[], None]) -> None:
        self.cell = cell
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch()
            except Exception:
                if not self._stop.is_set():
                    log.exception("%s lost its connection; reconnecting", self.name)
                    self._stop.wait(1.0)

    @abstractmethod
    def _watch(self) -> None:
        """Connect, then wake the hub whenever another process may have committed, until stopped."""


class _PgListener(_Watcher):
    """LISTEN on the ledger's channel and on token revocations'; every notification wakes the hub."""

    name = "fusioncell-pg-listen"

    def _watch(self) -> None:
        dsn = self.cell.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            conn.execute(f"LISTEN {revocations.REVOKED_CHANNEL}")
            self.wake()  # catch up on anything committed while we were not listening
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=1.0):
                    self.wake()


class _SqliteWatcher(_Watcher):
    """SQLite has no NOTIFY: ask `PRAGMA data_version`, which changes when another connection has committed (the
    command line adding an account or revoking tokens, say, or this process's own writers). Ledger entries of this
    process wake the hub sooner through the event bus; its own token revocations are seen here."""

    name = "fusioncell-sqlite-watch"
    INTERVAL = 0.1

    def _watch(self) -> None:
        # data_version is per connection: keep one checked out for the watcher's life
        with self.cell.db.engine.connect() as conn:
            version = self._version(conn)
            self.wake()  # catch up on anything committed before the baseline was taken
            while not self._stop.wait(self.INTERVAL):
                current = self._version(conn)
                if current != version:
                    version = current
                    self.wake()

    @staticmethod
    def _version(conn: Any) -> int:
        version = conn.exec_driver_sql("PRAGMA data_version").scalar()
        conn.rollback()  # end the read transaction, whose snapshot would hide later commits
        return int(version)

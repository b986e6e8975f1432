"""Delivery receipts from the stream, written in batches.

Every subscriber of a delegation receives the same message, often within the same millisecond: fifteen SY
officers' screens, say. Only the first receipt per (message, delegation) changes anything. The recorder keeps
receipts in memory and a single writer turns whatever has arrived since its last write into one command per
(audience, delegation) — so a burst costs a handful of transactions and ledger entries, not one per subscriber
and message. A receipt is written at once when the last write is at least `INTERVAL` ago; under load, writes
come every `INTERVAL` with whatever arrived meanwhile (delivered states lag by at most that, and the ledger and
every stream carry a few delivery entries a second rather than one per message).

A receipt still in memory when the process dies is lost; the delivery stays *pending*, and the member's next
read (stream replay after reconnecting, or the acknowledgement itself) marks it again. Nothing else depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict

from fusioncell.cell import Cell
from fusioncell.errors import DomainError
from fusioncell.traffic.service import Receipt, submit_receipts

log = logging.getLogger(__name__)

REMEMBER = 50_000  # receipts already written, to skip the colleagues' duplicates without a database read
RETRY_SECONDS = 0.5
INTERVAL = 0.2  # seconds between receipt writes under load


class ReceiptRecorder:
    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self._pending: dict[tuple[int, str], Receipt] = {}
        self._written: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._wake = asyncio.Event()
        if self._pending:
            self._wake.set()
        self._task = asyncio.create_task(self._run(), name="fusioncell-receipts")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:  # shutting down cleanly: write what is left
            try:
                await self._write(self._take())
            except Exception:
                log.exception("could not write the last delivery receipts at shutdown")

    def wants(self, message_id: int, delegation: str) -> bool:
        """Whether a receipt for this delivery would be news (cheap: no receipt is built for the duplicates)."""
        key = (message_id, delegation)
        return key not in self._pending and key not in self._written

    def note(self, receipt: Receipt) -> None:
        """A member's client received a message (called on the event loop; never blocks)."""
        key = receipt.key
        if key in self._pending or key in self._written:
            return
        self._pending[key] = receipt
        self._wake.set()

    async def flush(self) -> None:
        """Write everything noted so far (tests, shutdown)."""
        if self._pending:
            await self._write(self._take())

    def _take(self) -> list[Receipt]:
        batch = list(self._pending.values())
        self._pending = {}
        return batch

    async def _write(self, batch: list[Receipt]) -> None:
        # one delivery command per (audience, delegation), all joining the next group commit
        submitted = submit_receipts(cell=self.cell, receipts=batch)
        groups = [group for group, _future in submitted]
        outcomes = await asyncio.gather(
            *(asyncio.wrap_future(future) for _group, future in submitted), return_exceptions=True
        )
        failed = False
        for group, outcome in zip(groups, outcomes, strict=True):
            if isinstance(outcome, DomainError):  # will never succeed (say, an audience the charter dropped)
                log.warning("dropping %d delivery receipts: %s", len(group), outcome.detail)
                continue
            if isinstance(outcome, BaseException):  # the database, most likely: keep them for another try
                log.error("could not write %d delivery receipts; retrying", len(group), exc_info=outcome)
                for receipt in group:
                    self._pending.setdefault(receipt.key, receipt)
                failed = True
                continue
            busy = set(outcome.busy)
            for receipt in group:
                if receipt.message_id in busy:
                    # another transaction held the row and it is still pending: try again with the next write
                    self._pending.setdefault(receipt.key, receipt)
                    self._wake.set()
                else:  # settled (delivered now, or before): colleagues' later receipts need no database read
                    self._written[receipt.key] = None
        while len(self._written) > REMEMBER:
            self._written.popitem(last=False)
        if failed:
            self._wake.set()
            await asyncio.sleep(RETRY_SECONDS)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = -INTERVAL
        while True:
            await self._wake.wait()
            pause = last + INTERVAL - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)  # let more receipts gather
            self._wake.clear()
            last = loop.time()
            batch = self._take()
            if not batch:
                continue
            try:
                await self._write(batch)
            except asyncio.CancelledError:  # shutting down mid-write: stop() writes these with the rest
                for receipt in batch:
                    self._pending.setdefault(receipt.key, receipt)
                raise
            except Exception:
                log.exception("could not write %d delivery receipts; retrying", len(batch))
                for receipt in batch:  # keep them, unless a newer receipt for the same delivery came meanwhile
                    self._pending.setdefault(receipt.key, receipt)
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

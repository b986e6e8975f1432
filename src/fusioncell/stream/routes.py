"""WebSocket /api/v1/stream?after=<ledger index>: replay, then live; only what the user may see."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from fusioncell.auth import service as auth_service
from fusioncell.cell import Cell
from fusioncell.errors import Unauthorized
from fusioncell.ledger import service as ledger_service
from fusioncell.policy import Principal, readable_audiences
from fusioncell.stream.hub import StreamEvent, StreamHub, stream_event
from fusioncell.traffic.receipts import ReceiptRecorder
from fusioncell.traffic.service import Receipt

log = logging.getLogger(__name__)

router = APIRouter()

REPLAY_BATCH = 500
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_REQUEST = 4400


def _token(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("access_token")
    if token:
        return token
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.websocket("/api/v1/stream", name="stream")
async def stream(websocket: WebSocket) -> None:
    cell: Cell = websocket.app.state.cell
    hub: StreamHub = websocket.app.state.hub
    token = _token(websocket)
    raw_after = websocket.query_params.get("after")
    await websocket.accept()
    try:
        if token is None:
            raise Unauthorized("send the token as ?access_token= or an Authorization: Bearer header")
        principal = await run_in_threadpool(auth_service.authenticate, cell=cell, raw_token=token)
    except Unauthorized as exc:
        await websocket.send_json({"type": "error", "status": 401, "detail": exc.detail})
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="unauthorized")
        return
    try:
        head = await run_in_threadpool(_head, cell)
        cursor = int(raw_after) if raw_after is not None else head
        if not -1 <= cursor <= head:
            raise ValueError
    except ValueError:
        await websocket.send_json(
            {"type": "error", "status": 400, "detail": "after must be a ledger index from -1 to the ledger's last"}
        )
        await websocket.close(code=CLOSE_BAD_REQUEST, reason="bad after")
        return

    session = _Subscriber(cell, hub, websocket, principal, token, cursor)
    try:
        await session.run()
    except WebSocketDisconnect:
        pass
    except _Revoked as exc:
        await websocket.send_json({"type": "error", "status": 401, "detail": str(exc)})
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="token no longer valid")
    finally:
        session.close()


def _head(cell: Cell) -> int:
    return ledger_service.size(cell) - 1


class _Revoked(Exception):
    pass


class _Subscriber:
    def __init__(
        self, cell: Cell, hub: StreamHub, websocket: WebSocket, principal: Principal, token: str, cursor: int
    ) -> None:
        self.cell = cell
        self.hub = hub
        self.websocket = websocket
        self.principal = principal
        self.token = token
        self.cursor = cursor
        self.readable = frozenset(readable_audiences(principal, cell.charter.roster))
        self.sent_at = time.monotonic()  # when the last frame went out: a heartbeat follows `interval` of quiet
        self.wake = hub.subscribe()
        self.receipts: ReceiptRecorder = websocket.app.state.receipts

    def close(self) -> None:
        self.hub.unsubscribe(self.wake)

    async def run(self) -> None:
        await self.websocket.send_json({"type": "hello", "after": self.cursor, "username": self.principal.username})
        # everything committed before this connection, even what the hub has not read yet, comes before 'live'
        head = await run_in_threadpool(ledger_service.size, self.cell)
        await self._drain(target=head - 1)
        # the replay is done: from here on, events arrive as they are committed
        await self.websocket.send_json({"type": "live", "index": self.cursor})
        interval = self.cell.settings.stream_heartbeat_seconds
        checked = self.sent_at = time.monotonic()
        while True:
            # the hub wakes every subscriber a few times per interval (see StreamHub._tick), so these run on a
            # wall clock: a busy cell still cuts off a revoked token, a quiet one still hears heartbeats
            if time.monotonic() - checked >= interval:
                await self._check_token()
                checked = time.monotonic()
            await self._drain()
            if time.monotonic() - self.sent_at >= interval:
                await self.websocket.send_json({"type": "heartbeat", "index": self.cursor})
                self.sent_at = time.monotonic()
            await self.wake.wait()
            self.wake.clear()

    def _replay_batch(self) -> list[StreamEvent]:
        entries = ledger_service.visible_after(
            cell=self.cell, principal=self.principal, after=self.cursor, limit=REPLAY_BATCH
        )
        return [stream_event(e) for e in entries]

    async def _check_token(self) -> None:
        try:
            await run_in_threadpool(auth_service.authenticate, cell=self.cell, raw_token=self.token)
        except Unauthorized as exc:
            raise _Revoked(exc.detail) from None

    async def _drain(self, target: int = -1) -> None:
        """Send everything after the cursor (up to the hub's tail, or `target` if further) that this reader may
        see, in order, from the hub's window or else the database."""
        while True:
            goal = max(self.hub.tail, target)
            if self.cursor >= goal:
                break
            batch = self.hub.after(self.cursor) if self.cursor < self.hub.tail else None
            if batch is None:
                batch = await run_in_threadpool(self._replay_batch)
                if not batch:
                    self.cursor = goal
                    break
            for entry in batch:
                if entry.index <= self.cursor:
                    continue
                if entry.audience in self.readable:
                    await self.websocket.send_text(entry.frame)
                    self.sent_at = time.monotonic()
                    delegation = self.principal.delegation
                    if (
                        entry.message_id is not None
                        and delegation in entry.addressed
                        and self.receipts.wants(entry.message_id, delegation)
                    ):
                        self.receipts.note(
                            Receipt(
                                message_id=entry.message_id,
                                audience=entry.audience,
                                principal=self.principal,
                                at=self.cell.clock.now(),
                            )
                        )
                self.cursor = entry.index

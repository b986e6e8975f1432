"""WebSocket /api/v1/stream?after=<ledger index>: replay, then live; only what the user may see."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from fusioncell.auth import revocations
from fusioncell.auth import service as auth_service
from fusioncell.cell import Cell
from fusioncell.errors import Unauthorized
from fusioncell.ledger import service as ledger_service
from fusioncell.policy import Principal, readable_audiences
from fusioncell.stream.frames import CLOSE_BAD_REQUEST, CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, STREAM_PATH, FrameType
from fusioncell.stream.hub import StreamEvent, StreamHub, Subscription, position, stream_event
from fusioncell.traffic.receipts import ReceiptRecorder
from fusioncell.traffic.service import Receipt
from fusioncell.web.session import SESSION_COOKIE, foreign_origin

log = logging.getLogger(__name__)

router = APIRouter()

REPLAY_BATCH = 500


def _token(websocket: WebSocket) -> tuple[str | None, bool]:
    """The token, and whether it came from the web session's cookie (a browser's page)."""
    token = websocket.query_params.get("access_token")
    if token:
        return token, False
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = websocket.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie and "\x00" not in cookie else (None, False)


@router.websocket(STREAM_PATH, name="stream")
async def stream(websocket: WebSocket) -> None:
    cell: Cell = websocket.app.state.cell
    hub: StreamHub = websocket.app.state.hub
    token, from_cookie = _token(websocket)
    raw_after = websocket.query_params.get("after")
    await websocket.accept()
    foreign = foreign_origin(websocket) if from_cookie else None
    if foreign is not None:  # another site's page, riding on the browser's session: refused before anything
        await websocket.send_json({"type": FrameType.ERROR, "status": 403,
                                   "detail": f"a page of {foreign} may not use this site's session"})  # fmt: skip
        await websocket.close(code=CLOSE_FORBIDDEN, reason="foreign origin")
        return
    try:
        if token is None:
            raise Unauthorized(
                "send the token as ?access_token= or an Authorization: Bearer header (a page of this site: sign in)"
            )
        principal, generation = await run_in_threadpool(_authenticated, cell, token)
    except Unauthorized as exc:
        await websocket.send_json({"type": FrameType.ERROR, "status": 401, "detail": exc.detail})
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="unauthorized")
        return
    try:
        head = await run_in_threadpool(_head, cell)
        cursor = int(raw_after) if raw_after is not None else head
        if not -1 <= cursor <= head:
            raise ValueError
    except ValueError:
        await websocket.send_json(
            {
                "type": FrameType.ERROR,
                "status": 400,
                "detail": "after must be a ledger index from -1 to the ledger's last",
            }
        )
        await websocket.close(code=CLOSE_BAD_REQUEST, reason="bad after")
        return

    session = _Subscriber(cell, hub, websocket, principal, token, cursor, generation)
    try:
        await session.run()
    except WebSocketDisconnect:
        pass
    except _Revoked as exc:
        await websocket.send_json({"type": FrameType.ERROR, "status": 401, "detail": str(exc)})
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="token no longer valid")
    finally:
        session.close()


def _head(cell: Cell) -> int:
    return ledger_service.size(cell) - 1


def _authenticated(cell: Cell, token: str) -> tuple[Principal, int]:
    """The token's account, and the count of revocations it was checked after (read first, so every revocation
    it counts had committed before the token was found valid). Unauthorized if it is not valid."""
    with cell.reading() as session:
        generation = revocations.generation(session)
    return auth_service.authenticate(cell=cell, raw_token=token), generation


class _Revoked(Exception):
    pass


class _Subscriber:
    def __init__(
        self,
        cell: Cell,
        hub: StreamHub,
        websocket: WebSocket,
        principal: Principal,
        token: str,
        cursor: int,
        generation: int,
    ) -> None:
        self.cell = cell
        self.hub = hub
        self.websocket = websocket
        self.principal = principal
        self.token = token
        self.cursor = cursor
        self.readable = frozenset(readable_audiences(principal, cell.charter.roster))
        self.sent_at = time.monotonic()  # when the last frame went out: a heartbeat follows `interval` of quiet
        self.subscription: Subscription = hub.subscribe(
            token_digest=auth_service.token_digest(token), generation=generation
        )
        self.receipts: ReceiptRecorder = websocket.app.state.receipts

    def close(self) -> None:
        self.hub.unsubscribe(self.subscription)

    async def run(self) -> None:
        await self.websocket.send_json(
            {"type": FrameType.HELLO, "after": self.cursor, "username": self.principal.username}
        )
        # everything committed before this connection, even what the hub has not read yet, comes before 'live'
        head, generation = await run_in_threadpool(position, self.cell)
        await self._drain(target=head - 1, generation=generation)
        # the replay is done: from here on, events arrive as they are committed
        await self.websocket.send_json({"type": FrameType.LIVE, "index": self.cursor})
        interval = self.cell.settings.stream_heartbeat_seconds
        checked = self.sent_at = time.monotonic()
        wake = self.subscription.wake
        while True:
            if self.subscription.refused is not None:  # the hub found the token revoked: at once, not at a check
                raise _Revoked(self.subscription.refused)
            # the hub wakes every subscriber a few times per interval (see StreamHub._tick), so these run on a
            # wall clock: a token that expires is cut off on a busy cell too, and a quiet one still hears heartbeats
            if time.monotonic() - checked >= interval:
                await self._check_token()
                checked = time.monotonic()
            await self._drain()
            if time.monotonic() - self.sent_at >= interval:
                await self.websocket.send_json({"type": FrameType.HEARTBEAT, "index": self.cursor})
                self.sent_at = time.monotonic()
            await wake.wait()
            wake.clear()

    def _replay_batch(self, goal: int) -> list[StreamEvent]:
        """From the database, what this reader may see after the cursor, up to `goal` and no further: entries past
        it were committed after the revocations counted for it."""
        entries = ledger_service.visible_after(
            cell=self.cell, principal=self.principal, after=self.cursor, limit=REPLAY_BATCH
        )
        return [stream_event(e) for e in entries if e.index <= goal]

    async def _vouch(self, generation: int) -> None:
        """Before sending entries read with `generation` revocations counted: this token was found valid after all
        of them (by the hub, as a rule; here when this subscriber came in after the hub's last check)."""
        if self.subscription.refused is not None:
            raise _Revoked(self.subscription.refused)
        if self.subscription.generation >= generation:
            return
        try:
            _principal, checked = await run_in_threadpool(_authenticated, self.cell, self.token)
        except Unauthorized as exc:
            raise _Revoked(exc.detail) from None
        self.subscription.generation = max(self.subscription.generation, checked)

    async def _check_token(self) -> None:
        try:
            await run_in_threadpool(auth_service.authenticate, cell=self.cell, raw_token=self.token)
        except Unauthorized as exc:
            raise _Revoked(exc.detail) from None

    async def _drain(self, target: int = -1, generation: int = 0) -> None:
        """Send everything after the cursor (up to the hub's tail, or `target` if further, read with `generation`
        revocations counted) that this reader may see, in order, from the hub's window or else the database."""
        while True:
            goal = max(self.hub.tail, target)
            if self.cursor >= goal:
                break
            counted = max(self.hub.generation, generation)  # the revocations known when the goal's entries were read
            batch = self.hub.after(self.cursor) if self.cursor < self.hub.tail else None
            if batch is None:
                batch = await run_in_threadpool(self._replay_batch, goal)
                if not batch:
                    self.cursor = goal
                    break
            await self._vouch(counted)
            for entry in batch:
                if self.subscription.refused is not None:
                    raise _Revoked(self.subscription.refused)
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

"""The ceiling of the stack on this machine: the same load against a server that does nothing but the wire.

`python -m bench.traffic.ceiling --port P` serves the three endpoints the load generator uses — the token,
`POST /api/v1/messages`, the `/api/v1/stream` WebSocket — on the same ASGI server with the same options as
`fusioncell serve` (uvicorn, httptools, websockets, uvloop, no per-message deflate), and nothing else: no
database, no durability, no authentication beyond the token naming the user, no policy beyond the audience
rule, each frame encoded once and its bytes handed to every eligible subscriber. Whatever rate the load
generator reaches against it is the most any Python service on this stack could reach on this machine with
this load generator; fusioncell is measured beside it in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

MEDIATOR = "US"


def may_read(delegation: str, audience: str) -> bool:
    if audience == "joint":
        return True
    return audience.startswith("mediated:") and delegation in (audience.split(":", 1)[1], MEDIATOR)


@dataclass(eq=False)  # one per connection, kept in a set
class Subscriber:
    delegation: str
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class Wire:
    """An in-memory log with the stream's replay-then-live contract, fan-out by audience."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []  # (audience, frame), index = position + 1
        self.sent: dict[tuple[str, str], bytes] = {}
        self.subscribers: set[Subscriber] = set()
        self.ids = itertools.count(1)

    def send(self, user: str, body: dict[str, Any]) -> tuple[int, bytes]:
        key = (user, str(body.get("client_txn_id")))
        if key in self.sent:
            return 200, self.sent[key]
        audience = str(body["audience"])
        index = len(self.log) + 1
        message = {
            "id": next(self.ids),
            "ledger_index": index,
            "sender": user,
            "sent_at": time.time(),
            **{k: body.get(k) for k in ("track", "audience", "precedence", "marker", "subject", "body", "lang")},
        }
        frame = json.dumps(
            {"type": "event", "index": index, "action": "message.sent", "audience": audience,
             "content": {"message": message}}
        )  # fmt: skip
        self.log.append((audience, frame))
        for s in self.subscribers:
            if may_read(s.delegation, audience):
                s.queue.put_nowait(frame)
        self.sent[key] = reply = json.dumps(message).encode()
        return 201, reply


def make_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    wire = Wire()

    async def token(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"access_token": body["username"], "token_type": "bearer"})

    async def messages(request: Request) -> Response:
        user = request.headers["authorization"].removeprefix("Bearer ")
        status, reply = wire.send(user, await request.json())
        return Response(reply, status_code=status, media_type="application/json")

    async def stream(ws: WebSocket) -> None:
        user = ws.query_params["access_token"]
        after = int(ws.query_params.get("after", len(wire.log)))
        sub = Subscriber(user.split(".", 1)[0].upper())
        await ws.accept()
        wire.subscribers.add(sub)
        try:
            await ws.send_text(json.dumps({"type": "hello", "after": after}))
            for audience, frame in wire.log[after:]:
                if may_read(sub.delegation, audience):
                    await ws.send_text(frame)
            await ws.send_text('{"type": "live"}')
            while True:
                await ws.send_text(await sub.queue.get())
        except WebSocketDisconnect:
            pass
        finally:
            wire.subscribers.discard(sub)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/api/v1/auth/token", token, methods=["POST"]),
            Route("/api/v1/messages", messages, methods=["POST"]),
            Route("/healthz", health),
            WebSocketRoute("/api/v1/stream", stream),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        make_app(), host="127.0.0.1", port=args.port, log_config=None, access_log=False,
        ws_per_message_deflate=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()


async def run_ceiling(
    *, window: float, rate: float, duration: float, light_duration: float, drain_timeout: float
) -> dict[str, Any]:
    """The same phases as fusioncell's (no SIGKILL loop: nothing here is durable)."""
    import subprocess
    import sys

    import httpx

    from bench.shared import free_port
    from bench.traffic.common import ROOT, console, roster
    from bench.traffic.fusion import Sender, StreamSubscriber, login
    from bench.traffic.phases import run_phases

    subscribers_plan, senders_plan = roster()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.traffic.ceiling", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        console.print("[bold]the stack's ceiling[/] (bare wire, no database)")
        tokens = await login(url, senders_plan + subscribers_plan)
        ws_url = url.replace("http://", "ws://")
        subscribers = [StreamSubscriber(a, tokens[a.username], ws_url) for a in subscribers_plan]
        await asyncio.gather(*(s.start() for s in subscribers))
        await asyncio.wait_for(asyncio.gather(*(s.live.wait() for s in subscribers)), 60)
        result = await run_phases(
            lambda n: [Sender(a, tokens[a.username], url, connections=n) for a in senders_plan],
            subscribers,
            server_pid=proc.pid,
            window=window,
            rate=rate,
            duration=duration,
            light_duration=light_duration,
            drain_timeout=drain_timeout,
        )
        for s in subscribers:
            await s.stop()
        return result
    finally:
        proc.kill()  # nothing in it to keep
        proc.wait(timeout=10)

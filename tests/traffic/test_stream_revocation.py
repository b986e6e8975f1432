"""Review: a disabled account's stream must be cut off even while traffic keeps flowing.

The subscriber re-checks its token only when `wait_for(wake, heartbeat)` times out, i.e. after a full heartbeat
interval with no new ledger entry at all (any entry wakes every subscriber, readable or not). In a busy cell that
never happens: a disabled (or logged-out, or expired) account keeps receiving every joint message, live, for as
long as the other side keeps talking.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from fusioncell.app import create_app
from fusioncell.auth import service as auth_service
from tests.conftest import CLI_ACTOR, ledger_size
from tests.traffic.helpers import StreamReader, draft

HEARTBEAT = 1.0
BURST_SECONDS = 6 * HEARTBEAT


def test_disabled_account_is_cut_off_under_steady_traffic(cell, crew) -> None:
    sy, il = crew["sy"], crew["il"]
    cell.settings = cell.settings.model_copy(update={"stream_heartbeat_seconds": HEARTBEAT})
    with (
        TestClient(create_app(cell, run_scheduler=False), raise_server_exceptions=False) as client,
        client.websocket_connect(f"/api/v1/stream?after={ledger_size(cell) - 1}", headers=il.headers) as ws,
    ):
        StreamReader(ws).replay()
        with cell.command() as uow:
            auth_service.disable_user(cell=cell, uow=uow, actor=CLI_ACTOR, username=il.username)
        assert client.get("/api/v1/me", headers=il.headers).status_code == 401  # REST: cut off at once

        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < BURST_SECONDS:  # the stream is never quiet for a whole heartbeat
            r = client.post("/api/v1/messages", json=draft(subject=f"after disable {sent}"), headers=sy.headers)
            assert r.status_code == 201, r.text
            sent += 1
            time.sleep(HEARTBEAT / 20)

        received = 0
        while True:
            frame = ws.receive_json()
            if frame["type"] == "error":
                assert frame["status"] == 401
                break
            if frame["type"] == "event" and frame["action"] == "message.sent":
                received += 1
    # A fixed stream notices within a heartbeat or two; this one delivered the whole burst.
    assert received < sent, (
        f"a disabled account received all {received} messages sent over {BURST_SECONDS:.0f}s after it was disabled"
    )

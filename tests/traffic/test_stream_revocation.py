"""Review: a disabled account's stream must be cut off even while traffic keeps flowing.

A subscriber that re-checked its token only after a full heartbeat interval with no new ledger entry at all
would never re-check it in a busy cell: a disabled (or logged-out, or expired) account would keep receiving every
joint message, live, for as long as the other side keeps talking. The check runs on a wall clock instead.
"""

from __future__ import annotations

import threading
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


def test_heartbeats_keep_coming_while_only_others_traffic_flows(cell, crew) -> None:
    """SY's screen must still hear the heartbeat while the mediator and IL talk among themselves: entries SY may
    not see wake its stream but send it nothing."""
    sy, us = crew["sy"], crew["us"]
    cell.settings = cell.settings.model_copy(update={"stream_heartbeat_seconds": HEARTBEAT})
    with (
        TestClient(create_app(cell, run_scheduler=False), raise_server_exceptions=False) as client,
        client.websocket_connect(f"/api/v1/stream?after={ledger_size(cell) - 1}", headers=sy.headers) as ws,
    ):
        StreamReader(ws).replay()
        traffic_ends = time.monotonic() + 5 * HEARTBEAT
        sent = []

        def talk() -> None:
            while time.monotonic() < traffic_ends:
                body = draft(audience="mediated:IL", subject=f"proximity {len(sent)}", precedence="PRIORITY")
                sent.append(client.post("/api/v1/messages", json=body, headers=us.headers).status_code)
                time.sleep(HEARTBEAT / 20)

        talker = threading.Thread(target=talk)
        talker.start()
        frames, heartbeats_at = [], []
        while len(heartbeats_at) < 2:
            frames.append(ws.receive_json())
            if frames[-1]["type"] == "heartbeat":
                heartbeats_at.append(time.monotonic())
        talker.join()
    assert len(sent) > 20 and set(sent) == {201}
    assert heartbeats_at[1] < traffic_ends, "no heartbeats while others' traffic flowed"
    assert all(f["type"] == "heartbeat" for f in frames), frames  # none of the mediated:IL traffic

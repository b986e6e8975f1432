"""The stream: replay then live, reconnect without loss or repeats, authentication."""

from __future__ import annotations

import threading

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.conftest import ledger_size
from tests.traffic.helpers import StreamReader, draft


def test_reconnect_mid_burst_misses_nothing_and_repeats_nothing(client, cell, crew) -> None:
    start = ledger_size(cell) - 1
    total = 40
    sent_ids: list[int] = []

    def burst() -> None:
        for i in range(total):
            r = client.post(
                "/api/v1/messages", json=draft(precedence="ROUTINE", subject=f"burst {i}"), headers=crew["sy"].headers
            )
            assert r.status_code == 201
            sent_ids.append(r.json()["id"])

    sender = threading.Thread(target=burst)
    with client.websocket_connect(f"/api/v1/stream?after={start}", headers=crew["il"].headers) as ws:
        first = StreamReader(ws)
        sender.start()
        first.until(lambda ev: sum(e["action"] == "message.sent" for e in ev) >= 8)
    # cut off mid-burst; reconnect with the last index seen
    last = first.events[-1]["index"]
    sender.join()
    with client.websocket_connect(f"/api/v1/stream?after={last}", headers=crew["il"].headers) as ws:
        second = StreamReader(ws)
        second.replay()
    seen = first.events + second.events
    indices = [e["index"] for e in seen]
    assert indices == sorted(set(indices)), "every event exactly once, in ledger order"
    received = [e["content"]["message"]["id"] for e in seen if e["action"] == "message.sent"]
    assert received == sent_ids


def test_live_after_replay_and_heartbeats(client, cell, crew) -> None:
    with client.websocket_connect("/api/v1/stream", headers=crew["il"].headers) as ws:
        reader = StreamReader(ws)
        assert reader.hello["username"] == "il.liaison"
        reader.replay()
        assert reader.events == []  # without `after`, only what happens from now on
        reader.quiet_for(1)
        heartbeat = next(f for f in reader.frames if f["type"] == "heartbeat")
        assert heartbeat["index"] == ledger_size(cell) - 1
        client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers)
        reader.until(lambda ev: any(e["action"] == "message.sent" for e in ev))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?access_token=fct_nonsense",
        "?after=-5&access_token={token}",
        "?after=abc&access_token={token}",
        "?after=9223372036854775808&access_token={token}",
    ],
)
def test_bad_stream_requests_are_refused(client, crew, query) -> None:
    with client.websocket_connect("/api/v1/stream" + query.format(token=crew["il"].token)) as ws:
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["status"] in (400, 401)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code in (4400, 4401)


def test_a_disabled_account_is_cut_off(client, cell, crew) -> None:
    from fusioncell.auth import service
    from tests.conftest import CLI_ACTOR

    with client.websocket_connect("/api/v1/stream", headers=crew["il"].headers) as ws:
        reader = StreamReader(ws)
        reader.replay()
        with cell.command() as uow:
            service.disable_user(cell=cell, uow=uow, actor=CLI_ACTOR, username="il.liaison")
        with pytest.raises((WebSocketDisconnect, AssertionError)):
            reader.quiet_for(3)
        assert any(f["type"] == "error" and f["status"] == 401 for f in reader.frames)


def test_a_commit_by_another_process_wakes_the_stream(backend, clock, client, cell, crew) -> None:
    """A message sent through one app instance reaches a subscriber of another, live: on PostgreSQL through
    LISTEN/NOTIFY, on SQLite through the data_version watcher (the command line writing while a server runs)."""
    from fastapi.testclient import TestClient

    from fusioncell.app import create_app
    from tests.conftest import make_cell

    other_cell = make_cell(backend, clock)
    try:
        with (
            TestClient(create_app(other_cell, run_scheduler=False)) as other,
            other.websocket_connect("/api/v1/stream", headers=crew["il"].headers) as ws,
        ):
            reader = StreamReader(ws)
            reader.replay()
            sent = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()
            events = reader.until(lambda ev: any(e["action"] == "message.sent" for e in ev), timeout=10)
            assert events[0]["content"]["message"]["id"] == sent["id"]
    finally:
        other_cell.db.dispose()

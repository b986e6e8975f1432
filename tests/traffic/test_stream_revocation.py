"""A revoked token's stream is cut off at once, before anything committed after the revocation reaches it.

Issue 13.10: a socket kept streaming for up to the heartbeat interval (19 s, 303 events) after a logout or a
disabling. Now the revocation itself wakes every instance's stream hub, which checks its subscribers' tokens
before it sends anything newer (`fusioncell.auth.revocations`). These tests set a heartbeat far longer than they
wait, so no periodic re-check can be what closes the socket; the token expiring is still caught by that check.

Earlier review: a subscriber that re-checked its token only after a full heartbeat interval with no new ledger
entry would never re-check it in a busy cell; the periodic check runs on a wall clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from fusioncell.app import create_app
from fusioncell.auth import service as auth_service
from fusioncell.web.session import SESSION_COOKIE
from tests.conftest import CLI_ACTOR, Backend, Member, bearer, ledger_size, login, make_cell
from tests.traffic.helpers import StreamReader, draft
from tests.web.pages import csrf_of, signed_in

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


# -- issue 13.10: revocation closes the socket at once -------------------------------------------------------------

LONG_HEARTBEAT = 60.0  # no periodic token check runs while these tests wait
AT_ONCE = 2.0  # seconds (on a loaded test machine) from the revocation's commit to the close; typically ~0.1


@dataclass
class Scene:
    backend: Backend
    client: TestClient  # the instance holding the socket
    other: TestClient  # another instance of the same cell (its own engine, hub and listener)
    holder: Member  # whose token the socket uses, and whose token is revoked
    token: str


def _cli(scene: Scene, *args: str, stdin: str = "") -> None:
    """The real command line, in a process of its own, as an administrator runs it while the server runs."""
    env = {**os.environ, "FUSIONCELL_DATA": str(scene.backend.settings.data)}
    env.pop("FUSIONCELL_DATABASE_URL", None)
    if scene.backend.settings.database_url:
        env["FUSIONCELL_DATABASE_URL"] = scene.backend.settings.database_url
    done = subprocess.run(
        [sys.executable, "-m", "fusioncell.cli", *args], input=stdin, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _logout(client: TestClient, token: str) -> None:
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204


def _web_sign_out(scene: Scene) -> None:
    page = scene.client.get("/ledger")
    out = scene.client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303


REVOCATIONS: dict[str, Callable[[Scene], None]] = {
    "logout": lambda scene: _logout(scene.client, scene.token),
    "logout through another instance": lambda scene: _logout(scene.other, scene.token),
    "web sign-out": _web_sign_out,
    "disabled from the command line": lambda scene: _cli(scene, "users", "disable", scene.holder.username),
    "password reset from the command line": lambda scene: _cli(
        scene, "users", "reset-password", scene.holder.username, "--password-stdin", stdin="a-new-night-passphrase-9\n"
    ),
}


def _slow_heartbeat(cell: Any) -> None:
    cell.settings = cell.settings.model_copy(update={"stream_heartbeat_seconds": LONG_HEARTBEAT})


def _closed(ws: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return closed.value.code


@pytest.mark.parametrize("revoke", list(REVOCATIONS))
def test_a_revoked_token_is_cut_off_before_the_next_event(backend, clock, cell, crew, revoke: str) -> None:
    """Revoke (through this instance, another one, the web or the command line), then send at once a joint
    message the account may read: the socket's next frame is the 401 and it closes with 4401; the message, and
    anything after the revocation, never reaches it."""
    _slow_heartbeat(cell)
    other_cell = make_cell(backend, clock)
    _slow_heartbeat(other_cell)
    try:
        with (
            TestClient(create_app(cell, run_scheduler=False), raise_server_exceptions=False) as client,
            TestClient(create_app(other_cell, run_scheduler=False), raise_server_exceptions=False) as other,
        ):
            if revoke == "web sign-out":  # the browser's session is a token like any other
                token = signed_in(client, crew["il"].username).cookies[SESSION_COOKIE]
            else:
                token = login(client, crew["il"].username)
            scene = Scene(backend, client, other, crew["il"], token)
            with client.websocket_connect(f"/api/v1/stream?after={ledger_size(cell) - 1}", headers=bearer(token)) as ws:
                StreamReader(ws).replay()
                REVOCATIONS[revoke](scene)
                revoked_at = time.monotonic()
                after = client.post(
                    "/api/v1/messages", json=draft(subject="after the revocation"), headers=crew["sy"].headers
                )
                assert after.status_code == 201, after.text
                frame = ws.receive_json()
                assert frame["type"] == "error" and frame["status"] == 401, f"sent after the revocation: {frame}"
                waited = time.monotonic() - revoked_at
                assert _closed(ws) == 4401
            assert waited < AT_ONCE, f"closed {waited:.1f}s after the revocation"
            # the account's own entry about it (same transaction as the revocation) did not reach it either, and the
            # message reached those still entitled
            with client.websocket_connect(
                f"/api/v1/stream?after={after.json()['ledger_index'] - 1}", headers=crew["us"].headers
            ) as ws:
                assert StreamReader(ws).until(lambda ev: any(e["action"] == "message.sent" for e in ev))
    finally:
        other_cell.db.dispose()


def test_a_quiet_stream_is_closed_at_once_on_another_instance(backend, clock, cell, crew) -> None:
    """No traffic at all after the revocation, the socket on one instance, the revocation from the command line:
    the revocation alone wakes that instance's hub (NOTIFY on PostgreSQL, data_version on SQLite)."""
    _slow_heartbeat(cell)
    with (
        TestClient(create_app(cell, run_scheduler=False), raise_server_exceptions=False) as client,
        client.websocket_connect("/api/v1/stream", headers=crew["il"].headers) as ws,
    ):
        StreamReader(ws).replay()
        other_cell = make_cell(backend, clock)
        try:
            with other_cell.command() as uow:
                auth_service.disable_user(cell=other_cell, uow=uow, actor=CLI_ACTOR, username=crew["il"].username)
        finally:
            other_cell.db.dispose()
        revoked_at = time.monotonic()
        frame = ws.receive_json()
        waited = time.monotonic() - revoked_at
        assert frame == {"type": "error", "status": 401, "detail": "this token was revoked: log in again"}
        assert _closed(ws) == 4401
    assert waited < AT_ONCE, f"closed {waited:.1f}s after the revocation"


def test_logout_closes_only_the_socket_of_the_token_logged_out(client, cell, crew) -> None:
    """Two screens of one liaison, each signed in on its own: logging out of one leaves the other streaming."""
    _slow_heartbeat(cell)
    first, second = login(client, crew["il"].username), login(client, crew["il"].username)
    with (
        client.websocket_connect("/api/v1/stream", headers=bearer(first)) as closing,
        client.websocket_connect("/api/v1/stream", headers=bearer(second)) as staying,
    ):
        StreamReader(closing).replay()
        kept = StreamReader(staying)
        kept.replay()
        _logout(client, first)
        assert closing.receive_json()["status"] == 401
        assert _closed(closing) == 4401
        sent = client.post("/api/v1/messages", json=draft(subject="still here"), headers=crew["sy"].headers).json()
        events = kept.until(lambda ev: any(e["action"] == "message.sent" for e in ev))
        assert [e["content"]["message"]["id"] for e in events if e["action"] == "message.sent"] == [sent["id"]]


def test_a_subscriber_the_hub_did_not_check_checks_itself(client, cell, crew, monkeypatch) -> None:
    """A subscriber that came in while the hub was checking everyone's tokens (so was not among them), with its
    token revoked meanwhile, checks its own before it sends anything read after that revocation."""
    from fusioncell.stream.hub import StreamHub

    async def checks_no_one(hub: StreamHub, generation: int) -> None:  # every subscriber arrived too late for it
        hub.generation = max(hub.generation, generation)

    _slow_heartbeat(cell)
    token = login(client, crew["il"].username)
    with client.websocket_connect("/api/v1/stream", headers=bearer(token)) as ws:
        StreamReader(ws).replay()
        monkeypatch.setattr(StreamHub, "_recheck", checks_no_one)
        _logout(client, token)
        client.post("/api/v1/messages", json=draft(subject="after the revocation"), headers=crew["sy"].headers)
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["status"] == 401, f"sent after the revocation: {frame}"
        assert _closed(ws) == 4401

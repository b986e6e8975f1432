"""`fusioncell serve --workers N`: several server processes on one PostgreSQL database; refused on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import TEST_PASSWORD, add_user, ledger_size
from tests.server import Server, free_port
from tests.traffic.helpers import draft


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_several_workers_need_postgresql(backend, cell) -> None:
    before = ledger_size(cell)
    env = {**os.environ, "FUSIONCELL_DATA": str(backend.settings.data)}
    done = subprocess.run(
        [sys.executable, "-m", "fusioncell.cli", "serve", "--port", str(free_port()), "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Several workers need PostgreSQL" in done.stdout + done.stderr
    assert ledger_size(cell) == before


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_two_workers_share_the_traffic_and_every_stream_sees_all_of_it(backend, cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    add_user(cell, "il.liaison", "IL", "liaison")
    server = Server(backend, free_port(), workers=2)
    server.start()
    try:

        def token(username: str) -> str:
            r = httpx.post(server.url + "/api/v1/auth/token", json={"username": username, "password": TEST_PASSWORD})
            return r.json()["access_token"]

        sy, il = token("sy.liaison"), token("il.liaison")
        ws_url = server.url.replace("http://", "ws://") + f"/api/v1/stream?access_token={il}"
        # several IL screens, on whichever worker each connection lands
        streams = [connect(ws_url, legacy=True) for _ in range(6)]
        for ws in streams:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            while json.loads(ws.recv(timeout=10))["type"] != "live":
                pass
        sent: list[int] = []
        lock = threading.Lock()

        def send(worker: int) -> None:
            # a new connection per send: the requests spread over both workers
            for i in range(10):
                body = draft(subject=f"w{worker}-{i}", client_txn_id=f"w{worker}-{i}", precedence="ROUTINE")
                r = httpx.post(server.url + "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {sy}"})
                assert r.status_code == 201, r.text
                with lock:
                    sent.append(r.json()["id"])

        senders = [threading.Thread(target=send, args=(w,)) for w in range(4)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        assert len(sent) == 40
        for ws in streams:
            seen: list[int] = []
            while len(seen) < len(sent):
                frame = json.loads(ws.recv(timeout=20))
                if frame["type"] == "event" and frame["action"] == "message.sent":
                    seen.append(frame["content"]["message"]["id"])
            assert sorted(seen) == sorted(sent)  # every message, once, whichever worker took it
            ws.close()
        # the ledger stayed gapless with every message at its index
        entries = httpx.get(
            server.url + f"/api/v1/ledger/entries?start=0&end={ledger_size(cell)}",
            headers={"Authorization": f"Bearer {sy}"},
        ).json()
        indices = [e["index"] for e in entries["items"]]
        assert indices == list(range(len(indices)))
    finally:
        server.kill()

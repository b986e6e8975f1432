"""A real fusioncell server in a subprocess, for tests that need one (durability, the terminal client)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress

import httpx


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, backend, port: int, *, workers: int = 1) -> None:  # type: ignore[no-untyped-def]
        self.backend = backend
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "FUSIONCELL_DATA": str(self.backend.settings.data), "FUSIONCELL_LOG_LEVEL": "WARNING"}
        if self.backend.settings.database_url:
            env["FUSIONCELL_DATABASE_URL"] = self.backend.settings.database_url
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fusioncell.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: a kill takes every worker with it
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not come up")

    def kill(self) -> None:
        assert self.proc is not None
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@contextmanager
def serving(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An app on a real socket in this process (uvicorn in a thread), for clients that speak HTTP themselves."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)

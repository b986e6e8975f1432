"""A real fusioncell server in a subprocess, for tests that need one (durability, the terminal client)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing, suppress

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

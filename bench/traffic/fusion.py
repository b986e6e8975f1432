"""The fusioncell side: a data directory, the duty roster, `fusioncell serve`, 50 streams and 8 senders.

Everything goes through the product's own surfaces: `fusioncell init` and `fusioncell users add` to set up,
`fusioncell serve` as a subprocess, POST /api/v1/auth/token, WebSocket /api/v1/stream, POST /api/v1/messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.shared import free_port
from bench.traffic.common import (
    CHARTER,
    ROOT,
    Account,
    Receiver,
    SendRecord,
    console,
    draft,
    roster,
)
from bench.traffic.phases import run_phases

PG_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def fusioncell_exe() -> list[str]:
    for candidate in (ROOT / ".venv" / "bin" / "fusioncell", Path(sys.executable).parent / "fusioncell"):
        if candidate.exists():
            return [str(candidate)]
    found = shutil.which("fusioncell")
    return [found] if found else [sys.executable, "-m", "fusioncell.cli"]


class ServerFailed(RuntimeError):
    pass


# -- the data directory and its database -----------------------------------------------------------------


class Deployment:
    """A fresh data directory (and, for PostgreSQL, a fresh database) with the duty roster's accounts."""

    def __init__(self, backend: str, workdir: Path, *, workers: int = 1) -> None:
        self.backend = backend
        self.workdir = workdir
        self.workers = workers
        self.data = workdir / f"data-{backend}"
        self.pg_db: str | None = None
        self.database_url: str | None = None
        if backend == "postgres":
            self.pg_db = f"bench_{secrets.token_hex(4)}"
            base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            self.database_url = f"{base}/{self.pg_db}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FUSIONCELL_")}
        env["FUSIONCELL_DATA"] = str(self.data)
        env["FUSIONCELL_LOG_LEVEL"] = "WARNING"
        env["FUSIONCELL_WORKERS"] = str(self.workers)
        if self.database_url:
            env["FUSIONCELL_DATABASE_URL"] = self.database_url
        return env

    def _pg_admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql)

    def create(
        self, subscribers: list[Account], senders: list[Account], zygote: Zygote | None = None
    ) -> dict[str, float]:
        """`fusioncell init`, then `fusioncell users add` for every account (two at a time: two cores)."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        if self.pg_db:
            self._pg_admin(f'CREATE DATABASE "{self.pg_db}"')
        self._cli(zygote, ["init", "--charter", str(CHARTER), "--data", str(self.data)], name="init")
        timings["init_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        accounts = senders + subscribers
        with Progress(
            TextColumn(f"  [cyan]{self.backend}[/]: fusioncell users add"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("users", total=len(accounts))
            if zygote is None:
                with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                    for _ in pool.map(lambda a: self._cli(None, *self._add_args(a)), accounts):
                        progress.advance(task)
            else:
                running: list[tuple[int, str]] = []
                for account in accounts:
                    argv, stdin = self._add_args(account)
                    log = self._log(account.username)
                    running.append((zygote.spawn(argv, log, stdin), account.username))
                    if len(running) >= (os.cpu_count() or 2):
                        self._reap(zygote, *running.pop(0))
                        progress.advance(task)
                while running:
                    self._reap(zygote, *running.pop(0))
                    progress.advance(task)
        timings["users_add_s"] = round(time.perf_counter() - start, 2)
        return timings

    @staticmethod
    def _add_args(account: Account) -> tuple[list[str], str]:
        roles = [arg for role in account.roles for arg in ("--role", role)]
        argv = ["users", "add", account.username, "--delegation", account.delegation, *roles, "--password-stdin"]
        return argv, account.password + "\n"

    def _log(self, name: str) -> Path:
        logs = self.workdir / f"cli-{self.backend}"
        logs.mkdir(exist_ok=True)
        return logs / f"{name}.log"

    def _reap(self, zygote: Zygote, pid: int, name: str) -> None:
        status = zygote.wait(pid)
        if status.get("exit") != 0:
            raise RuntimeError(f"fusioncell ({name}) failed: {self._log(name).read_text(errors='replace')[-2000:]}")

    def _cli(self, zygote: Zygote | None, argv: list[str], stdin: str | None = None, *, name: str = "") -> None:
        if zygote is not None:
            self._reap(zygote, zygote.spawn(argv, self._log(name or argv[2]), stdin), name or argv[2])
            return
        result = subprocess.run(
            [*fusioncell_exe(), *argv], input=stdin, env=self.env, capture_output=True, text=True, cwd=self.workdir
        )
        if result.returncode != 0:
            raise RuntimeError(f"fusioncell {' '.join(argv[:3])} failed: {result.stderr.strip() or result.stdout}")

    def drop(self) -> None:
        if self.pg_db:
            with contextlib.suppress(Exception):
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')

    # direct reads for the durability check (the server is down when these run)

    @contextlib.contextmanager
    def sql(self) -> Iterator[Any]:
        if self.pg_db:
            import psycopg

            dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{self.pg_db}"
            with psycopg.connect(dsn) as conn:
                yield conn
        else:
            import sqlite3

            conn = sqlite3.connect(self.data / "fusioncell.sqlite3")
            try:
                yield conn
            finally:
                conn.close()


# -- the server process ----------------------------------------------------------------------------------


class Server:
    """One `fusioncell serve` process: started cold (a new process from the shell's point of view) or forked
    from the warm launcher (bench/traffic/zygote.py) for the SIGKILL loop."""

    def __init__(self, deployment: Deployment, log: Path) -> None:
        self.deployment = deployment
        self.log = log
        self.port = free_port()
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._zygote: Zygote | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_cold(self) -> None:
        self.port = free_port()
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [*fusioncell_exe(), "serve", "--data", str(self.deployment.data), "--port", str(self.port)],
                env=self.deployment.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.deployment.workdir,
                start_new_session=True,
            )
        self.pid = self._proc.pid

    def start_warm(self, zygote: Zygote) -> None:
        self.port = free_port()
        self._zygote = zygote
        self._proc = None
        self.pid = zygote.spawn(["serve", "--data", str(self.deployment.data), "--port", str(self.port)], self.log)

    def alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and Path(f"/proc/{self.pid}").exists()

    async def wait_ready(self, timeout: float = 60.0) -> float:
        start = time.perf_counter()
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.perf_counter() - start < timeout:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return time.perf_counter() - start
                await asyncio.sleep(0.02)
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        raise ServerFailed(f"fusioncell serve did not become healthy on port {self.port}:\n{tail}")

    def kill(self) -> int | None:
        """SIGKILL, then reap; returns the signal that ended it (9 expected)."""
        assert self.pid is not None
        # the whole process group: with several workers, the children must die with their parent
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            os.kill(self.pid, signal.SIGKILL)
        return self._reap()

    def stop(self) -> int | None:
        """A graceful stop (SIGTERM: uvicorn finishes its requests and runs the lifespan's shutdown)."""
        if self.pid is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            return self._reap(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            return self._reap()

    def _reap(self, timeout: float = 30) -> int | None:
        pid, self.pid = self.pid, None
        if self._proc is not None:
            code = self._proc.wait(timeout=timeout)
            return -code if code < 0 else None
        assert self._zygote is not None and pid is not None
        return self._zygote.wait(pid)["signal"]


class Zygote:
    """The warm launcher: imports the server once, forks a `fusioncell serve` per restart."""

    def __init__(self, deployment: Deployment) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.traffic.zygote"],
            env=deployment.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
            bufsize=1,
        )
        assert json.loads(self._line()).get("ready")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise ServerFailed("the warm launcher exited")
        return line

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def spawn(self, argv: list[str], log: Path, stdin: str | None = None) -> int:
        return int(self._ask({"op": "spawn", "argv": argv, "log": str(log), "stdin": stdin})["pid"])

    def wait(self, pid: int) -> dict[str, int | None]:
        """{"signal": N or None, "exit": N or None}"""
        return self._ask({"op": "wait", "pid": pid})

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- clients ---------------------------------------------------------------------------------------------


async def login(url: str, accounts: list[Account]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    limit = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:

        async def one(account: Account) -> None:
            async with limit:
                r = await client.post(
                    "/api/v1/auth/token", json={"username": account.username, "password": account.password}
                )
                r.raise_for_status()
                tokens[account.username] = r.json()["access_token"]

        await asyncio.gather(*(one(a) for a in accounts))
    return tokens


@dataclass
class StreamSubscriber:
    """One duty officer's screen: a WebSocket on /api/v1/stream that reconnects with the last index it saw."""

    account: Account
    token: str
    ws_url: str
    receiver: Receiver = field(init=False)
    cursor: int | None = None
    live: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: ClientConnection | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    def __post_init__(self) -> None:
        self.receiver = Receiver(self.account.username, self.account.may_read)

    async def _connect(self) -> None:
        url = f"{self.ws_url}/api/v1/stream?access_token={self.token}"
        if self.cursor is not None:
            url += f"&after={self.cursor}"
        # no client pings: a busy server must not be disconnected for answering a ping late
        self._ws = await connect(url, ping_interval=None, max_size=None, open_timeout=60, close_timeout=2)
        hello = json.loads(await self._ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"stream refused {self.account.username}: {hello}")
        if self.cursor is None:
            self.cursor = hello["after"]

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._run(), name=f"stream-{self.account.username}")

    def _frame(self, raw: str | bytes) -> None:
        t = time.perf_counter()
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "event":
            self.cursor = frame["index"]
            self.receiver.frames += 1
            if frame["action"] == "message.sent":
                self.receiver.saw(frame["content"]["message"]["id"], frame["audience"], t)
        elif kind == "live":
            self.live.set()
        elif kind == "error":
            self.receiver.errors.append(str(frame.get("detail")))

    async def _run(self) -> None:
        while not self._stopping:
            try:
                assert self._ws is not None
                async for raw in self._ws:
                    self._frame(raw)
                reason = f"closed {self._ws.close_code}"
            except ConnectionClosed as exc:
                reason = f"closed {exc.rcvd.code if exc.rcvd else 'abnormally'}"
            if self._stopping:
                return
            self.receiver.reconnects += 1
            self.receiver.errors.append(reason)
            while not self._stopping:
                await asyncio.sleep(0.2)
                try:
                    await self._connect()
                    break
                except (OSError, InvalidStatus, ConnectionClosed, TimeoutError) as exc:
                    self.receiver.errors.append(f"reconnect: {exc.__class__.__name__}")

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class Sender:
    """A liaison officer's client: HTTP/1.1 keep-alive, one connection unless the phase is open-loop."""

    def __init__(self, account: Account, token: str, url: str, *, connections: int = 1) -> None:
        self.account = account
        self.client = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(120.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def send(self, seq: int, tag: str) -> SendRecord:
        body = draft(self.account, seq, tag)
        record = SendRecord(self.account.username, body["client_txn_id"], body["audience"], time.perf_counter())
        try:
            r = await self.client.post("/api/v1/messages", json=body)
            record.status = r.status_code
            if r.status_code in (200, 201):
                record.message_id = r.json()["id"]
        except httpx.HTTPError as exc:
            record.status = exc.__class__.__name__
        record.t_end = time.perf_counter()
        return record

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class FusionConfig:
    window: float = 15.0
    latency_rate: float = 100.0
    latency_duration: float = 10.0
    light_duration: float = 5.0
    drain_timeout: float = 60.0
    kills: int = 100
    profile_dir: Path | None = None
    warm_restarts: bool = True
    pg_workers: int = 2  # `fusioncell serve --workers`: PostgreSQL only (SQLite serves from one process)


async def run_backend(backend: str, config: FusionConfig, workdir: Path) -> dict[str, Any]:
    from bench.traffic.killtest import kill_loop

    subscribers_plan, senders_plan = roster()
    workers = config.pg_workers if backend == "postgres" else 1
    deployment = Deployment(backend, workdir, workers=workers)
    result: dict[str, Any] = {"backend": backend, "workers": workers}
    server = Server(deployment, workdir / f"serve-{backend}.log")
    zygote = Zygote(deployment) if config.warm_restarts else None
    try:
        console.print(f"[bold]fusioncell on {backend}[/]: setting up {deployment.data}")
        result["setup"] = deployment.create(subscribers_plan, senders_plan, zygote)
        server.start_cold()
        result["setup"]["server_start_s"] = round(await server.wait_ready(), 2)
        t = time.perf_counter()
        tokens = await login(server.url, senders_plan + subscribers_plan)
        result["setup"]["login_s"] = round(time.perf_counter() - t, 2)
        ws_url = server.url.replace("http://", "ws://")
        subscribers = [StreamSubscriber(a, tokens[a.username], ws_url) for a in subscribers_plan]
        t = time.perf_counter()
        await asyncio.gather(*(s.start() for s in subscribers))
        await asyncio.wait_for(asyncio.gather(*(s.live.wait() for s in subscribers)), 60)
        result["setup"]["streams_live_s"] = round(time.perf_counter() - t, 2)
        console.print(
            f"  {len(subscribers)} streams live, {len(senders_plan)} senders logged in "
            f"(set-up {sum(result['setup'].values()):.0f} s)"
        )

        result |= await run_phases(
            lambda n: [Sender(a, tokens[a.username], server.url, connections=n) for a in senders_plan],
            subscribers,
            server_pid=server.pid,
            window=config.window,
            rate=config.latency_rate,
            duration=config.latency_duration,
            light_duration=config.light_duration,
            drain_timeout=config.drain_timeout,
            postgres=backend == "postgres",
            profile=config.profile_dir / f"fusioncell-{backend}-throughput.txt" if config.profile_dir else None,
        )
        for s in subscribers:
            await s.stop()
        result["stream_errors"] = sorted({e for s in subscribers for e in s.receiver.errors})[:10]
        server.stop()

        console.print(f"  SIGKILL loop: {config.kills} kills under the send load of 8 senders")
        result["kill"] = await kill_loop(deployment, senders_plan, tokens, kills=config.kills, zygote=zygote)
        k = result["kill"]
        console.print(
            f"    {k['kills']} kills, {k['acked']} acknowledged of {k['attempted']} attempted: "
            f"lost {k['lost']}, duplicates {k['duplicates']}, ledger gapless {k['ledger_gapless']}"
        )
    finally:
        if server.pid is not None:
            server.stop()
        if zygote:
            zygote.close()
        deployment.drop()
    return result


def new_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fusioncell-bench-"))

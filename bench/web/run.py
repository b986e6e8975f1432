"""The web benchmark: the watch screen in Chromium (Debian's, driven by Playwright) against `fusioncell serve` on
SQLite holding 10,000 messages.

- First load: il.liaison opens /watch 20 times; each load is timed from navigation start to the page being ready
  (drawn, and its stream live: the `fusioncell-ready` performance mark the page's script sets).
- Send → visible: with IL's watch open, sy.liaison sends 200 messages through the API at 5 per second; each is
  timed from just before its POST to the moment its row appears on IL's page (a MutationObserver's clock, the
  same wall clock as this process's).
- Beside them, the server's own part: the time to render the part of the watch the page fetches on each event,
  straight over HTTP. It bounds the send → visible figure from below on this machine.

The 10,000 messages are a watch's history: joint traffic both ways at every precedence, nearly all of it closed
(acknowledged), so that about a hundred items await IL, as a busy night's watch would have.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.shared import free_port, percentile, progress

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results"
console = Console()

PASSWORD = "bench-liaison-password"
MESSAGES = 10_000
OWED = 100  # left unacknowledged: what awaits IL on the watch
LOADS = 20
SENDS = 200
RATE = 5.0  # sends per second
TARGET_LOAD_P95_MS = 1_000.0
TARGET_VISIBLE_P99_MS = 500.0


def _chromium() -> str:
    path = os.environ.get("FUSIONCELL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit(
            "the web benchmark drives Debian's Chromium: `make test` installs it (apt-get install chromium)"
        )
    return path


def _seed(directory: Path, count: int) -> Path:
    """A cell with its accounts and `count` messages, sent and (all but OWED) acknowledged through the commands,
    in group commits as a busy cell writes them."""
    from fusioncell.auth import service as auth
    from fusioncell.policy import Principal, Role
    from fusioncell.settings import Settings
    from fusioncell.setup import init_cell
    from fusioncell.traffic import service
    from fusioncell.traffic.schemas import MessageCreate

    settings = Settings(data=directory / "data", scheduler_enabled=False)
    actor = Principal.system("cli:bench")
    cell = init_cell(settings, ROOT / "charters" / "paris-2026.yaml", actor=actor)
    for username, delegation in (("sy.liaison", "SY"), ("il.liaison", "IL")):
        with cell.command() as uow:
            auth.add_user(cell=cell, uow=uow, actor=actor, username=username, delegation=delegation,
                          roles=["liaison"], password=PASSWORD)  # fmt: skip
    people = {
        code: Principal(username=f"{code.lower()}.liaison", delegation=code, roles=frozenset({Role.LIAISON}))
        for code in ("SY", "IL")
    }
    rng = random.Random(15)
    precedences = ["FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE", "ROUTINE", "PRIORITY"]
    tracks = ["de-escalation", "intelligence", "diplomatic", "commercial", "humanitarian"]
    with progress(console) as bar:
        task = bar.add_task("seeding the watch's history", total=count, rate="")
        t = time.perf_counter()
        done = 0
        while done < count:
            batch = min(500, count - done)
            futures = []
            for i in range(done, done + batch):
                sender = "SY" if i % 2 == 0 else "IL"
                draft = MessageCreate(
                    track=rng.choice(tracks), audience="joint", precedence=rng.choice(precedences),
                    marker="INFORMATION", subject=f"Position report {i}: patrol at grid {rng.randrange(10_000):04d}",
                    body="Routine patrol on the agreed route, no weapons systems deployed, returning by 1800Z.",
                    lang="en",
                )  # fmt: skip
                command = lambda uow, d=draft, s=people[sender]: service.send(cell=cell, uow=uow, sender=s, draft=d)  # noqa: E731
                futures.append((sender, cell.group_commit.submit(command)))
            acks = []
            for n, (sender, future) in enumerate(futures):
                message = future.result()
                owed_left = done + n >= count - 2 * OWED  # the newest stay open, for IL (and SY) to see
                if not owed_left:
                    receiver = people["IL" if sender == "SY" else "SY"]
                    acks.append(cell.group_commit.submit(
                        lambda uow, m=message.id, r=receiver: service.acknowledge(
                            cell=cell, uow=uow, principal=r, message_id=m, readback=None)))  # fmt: skip
            for future in acks:
                future.result()
            done += batch
            bar.update(task, completed=done, rate=f"{done / (time.perf_counter() - t):,.0f} messages/s")
    cell.close()
    return settings.data


def _serve(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "FUSIONCELL_DATA": str(data), "FUSIONCELL_SCHEDULER_ENABLED": "false",
           "FUSIONCELL_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusioncell.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: see {log}")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start: see {log}")


_WATCH_ROWS = """() => {
  window.__seen = {};
  const note = () => {
    for (const row of document.querySelectorAll('[data-testid=traffic] li[data-message]')) {
      if (!(row.dataset.message in window.__seen)) window.__seen[row.dataset.message] = Date.now();
    }
  };
  note();
  new MutationObserver(note).observe(document.body, { childList: true, subtree: true });
  window.__framed = {};  // when the page's stream brought each message (the rest is the page's refresh)
  const socket = live.socket;
  socket.addEventListener("message", (e) => {
    const f = JSON.parse(e.data);
    if (f.action === "message.sent") window.__framed[String(f.content.message.id)] = Date.now();
  });
}"""


def _browser_figures(url: str, loads: int, sends: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        page.goto(f"{url}/login?next=/watch")
        page.fill("input[name=username]", "il.liaison")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/watch")
        page.wait_for_function("() => document.documentElement.dataset.ready === '1'")

        load_ms: list[float] = []
        with progress(console) as bar:
            task = bar.add_task("watch first loads", total=loads, rate="")
            for n in range(loads):
                page.goto(f"{url}/watch")
                page.wait_for_function("() => document.documentElement.dataset.ready === '1'")
                load_ms.append(page.evaluate("performance.getEntriesByName('fusioncell-ready')[0].startTime"))
                bar.update(task, completed=n + 1, rate=f"p50 {percentile(load_ms, 50):,.0f} ms")

        page.evaluate(_WATCH_ROWS)
        sy = httpx.post(f"{url}/api/v1/auth/token", json={"username": "sy.liaison", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {sy['access_token']}"}
        sent_at: dict[str, float] = {}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client, progress(console) as bar:
            task = bar.add_task(f"sends at {RATE:g}/s, watched on IL's page", total=sends, rate="")
            start = time.monotonic()
            for n in range(sends):
                wait = start + n / RATE - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                before = time.time() * 1000
                r = client.post("/api/v1/messages", json={
                    "track": "de-escalation", "audience": "joint", "precedence": "IMMEDIATE", "marker": "WARNING",
                    "subject": f"Live check {n}", "body": "Patrol moving to the agreed line.", "lang": "en",
                })  # fmt: skip
                r.raise_for_status()
                sent_at[str(r.json()["id"])] = before
                bar.update(task, completed=n + 1, rate="")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                seen = page.evaluate("window.__seen")
                if all(m in seen for m in sent_at):
                    break
                time.sleep(0.2)
        seen = page.evaluate("window.__seen")
        framed = page.evaluate("window.__framed")
        missing = [m for m in sent_at if m not in seen]
        visible_ms = [seen[m] - sent_at[m] for m in sent_at if m in seen]
        stream_ms = [framed[m] - sent_at[m] for m in sent_at if m in framed]
        browser.close()
    return {"load_ms": load_ms, "visible_ms": visible_ms, "stream_ms": stream_ms, "missing": len(missing)}


def _fragment_ms(url: str, samples: int = 50) -> list[float]:
    """The server's part of each refresh: the watch's live part, rendered for IL, over HTTP without a browser."""
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/login").text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "il.liaison", "password": PASSWORD, "csrf": csrf, "next": "/watch"})
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            client.get("/watch/live", headers={"HX-Request": "true"}).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
    return times


def run_web(*, quick: bool = False) -> int:
    count, loads, sends = (1_000, 5, 25) if quick else (MESSAGES, LOADS, SENDS)
    console.rule(f"[bold]web: the watch screen, {count:,} messages on SQLite, Chromium")
    directory = Path(tempfile.mkdtemp(prefix="fusioncell-bench-web-"))
    try:
        data = _seed(directory, count)
        proc, url = _serve(data, directory / "serve.log")
        try:
            fragment = _fragment_ms(url)
            figures = _browser_figures(url, loads, sends)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    load_p95 = percentile(figures["load_ms"], 95)
    visible_p99 = percentile(figures["visible_ms"], 99) if figures["visible_ms"] else float("inf")
    rows = [
        ("watch first load, navigation → ready", f"p50 {percentile(figures['load_ms'], 50):,.0f} ms · "
         f"p95 {load_p95:,.0f} ms ({loads} loads)", f"p95 ≤ {TARGET_LOAD_P95_MS:,.0f} ms",
         load_p95 <= TARGET_LOAD_P95_MS),
        ("sent through the API → visible on IL's watch", f"p50 {percentile(figures['visible_ms'], 50):,.0f} ms · "
         f"p99 {visible_p99:,.0f} ms ({sends} at {RATE:g}/s, {figures['missing']} missing)",
         f"p99 ≤ {TARGET_VISIBLE_P99_MS:,.0f} ms", visible_p99 <= TARGET_VISIBLE_P99_MS and not figures["missing"]),
        ("  of which: sent → on the page's stream", f"p50 {percentile(figures['stream_ms'], 50):,.0f} ms · "
         f"p99 {percentile(figures['stream_ms'], 99):,.0f} ms", "(the rest: the page's refresh)", None),
        ("server's part: the watch's live part rendered", f"p50 {percentile(fragment, 50):,.1f} ms · "
         f"p99 {percentile(fragment, 99):,.1f} ms (50 fetches)", "(bounds the line above)", None),
    ]  # fmt: skip
    table = Table(title=f"The watch screen ({count:,} messages, SQLite, Chromium {'quick' if quick else 'full'} run)")
    for column in ("measure", "fusioncell", "target", "met"):
        table.add_column(column)
    for name, value, target, met in rows:
        table.add_row(name, value, target, "" if met is None else ("yes" if met else "[red]NO[/red]"))
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {
        "messages": count,
        "loads": loads,
        "sends": sends,
        "load_p50_ms": round(percentile(figures["load_ms"], 50), 1),
        "load_p95_ms": round(load_p95, 1),
        "visible_p50_ms": round(percentile(figures["visible_ms"], 50), 1),
        "visible_p99_ms": round(visible_p99, 1),
        "stream_p50_ms": round(percentile(figures["stream_ms"], 50), 1),
        "stream_p99_ms": round(percentile(figures["stream_ms"], 99), 1),
        "missing": figures["missing"],
        "fragment_p50_ms": round(percentile(fragment, 50), 1),
        "fragment_p99_ms": round(percentile(fragment, 99), 1),
    }
    (RESULTS / ("web-quick.json" if quick else "web.json")).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(met is not False for *_, met in rows) else 1

"""The ledger benchmark: durable appends, inclusion proofs at a million entries, a witness's mirror catching up —
each beside the physical limit measured in the same run on the same machine.

fusioncell runs as it does in production: entries go through the sequencer (the unit of work, a thousand
commands per transaction as group commit forms them under load), the tree grows in the same transactions, the
mirror is `fusioncell.ledger.mirror` against a `fusioncell serve` process over HTTP.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.shared import percentile, progress, save_results

ROOT = Path(__file__).resolve().parent.parent.parent
console = Console()

TARGET_APPENDS = 20_000.0
TARGET_PROOF_P99_MS = 1.0
TARGET_MIRROR = 200_000.0
PASSWORD = "bench-witness-password"


# -- physical limits ----------------------------------------------------------------------------------------


def limit_node_hashes(n: int) -> float:
    """RFC 9162 interior node hashes a second, one core: SHA-256(0x01 ‖ 32 bytes ‖ 32 bytes)."""
    import hashlib

    left, right = os.urandom(32), os.urandom(32)
    sha = hashlib.sha256
    t = time.perf_counter()
    for _ in range(n):
        left = sha(b"\x01" + left + right).digest()
    return n / (time.perf_counter() - t)


def limit_signatures(n: int) -> float:
    """Ed25519 signatures a second over a checkpoint's text."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    text = b"fusioncell.example/paris-2026\n1000000\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    t = time.perf_counter()
    for i in range(n):
        key.sign(text + str(i).encode())
    return n / (time.perf_counter() - t)


def limit_sqlite_inserts(directory: Path, n: int, batch: int = 1000) -> float:
    """Rows a second that SQLite itself takes, through the same driver, in transactions of `batch` rows, into a
    table of the ledger's shape (same columns, key and indexes, WAL, synchronous=NORMAL): the floor under any
    SQLite-backed log here."""
    path = directory / "raw.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        'CREATE TABLE e ("index" INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, action TEXT NOT NULL, '
        "actor TEXT NOT NULL, actor_delegation TEXT, audience TEXT NOT NULL, subject TEXT NOT NULL, "
        "content TEXT NOT NULL, salt TEXT NOT NULL, commitment TEXT NOT NULL)"
    )
    for column in ("action", "audience", "subject"):
        con.execute(f"CREATE INDEX e_{column} ON e ({column})")
    content = '{"actor":"cli:bench","n":0,"text":"a short statement of record, as a liaison would write it"}'
    rows = [
        (i, "2026-11-28 06:00:00.000000", "bench.append", "cli:bench", None, "joint", f"bench:{i}", content,
         "ab" * 32, "cd" * 32)
        for i in range(n)
    ]  # fmt: skip
    t = time.perf_counter()
    for start in range(0, n, batch):
        con.execute("BEGIN")
        con.executemany("INSERT INTO e VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[start : start + batch])
        con.execute("COMMIT")
    rate = n / (time.perf_counter() - t)
    con.close()
    return rate


# -- fusioncell -----------------------------------------------------------------------------------------------


def _cell(directory: Path):  # type: ignore[no-untyped-def]
    from fusioncell.policy import Principal
    from fusioncell.settings import Settings
    from fusioncell.setup import init_cell

    settings = Settings(data=directory / "data", scheduler_enabled=False)
    return init_cell(settings, ROOT / "charters" / "paris-2026.yaml", actor=Principal.system("cli:bench"))


def append(cell, n: int, *, batch: int = 1000, label: str = "appending") -> float:  # type: ignore[no-untyped-def]
    """Entries through the sequencer, `batch` commands a transaction (the group commit's batch under load), a
    third each to joint, mediated:SY and mediated:IL; returns entries a second."""
    from fusioncell.policy import Principal, resolve_audience

    actor = Principal("sy.liaison", "SY", frozenset({"liaison"}))
    audiences = [resolve_audience(a, cell.charter.roster) for a in ("joint", "mediated:SY", "mediated:IL")]
    with progress(console) as bar:
        task = bar.add_task(label, total=n, rate="")
        t = time.perf_counter()
        done = 0
        while done < n:
            with cell.command() as uow:
                for _ in range(min(batch, n - done)):
                    with uow.command():
                        uow.record(
                            action="bench.statement",
                            actor=actor,
                            audience=audiences[done % 3],
                            subject=f"statement:{done}",
                            content={"n": done, "text": "a short statement of record, as a liaison would write it"},
                        )
                    done += 1
            bar.update(task, completed=done, rate=f"{done / (time.perf_counter() - t):,.0f} entries/s")
        return n / (time.perf_counter() - t)


def proofs(cell, count: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Inclusion proofs of random entries to the newest checkpoint, as the service makes them (what the API
    route calls), timed one by one, and each checked."""
    from fusioncell.ledger import log, merkle
    from fusioncell.ops import settle_heap

    settle_heap()  # as `fusioncell serve` does once its app is built
    checkpoint = log.sign_checkpoint(cell)
    size = checkpoint.size
    rng = random.Random(7)
    times = []
    for _ in range(count):
        index = rng.randrange(size)
        t = time.perf_counter()
        leaf, proof = log.inclusion(cell, index, size)
        times.append((time.perf_counter() - t) * 1000)
        merkle.verify_inclusion(index, size, leaf, proof, checkpoint.root)
    return {
        "size": size,
        "count": count,
        "p50_ms": round(percentile(times, 50), 3),
        "p99_ms": round(percentile(times, 99), 3),
        "max_ms": round(max(times), 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def _serve(cell, directory: Path) -> tuple[subprocess.Popen[bytes], str]:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FUSIONCELL_DATA": str(cell.settings.data), "FUSIONCELL_SCHEDULER_ENABLED": "false",
           "FUSIONCELL_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusioncell.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(directory / "serve.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start: see serve.log")


def http_proofs(url: str, token: str, size: int, count: int) -> dict[str, Any]:
    rng = random.Random(11)
    times = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(count):
            index = rng.randrange(size)
            t = time.perf_counter()
            r = client.get("/api/v1/ledger/proof/inclusion", params={"index": index, "size": size})
            times.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
    return {"count": count, "p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3)}


def mirror_run(url: str, token: str, cell, directory: Path, *, contents: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The mirror as a witness runs it: its own process (`python -m bench.ledger.run mirror ...`, which calls
    `fusioncell.ledger.mirror` as `fusioncell witness mirror` does), with a fresh state directory; it draws its
    own progress bar and prints its report as JSON."""
    from fusioncell.ledger import log

    state = Path(tempfile.mkdtemp(dir=directory))
    args = [sys.executable, "-m", "bench.ledger.run", "mirror", url, token, str(log.log_signer(cell).verifier),
            str(state), "contents" if contents else "leaves"]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def _mirror_process(url: str, token: str, key: str, state: str, what: str) -> None:
    from fusioncell.ledger.mirror import mirror
    from fusioncell.ledger.note import Verifier

    contents = what == "contents"
    label = "mirror (leaves and contents)" if contents else "mirror (leaves)"
    err = Console(stderr=True)
    with progress(err) as bar:
        task = bar.add_task(label, total=None, rate="")
        t0 = time.perf_counter()

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, rate=f"{done / (time.perf_counter() - t0):,.0f} entries/s")

        report = mirror(log_url=url, token=token, log_key=Verifier.parse(key), state=Path(state), contents=contents,
                        progress=step)  # fmt: skip
    print(json.dumps({
        "entries": report.size,
        "seconds": round(report.seconds, 2),
        "entries_per_s": round(report.rate),
        "contents_checked": report.contents_checked,
        "waiting_for_the_log_s": round(report.waited, 2),
    }))  # fmt: skip


def run_ledger(*, quick: bool, output: Path | None = None) -> int:
    from fusioncell.auth import service as auth
    from fusioncell.policy import Principal

    entries = 100_000 if quick else 1_000_000
    measured_appends = 50_000 if quick else 200_000
    started = time.perf_counter()
    directory = Path(tempfile.mkdtemp(prefix="fusioncell-ledger-bench-"))
    results: dict[str, Any] = {
        "benchmark": "ledger",
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version},
    }
    console.print(f"[bold]Ledger benchmark[/] ({results['mode']}) — work directory {directory}")
    try:
        console.print("  physical limits on this machine, now:")
        results["limits"] = {
            "sha256_node_hashes_per_s": round(limit_node_hashes(500_000 if quick else 2_000_000)),
            "ed25519_signatures_per_s": round(limit_signatures(2_000 if quick else 10_000)),
            "sqlite_batched_inserts_per_s": round(limit_sqlite_inserts(directory, measured_appends)),
        }
        console.print(f"    {results['limits']}", highlight=False)

        cell = _cell(directory)
        with cell.command() as uow:
            auth.add_user(cell=cell, uow=uow, actor=Principal.system("cli:bench"), username="sy.witness",
                          delegation="SY", roles=["liaison"], password=PASSWORD)  # fmt: skip
        token = auth.login(cell=cell, username="sy.witness", password=PASSWORD, otp=None, client="bench").access_token

        rate = append(cell, measured_appends, label="durable appends (measured)")
        results["appends"] = {"entries": measured_appends, "batch": 1000, "entries_per_s": round(rate)}
        console.print(f"    {rate:,.0f} durable appends/s (tree nodes included)", highlight=False)
        rest = entries - measured_appends
        if rest > 0:
            append(cell, rest, label=f"filling to {entries:,}")

        t = time.perf_counter()
        from fusioncell.ledger import log

        log.sign_checkpoint(cell)
        # the first checkpoint over every entry at once: the map of subjects is built whole (one key per entry here)
        results["checkpoint_catch_up_ms"] = round((time.perf_counter() - t) * 1000, 2)
        append(cell, 2_000, label="a checkpoint interval's entries")
        t = time.perf_counter()
        log.sign_checkpoint(cell)
        # as the signer runs in service: a few seconds of entries since the last checkpoint, the map moved on
        results["checkpoint_sign_ms"] = round((time.perf_counter() - t) * 1000, 2)
        results["proofs"] = proofs(cell, 2_000 if quick else 5_000)
        console.print(f"    inclusion proofs at {results['proofs']['size']:,}: {results['proofs']}", highlight=False)

        proc, url = _serve(cell, directory)
        try:
            results["proofs_http"] = http_proofs(url, token, results["proofs"]["size"], 500 if quick else 2_000)
            results["mirror"] = mirror_run(url, token, cell, directory, contents=False)
            results["mirror_contents"] = mirror_run(url, token, cell, directory, contents=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        console.print(f"    mirror: {results['mirror']}; with contents: {results['mirror_contents']}", highlight=False)
        cell.db.dispose()
    except Exception as exc:
        console.print(f"[red]ledger benchmark failed:[/] {exc}")
        results["error"] = f"{exc.__class__.__name__}: {exc}"
        raise
    finally:
        results["seconds"] = round(time.perf_counter() - started, 1)
        if "error" not in results:
            shutil.rmtree(directory, ignore_errors=True)
    print_table(results)
    save_results(results, "ledger", quick=quick, output=output, console=console)
    return 0


def print_table(r: dict[str, Any]) -> None:
    limits = r["limits"]
    table = Table(title=f"Ledger benchmark ({r['mode']}): SQLite, this machine, same run")
    for name in ("measurement", "fusioncell", "physical limit here", "target", "met?"):
        table.add_column(name, justify="left" if name == "measurement" else "right")

    def met(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    appends = r["appends"]["entries_per_s"]
    table.add_row(
        "durable appends/s (batched, tree included)", f"{appends:,}",
        f"{limits['sqlite_batched_inserts_per_s']:,} rows/s SQLite alone", f"≥ {TARGET_APPENDS:,.0f}",
        met(appends >= TARGET_APPENDS),
    )  # fmt: skip
    p = r["proofs"]
    table.add_row(
        f"inclusion proof p50 / p99 at {p['size']:,} entries", f"{p['p50_ms']:.3f} / {p['p99_ms']:.3f} ms",
        f"{limits['sha256_node_hashes_per_s']:,} node hashes/s", f"p99 ≤ {TARGET_PROOF_P99_MS:g} ms",
        met(p["p99_ms"] <= TARGET_PROOF_P99_MS),
    )  # fmt: skip
    h = r["proofs_http"]
    table.add_row("  the same over HTTP (p50 / p99)", f"{h['p50_ms']:.2f} / {h['p99_ms']:.2f} ms", "", "", "")
    table.add_row("signing a checkpoint 2,000 entries after the last (root, map, Ed25519)",
                  f"{r['checkpoint_sign_ms']:.2f} ms", f"{limits['ed25519_signatures_per_s']:,} Ed25519 signatures/s",
                  "", "")  # fmt: skip
    if "checkpoint_catch_up_ms" in r:
        table.add_row(f"the first checkpoint over all {r['proofs']['size'] - 2_000:,} entries (map built whole)",
                      f"{r['checkpoint_catch_up_ms'] / 1000:.1f} s", "", "", "")  # fmt: skip
    m, mc = r["mirror"], r["mirror_contents"]
    table.add_row(
        f"mirror catch-up over {m['entries']:,} entries (leaves, root)", f"{m['entries_per_s']:,}/s",
        f"{limits['sha256_node_hashes_per_s']:,} hashes/s", f"≥ {TARGET_MIRROR:,.0f}/s",
        met(m["entries_per_s"] >= TARGET_MIRROR),
    )  # fmt: skip
    table.add_row(
        f"  and opening {mc['contents_checked']:,} contents against their commitments",
        f"{mc['entries_per_s']:,}/s", "", "", "",
    )  # fmt: skip
    out = console if console.is_terminal else Console(width=170)
    out.print(table)


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "mirror":
    _mirror_process(*sys.argv[2:])

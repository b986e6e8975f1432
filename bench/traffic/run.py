"""The traffic benchmark from start to table: fusioncell on SQLite and PostgreSQL, Synapse on SQLite, the kills."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.traffic.common import RESULTS, console
from bench.traffic.fusion import FusionConfig, new_workdir, run_backend
from bench.traffic.report import print_table

T = TypeVar("T")


def _run_async(make: Callable[[], Awaitable[T]]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(make())  # type: ignore[arg-type]
    return uvloop.run(make())  # type: ignore[arg-type]


def run_traffic(
    *,
    quick: bool,
    backends: list[str],
    synapse: bool,
    kills: int | None,
    warm_restarts: bool,
    profile: bool,
    output: Path | None,
    pg_workers: int = 2,
    ceiling: bool = True,
) -> int:
    started = time.perf_counter()
    config = FusionConfig(
        window=5.0 if quick else 15.0,
        latency_rate=100.0,
        latency_duration=3.0 if quick else 10.0,
        light_duration=3.0 if quick else 5.0,
        drain_timeout=20.0 if quick else 60.0,
        kills=kills if kills is not None else (10 if quick else 100),
        profile_dir=RESULTS / "profiles" if profile else None,
        warm_restarts=warm_restarts,
        pg_workers=pg_workers,
    )
    results: dict[str, Any] = {
        "benchmark": "traffic",
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "subscribers": 50,
            "senders": 8,
            "throughput_window_s": config.window,
            "latency_rate_per_s": config.latency_rate,
            "latency_duration_s": config.latency_duration,
            "kills": config.kills,
            "warm_restarts": config.warm_restarts,
            "postgres_workers": config.pg_workers,
        },
        "fusioncell": {},
        "synapse": None,
        "ceiling": None,
        "timings_s": {},
    }
    workdir = new_workdir()
    console.print(f"[bold]Traffic benchmark[/] ({results['mode']}) — work directory {workdir}")
    failed = False

    synapse_python: Path | None = None
    if synapse:
        from bench.traffic.synapse import SynapseUnavailable, ensure_venv

        t = time.perf_counter()
        try:
            synapse_python = ensure_venv()
        except (SynapseUnavailable, OSError) as exc:
            console.print(f"[red]Synapse peer unavailable:[/] {exc}")
            results["synapse"] = {"error": str(exc)}
            failed = True
        results["timings_s"]["synapse_venv"] = round(time.perf_counter() - t, 1)

    if ceiling:
        from bench.traffic.ceiling import run_ceiling

        t = time.perf_counter()
        try:
            results["ceiling"] = _run_async(
                lambda: run_ceiling(
                    window=config.window,
                    rate=config.latency_rate,
                    duration=config.latency_duration,
                    light_duration=config.light_duration,
                    drain_timeout=config.drain_timeout,
                )
            )
        except Exception as exc:
            console.print(f"[red]The bare-wire ceiling run failed:[/] {exc}")
            traceback.print_exc()
            results["ceiling"] = {"error": f"{exc.__class__.__name__}: {exc}"}
            failed = True
        results["timings_s"]["ceiling"] = round(time.perf_counter() - t, 1)

    for backend in backends:
        t = time.perf_counter()
        try:
            results["fusioncell"][backend] = _run_async(lambda b=backend: run_backend(b, config, workdir))
        except Exception as exc:
            console.print(f"[red]fusioncell on {backend} failed:[/] {exc}")
            traceback.print_exc()
            results["fusioncell"][backend] = {"error": f"{exc.__class__.__name__}: {exc}"}
            failed = True
        results["timings_s"][f"fusioncell_{backend}"] = round(time.perf_counter() - t, 1)

    if synapse_python is not None:
        from bench.traffic.synapse import run_synapse

        t = time.perf_counter()
        try:
            results["synapse"] = _run_async(
                lambda: run_synapse(
                    synapse_python,  # type: ignore[arg-type]
                    workdir,
                    window=config.window,
                    rate=config.latency_rate,
                    duration=config.latency_duration,
                    light_duration=config.light_duration,
                    drain_timeout=config.drain_timeout,
                )
            )
        except Exception as exc:
            console.print(f"[red]Synapse run failed:[/] {exc}")
            traceback.print_exc()
            results["synapse"] = {"error": f"{exc.__class__.__name__}: {exc}"}
            failed = True
        results["timings_s"]["synapse"] = round(time.perf_counter() - t, 1)

    results["timings_s"]["total"] = round(time.perf_counter() - started, 1)
    results["summary"] = print_table(results)
    path = output or RESULTS / ("traffic.json" if not quick else "traffic-quick.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    console.print(f"Results: {path}  —  total {results['timings_s']['total']} s")
    if failed:
        console.print(f"[yellow]Logs kept in {workdir}[/]")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()
    return 1 if failed else 0

"""What every benchmark uses: a free loopback port, a progress bar with a rate, a percentile by index, and where its
results go."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def progress(console: Console) -> Progress:
    """A bar per task, with its count, a `rate` field the task updates, and the time taken."""
    return Progress(
        TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), console=console,
    )  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """The value at q % of the sorted values (index rounded), as the ledger and intelligence benches report."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


RESULTS = Path(__file__).resolve().parent / "results"


def save_results(results: dict[str, Any], name: str, *, quick: bool, output: Path | None, console: Console) -> Path:
    """The run's figures as JSON: bench/results/<name>.json (<name>-quick.json for a quick run, not committed)."""
    path = output or RESULTS / f"{name}{'-quick' if quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    total = f" — total {results['seconds']} s" if "seconds" in results else ""
    console.print(f"Results: {path}{total}")
    return path

"""What every benchmark uses: a free loopback port, a progress bar with a rate, a percentile by index."""

from __future__ import annotations

import socket

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

"""The two measured phases, the same for fusioncell and for Synapse.

A *sender* has `async send(seq, tag) -> SendRecord`; a *subscriber* has a `receiver` (common.Receiver) that
its reading loop fills with the first time it saw each message.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

from bench.traffic.common import ROOT, CpuMeter, Receiver, SendRecord, console, delivery_report, wait_delivered


class SenderLike(Protocol):
    async def send(self, seq: int, tag: str) -> SendRecord: ...


class SubscriberLike(Protocol):
    receiver: Receiver


def _profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(exe).exists():
        console.print("  [yellow]py-spy not installed: no profile[/] (pip install py-spy into .venv)")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "200",
         "--format", "raw", "--nonblocking", "--subprocesses", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def throughput_phase(
    senders: list[Any],
    subscribers: list[Any],
    *,
    server_pid: int | None,
    window: float,
    drain_timeout: float,
    postgres: bool = False,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Closed loop: every sender sends its next message as soon as the last one was acknowledged, for `window`
    seconds; then wait until every subscriber has everything it may see."""
    receivers = [s.receiver for s in subscribers]
    for r in receivers:
        r.new_phase()
    records: list[SendRecord] = []
    profiler = _profiler(server_pid, window, profile) if profile and server_pid else None
    meter = CpuMeter(server_pid, postgres=postgres)
    t0 = time.perf_counter()
    deadline = t0 + window

    async def closed_loop(sender: SenderLike) -> None:
        seq = 0
        while time.perf_counter() < deadline:
            records.append(await sender.send(seq, "tp"))
            seq += 1

    await asyncio.gather(*(closed_loop(s) for s in senders))
    cpu = meter.stop()
    waited = await wait_delivered(records, receivers, timeout=drain_timeout, stall=15)
    if profiler:
        profiler.wait()
    result = delivery_report(records, receivers, t_start=t0, window=window)
    result.update(window_s=window, drain_wait_s=round(waited, 2), cpu=cpu)
    return result


async def latency_phase(
    senders: list[Any],
    subscribers: list[Any],
    *,
    server_pid: int | None,
    rate: float,
    duration: float,
    drain_timeout: float,
    postgres: bool = False,
) -> dict[str, Any]:
    """Open loop: one send every 1/rate seconds (round robin over the senders), whatever the server does; the
    latency of a message runs from its send's start to the moment the last eligible subscriber had it."""
    receivers = [s.receiver for s in subscribers]
    for r in receivers:
        r.new_phase()
    n = int(rate * duration)
    meter = CpuMeter(server_pid, postgres=postgres)
    t0 = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[SendRecord]] = []
    late = 0.0
    for k in range(n):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        sender = senders[k % len(senders)]
        tasks.append(asyncio.create_task(sender.send(k // len(senders), "lat")))
    records = list(await asyncio.gather(*tasks))
    cpu = meter.stop()
    waited = await wait_delivered(records, receivers, timeout=drain_timeout, stall=10)
    result = delivery_report(records, receivers, t_start=t0, window=duration)
    acked = [r for r in records if r.status in (200, 201)]
    span = max((r.t_end for r in acked), default=t0) - t0
    result.update(
        offered_rate=rate,
        duration_s=duration,
        achieved_ack_rate=round(len(acked) / span, 1) if span > 0 else 0.0,
        max_pacing_lag_ms=round(late * 1000, 2),
        drain_wait_s=round(waited, 2),
        cpu=cpu,
    )
    return result


def say_phase(r: dict[str, Any]) -> None:
    console.print(
        f"    {r['acked']} acknowledged ({r['sends_per_s']}/s in the window); full delivery "
        f"{'[green]yes[/]' if r['full_delivery'] else '[red]NO[/]'} "
        f"({r['deliveries_expected'] - r['deliveries_missing']}/{r['deliveries_expected']}, leaks {r['leaks']}, "
        f"duplicates {r['duplicates']}), all delivered after {r['all_delivered_after_s']} s; delivery p50/p99 "
        f"{r['delivery_latency_p50_ms']}/{r['delivery_latency_p99_ms']} ms; cpu {r['cpu']}",
        highlight=False,
    )

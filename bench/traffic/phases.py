"""The two measured phases, the same for fusioncell and for Synapse.

A *sender* has `async send(seq, tag) -> SendRecord`; a *subscriber* has a `receiver` (common.Receiver) that
its reading loop fills with the first time it saw each message.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from bench.traffic.common import (
    ROOT,
    CpuMeter,
    Receiver,
    SendRecord,
    console,
    delivery_report,
    draft,
    wait_delivered,
    wait_idle,
)


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
         "--format", "raw", "--gil", "--nonblocking", "--subprocesses", "--output", str(out)],
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


async def warm_up(senders: list[Any], subscribers: list[Any], *, timeout: float) -> dict[str, Any]:
    """A few sends per sender before anything is measured: one-time costs (caches, lazy set-up) stay out."""
    receivers = [s.receiver for s in subscribers]
    t0 = time.perf_counter()
    records = [r for rs in await asyncio.gather(*(_several(s, 3) for s in senders)) for r in rs]
    await wait_delivered(records, receivers, timeout=timeout, stall=timeout)
    report = delivery_report(records, receivers, t_start=t0, window=max(time.perf_counter() - t0, 1e-3))
    return {k: report[k] for k in ("attempted", "acked", "full_delivery", "all_delivered_after_s")}


async def _several(sender: SenderLike, n: int) -> list[SendRecord]:
    return [await sender.send(seq, "warm") for seq in range(n)]


async def latency_phase(
    senders: list[Any],
    subscribers: list[Any],
    *,
    server_pid: int | None,
    rate: float,
    duration: float,
    drain_timeout: float,
    tag: str = "lat",
    postgres: bool = False,
) -> dict[str, Any]:
    """Open loop: one send every 1/rate seconds (round robin over the senders), whatever the server does; the
    latency of a message runs from its send's start to the moment the last eligible subscriber had it.

    The phase ends `drain_timeout` seconds after the last scheduled send at the latest: a send still unanswered
    then is given up (counted, never delivered), a message not yet everywhere counts as never delivered (its
    latency is infinite, so a server that cannot keep up cannot look good in the percentiles)."""
    receivers = [s.receiver for s in subscribers]
    for r in receivers:
        r.new_phase()
    n = int(rate * duration)
    meter = CpuMeter(server_pid, postgres=postgres)
    t0 = time.perf_counter() + 0.05
    cutoff = t0 + duration + drain_timeout
    tasks: dict[asyncio.Task[SendRecord], tuple[Any, int]] = {}
    late = 0.0
    for k in range(n):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        sender = senders[k % len(senders)]
        seq = k // len(senders)
        tasks[asyncio.create_task(sender.send(seq, tag))] = (sender, seq)
    done, pending = await asyncio.wait(tasks, timeout=max(cutoff - time.perf_counter(), 0.1))
    records = [t.result() for t in done]
    for task in pending:
        task.cancel()
        sender, seq = tasks[task]
        body = draft(sender.account, seq, tag)
        records.append(SendRecord(sender.account.username, body["client_txn_id"], "?", 0.0, 0.0, "given up"))
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    cpu = meter.stop()
    waited = await wait_delivered(
        records, receivers, timeout=max(cutoff - time.perf_counter(), 2.0), stall=max(drain_timeout / 2, 5)
    )
    result = delivery_report(records, receivers, t_start=t0, window=duration)
    acked = [r for r in records if r.status in (200, 201)]
    span = max((r.t_end for r in acked), default=t0) - t0
    result.update(
        offered=n,
        offered_rate=rate,
        duration_s=duration,
        given_up=len(pending),
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


async def run_phases(
    make_senders: Callable[[int], list[Any]],
    subscribers: list[Any],
    *,
    server_pid: int | None,
    window: float,
    rate: float,
    duration: float,
    light_duration: float,
    drain_timeout: float,
    postgres: bool = False,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Warm up; throughput (closed loop, 8 senders); latency at half the measured capacity (the latency floor,
    visible even when `rate` is past saturation); last, latency at `rate` (open loop), which may leave a
    backlog behind, so nothing is measured on this server after it."""
    out: dict[str, Any] = {}
    senders = make_senders(1)
    out["warm_up"] = await warm_up(senders, subscribers, timeout=drain_timeout)
    console.print(f"  throughput: {len(senders)} senders, closed loop, {window:g} s window")
    out["throughput"] = await throughput_phase(
        senders,
        subscribers,
        server_pid=server_pid,
        window=window,
        drain_timeout=drain_timeout,
        postgres=postgres,
        profile=profile,
    )
    say_phase(out["throughput"])
    await _close(senders)
    out["settle_after_throughput_s"] = round(await wait_idle(server_pid or 0, timeout=drain_timeout), 2)

    capacity = out["throughput"]["delivered_sends_per_s"] or out["throughput"]["sends_per_s"]
    light = round(min(rate / 2, max(capacity / 2, 1.0)), 1)
    light_duration = round(min(max(light_duration, 20 / light), 30.0), 1)
    console.print(f"  latency: {light:g} sends/s offered (half the measured capacity) for {light_duration:g} s")
    senders = make_senders(32)
    out["latency_light"] = await latency_phase(
        senders,
        subscribers,
        server_pid=server_pid,
        rate=light,
        duration=light_duration,
        drain_timeout=drain_timeout,
        tag="light",
        postgres=postgres,
    )
    say_phase(out["latency_light"])
    await _close(senders)
    out["settle_after_light_s"] = round(await wait_idle(server_pid or 0, timeout=drain_timeout), 2)

    console.print(f"  latency: {rate:g} sends/s offered for {duration:g} s, open loop")
    senders = make_senders(32)
    out["latency"] = await latency_phase(
        senders,
        subscribers,
        server_pid=server_pid,
        rate=rate,
        duration=duration,
        drain_timeout=drain_timeout,
        postgres=postgres,
    )
    say_phase(out["latency"])
    await _close(senders)
    return out


async def _close(senders: list[Any]) -> None:
    for sender in senders:
        await sender.close()

"""What both sides of the traffic benchmark share: the roster, ports, statistics, CPU accounting, waiting."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CHARTER = ROOT / "charters" / "paris-2026.yaml"

console = Console()

# -- the duty roster -------------------------------------------------------------------------------------

# Who may read what, stated plainly (as in the issue), independently of fusioncell.policy: the benchmark
# checks the product's fan-out against this, so it must not borrow the product's own rule.
AUDIENCE_MEMBERS: dict[str, frozenset[str]] = {
    "joint": frozenset({"SY", "IL", "US", "UNDOF"}),
    "mediated:SY": frozenset({"SY", "US"}),
    "mediated:IL": frozenset({"IL", "US"}),
}

# (delegation, roles, how many) -> 50 subscribers on duty across the delegations
SUBSCRIBER_PLAN: list[tuple[str, tuple[str, ...], int]] = [
    ("SY", ("liaison",), 10),
    ("SY", ("analyst",), 3),
    ("SY", ("signatory",), 2),
    ("IL", ("liaison",), 10),
    ("IL", ("analyst",), 3),
    ("IL", ("signatory",), 2),
    ("US", ("mediator", "liaison"), 4),
    ("US", ("liaison",), 4),
    ("US", ("analyst",), 2),
    ("US", ("signatory",), 2),
    ("UNDOF", ("observer",), 8),
]

# 8 senders across SY, IL and the mediator; each writes into the audiences it may write into.
SENDER_PLAN: list[tuple[str, tuple[str, ...], int, tuple[str, ...]]] = [
    ("SY", ("liaison",), 3, ("joint", "mediated:SY")),
    ("IL", ("liaison",), 3, ("joint", "mediated:IL")),
    ("US", ("mediator", "liaison"), 2, ("joint", "mediated:SY", "mediated:IL")),
]


@dataclass(frozen=True)
class Account:
    username: str
    delegation: str
    roles: tuple[str, ...]
    audiences: tuple[str, ...] = ()  # senders only: the audiences it writes into, in turn

    @property
    def password(self) -> str:
        return f"bench-duty-{self.username}-pass"

    def may_read(self, audience: str) -> bool:
        return self.delegation in AUDIENCE_MEMBERS.get(audience, frozenset())


def roster() -> tuple[list[Account], list[Account]]:
    """(subscribers, senders)."""
    subscribers: list[Account] = []
    counts: dict[str, int] = {}
    for delegation, roles, n in SUBSCRIBER_PLAN:
        for _ in range(n):
            counts[delegation] = counts.get(delegation, 0) + 1
            subscribers.append(Account(f"{delegation.lower()}.duty{counts[delegation]:02d}", delegation, roles))
    senders = [
        Account(f"{delegation.lower()}.sender{i + 1}", delegation, roles, audiences)
        for delegation, roles, n, audiences in SENDER_PLAN
        for i in range(n)
    ]
    return subscribers, senders


TRACKS = ("intelligence", "de-escalation", "diplomatic", "commercial", "humanitarian")
MARKERS = ("INFORMATION", "ADVICE", "WARNING", "QUESTION", "REQUEST", "INTENTION")
BODIES = (
    "Patrol of two vehicles will move along the ceasefire line at first light; no change to posture.",
    "Request confirmation that the crossing point north of the buffer zone stays open for the convoy.",
    "Engineering work near the area of separation is postponed by one day; the notice follows separately.",
    "Observation post reports a light aircraft at low altitude heading east; please advise if it is yours.",
)


def draft(sender: Account, seq: int, tag: str) -> dict[str, Any]:
    """Message number `seq` of `sender` in the phase `tag`: deterministic, so a resend is byte-identical."""
    return {
        "track": TRACKS[seq % len(TRACKS)],
        "audience": sender.audiences[seq % len(sender.audiences)],
        "precedence": "PRIORITY" if seq % 2 else "ROUTINE",  # no word limit on either
        "marker": MARKERS[seq % len(MARKERS)],
        "subject": f"{tag} {sender.username} #{seq}",
        "body": BODIES[seq % len(BODIES)],
        "lang": "en",
        "client_txn_id": f"{tag}.{sender.username}.{seq}",
    }


# -- processes and ports ---------------------------------------------------------------------------------


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, its reaped children and its live descendants (a server's worker
    processes), 0 if it is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # fields[0] is state (field 3), fields[1] the parent (field 4); utime, stime, cutime, cstime are fields 14-17
    total = sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK
    return total + sum(process_cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def machine_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return float(sum(parts) - idle), float(sum(parts))


def postgres_pids() -> list[int]:
    """PostgreSQL server processes on this machine (read-only: for CPU accounting)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU used during a phase by the server under test, this load generator, PostgreSQL and the machine."""

    def __init__(self, server_pid: int | None, *, postgres: bool = False) -> None:
        self.server_pid = server_pid
        self.postgres = postgres
        self.first = self._sample()

    def _sample(self) -> dict[str, float]:
        busy, total = machine_busy()
        return {
            "wall": time.perf_counter(),
            "server": process_cpu_seconds(self.server_pid) if self.server_pid else 0.0,
            "client": time.process_time(),
            "postgres": sum(process_cpu_seconds(p) for p in postgres_pids()),
            "busy": busy,
            "total": total,
        }

    def stop(self) -> dict[str, float]:
        last = self._sample()
        wall = max(last["wall"] - self.first["wall"], 1e-9)
        out = {
            "wall_s": round(wall, 3),
            "server_cores": round((last["server"] - self.first["server"]) / wall, 2),
            "client_cores": round((last["client"] - self.first["client"]) / wall, 2),
            "machine_busy_pct": round(
                100 * (last["busy"] - self.first["busy"]) / max(last["total"] - self.first["total"], 1), 1
            ),
        }
        used = {k: (last[k] - self.first[k]) / wall for k in ("server", "client", "postgres")}
        if self.postgres:
            out["postgres_cores"] = round(used["postgres"], 2)
        # anything else on the machine meanwhile (another job on a shared machine skews every figure)
        machine_cores = (os.cpu_count() or 1) * out["machine_busy_pct"] / 100
        out["other_cores"] = round(max(machine_cores - sum(used.values()), 0.0), 2)
        return out


async def wait_idle(pid: int, *, below: float = 0.05, window: float = 0.5, timeout: float = 30.0) -> float:
    """Wait until the process uses less than `below` of a core over `window` seconds; returns seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        before = process_cpu_seconds(pid)
        await asyncio.sleep(window)
        if (process_cpu_seconds(pid) - before) / window < below:
            break
    return time.perf_counter() - start


# -- statistics ------------------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile; an undelivered message counts as +inf, so it is never hidden."""
    data = sorted(values)
    if not data:
        return None
    rank = max(1, math.ceil(p / 100 * len(data)))
    return data[rank - 1]


def ms(value: float | None) -> float | None:
    if value is None:
        return None
    return None if math.isinf(value) else round(value * 1000, 2)


@dataclass
class SendRecord:
    sender: str
    txn: str
    audience: str
    t_start: float
    t_end: float = 0.0
    status: int | str = 0
    message_id: int | str | None = None  # fusioncell message id, or Matrix event id


@dataclass
class Receiver:
    """One subscriber's view: when it first saw each message, and anything it should not have seen."""

    name: str
    may_read: Callable[[str], bool]
    received: dict[int | str, float] = field(default_factory=dict)
    duplicates: int = 0
    leaks: int = 0
    frames: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)

    def new_phase(self) -> None:
        self.duplicates = self.leaks = self.reconnects = 0

    def saw(self, key: int | str, audience: str, t: float) -> None:
        if not self.may_read(audience):
            self.leaks += 1
        if key in self.received:
            self.duplicates += 1
        else:
            self.received[key] = t


def delivery_report(
    sends: list[SendRecord], receivers: list[Receiver], *, t_start: float, window: float
) -> dict[str, Any]:
    """Did every receiver get exactly what it may see of the acknowledged sends, and when?"""
    acked = [s for s in sends if s.status in (200, 201) and s.message_id is not None]
    in_window = [s for s in acked if s.t_end <= t_start + window]
    expected = missing = 0
    last_delivery = t_start
    latencies: list[float] = []
    for s in acked:
        eligible = [r for r in receivers if r.may_read(s.audience)]
        times = [r.received.get(s.message_id) for r in eligible]  # type: ignore[arg-type]
        expected += len(eligible)
        missing += sum(1 for t in times if t is None)
        if times and all(t is not None for t in times):
            done = max(times)  # type: ignore[type-var]
            last_delivery = max(last_delivery, done)  # type: ignore[arg-type]
            latencies.append(done - s.t_start)  # type: ignore[operator]
        else:
            latencies.append(math.inf)
    # a leak by the sent message's own audience too (not only the audience the frame claims)
    audience_of = {s.message_id: s.audience for s in acked}
    leaks_by_sent = sum(1 for r in receivers for m in r.received if m in audience_of and not r.may_read(audience_of[m]))
    errors: dict[str, int] = {}
    for s in sends:
        if s.status not in (200, 201):
            errors[str(s.status)] = errors.get(str(s.status), 0) + 1
            latencies.append(math.inf)  # a send that failed or was given up is never delivered
    full = (
        bool(acked)
        and missing == 0
        and leaks_by_sent == 0
        and all(r.leaks == 0 and r.duplicates == 0 for r in receivers)
    )
    span = last_delivery - t_start
    return {
        "attempted": len(sends),
        "acked": len(acked),
        "acked_in_window": len(in_window),
        "send_errors": errors,
        "sends_per_s": round(len(in_window) / window, 1),
        "deliveries_expected": expected,
        "deliveries_missing": missing,
        "leaks": sum(r.leaks for r in receivers) + leaks_by_sent,
        "duplicates": sum(r.duplicates for r in receivers),
        "reconnects": sum(r.reconnects for r in receivers),
        "full_delivery": full,
        "all_delivered_after_s": round(span, 3),
        # every acknowledged send delivered to every eligible subscriber, per second of the whole span
        "delivered_sends_per_s": round(len(acked) / span, 1) if full and span > 0 else 0.0,
        "messages_fully_delivered": sum(1 for x in latencies if not math.isinf(x)),
        "delivery_latency_p50_ms": ms(percentile(latencies, 50)),
        "delivery_latency_p99_ms": ms(percentile(latencies, 99)),
        "send_latency_p50_ms": ms(percentile([s.t_end - s.t_start for s in acked], 50)),
        "send_latency_p99_ms": ms(percentile([s.t_end - s.t_start for s in acked], 99)),
    }


async def wait_delivered(sends: list[SendRecord], receivers: list[Receiver], *, timeout: float, stall: float) -> float:
    """Wait until every acknowledged send reached every eligible receiver, or nothing moved for `stall`
    seconds, or `timeout`; returns the seconds waited."""
    start = time.perf_counter()
    acked = [s for s in sends if s.status in (200, 201) and s.message_id is not None]
    remaining = [(r, {s.message_id for s in acked if r.may_read(s.audience)}) for r in receivers]
    last_progress, last_count = start, -1
    while True:
        remaining = [(r, {m for m in ids if m not in r.received}) for r, ids in remaining]
        count = sum(len(ids) for _, ids in remaining)
        now = time.perf_counter()
        if count != last_count:
            last_progress, last_count = now, count
        if not count or now - start > timeout or now - last_progress > stall:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - start

"""The table: one row per measurement; fusioncell on SQLite and PostgreSQL, Synapse on SQLite, the bare wire
(the ceiling of the stack on this machine), target, met?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.traffic.common import console

TARGET_SENDS = 1000.0
TARGET_P99_MS = 25.0
TARGET_RATIO = 15.0

Getter = Callable[[dict[str, Any]], Any]


def _get(d: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _num(v: Any, unit: str = "", digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    return f"{v:,}{unit}"


def _delivery(phase: dict[str, Any] | None) -> str:
    if not phase:
        return "—"
    got = phase["deliveries_expected"] - phase["deliveries_missing"]
    text = f"{'yes' if phase['full_delivery'] else 'NO'} ({got:,}/{phase['deliveries_expected']:,}"
    extras = [f"{phase[k]} {k}" for k in ("leaks", "duplicates") if phase.get(k)]
    return text + (", " + ", ".join(extras) if extras else "") + ")"


def _p99(phase: dict[str, Any] | None, key: str) -> str:
    if not phase:
        return "—"
    value = phase.get(key)
    if value is None:
        missing = phase.get("deliveries_missing")
        return "∞ (undelivered)" if missing else "—"
    return f"{value:,.1f} ms"


def _met(values: dict[str, Any], check: Callable[[Any], bool]) -> str:
    verdicts = {name: (v is not None and check(v)) for name, v in values.items()}
    if not verdicts:
        return "—"
    if all(verdicts.values()):
        return "[green]yes[/]"
    if not any(verdicts.values()):
        return "[red]no[/]"
    return "[yellow]" + ", ".join(f"{n} {'yes' if ok else 'no'}" for n, ok in verdicts.items()) + "[/]"


def print_table(results: dict[str, Any]) -> dict[str, Any]:
    fc: dict[str, Any] = results.get("fusioncell", {})
    syn: dict[str, Any] | None = results.get("synapse")
    labels = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    backends = [b for b in ("sqlite", "postgres") if b in fc]
    for b in backends:
        workers = fc[b].get("workers", 1) if isinstance(fc[b], dict) else 1
        if workers > 1:
            labels[b] += f" ×{workers}"

    def col(backend: str) -> dict[str, Any] | None:
        data = fc.get(backend)
        return data if isinstance(data, dict) and "error" not in data else None

    syn_ok = syn if isinstance(syn, dict) and "error" not in syn else None
    ceiling: dict[str, Any] | None = results.get("ceiling")
    ceil_ok = ceiling if isinstance(ceiling, dict) and "error" not in ceiling else None
    syn_rate = _get(syn_ok, "throughput", "delivered_sends_per_s") or _get(syn_ok, "throughput", "sends_per_s")

    def ratio(backend: str) -> float | None:
        mine = _get(col(backend), "throughput", "delivered_sends_per_s")
        if mine is None or not syn_rate:
            return None
        return round(mine / syn_rate, 2)

    table = Table(title=f"Traffic benchmark ({results.get('mode')}): 50 subscribers, 8 senders, loopback")
    table.add_column("measurement")
    for b in ("sqlite", "postgres"):
        table.add_column(f"fusioncell {labels[b]}", justify="right")
    table.add_column("Synapse SQLite", justify="right")
    table.add_column("bare wire (ceiling)", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met?")

    summary: dict[str, Any] = {}

    def row(
        name: str,
        getter: Getter,
        fmt: Callable[[Any], str],
        syn_value: Any = None,
        *,
        target: str = "",
        check: Callable[[Any], bool] | None = None,
        key: str | None = None,
        synapse: bool = True,
    ) -> None:
        values = {labels[b]: getter(col(b)) if col(b) else None for b in backends}
        cells = [fmt(getter(col(b))) if col(b) else ("error" if b in fc else "—") for b in ("sqlite", "postgres")]
        syn_cell = fmt(syn_value if syn_value is not None else getter(syn_ok)) if synapse and syn_ok else "—"
        ceil_cell = fmt(getter(ceil_ok)) if synapse and ceil_ok else "—"
        met = _met(values, check) if check else ""
        table.add_row(name, *cells, syn_cell, ceil_cell, target, met)
        if key:
            summary[key] = {"values": values, "met": Text.from_markup(met).plain}

    row("durable sends/s (201 within the window)", lambda d: _get(d, "throughput", "sends_per_s"), _num)
    row(
        "sends/s with full delivery",
        lambda d: _get(d, "throughput", "delivered_sends_per_s"),
        _num,
        target=f"≥ {TARGET_SENDS:,.0f}",
        check=lambda v: v >= TARGET_SENDS,
        key="throughput",
    )
    row("full delivery (throughput run)", lambda d: _get(d, "throughput"), _delivery)
    row("  all delivered after (s)", lambda d: _get(d, "throughput", "all_delivered_after_s"), _num)
    row("  send → 201 p99 (throughput run)", lambda d: _get(d, "throughput"), lambda p: _p99(p, "send_latency_p99_ms"))
    row("light load: sends/s offered (half capacity)", lambda d: _get(d, "latency_light", "offered_rate"), _num)
    row(
        "  delivery p50 at light load", lambda d: _get(d, "latency_light"), lambda p: _p99(p, "delivery_latency_p50_ms")
    )
    row(
        "  delivery p99 at light load", lambda d: _get(d, "latency_light"), lambda p: _p99(p, "delivery_latency_p99_ms")
    )
    row("acks/s at 100 sends/s offered", lambda d: _get(d, "latency", "achieved_ack_rate"), _num)
    row("delivery latency p50 @ 100/s", lambda d: _get(d, "latency"), lambda p: _p99(p, "delivery_latency_p50_ms"))
    row(
        "delivery latency p99 @ 100/s",
        lambda d: _get(d, "latency", "delivery_latency_p99_ms"),
        lambda v: f"{v:,.1f} ms" if v is not None else "∞ (undelivered)",
        target=f"≤ {TARGET_P99_MS:g} ms",
        check=lambda v: v <= TARGET_P99_MS,
        key="latency_p99",
    )
    row(
        "  messages delivered to all in time @ 100/s",
        lambda d: _get(d, "latency"),
        lambda p: f"{p['messages_fully_delivered']:,} / {p['offered']:,}" if p else "—",
    )
    row("  full delivery (latency run)", lambda d: _get(d, "latency"), _delivery)
    row("SIGKILL rounds", lambda d: _get(d, "kill", "kills"), _num, synapse=False)
    row("  sends acknowledged / attempted", lambda d: _get(d, "kill"),
        lambda k: f"{k['acked']:,} / {k['attempted']:,}" if k else "—", synapse=False)  # fmt: skip
    row(
        "acknowledged messages lost",
        lambda d: _get(d, "kill", "lost"),
        _num,
        target="0",
        check=lambda v: v == 0,
        key="lost",
        synapse=False,
    )
    row(
        "duplicates after resend",
        lambda d: _get(d, "kill", "duplicates"),
        _num,
        target="0",
        check=lambda v: v == 0,
        key="duplicates",
        synapse=False,
    )
    row("  ledger gapless after the kills", lambda d: _get(d, "kill", "ledger_gapless"), _num, synapse=False)
    ratios = {labels[b]: ratio(b) for b in backends}
    table.add_row(
        "fusioncell / Synapse (sends/s with full delivery)",
        *[f"{ratios[labels[b]]:,.2f}×" if ratios.get(labels.get(b, "")) is not None else "—" for b in
          ("sqlite", "postgres")],
        "1×" if syn_ok else "—",
        f"{_get(ceil_ok, 'throughput', 'delivered_sends_per_s') / syn_rate:,.2f}×"
        if syn_rate and _get(ceil_ok, "throughput", "delivered_sends_per_s") else "—",
        f"≥ {TARGET_RATIO:g}×",
        _met(ratios, lambda v: v >= TARGET_RATIO),
    )  # fmt: skip
    summary["ratio"] = {"values": ratios, "met": Text.from_markup(_met(ratios, lambda v: v >= TARGET_RATIO)).plain}
    out = console if console.is_terminal else Console(width=170)
    out.print(table)
    cpu = Table(title=f"CPU during the throughput window (cores; the machine has {_get(results, 'machine', 'cpus')})")
    for name in ("", "server", "load generator", "PostgreSQL", "anything else", "machine busy"):
        cpu.add_column(name, justify="right" if name else "left")
    columns = [(f"fusioncell {labels[b]}", col(b)) for b in backends] + [
        ("Synapse SQLite", syn_ok),
        ("bare wire (ceiling)", ceil_ok),
    ]
    for name, data in columns:
        c = _get(data, "throughput", "cpu")
        if c:
            cpu.add_row(
                name,
                _num(c.get("server_cores"), digits=2),
                _num(c.get("client_cores"), digits=2),
                _num(c.get("postgres_cores"), digits=2),
                _num(c.get("other_cores"), digits=2),
                f"{c.get('machine_busy_pct')} %",
            )
    out.print(cpu)
    if syn_ok and not _get(syn_ok, "throughput", "full_delivery"):
        console.print("[yellow]Synapse did not deliver everything; its ratio uses its acknowledged sends/s.[/]")
    ceil_rate = _get(ceil_ok, "throughput", "delivered_sends_per_s")
    ceil_client = _get(ceil_ok, "throughput", "cpu", "client_cores")
    if ceil_rate and ceil_client:
        out.print(
            f"The bare wire (same server stack and options, no database, no checks) reached {ceil_rate:,.1f} sends/s "
            f"with full delivery while the load generator used {ceil_client:.2f} cores: with this load generator "
            f"on this machine, no server reaches more.",
            highlight=False,
        )
        summary["ceiling"] = {"sends_per_s": ceil_rate, "client_cores": ceil_client}
    errors = {b: fc[b]["error"] for b in backends if isinstance(fc.get(b), dict) and "error" in fc[b]}
    if isinstance(syn, dict) and "error" in syn:
        errors["synapse"] = syn["error"]
    if isinstance(ceiling, dict) and "error" in ceiling:
        errors["ceiling"] = ceiling["error"]
    for where, error in errors.items():
        console.print(f"[red]{where}: {error.splitlines()[0] if error else error}[/]")
    summary["errors"] = errors
    return summary

"""The deconfliction benchmark: the engine beside PostGIS on the same seeded data in the same run, and the check
through the API.

1. Full sweep: 100,000 activities against 1,000 zones — every cross-party pair of overlapping activities and every
   activity in a zone that forbids its type — by `engine.sweep` (columns and STRtree built inside the timing) and by
   two PostGIS joins on GiST indexes. The pair sets and the zone-hit sets must be identical.
2. Single check with 100,000 stored: 2,000 new activities, each checked by `engine.check` against the prebuilt
   `ActivitySet` and `ZoneSet`, and by one prepared PostGIS query against the indexed tables; the same conflicts for
   each. Beside them, a bare `SELECT 1` round trip (PostGIS's floor on this machine).
3. Through the API: `fusioncell serve` (SQLite) holding the same 100,000 activities, 500 `POST
   /api/v1/activities/check` one at a time, as sy.liaison; the overlaps found must be the engine's. Beside them, the
   same server's floors (`GET /healthz`; `GET /api/v1/me`, the least a signed-in request costs), each timed right
   after a check, and the route's own work in this process.

Any difference in a conflict set fails the bench (exit status 1), with the count of differences.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from rich.console import Console
from rich.table import Table

from bench.deconfliction import api, data, postgis
from bench.shared import percentile, progress, save_results

ROOT = Path(__file__).resolve().parent.parent.parent
console = Console()

TARGET_SWEEP_S = 5.0
TARGET_CHECK_P99_MS = 2.0
TARGET_API_P99_MS = 20.0
SIZES = {  # activities, zones, single checks, API checks, share of the theatre (the same density)
    "full": (100_000, 1_000, 2_000, 500, 1.0),
    "quick": (10_000, 100, 300, 100, 0.1),
}


def _say(text: str) -> None:
    console.print(text, highlight=False)


def _ms(times: list[float]) -> dict[str, float]:
    return {
        "count": len(times), "p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3),
        "max_ms": round(max(times), 3), "mean_ms": round(statistics.fmean(times), 3),
    }  # fmt: skip


def _edge_gaps(acts: data.Activities, pairs: set[tuple[int, int]]) -> list[float]:
    """For pairs on which the two sides disagree: how far each is from its threshold (distance − r₁ − r₂), metres."""
    index = {int(i): k for k, i in enumerate(acts.ids)}
    out = []
    for a, b in sorted(pairs)[:1000]:
        i, j = index[a], index[b]
        out.append(float(shapely.distance(acts.geoms[i], acts.geoms[j]) - acts.radius[i] - acts.radius[j]))
    return out


def engine_sweep(objects: list[Any], zone_objects: list[Any], runs: int = 2) -> tuple[dict[str, Any], Any, Any]:
    """The engine's sweep from the activity objects: columns and trees built, then swept; the best of `runs`."""
    from fusioncell.deescalation import engine

    best: dict[str, Any] | None = None
    for _ in range(runs):
        t0 = time.perf_counter()
        activities, zones = engine.ActivitySet(objects), engine.ZoneSet(zone_objects)
        activities.tree  # noqa: B018 - built here, to time it apart from the sweep
        t1 = time.perf_counter()
        swept = engine.sweep(activities, zones)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best["total_s"]:
            best = {"build_s": round(t1 - t0, 3), "sweep_s": round(t2 - t1, 3), "total_s": round(t2 - t0, 3)}
    assert best is not None
    return best, activities, swept


def _engine_check(activities: Any, zones: Any, activity: Any) -> tuple[set[int], set[str]]:
    from fusioncell.deescalation import engine

    findings = engine.check(activity, notified_at=activity.volume.start, others=activities, zones=zones, notice={})
    return (
        {f.other_id for f in findings if f.kind is engine.Kind.ACTIVITY},
        {f.zone for f in findings if f.rule is engine.Rule.FORBIDDEN},
    )


def engine_checks(activities: Any, zones: Any, queries: data.Activities) -> list[tuple[set[int], set[str]]]:
    return [_engine_check(activities, zones, a) for a in queries.engine()]


def single_checks(activities: Any, zones: Any, queries: data.Activities, peer: postgis.Peer) -> dict[str, Any]:
    """Each new activity checked by the engine and by PostGIS one after the other (in turn first), so that whatever
    else the machine does falls on both alike; then as many bare `SELECT 1` round trips."""
    objects = queries.engine()
    e_times, pg_times, floor, e_found, pg_found = [], [], [], [], []
    with progress(console) as bar:
        task = bar.add_task("single checks, engine and PostGIS in turn", total=len(objects), rate="")
        for k in range(-20, len(objects)):
            i = max(k, 0)
            params = peer.check_params(queries, i)
            for side in (0, 1) if k % 2 else (1, 0):
                t = time.perf_counter()
                found = _engine_check(activities, zones, objects[i]) if side == 0 else peer.check(params)
                elapsed = (time.perf_counter() - t) * 1000
                if k >= 0:
                    (e_times if side == 0 else pg_times).append(elapsed)
                    (e_found if side == 0 else pg_found).append(found)
            if k >= 0:
                bar.update(task, completed=k + 1)
        for k in range(-20, len(objects)):
            t = time.perf_counter()
            peer.round_trip()
            if k >= 0:
                floor.append((time.perf_counter() - t) * 1000)
    return {"engine": e_times, "postgis": pg_times, "floor": floor, "engine_found": e_found, "postgis_found": pg_found}


def run_deconfliction(*, quick: bool = False, output: Path | None = None) -> int:
    from fusioncell.deescalation import engine

    mode = "quick" if quick else "full"
    n, n_zones, n_checks, n_api, area = SIZES[mode]
    started = time.perf_counter()
    console.rule(f"[bold]deconfliction: the engine beside PostGIS, {n:,} activities, {n_zones:,} zones ({mode})")
    results: dict[str, Any] = {
        "benchmark": "deconfliction", "mode": mode, "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
                    "shapely": shapely.__version__, "geos": shapely.geos_version_string},
        "sizes": {"activities": n, "zones": n_zones, "single_checks": n_checks, "api_checks": n_api,
                  "share_of_theatre": area},
    }  # fmt: skip
    failures: list[str] = []
    results["postgis_available"] = postgis.ensure_postgis(_say)

    t = time.perf_counter()
    acts = data.activities(n, seed=16, area=area)
    zones = data.zones(n_zones, seed=17, area=area)
    queries = data.activities(n_checks, seed=18, first_id=10_000_001, area=area)
    api_queries = data.activities(n_api, seed=19, first_id=20_000_001, party="SY", area=area)
    objects, zone_objects = acts.engine(), zones.engine()
    _say(f"  seeded data drawn in {time.perf_counter() - t:.1f} s (same coordinates for every side)")

    # 1. the full sweep
    sweep_fig, activities, swept = engine_sweep(objects, zone_objects)
    zone_set = engine.ZoneSet(zone_objects)
    pairs = {(int(activities.ids[a]), int(activities.ids[b])) for a, b in swept.pairs}
    hits = {(int(activities.ids[a]), zones.ids[z]) for a, z in swept.zone_hits}
    sweep_fig.update(pairs=len(pairs), zone_hits=len(hits))
    results["engine_sweep"] = sweep_fig
    _say(f"  engine sweep: {sweep_fig}")

    the = data.theatre()
    with postgis.Peer() as peer:
        results["postgis"] = peer.versions()
        results["postgis"]["projection_mismatch_m"] = peer.register_projection(the.projection, the)
        t = time.perf_counter()
        peer.load(acts, zones)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        peer.index()
        index_s = time.perf_counter() - t
        plans = peer.plans()
        _say(f"  PostGIS {results['postgis']}: loaded in {load_s:.1f} s, indexed in {index_s:.1f} s")
        best = None
        for _ in range(2):
            t = time.perf_counter()
            pg_pairs, pg_hits = peer.sweep()
            elapsed = time.perf_counter() - t
            best = elapsed if best is None else min(best, elapsed)
        results["postgis_sweep"] = {"total_s": round(best or 0, 3), "load_s": round(load_s, 2),
                                    "index_s": round(index_s, 2), "pairs": len(pg_pairs), "zone_hits": len(pg_hits),
                                    "plans": plans}  # fmt: skip
        _say(f"  PostGIS sweep: {best:.2f} s, {len(pg_pairs):,} pairs, {len(pg_hits):,} zone hits")
        pair_diff, hit_diff = pairs ^ pg_pairs, hits ^ pg_hits
        results["sweep_differences"] = {
            "pairs_engine_only": len(pairs - pg_pairs), "pairs_postgis_only": len(pg_pairs - pairs),
            "zone_hits_engine_only": len(hits - pg_hits), "zone_hits_postgis_only": len(pg_hits - hits),
            "pair_gaps_m": _edge_gaps(acts, pair_diff)[:20],
        }  # fmt: skip
        if pair_diff or hit_diff:
            failures.append(f"the full sweep's conflict sets differ: {results['sweep_differences']}")

        # 2. the single check, 100,000 stored
        checks = single_checks(activities, zone_set, queries, peer)
        e_found, pg_found = checks["engine_found"], checks["postgis_found"]
        results["engine_check"] = _ms(checks["engine"])
        results["postgis_check"] = _ms(checks["postgis"])
        results["postgis_round_trip"] = _ms(checks["floor"])
        differ = sum(1 for a, b in zip(e_found, pg_found, strict=True) if a != b)
        found_counts = [len(o) + len(h) for o, h in e_found]
        results["check_conflicts"] = {
            "checks_with_any": sum(1 for c in found_counts if c), "overlaps": sum(len(o) for o, _ in e_found),
            "zone_hits": sum(len(h) for _, h in e_found), "checks_differing": differ,
        }  # fmt: skip
        _say(f"  single checks: engine {results['engine_check']}, PostGIS {results['postgis_check']}, "
             f"conflicts {results['check_conflicts']}")  # fmt: skip
        if differ:
            failures.append(f"{differ} single checks found different conflicts in the engine and in PostGIS")

    # 3. through the API
    reference = engine_checks(activities, engine.ZoneSet([]), api_queries)
    directory = Path(tempfile.mkdtemp(prefix="fusioncell-bench-deconfliction-"))
    try:
        cell, data_dir = api.seed(directory, acts, _say)
        inproc_times, inproc_found = api.in_process(cell, api_queries, n_api)
        cell.close()
        proc, url = api.serve(data_dir, directory / "serve.log")
        try:
            http = api.over_http(url, api_queries, n_api)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    wire = api.bare_wire(n_api)
    expected = [o for o, _ in reference]
    results["api_check"] = _ms(http["times"])
    results["api_in_process"] = _ms(inproc_times)
    results["api_bare_round_trip"] = _ms(http["bare"])
    results["api_signed_in_round_trip"] = _ms(http["signed_in"])
    results["bare_wire_round_trip"] = _ms(wire)
    results["api_conflicts"] = {
        "overlaps": sum(len(o) for o in expected),
        "checks_differing_http": sum(1 for a, b in zip(expected, http["found"], strict=True) if a != b),
        "checks_differing_in_process": sum(1 for a, b in zip(expected, inproc_found, strict=True) if a != b),
    }  # fmt: skip
    _say(
        f"  API: {results['api_check']}, in process {results['api_in_process']}, /healthz "
        f"{results['api_bare_round_trip']}, /api/v1/me {results['api_signed_in_round_trip']}, "
        f"bare wire {results['bare_wire_round_trip']}, {results['api_conflicts']}"
    )
    if results["api_conflicts"]["checks_differing_http"] or results["api_conflicts"]["checks_differing_in_process"]:
        failures.append(f"the API's overlaps differ from the engine's: {results['api_conflicts']}")

    results["seconds"] = round(time.perf_counter() - started, 1)
    results["failures"] = failures
    print_table(results)
    for failure in failures:
        console.print(f"[red]FAILED:[/] {failure}")
    save_results(results, "deconfliction", quick=quick, output=output, console=console)
    return 1 if failures else 0


def print_table(r: dict[str, Any]) -> None:
    s = r["sizes"]
    table = Table(title=f"Deconfliction ({r['mode']}): {s['activities']:,} activities, {s['zones']:,} zones — the "
                  "engine beside PostGIS, this machine, same run")  # fmt: skip
    for name in ("measurement", "engine", "PostGIS", "floor here", "target", "met?"):
        table.add_column(name, justify="left" if name == "measurement" else "right")

    def met(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]NO[/]"

    es, ps = r["engine_sweep"], r["postgis_sweep"]
    d = r["sweep_differences"]
    same = not any(v for k, v in d.items() if k != "pair_gaps_m")
    table.add_row(
        f"full sweep: {es['pairs']:,} cross-party pairs, {es['zone_hits']:,} zone hits",
        f"{es['total_s']:.2f} s", f"{ps['total_s']:.2f} s", "",
        f"≤ {TARGET_SWEEP_S:g} s, < PostGIS", met(es["total_s"] <= TARGET_SWEEP_S and es["total_s"] < ps["total_s"]),
    )  # fmt: skip
    table.add_row(
        "  of which columns and STRtree / load and GiST indexes", f"{es['build_s']:.2f} s",
        f"({ps['load_s']:.1f} + {ps['index_s']:.1f} s, not counted)", "", "", "",
    )  # fmt: skip
    table.add_row("  identical conflict sets", "", "", "", "exactly", met(same))
    ec, pc, rt = r["engine_check"], r["postgis_check"], r["postgis_round_trip"]
    c = r["check_conflicts"]
    table.add_row(
        f"single check, {s['activities']:,} stored, p50 / p99 ({s['single_checks']:,} new)",
        f"{ec['p50_ms']:.3f} / {ec['p99_ms']:.3f} ms", f"{pc['p50_ms']:.3f} / {pc['p99_ms']:.3f} ms",
        f"{rt['p50_ms']:.3f} / {rt['p99_ms']:.3f} ms SELECT 1", f"p99 ≤ {TARGET_CHECK_P99_MS:g} ms, < PostGIS",
        met(ec["p99_ms"] <= TARGET_CHECK_P99_MS and ec["p99_ms"] < pc["p99_ms"]),
    )  # fmt: skip
    table.add_row(
        f"  identical conflicts ({c['overlaps']:,} overlaps, {c['zone_hits']:,} zone hits)", "", "", "", "exactly",
        met(c["checks_differing"] == 0),
    )  # fmt: skip
    a, ip, bare = r["api_check"], r["api_in_process"], r["api_bare_round_trip"]
    ac = r["api_conflicts"]
    table.add_row(
        f"POST /api/v1/activities/check, p50 / p99 ({s['api_checks']} requests, SQLite)",
        f"{a['p50_ms']:.2f} / {a['p99_ms']:.2f} ms", f"{pc['p50_ms']:.3f} / {pc['p99_ms']:.3f} ms (query)",
        f"{bare['p50_ms']:.2f} / {bare['p99_ms']:.2f} ms GET /healthz", f"p99 ≤ {TARGET_API_P99_MS:g} ms",
        met(a["p99_ms"] <= TARGET_API_P99_MS),
    )  # fmt: skip
    me, w = r["api_signed_in_round_trip"], r["bare_wire_round_trip"]
    table.add_row("  the same server's least signed-in request", "", "",
                  f"{me['p50_ms']:.2f} / {me['p99_ms']:.2f} ms GET /api/v1/me", "", "")  # fmt: skip
    table.add_row("  the route's work in process (no HTTP)", f"{ip['p50_ms']:.2f} / {ip['p99_ms']:.2f} ms", "",
                  f"{w['p50_ms']:.2f} / {w['p99_ms']:.2f} ms bare wire", "", "")  # fmt: skip
    table.add_row(f"  overlaps the engine's ({ac['overlaps']:,})", "", "", "", "exactly",
                  met(not ac["checks_differing_http"] and not ac["checks_differing_in_process"]))  # fmt: skip
    out = console if console.is_terminal else Console(width=190)
    out.print(table)


if __name__ == "__main__":
    sys.exit(run_deconfliction(quick="--quick" in sys.argv))

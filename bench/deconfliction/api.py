"""Through the API: a real `fusioncell serve` on SQLite holding the same activities, `POST /api/v1/activities/check`
(which writes nothing) timed one request at a time, beside the same server's floors (`GET /healthz`, no account; `GET
/api/v1/me`, the least a signed-in request costs) and the same check called in this process without HTTP
(`service.check_only` + `findings_for`, what the route runs).

The activities are bulk-inserted as rows of the `activities` table, exactly as `service._fill` writes them
(GeoJSON, the projected WKB, the box grown by the radius, `live_until` = end), all `joint`, rather than notified
through 100,000 API calls; the zones are the charter's (the bench's 1,000 zones are the engine's and PostGIS's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import shapely

from bench.deconfliction.data import CHARTER, EPOCH, Activities
from bench.shared import free_port, percentile

PASSWORD = "bench-liaison-password"


def _when(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


def seed(directory: Path, acts: Activities, say: Any) -> tuple[Any, Path]:
    """A cell with sy.liaison and the activities as rows; returns the (open) cell and its data directory."""
    from sqlalchemy import insert

    from fusioncell.auth import service as auth
    from fusioncell.deescalation.models import Activity
    from fusioncell.policy import Principal
    from fusioncell.settings import Settings
    from fusioncell.setup import init_cell

    settings = Settings(data=directory / "data", scheduler_enabled=False)
    actor = Principal.system("cli:bench")
    cell = init_cell(settings, CHARTER, actor=actor)
    with cell.command() as uow:
        auth.add_user(cell=cell, uow=uow, actor=actor, username="sy.liaison", delegation="SY", roles=["liaison"],
                      password=PASSWORD)  # fmt: skip
    theatre = cell.charter.deescalation.theatres[0].id
    bounds = shapely.bounds(acts.geoms)
    wkb = shapely.to_wkb(acts.geoms)
    now = datetime.now(UTC)
    t = time.perf_counter()
    chunk = 5_000
    with cell.db.engine.begin() as conn:
        for first in range(0, len(acts), chunk):
            rows = []
            for i in range(first, min(first + chunk, len(acts))):
                r = float(acts.radius[i])
                start, end = _when(acts.start[i]), _when(acts.end[i])
                rows.append({
                    "id": int(acts.ids[i]), "theatre": theatre, "delegation": acts.delegation[i], "audience": "joint",
                    "version": 1, "activity_type": acts.activity_type[i], "description": "",
                    "geometry": shapely.geometry.mapping(acts.lonlat[i]), "projected": wkb[i], "radius_m": r,
                    "lower_m": float(acts.lower[i]), "upper_m": float(acts.upper[i]), "datum": acts.datum[i],
                    "start_at": start, "end_at": end, "live_until": end, "forces": {}, "justification": None,
                    "short_notice": False, "min_x": bounds[i, 0] - r, "min_y": bounds[i, 1] - r,
                    "max_x": bounds[i, 2] + r, "max_y": bounds[i, 3] + r, "notified_by": "bench",
                    "notified_at": now, "ledger_index": 1,
                })  # fmt: skip
            conn.execute(insert(Activity.__table__), rows)
    say(f"    {len(acts):,} activity rows inserted in {time.perf_counter() - t:.1f} s")
    return cell, settings.data


def body(acts: Activities, i: int) -> dict[str, Any]:
    return {
        "audience": "joint", "activity_type": acts.activity_type[i],
        "geometry": shapely.geometry.mapping(acts.lonlat[i]), "radius_m": float(acts.radius[i]),
        "altitude": {"lower_m": float(acts.lower[i]), "upper_m": float(acts.upper[i]), "datum": acts.datum[i]},
        "start": _when(acts.start[i]).isoformat(), "end": _when(acts.end[i]).isoformat(),
    }  # fmt: skip


def in_process(cell: Any, acts: Activities, count: int) -> tuple[list[float], list[set[int]]]:
    """The route's work without HTTP: `check_only` then `findings_for`, as sy.liaison."""
    from fusioncell.deescalation import service
    from fusioncell.deescalation.schemas import ActivityCreate
    from fusioncell.policy import Principal, Role

    sy = Principal(username="sy.liaison", delegation="SY", roles=frozenset({Role.LIAISON}))
    times, found = [], []
    for i in range(-5, count):
        b = ActivityCreate.model_validate(body(acts, max(i, 0)))
        t = time.perf_counter()
        checked = service.check_only(cell=cell, principal=sy, body=b)
        view = service.findings_for(cell, sy, checked, delegation="SY")
        if i >= 0:
            times.append((time.perf_counter() - t) * 1000)
            found.append({c["other_activity"] for c in view if c["kind"] == "activity"})
    return times, found


def serve(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "FUSIONCELL_DATA": str(data), "FUSIONCELL_SCHEDULER_ENABLED": "false",
           "FUSIONCELL_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusioncell.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: see {log}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start: see {log}")


def over_http(url: str, acts: Activities, count: int) -> dict[str, Any]:
    """`count` checks one at a time (after 10 unmeasured), each followed on the same connection by the server's two
    floors, so that all three meet the same moments of the machine: `GET /healthz` (no account, no database) and
    `GET /api/v1/me` (the least a signed-in request costs: the token read, the principal answered)."""
    token = httpx.post(f"{url}/api/v1/auth/token", json={"username": "sy.liaison", "password": PASSWORD})
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    times, found, bare, signed_in = [], [], [], []

    def timed(call: Any) -> tuple[float, httpx.Response]:
        t = time.perf_counter()
        r = call()
        return (time.perf_counter() - t) * 1000, r

    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(-10, count):
            payload = body(acts, max(i, 0))
            elapsed, r = timed(lambda: client.post("/api/v1/activities/check", json=payload))  # noqa: B023
            if r.status_code != 200:
                raise RuntimeError(f"POST /api/v1/activities/check: {r.status_code} {r.text[:500]}")
            health, h = timed(lambda: client.get("/healthz"))
            me, m = timed(lambda: client.get("/api/v1/me"))
            h.raise_for_status()
            m.raise_for_status()
            if i >= 0:
                times.append(elapsed)
                found.append({c["other_activity"] for c in r.json()["conflicts"] if c["kind"] == "activity"})
                bare.append(health)
                signed_in.append(me)
    return {"times": times, "found": found, "bare": bare, "signed_in": signed_in}


def summary(times: list[float]) -> dict[str, float]:
    return {
        "count": len(times), "p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3),
        "max_ms": round(max(times), 3), "mean_ms": round(float(np.mean(times)), 3),
    }  # fmt: skip


def bare_wire(count: int) -> list[float]:
    """`GET /healthz` on the traffic bench's bare wire (`bench.traffic.ceiling`: the same ASGI server and options as
    `fusioncell serve`, no database, no middleware): the least any request costs on this stack and machine."""
    from bench.deconfliction.data import ROOT

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.traffic.ceiling", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        times = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(-10, count):
                t = time.perf_counter()
                client.get("/healthz").raise_for_status()
                if i >= 0:
                    times.append((time.perf_counter() - t) * 1000)
        return times
    finally:
        proc.kill()
        proc.wait(timeout=10)

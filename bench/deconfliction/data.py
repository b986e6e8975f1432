"""The seeded ground picture: activities and zones inside the example charter's theatre, drawn once in longitude and
latitude and projected with the theatre's own projection, so that the engine, PostGIS and `fusioncell serve` get
exactly the same coordinates.

- Activities: points (half), two-vertex lines of 0.3–3 km (a quarter), rotated rectangles of 0.1–1.5 km (a
  quarter), each with a radius of 0–800 m; the charter's activity types, airborne ones on MSL or WGS 84 bands
  between 300 and 9,000 m, ground ones on AGL bands from the ground up to 50–200 m; windows of 15 min to 12 h,
  starting on a whole minute within 90 days (so that one ends exactly as another starts, now and then: the
  half-open convention at work); four parties.
- Zones: regular polygons of 5–12 vertices, 0.5–3 km across the radius; each forbids 1–4 activity types, binds
  every party or one or two, is valid for ever (70 %) or for a window inside the 90 days, and holds every
  altitude (70 %) or a band from the sea up to 1,000–5,000 m.

Altitudes are whole metres, times whole minutes: each side compares them exactly. Distances are the only
floating-point edge, and random radii put no pair within a micrometre of its threshold (the bench reports any).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent.parent
CHARTER = ROOT / "charters" / "paris-2026.yaml"
PARTIES = ("SY", "IL", "LB", "JO")
PARTY_SHARE = (0.35, 0.35, 0.15, 0.15)
MINUTE = 60_000_000  # microseconds
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = int((datetime(2031, 1, 6, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
HORIZON = 90 * DAY
MARGIN = 0.08  # degrees kept clear of the theatre's edge
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def theatre() -> Any:
    from fusioncell.charter import load_charter

    return load_charter(CHARTER).deescalation.theatres[0]


def activity_types() -> tuple[list[str], set[str]]:
    from fusioncell.charter import load_charter

    types = load_charter(CHARTER).deescalation.activity_types
    return [t.id for t in types], {t.id for t in types if getattr(t, "airborne", False)}


@dataclass
class Activities:
    """Columns: ids from `first_id`, everything the engine, PostGIS and the `activities` table need."""

    ids: np.ndarray
    delegation: np.ndarray
    activity_type: np.ndarray
    lonlat: np.ndarray  # shapely geometries, longitude/latitude
    geoms: np.ndarray  # the same, projected (metres)
    radius: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    datum: np.ndarray
    start: np.ndarray  # microseconds since the epoch
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def engine(self) -> list[Any]:
        from fusioncell.deescalation import engine

        return [
            engine.Activity(
                int(self.ids[i]), 1, str(self.delegation[i]), str(self.activity_type[i]), {},
                engine.Volume(self.geoms[i], float(self.radius[i]), float(self.lower[i]), float(self.upper[i]),
                              str(self.datum[i]), int(self.start[i]), int(self.end[i])),
            )
            for i in range(len(self))
        ]  # fmt: skip


@dataclass
class Zones:
    ids: list[str]
    geoms: np.ndarray  # projected
    valid_from: np.ndarray
    valid_until: np.ndarray  # engine.FOREVER: for ever
    band: list[tuple[float, float] | None]
    forbidden: list[frozenset[str]]
    binds: list[frozenset[str] | None]

    def engine(self) -> list[Any]:
        from fusioncell.deescalation import engine

        out = []
        for i, zid in enumerate(self.ids):
            band = self.band[i]
            out.append(
                engine.Zone(
                    id=zid, version=1, geometry=self.geoms[i], valid_from=int(self.valid_from[i]),
                    valid_until=int(self.valid_until[i]), lower=band[0] if band else -np.inf,
                    upper=band[1] if band else np.inf, datum="MSL", forbidden=self.forbidden[i], binds=self.binds[i],
                )
            )  # fmt: skip
        return out


def region(area: float = 1.0) -> tuple[float, float, float, float]:
    """The theatre's bounds less the margin, shrunk about their centre to `area` of it (a quick run keeps the full
    run's density on a tenth of the ground)."""
    west, south, east, north = theatre().bounds
    west, south, east, north = west + MARGIN, south + MARGIN, east - MARGIN, north - MARGIN
    k = np.sqrt(area) / 2
    cx, cy, w, h = (west + east) / 2, (south + north) / 2, east - west, north - south
    return cx - k * w, cy - k * h, cx + k * w, cy + k * h


def _metres_to_degrees(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return 1 / (111_320 * np.cos(np.radians(lat))), np.full_like(lat, 1 / 110_574)


def activities(n: int, seed: int, *, first_id: int = 1, party: str | None = None, area: float = 1.0) -> Activities:
    """`n` activities (all of one party if `party` is given: the notifier of the single checks)."""
    rng = np.random.default_rng(seed)
    the = theatre()
    west, south, east, north = region(area)
    lon = rng.uniform(west, east, n)
    lat = rng.uniform(south, north, n)
    mx, my = _metres_to_degrees(lat)
    kind = rng.choice(3, size=n, p=(0.5, 0.25, 0.25))
    points = shapely.points(lon, lat)
    length, angle = rng.uniform(300, 3000, n), rng.uniform(0, 2 * np.pi, n)
    line = np.stack(
        [np.column_stack([lon, lat]), np.column_stack([lon + length * np.cos(angle) * mx,
                                                       lat + length * np.sin(angle) * my])], axis=1
    )  # fmt: skip
    lines = shapely.linestrings(line)
    w, h, turn = rng.uniform(100, 1500, n), rng.uniform(100, 1500, n), rng.uniform(0, np.pi, n)
    corners = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5)])
    cx = corners[None, :, 0] * w[:, None]
    cy = corners[None, :, 1] * h[:, None]
    rx = cx * np.cos(turn)[:, None] - cy * np.sin(turn)[:, None]
    ry = cx * np.sin(turn)[:, None] + cy * np.cos(turn)[:, None]
    rings = np.stack([lon[:, None] + rx * mx[:, None], lat[:, None] + ry * my[:, None]], axis=2)
    polygons = shapely.polygons(rings)
    lonlat = np.where(kind == 0, points, np.where(kind == 1, lines, polygons))
    geoms = the.projection_.project(lonlat)

    types, airborne = activity_types()
    activity_type = rng.choice(np.array(types, dtype=object), size=n)
    up = np.array([t in airborne for t in activity_type])
    air_lower = rng.choice([300, 1000, 3000, 6000], size=n)
    air_upper = air_lower + rng.choice([500, 1000, 3000], size=n)
    lower = np.where(up, air_lower, 0).astype(np.float64)
    upper = np.where(up, air_upper, rng.choice([50, 100, 200], size=n)).astype(np.float64)
    datum = np.where(up, rng.choice(np.array(["MSL", "MSL", "MSL", "WGS84"], dtype=object), size=n), "AGL")
    start = T0 + rng.integers(0, HORIZON // MINUTE, size=n) * MINUTE
    end = start + rng.integers(1, 49, size=n) * 15 * MINUTE
    delegation = (
        np.full(n, party, dtype=object) if party else rng.choice(np.array(PARTIES, dtype=object), size=n, p=PARTY_SHARE)
    )
    return Activities(
        ids=np.arange(first_id, first_id + n, dtype=np.int64), delegation=delegation,
        activity_type=activity_type.astype(object), lonlat=lonlat, geoms=geoms,
        radius=rng.uniform(0, 800, n), lower=lower, upper=upper, datum=datum.astype(object), start=start, end=end,
    )  # fmt: skip


def zones(n: int, seed: int, *, area: float = 1.0) -> Zones:
    from fusioncell.deescalation.engine import FOREVER

    rng = np.random.default_rng(seed)
    the = theatre()
    west, south, east, north = region(area)
    types, _ = activity_types()
    shapes, valid_from, valid_until, band, forbidden, binds = [], [], [], [], [], []
    for _ in range(n):
        lon = rng.uniform(west, east)
        lat = rng.uniform(south, north)
        mx, my = (float(v[0]) for v in _metres_to_degrees(np.array([lat])))
        k = int(rng.integers(5, 13))
        radius = rng.uniform(500, 3000)
        a = np.sort(rng.uniform(0, 2 * np.pi, k)) if rng.random() < 0.5 else np.linspace(0, 2 * np.pi, k, False)
        ring = [(lon + radius * np.cos(t) * mx, lat + radius * np.sin(t) * my) for t in a]
        shapes.append(shapely.Polygon(ring + ring[:1]))
        if rng.random() < 0.7:
            valid_from.append(int((datetime(1974, 5, 31, tzinfo=UTC) - EPOCH) / timedelta(microseconds=1)))
            valid_until.append(FOREVER)
        else:
            since = T0 + int(rng.integers(0, HORIZON // MINUTE)) * MINUTE
            valid_from.append(since)
            valid_until.append(since + int(rng.integers(1, 31)) * DAY)
        band.append(None if rng.random() < 0.7 else (0.0, float(rng.choice([1000, 2000, 3000, 5000]))))
        forbidden.append(frozenset(rng.choice(types, size=int(rng.integers(1, 5)), replace=False).tolist()))
        roll = rng.random()
        binds.append(
            None if roll < 0.5 else frozenset(rng.choice(PARTIES, size=1 if roll < 0.8 else 2, replace=False).tolist())
        )
    return Zones(
        ids=[f"bench-zone-{i}" for i in range(n)], geoms=the.projection_.project(np.array(shapes, dtype=object)),
        valid_from=np.array(valid_from, dtype=np.int64), valid_until=np.array(valid_until, dtype=np.int64),
        band=band, forbidden=forbidden, binds=binds,
    )  # fmt: skip

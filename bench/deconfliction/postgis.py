"""The peer: the same activities and zones in PostGIS, the same touching convention in SQL.

- Geometry: the projected coordinates (the theatre's transverse Mercator, registered in `spatial_ref_sys` under a
  bench SRID so that `ST_Transform` from WGS 84 lands on the same metres — checked at set-up), exact distance by
  `ST_DWithin(a, b, r₁ + r₂)`. A distance that depends on both rows cannot drive an index, so each activity also
  keeps its box grown by its radius (`reach`, `ST_Expand`), GiST-indexed: the same first filter as the engine's
  STRtree. GiST indexes on the geometries, and for fairness on the time and altitude ranges and on (reach, time).
- Time: `int8range(start, end, '[)')` of microseconds, overlap `&&` — half-open. Zones' validity the same, an
  unbounded upper end for ever.
- Altitude: `numrange(lower, upper, '[]')`, overlap `&&` — closed; bands on different datums overlap; a zone without
  a band holds every altitude (an unbounded range).

Debian's `postgresql-<major>-postgis-3` is installed when the server lacks the extension (apt-get, with sudo unless
root), as `make test` installs Chromium.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from typing import Any

import numpy as np
import shapely

from bench.deconfliction.data import Activities, Zones

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SRID = 990_001  # the theatre's projection, registered for the run

SCHEMA = """
CREATE TABLE act (
    id bigint PRIMARY KEY,
    delegation text NOT NULL,
    atype text NOT NULL,
    geom geometry(Geometry, {srid}) NOT NULL,
    radius float8 NOT NULL,
    reach geometry(Polygon, {srid}) GENERATED ALWAYS AS (ST_Expand(geom, radius)) STORED,
    datum text NOT NULL,
    alt numrange NOT NULL,
    during int8range NOT NULL
);
CREATE TABLE zone (
    id text PRIMARY KEY,
    geom geometry(Polygon, {srid}) NOT NULL,
    valid int8range NOT NULL,
    datum text NOT NULL,
    alt numrange NOT NULL,
    forbidden text[] NOT NULL,
    binds text[]
);
"""

INDEXES = """
CREATE INDEX act_geom ON act USING gist (geom);
CREATE INDEX act_reach ON act USING gist (reach);
CREATE INDEX act_reach_during ON act USING gist (reach, during);
CREATE INDEX act_during ON act USING gist (during);
CREATE INDEX act_alt ON act USING gist (alt);
CREATE INDEX zone_geom ON zone USING gist (geom);
CREATE INDEX zone_valid ON zone USING gist (valid);
"""

SWEEP_PAIRS = """
SELECT a.id, b.id FROM act a JOIN act b ON a.reach && b.reach AND a.id < b.id
WHERE a.delegation <> b.delegation
  AND a.during && b.during
  AND (a.datum <> b.datum OR a.alt && b.alt)
  AND ST_DWithin(a.geom, b.geom, a.radius + b.radius)
"""

SWEEP_ZONES = """
SELECT a.id, z.id FROM act a JOIN zone z ON a.reach && z.geom
WHERE a.atype = ANY (z.forbidden)
  AND (z.binds IS NULL OR a.delegation = ANY (z.binds))
  AND a.during && z.valid
  AND (a.datum <> z.datum OR a.alt && z.alt)
  AND ST_DWithin(a.geom, z.geom, a.radius)
"""

CHECK = """
WITH q AS (SELECT ST_GeomFromWKB(%(wkb)s, {srid}) AS g, int8range(%(t0)s, %(t1)s, '[)') AS during,
                  numrange(%(lo)s, %(hi)s, '[]') AS alt)
SELECT 0, a.id::text FROM act a, q
 WHERE a.reach && ST_Expand(q.g, %(r)s)
   AND a.delegation <> %(party)s
   AND a.during && q.during
   AND (a.datum <> %(datum)s OR a.alt && q.alt)
   AND ST_DWithin(a.geom, q.g, a.radius + %(r)s)
UNION ALL
SELECT 1, z.id FROM zone z, q
 WHERE z.geom && ST_Expand(q.g, %(r)s)
   AND %(atype)s = ANY (z.forbidden)
   AND (z.binds IS NULL OR %(party)s = ANY (z.binds))
   AND z.valid && q.during
   AND (z.datum <> %(datum)s OR z.alt && q.alt)
   AND ST_DWithin(z.geom, q.g, %(r)s)
"""


class PostgisMissing(RuntimeError):
    pass


def _admin(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description else []


def ensure_postgis(say: Any) -> str:
    """PostGIS's version available to the server, installing Debian's package for the server's major version
    when it is missing (the server must be this machine's)."""
    found = _admin("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'")
    if found:
        return str(found[0][0])
    major = int(_admin("SHOW server_version_num")[0][0]) // 10_000
    package = f"postgresql-{major}-postgis-3"
    if shutil.which("apt-get") is None:
        raise PostgisMissing(
            f"the deconfliction bench compares with PostGIS, which the PostgreSQL server at {ADMIN_DSN} lacks, and "
            f"there is no apt-get here: install PostGIS 3 for PostgreSQL {major} (Debian: {package})"
        )
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    say(f"  PostGIS is missing: installing Debian's {package} ({'as root' if not sudo else 'with sudo'})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([*sudo, "apt-get", "update", "-qq"],
                 [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package]):  # fmt: skip
        if subprocess.run(argv, env=env).returncode != 0:
            raise PostgisMissing(f"`{' '.join(argv)}` failed: install {package} and run the bench again")
    found = _admin("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'")
    if not found:
        raise PostgisMissing(f"{package} is installed but the server at {ADMIN_DSN} does not offer postgis")
    return str(found[0][0])


class Peer:
    """A fresh database with PostGIS for one run, dropped at the end."""

    def __init__(self) -> None:
        self.name = f"bench_deconfliction_{secrets.token_hex(4)}"
        self.dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{self.name}"
        self.conn: Any = None

    def __enter__(self) -> Peer:
        import psycopg

        _admin(f'CREATE DATABASE "{self.name}"')
        self.conn = psycopg.connect(self.dsn, autocommit=True)
        self.conn.execute("CREATE EXTENSION postgis")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.conn is not None:
            self.conn.close()
        _admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def versions(self) -> dict[str, str]:
        row = self.conn.execute("SELECT version(), postgis_full_version()").fetchone()
        return {"postgresql": row[0].split(" on ")[0], "postgis": row[1].split('"')[1]}

    def register_projection(self, proj4: str, theatre: Any) -> float:
        """The theatre's projection under SRID; returns the largest distance (m) between ST_Transform's metres
        and pyproj's for a grid over the theatre (they must agree: it is the same PROJ string)."""
        self.conn.execute(
            "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, proj4text, srtext) VALUES (%s, %s, %s, %s, '')",
            (SRID, "fusioncell-bench", SRID, proj4),
        )
        west, south, east, north = theatre.bounds
        lons, lats = np.meshgrid(np.linspace(west, east, 5), np.linspace(south, north, 5))
        worst = 0.0
        for lon, lat in zip(lons.ravel(), lats.ravel(), strict=True):
            x, y = self.conn.execute(
                f"SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), {SRID}) p",
                (float(lon), float(lat)),
            ).fetchone()
            mine = theatre.projection_.project(shapely.Point(lon, lat))
            worst = max(worst, float(np.hypot(x - mine.x, y - mine.y)))
        return worst

    def load(self, acts: Activities, zones: Zones) -> None:
        """The rows by COPY, then the indexes and statistics (timed by the caller)."""
        self.conn.execute(SCHEMA.format(srid=SRID))
        wkb = shapely.to_wkb(shapely.set_srid(acts.geoms, SRID), hex=True, include_srid=True)
        with (
            self.conn.cursor() as cur,
            cur.copy("COPY act (id, delegation, atype, geom, radius, datum, alt, during) FROM STDIN") as copy,
        ):
            for i in range(len(acts)):
                copy.write_row((
                    int(acts.ids[i]), acts.delegation[i], acts.activity_type[i], wkb[i], float(acts.radius[i]),
                    acts.datum[i], f"[{acts.lower[i]:.0f},{acts.upper[i]:.0f}]",
                    f"[{acts.start[i]},{acts.end[i]})",
                ))  # fmt: skip
        from fusioncell.deescalation.engine import FOREVER

        zwkb = shapely.to_wkb(shapely.set_srid(zones.geoms, SRID), hex=True, include_srid=True)
        with (
            self.conn.cursor() as cur,
            cur.copy("COPY zone (id, geom, valid, datum, alt, forbidden, binds) FROM STDIN") as copy,
        ):
            for i, zid in enumerate(zones.ids):
                band = zones.band[i]
                until = "" if zones.valid_until[i] == FOREVER else str(zones.valid_until[i])
                copy.write_row((
                    zid, zwkb[i], f"[{zones.valid_from[i]},{until})", "MSL",
                    f"[{band[0]:.0f},{band[1]:.0f}]" if band else "(,)", sorted(zones.forbidden[i]),
                    sorted(zones.binds[i]) if zones.binds[i] is not None else None,
                ))  # fmt: skip

    def index(self) -> None:
        """The GiST indexes, then VACUUM ANALYZE: statistics for the planner, the visibility map for index-only
        scans, and no autovacuum of the fresh rows in the middle of the measurements."""
        self.conn.execute(INDEXES)
        for table in ("act", "zone"):
            self.conn.execute(f"VACUUM (ANALYZE) {table}")

    def sweep(self) -> tuple[set[tuple[int, int]], set[tuple[int, str]]]:
        pairs = {(int(a), int(b)) for a, b in self.conn.execute(SWEEP_PAIRS)}
        hits = {(int(a), str(z)) for a, z in self.conn.execute(SWEEP_ZONES)}
        return pairs, hits

    def plans(self) -> dict[str, str]:
        """What the planner chose for the sweep's two joins (EXPLAIN, not run)."""
        out = {}
        for name, sql in (("pairs", SWEEP_PAIRS), ("zones", SWEEP_ZONES)):
            out[name] = "\n".join(r[0] for r in self.conn.execute("EXPLAIN " + sql))
        return out

    def check_params(self, acts: Activities, i: int) -> dict[str, Any]:
        return {
            "wkb": shapely.to_wkb(acts.geoms[i]), "r": float(acts.radius[i]), "party": acts.delegation[i],
            "atype": acts.activity_type[i], "t0": int(acts.start[i]), "t1": int(acts.end[i]),
            "lo": int(acts.lower[i]), "hi": int(acts.upper[i]), "datum": acts.datum[i],
        }  # fmt: skip

    def check(self, params: dict[str, Any]) -> tuple[set[int], set[str]]:
        """One new activity's overlaps and forbidden zones: one prepared statement, one round trip."""
        overlaps, hits = set(), set()
        for kind, ref in self.conn.execute(CHECK.format(srid=SRID), params, prepare=True):
            if kind == 0:
                overlaps.add(int(ref))
            else:
                hits.add(str(ref))
        return overlaps, hits

    def round_trip(self) -> None:
        self.conn.execute("SELECT 1", prepare=True).fetchone()

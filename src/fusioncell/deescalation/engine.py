"""The deconfliction engine: every conflict of a notified activity with the zones, the notice periods, the
suspension commitments and every other party's activity. Pure and vectorised: numpy arrays and shapely's
array functions, no database, no clock (times come in as arguments).

Geometry is in the theatre's metric projection (metres), times are integer microseconds since the epoch (UTC).

**The touching convention** (what counts as a conflict at the edges), the same everywhere:

- *Time* is half-open: an activity occupies `[start, end)`; two overlap iff `start₁ < end₂ ∧ start₂ < end₁`. One
  ending at 10:00 and the next starting at 10:00 do not overlap. A zone's or commitment's validity is
  `[valid_from, valid_until)` (no `valid_until`: for ever).
- *Altitude* is closed: a band is `[lower, upper]` metres; two overlap iff `lower₁ ≤ upper₂ ∧ lower₂ ≤ upper₁`
  (touching bands conflict: separation needs a gap). Bands on different datums (MSL against AGL) cannot be compared
  without the terrain and are taken to overlap. A zone without a band holds every altitude.
- *Distance* is closed: two volumes conflict iff the exact distance between their geometries is `≤ r₁ + r₂`
  (touching volumes conflict); an activity is in a zone iff its geometry's distance to the zone is `≤ r`. Distances
  are GEOS's exact Euclidean distances between the projected geometries, never between polygonised buffers.
- *Notice*: an activity is short-noticed iff `start − notified_at < notice period` (exactly the period is enough).
- *Caps*: a party's count of a kind of equipment in a zone at an instant is the sum over its activities in the zone
  whose window holds that instant; a cap is exceeded iff that sum is `> cap` at some instant of the new activity's
  window.

Filter order for activities: bounding boxes (an STRtree over each activity's box grown by its radius), then the
time and altitude masks and the other-party mask, then the exact distance on what is left.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

FOREVER = np.iinfo(np.int64).max
DATUMS = ("MSL", "AGL", "WGS84")


class Kind(StrEnum):
    ZONE = "zone"
    NOTICE = "notice"
    SUSPENSION = "suspension"
    ACTIVITY = "activity"


class Rule(StrEnum):
    FORBIDDEN = "forbidden"
    CAP = "cap"
    SHORT_NOTICE = "short-notice"
    SUSPENDED = "suspended"
    OVERLAP = "overlap"


@dataclass(frozen=True)
class Volume:
    """A 4D volume: a projected geometry grown by a radius, an altitude band, a time window `[start, end)`."""

    geometry: BaseGeometry
    radius: float
    lower: float
    upper: float
    datum: str
    start: int
    end: int


@dataclass(frozen=True)
class Activity:
    id: int
    version: int
    delegation: str
    activity_type: str
    forces: Mapping[str, int]
    volume: Volume


@dataclass(frozen=True)
class Zone:
    id: str
    version: int
    geometry: BaseGeometry
    valid_from: int
    valid_until: int = FOREVER
    lower: float = -np.inf
    upper: float = np.inf
    datum: str = "MSL"
    forbidden: frozenset[str] = frozenset()
    caps: Mapping[str, int] = field(default_factory=dict)
    notice: Mapping[str, int] = field(default_factory=dict)  # activity type → microseconds
    binds: frozenset[str] | None = None  # None: every party


@dataclass(frozen=True)
class Suspension:
    id: str
    party: str
    activity_types: frozenset[str]
    zones: tuple[str, ...]
    valid_from: int
    valid_until: int = FOREVER


@dataclass(frozen=True)
class Finding:
    """One conflict. `ref` names it for an acknowledgement; it changes when what it is about changes version."""

    kind: Kind
    rule: Rule
    ref: str
    zone: str | None = None
    zone_version: int | None = None
    other_id: int | None = None
    other_version: int | None = None
    other_delegation: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def activity_ref(activity_id: int, version: int) -> str:
    return f"activity:{activity_id}@{version}"


def _datum_codes(datums: Sequence[str]) -> np.ndarray:
    return np.array([DATUMS.index(d) for d in datums], dtype=np.int8)


def _boxes(geoms: np.ndarray, grow: np.ndarray) -> np.ndarray:
    bounds = shapely.bounds(geoms)
    return shapely.box(bounds[:, 0] - grow, bounds[:, 1] - grow, bounds[:, 2] + grow, bounds[:, 3] + grow)


class ActivitySet:
    """Activities as columns, with an STRtree over their grown boxes (built on first use)."""

    def __init__(self, activities: Sequence[Activity]) -> None:
        self.activities = list(activities)
        n = len(self.activities)
        self.ids = np.fromiter((a.id for a in self.activities), dtype=np.int64, count=n)
        self.versions = np.fromiter((a.version for a in self.activities), dtype=np.int64, count=n)
        self.delegations = np.array([a.delegation for a in self.activities], dtype=object)
        self.types = np.array([a.activity_type for a in self.activities], dtype=object)
        # the same as small integers, for the sweep's masks (comparing Python strings pair by pair is slow)
        self.party_names = sorted(set(self.delegations.tolist()))
        self.type_names = sorted(set(self.types.tolist()))
        parties, kinds = {n: i for i, n in enumerate(self.party_names)}, {n: i for i, n in enumerate(self.type_names)}
        self.party = np.fromiter((parties[a.delegation] for a in self.activities), dtype=np.int32, count=n)
        self.type = np.fromiter((kinds[a.activity_type] for a in self.activities), dtype=np.int32, count=n)
        self.geoms = np.array([a.volume.geometry for a in self.activities], dtype=object)
        self.radius = np.fromiter((a.volume.radius for a in self.activities), dtype=np.float64, count=n)
        self.lower = np.fromiter((a.volume.lower for a in self.activities), dtype=np.float64, count=n)
        self.upper = np.fromiter((a.volume.upper for a in self.activities), dtype=np.float64, count=n)
        self.datum = _datum_codes([a.volume.datum for a in self.activities])
        self.start = np.fromiter((a.volume.start for a in self.activities), dtype=np.int64, count=n)
        self.end = np.fromiter((a.volume.end for a in self.activities), dtype=np.int64, count=n)
        self._tree: shapely.STRtree | None = None
        self._boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.activities)

    @property
    def boxes(self) -> np.ndarray:
        """Each activity's bounding box grown by its radius (what the tree holds)."""
        if self._boxes is None:
            self._boxes = _boxes(self.geoms, self.radius) if len(self) else np.empty(0, dtype=object)
        return self._boxes

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.boxes)
        return self._tree

    def of_party(self, delegation: str) -> np.ndarray:
        """Indices of one party's activities."""
        if delegation not in self.party_names:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(self.party == self.party_names.index(delegation))

    def near(self, volume: Volume) -> np.ndarray:
        """Indices whose grown boxes meet the volume's grown box: the first, cheap filter."""
        if not len(self):
            return np.empty(0, dtype=np.int64)
        box = _boxes(np.array([volume.geometry]), np.array([volume.radius]))[0]
        return np.sort(self.tree.query(box))


class ZoneSet:
    """Zones in force as columns, with an STRtree over their geometries."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones = list(zones)
        n = len(self.zones)
        self.geoms = np.array([z.geometry for z in self.zones], dtype=object)
        self.valid_from = np.fromiter((z.valid_from for z in self.zones), dtype=np.int64, count=n)
        self.valid_until = np.fromiter((z.valid_until for z in self.zones), dtype=np.int64, count=n)
        self.lower = np.fromiter((z.lower for z in self.zones), dtype=np.float64, count=n)
        self.upper = np.fromiter((z.upper for z in self.zones), dtype=np.float64, count=n)
        self.datum = _datum_codes([z.datum for z in self.zones])
        self.by_id = {z.id: i for i, z in enumerate(self.zones)}
        self.tree = shapely.STRtree(self.geoms if n else [])

    def __len__(self) -> int:
        return len(self.zones)

    def touched(self, volume: Volume) -> np.ndarray:
        """Indices of the zones the volume is in, by the convention (time, altitude, distance ≤ r), in order."""
        if not len(self):
            return np.empty(0, dtype=np.int64)
        hits = np.sort(self.tree.query(volume.geometry, predicate="dwithin", distance=volume.radius))
        if not len(hits):
            return hits
        keep = _time_overlap(volume.start, volume.end, self.valid_from[hits], self.valid_until[hits])
        keep &= _altitude_overlap(volume, self.lower[hits], self.upper[hits], self.datum[hits])
        hits = hits[keep]
        # the tree's dwithin is GEOS's; the convention is stated here, on the exact distance, to be sure of the edge
        exact = shapely.distance(self.geoms[hits], volume.geometry) <= volume.radius
        return hits[exact]


def _time_overlap(start: int, end: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    return (start < ends) & (starts < end)


def _altitude_overlap(volume: Volume, lowers: np.ndarray, uppers: np.ndarray, datums: np.ndarray) -> np.ndarray:
    same = datums == DATUMS.index(volume.datum)
    return ~same | ((volume.lower <= uppers) & (lowers <= volume.upper))


def _binds(zone: Zone, delegation: str) -> bool:
    return zone.binds is None or delegation in zone.binds


def required_notice(activity: Activity, notice: Mapping[str, int], zones: ZoneSet, touched: np.ndarray) -> int:
    """The notice period (microseconds) the activity owes: its type's, or a longer one of a zone it is in."""
    need = notice.get(activity.activity_type, 0)
    for i in touched:
        zone = zones.zones[i]
        if _binds(zone, activity.delegation):
            need = max(need, zone.notice.get(activity.activity_type, 0))
    return need


def _peak(own: ActivitySet, rows: np.ndarray, activity: Activity, kind: str) -> tuple[int, int]:
    """The most of `kind` the activity's party has in the zone at once during the activity's window, and when."""
    v = activity.volume
    starts, ends = own.start[rows], own.end[rows]
    counts = np.array([own.activities[r].forces.get(kind, 0) for r in rows], dtype=np.int64)
    # the sum is piecewise constant and only rises at a start: the peak is at the window's start or another's start
    instants = np.unique(np.concatenate([[v.start], starts[(starts > v.start) & (starts < v.end)]]))
    active = (starts[None, :] <= instants[:, None]) & (instants[:, None] < ends[None, :])
    totals = active @ counts + activity.forces.get(kind, 0)
    at = int(np.argmax(totals))
    return int(totals[at]), int(instants[at])


def check(
    activity: Activity,
    *,
    notified_at: int,
    others: ActivitySet,
    zones: ZoneSet,
    notice: Mapping[str, int],
    suspensions: Sequence[Suspension] = (),
) -> list[Finding]:
    """Every conflict of a new (or amended) activity. `others` holds the live activities of every party (the
    activity's own earlier version excluded): another party's count as overlaps, the activity's own party's count
    towards the zones' caps. In a stable order: zones, notice, suspensions, activities."""
    findings: list[Finding] = []
    v = activity.volume
    touched = zones.touched(v)

    # (a) zone rules
    near = others.near(v)
    same_party: np.ndarray | None = None  # for the caps: the party's activities anywhere (not only near this one)
    for i in touched:
        zone = zones.zones[i]
        if not _binds(zone, activity.delegation):
            continue
        ref = f"zone:{zone.id}@{zone.version}"
        if activity.activity_type in zone.forbidden:
            findings.append(
                Finding(
                    Kind.ZONE,
                    Rule.FORBIDDEN,
                    f"{ref}:forbidden",
                    zone.id,
                    zone.version,
                    detail={"activity_type": activity.activity_type},
                )
            )
        if zone.caps:
            if same_party is None:
                same_party = others.of_party(activity.delegation)
            in_zone = same_party
            if len(in_zone):
                mine = _time_overlap(v.start, v.end, others.start[in_zone], others.end[in_zone])
                in_zone = in_zone[mine]
            if len(in_zone):
                in_zone = in_zone[shapely.distance(others.geoms[in_zone], zone.geometry) <= others.radius[in_zone]]
            for kind, cap in sorted(zone.caps.items()):
                if activity.forces.get(kind, 0) == 0:
                    continue  # adding none of it breaks no cap (one already broken is the earlier activity's)
                total, at = _peak(others, in_zone, activity, kind)
                if total > cap:
                    findings.append(
                        Finding(
                            Kind.ZONE,
                            Rule.CAP,
                            f"{ref}:cap:{kind}",
                            zone.id,
                            zone.version,
                            detail={"equipment": kind, "cap": cap, "total": total, "at": at},
                        )
                    )

    # (b) notice periods
    need = required_notice(activity, notice, zones, touched)
    given = v.start - notified_at
    if given < need:
        findings.append(
            Finding(
                Kind.NOTICE,
                Rule.SHORT_NOTICE,
                f"notice:{activity.activity_type}",
                detail={"required_us": need, "given_us": max(given, 0)},
            )
        )

    # (c) suspension commitments
    touched_ids = {zones.zones[i].id for i in touched}
    for s in suspensions:
        if (
            s.party == activity.delegation
            and activity.activity_type in s.activity_types
            and v.start < s.valid_until
            and s.valid_from < v.end
        ):
            over = sorted(touched_ids.intersection(s.zones))
            if over:
                findings.append(Finding(Kind.SUSPENSION, Rule.SUSPENDED, f"suspension:{s.id}", detail={"zones": over}))

    # (d) every other party's overlapping activity
    if len(near):
        rows = near[others.delegations[near] != activity.delegation]
        rows = rows[_time_overlap(v.start, v.end, others.start[rows], others.end[rows])]
        rows = rows[_altitude_overlap(v, others.lower[rows], others.upper[rows], others.datum[rows])]
        if len(rows):
            distance = shapely.distance(others.geoms[rows], v.geometry)
            close = distance <= others.radius[rows] + v.radius
            for r, d in zip(rows[close], distance[close], strict=True):
                other = others.activities[r]
                findings.append(
                    Finding(
                        Kind.ACTIVITY,
                        Rule.OVERLAP,
                        activity_ref(other.id, other.version),
                        other_id=other.id,
                        other_version=other.version,
                        other_delegation=other.delegation,
                        detail={"distance_m": round(float(d), 3), "separation_m": other.volume.radius + v.radius},
                    )
                )
    return findings


@dataclass(frozen=True)
class Sweep:
    """A full sweep's conflicts: pairs of activities (indices, first < second) and activity-zone forbidden hits."""

    pairs: np.ndarray  # shape (n, 2)
    zone_hits: np.ndarray  # shape (m, 2): activity index, zone index


def sweep(activities: ActivitySet, zones: ZoneSet) -> Sweep:
    """Every cross-party pair of overlapping activities and every activity in a zone that forbids its type, at
    once: the STRtree's bulk query, then the masks, then exact distances, all as arrays."""
    if not len(activities):
        empty = np.empty((0, 2), dtype=np.int64)
        return Sweep(empty, empty)
    boxes, tree = activities.boxes, activities.tree
    lower, upper = activities.lower, activities.upper

    def candidates(chunk: slice) -> tuple[np.ndarray, np.ndarray]:
        """Box pairs of one slice of the activities, through the masks (each pair once, other parties only)."""
        left, right = tree.query(boxes[chunk])
        left += chunk.start
        keep = (left < right) & (activities.party[left] != activities.party[right])
        left, right = left[keep], right[keep]
        keep = (activities.start[left] < activities.end[right]) & (activities.start[right] < activities.end[left])
        left, right = left[keep], right[keep]
        same = activities.datum[left] == activities.datum[right]
        keep = ~same | ((lower[left] <= upper[right]) & (lower[right] <= upper[left]))
        return left[keep], right[keep]

    # GEOS and numpy let go of the GIL: the slices run on every core
    size = max(1, -(-len(activities) // (4 * (os.cpu_count() or 1))))
    chunks = [slice(i, min(i + size, len(activities))) for i in range(0, len(activities), size)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        found = list(pool.map(candidates, chunks))
    left = np.concatenate([f[0] for f in found])
    right = np.concatenate([f[1] for f in found])
    distance = shapely.distance(activities.geoms[left], activities.geoms[right])
    keep = distance <= activities.radius[left] + activities.radius[right]
    pairs = np.column_stack([left[keep], right[keep]])

    if len(zones):
        # which zone forbids which type, and binds which party, as tables indexed by the activities' codes
        forbids = np.zeros((len(zones), len(activities.type_names)), dtype=bool)
        binds = np.zeros((len(zones), len(activities.party_names)), dtype=bool)
        for z, zone in enumerate(zones.zones):
            forbids[z] = [t in zone.forbidden for t in activities.type_names]
            binds[z] = [_binds(zone, p) for p in activities.party_names]
        # boxes first (the zone tree against each activity's grown box), then the masks, then the exact distance
        a_idx, z_idx = zones.tree.query(boxes)
        keep = forbids[z_idx, activities.type[a_idx]] & binds[z_idx, activities.party[a_idx]]
        a_idx, z_idx = a_idx[keep], z_idx[keep]
        keep = (activities.start[a_idx] < zones.valid_until[z_idx]) & (zones.valid_from[z_idx] < activities.end[a_idx])
        same = activities.datum[a_idx] == zones.datum[z_idx]
        keep &= ~same | ((lower[a_idx] <= zones.upper[z_idx]) & (zones.lower[z_idx] <= upper[a_idx]))
        a_idx, z_idx = a_idx[keep], z_idx[keep]
        keep = shapely.distance(activities.geoms[a_idx], zones.geoms[z_idx]) <= activities.radius[a_idx]
        zone_hits = np.column_stack([a_idx[keep], z_idx[keep]])
    else:
        zone_hits = np.empty((0, 2), dtype=np.int64)
    return Sweep(pairs, zone_hits)

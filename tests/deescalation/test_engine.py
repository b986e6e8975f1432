"""The deconfliction engine alone (no database): the touching convention at every edge, each rule firing and not
firing just outside it, the vectorised sweep against the one-by-one check, and distances against the geodesic."""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely
from pyproj import Geod

from fusioncell.charter import load_charter
from fusioncell.deescalation import engine
from fusioncell.deescalation.engine import Activity, ActivitySet, Kind, Rule, Suspension, Volume, Zone, ZoneSet
from tests.conftest import EXAMPLE_CHARTER

HOUR = 3_600_000_000  # microseconds
T0 = 1_800_000_000_000_000  # an instant, in microseconds since the epoch


def vol(geom=None, *, r=0.0, lower=0.0, upper=100.0, datum="MSL", start=T0, end=T0 + HOUR):  # type: ignore[no-untyped-def]
    return Volume(geom if geom is not None else shapely.Point(0, 0), r, lower, upper, datum, start, end)


def act(i, delegation, volume, *, kind="air-patrol", forces=None, version=1):  # type: ignore[no-untyped-def]
    return Activity(i, version, delegation, kind, forces or {}, volume)


def check(new, others=(), zones=(), *, notified_at=T0 - 100 * HOUR, notice=None, suspensions=()):  # type: ignore[no-untyped-def]
    return engine.check(
        new,
        notified_at=notified_at,
        others=ActivitySet(list(others)),
        zones=ZoneSet(list(zones)),
        notice=notice or {},
        suspensions=suspensions,
    )


def overlaps(findings):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.kind is Kind.ACTIVITY]


# -- time: half-open --------------------------------------------------------------------------------------------


def test_one_ending_as_the_other_starts_does_not_overlap_but_a_microsecond_more_does() -> None:
    first = act(1, "SY", vol(start=T0, end=T0 + HOUR))
    touching = act(2, "IL", vol(start=T0 + HOUR, end=T0 + 2 * HOUR))
    assert overlaps(check(touching, [first])) == []
    into = act(2, "IL", vol(start=T0 + HOUR - 1, end=T0 + 2 * HOUR))
    assert [f.ref for f in overlaps(check(into, [first]))] == ["activity:1@1"]
    before = act(2, "IL", vol(start=T0 - HOUR, end=T0))
    assert overlaps(check(before, [first])) == []


# -- altitude: closed, same datum ----------------------------------------------------------------------------------


def test_touching_altitude_bands_conflict_and_a_millimetre_of_gap_does_not() -> None:
    low = act(1, "SY", vol(lower=0, upper=1000))
    assert len(overlaps(check(act(2, "IL", vol(lower=1000, upper=2000)), [low]))) == 1
    assert overlaps(check(act(2, "IL", vol(lower=1000.001, upper=2000)), [low])) == []
    assert overlaps(check(act(2, "IL", vol(lower=-500, upper=-0.001)), [low])) == []


def test_bands_on_different_datums_are_taken_to_overlap() -> None:
    low = act(1, "SY", vol(lower=0, upper=100, datum="AGL"))
    high = act(2, "IL", vol(lower=5000, upper=6000, datum="MSL"))
    assert len(overlaps(check(high, [low]))) == 1


# -- distance: closed, exact ---------------------------------------------------------------------------------------


def test_volumes_exactly_touching_conflict_and_a_millimetre_apart_do_not() -> None:
    a = act(1, "SY", vol(shapely.Point(0, 0), r=400.0))
    assert len(overlaps(check(act(2, "IL", vol(shapely.Point(1000, 0), r=600.0)), [a]))) == 1
    assert overlaps(check(act(2, "IL", vol(shapely.Point(1000, 0), r=599.999)), [a])) == []


def test_distance_is_exact_between_shapes_not_between_polygonised_buffers() -> None:
    # a point 1000 m from a line's end, between the vertices of a 16-segment buffer,
    # which would miss what the exact distance finds
    line = act(1, "SY", vol(shapely.LineString([(0, 0), (0, 5000)]), r=500.0))
    d = 500.0 + 500.0
    corner = shapely.Point(d * np.cos(np.radians(-78.75)), d * np.sin(np.radians(-78.75)))
    near = act(2, "IL", vol(corner, r=500.0))
    assert len(overlaps(check(near, [line]))) == 1
    assert shapely.distance(shapely.buffer(line.volume.geometry, 500, quad_segs=4), corner) > 500.0
    square = act(3, "IL", vol(shapely.Polygon([(2000, 0), (3000, 0), (3000, 1000), (2000, 1000)]), r=999.999))
    assert overlaps(check(square, [line])) == []  # 2000 m from the line, 500 + 999.999 short of it
    wider = act(3, "IL", vol(shapely.Polygon([(2000, 0), (3000, 0), (3000, 1000), (2000, 1000)]), r=1500.0))
    assert len(overlaps(check(wider, [line]))) == 1


def test_the_same_partys_activities_never_conflict_with_each_other() -> None:
    a = act(1, "SY", vol(r=1000))
    assert overlaps(check(act(2, "SY", vol(r=1000)), [a])) == []


def test_a_conflict_names_the_others_version() -> None:
    a = act(7, "SY", vol(r=10), version=3)
    [found] = overlaps(check(act(2, "IL", vol(r=10)), [a]))
    assert (found.ref, found.other_id, found.other_version, found.other_delegation) == ("activity:7@3", 7, 3, "SY")
    assert found.detail == {"distance_m": 0.0, "separation_m": 20.0}


# -- zone rules ---------------------------------------------------------------------------------------------------

SQUARE = shapely.Polygon([(0, 0), (10_000, 0), (10_000, 10_000), (0, 10_000)])


def zone(**kw):  # type: ignore[no-untyped-def]
    base = {"id": "z", "version": 2, "geometry": SQUARE, "valid_from": T0 - 1000 * HOUR}
    return Zone(**(base | kw))


def test_a_forbidden_type_fires_inside_and_at_the_edge_and_not_just_outside() -> None:
    forbids = zone(forbidden=frozenset({"air-patrol"}))
    inside = act(1, "SY", vol(shapely.Point(5000, 5000)))
    [found] = check(inside, zones=[forbids])
    assert (found.kind, found.rule, found.ref) == (Kind.ZONE, Rule.FORBIDDEN, "zone:z@2:forbidden")
    at_edge = act(1, "SY", vol(shapely.Point(10_500, 5000), r=500.0))  # reaches the edge exactly
    assert len(check(at_edge, zones=[forbids])) == 1
    outside = act(1, "SY", vol(shapely.Point(10_500, 5000), r=499.999))
    assert check(outside, zones=[forbids]) == []
    other_type = act(1, "SY", vol(shapely.Point(5000, 5000)), kind="demining")
    assert check(other_type, zones=[forbids]) == []


def test_zone_rules_hold_in_its_validity_its_altitude_band_and_for_the_parties_it_binds() -> None:
    inside = act(1, "SY", vol(shapely.Point(5000, 5000), start=T0, end=T0 + HOUR, lower=0, upper=100))
    assert check(inside, zones=[zone(forbidden=frozenset({"air-patrol"}), valid_from=T0 + HOUR)]) == []
    assert len(check(inside, zones=[zone(forbidden=frozenset({"air-patrol"}), valid_from=T0 + HOUR - 1)])) == 1
    assert check(inside, zones=[zone(forbidden=frozenset({"air-patrol"}), valid_until=T0)]) == []
    assert check(inside, zones=[zone(forbidden=frozenset({"air-patrol"}), lower=100.001, upper=9000)]) == []
    assert len(check(inside, zones=[zone(forbidden=frozenset({"air-patrol"}), lower=100, upper=9000)])) == 1
    assert check(inside, zones=[zone(forbidden=frozenset({"air-patrol"}), binds=frozenset({"IL"}))]) == []


def test_a_cap_counts_what_the_party_has_in_the_zone_at_once() -> None:
    capped = zone(caps={"tanks": 75})
    here, away = shapely.Point(5000, 5000), shapely.Point(50_000, 5000)
    # 40 tanks from T0 to T0+2h, then 30 more from T0+2h: never both at once
    first = act(1, "SY", vol(here, start=T0, end=T0 + 2 * HOUR), forces={"tanks": 40})
    second = act(2, "SY", vol(here, start=T0 + 2 * HOUR, end=T0 + 4 * HOUR), forces={"tanks": 30})
    elsewhere = act(4, "SY", vol(away, start=T0, end=T0 + 4 * HOUR), forces={"tanks": 500})
    theirs = act(5, "IL", vol(away, start=T0, end=T0 + 4 * HOUR), forces={"tanks": 500})
    others = [first, second, elsewhere, theirs]
    at_cap = act(3, "SY", vol(here, start=T0 + HOUR, end=T0 + 3 * HOUR), forces={"tanks": 35})
    assert check(at_cap, others, [capped]) == []  # 40 + 35 = 75 at T0+1h: at the cap, not over it
    over = act(3, "SY", vol(here, start=T0 + HOUR, end=T0 + 3 * HOUR), forces={"tanks": 36})
    [found] = check(over, others, [capped])
    assert (found.rule, found.ref) == (Rule.CAP, "zone:z@2:cap:tanks")
    assert found.detail == {"equipment": "tanks", "cap": 75, "total": 76, "at": T0 + HOUR}
    later = act(3, "SY", vol(here, start=T0 + 2 * HOUR, end=T0 + 3 * HOUR), forces={"tanks": 45})
    assert check(later, others, [capped]) == []  # 30 + 45 = 75 after the first has gone


def test_a_zero_cap_refuses_any_and_none_of_it_passes() -> None:
    no_sam = zone(caps={"sam": 0})
    assert check(act(1, "SY", vol(shapely.Point(5000, 5000)), forces={"troops": 50}), zones=[no_sam]) == []
    [found] = check(act(1, "SY", vol(shapely.Point(5000, 5000)), forces={"sam": 1}), zones=[no_sam])
    assert found.detail["total"] == 1


# -- notice ----------------------------------------------------------------------------------------------------


def test_exactly_the_notice_period_is_enough_and_a_microsecond_less_is_short() -> None:
    new = act(1, "SY", vol(start=T0))
    notice = {"air-patrol": 24 * HOUR}
    assert check(new, notified_at=T0 - 24 * HOUR, notice=notice) == []
    [found] = check(new, notified_at=T0 - 24 * HOUR + 1, notice=notice)
    assert (found.kind, found.ref) == (Kind.NOTICE, "notice:air-patrol")
    assert found.detail == {"required_us": 24 * HOUR, "given_us": 24 * HOUR - 1}


def test_a_zone_asks_longer_notice_inside_it_only() -> None:
    longer = zone(notice={"air-patrol": 72 * HOUR})
    notice = {"air-patrol": 24 * HOUR}
    inside = act(1, "SY", vol(shapely.Point(5000, 5000)))
    outside = act(1, "SY", vol(shapely.Point(20_000, 5000)))
    notified = T0 - 48 * HOUR
    assert check(outside, zones=[longer], notified_at=notified, notice=notice) == []
    [found] = check(inside, zones=[longer], notified_at=notified, notice=notice)
    assert found.detail["required_us"] == 72 * HOUR


# -- suspension commitments -----------------------------------------------------------------------------------


def test_a_suspension_fires_for_its_party_type_area_and_time_only() -> None:
    area = zone(id="sy-area")
    suspended = Suspension(
        "no-strikes", "IL", frozenset({"air-strike"}), ("sy-area",), valid_from=T0, valid_until=T0 + 10 * HOUR
    )
    strike = act(1, "IL", vol(shapely.Point(5000, 5000)), kind="air-strike")
    [found] = check(strike, zones=[area], suspensions=[suspended])
    assert (found.kind, found.ref, found.detail) == (Kind.SUSPENSION, "suspension:no-strikes", {"zones": ["sy-area"]})
    assert check(act(1, "SY", strike.volume, kind="air-strike"), zones=[area], suspensions=[suspended]) == []
    assert check(act(1, "IL", strike.volume, kind="air-patrol"), zones=[area], suspensions=[suspended]) == []
    outside = act(1, "IL", vol(shapely.Point(10_000.001, 5000)), kind="air-strike")
    assert check(outside, zones=[area], suspensions=[suspended]) == []
    after = act(1, "IL", vol(shapely.Point(5000, 5000), start=T0 + 10 * HOUR, end=T0 + 11 * HOUR), kind="air-strike")
    assert check(after, zones=[area], suspensions=[suspended]) == []


# -- the sweep against the one-by-one check ---------------------------------------------------------------------


def random_activities(seed: int, n: int) -> list[Activity]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x, y = rng.uniform(0, 50_000), rng.uniform(0, 50_000)
        shape = rng.choice(["point", "line", "polygon"])
        if shape == "point":
            geom = shapely.Point(x, y)
        elif shape == "line":
            geom = shapely.LineString([(x, y), (x + rng.uniform(-5000, 5000), y + rng.uniform(-5000, 5000))])
        else:
            w, h = rng.uniform(100, 3000), rng.uniform(100, 3000)
            geom = shapely.box(x, y, x + w, y + h)
        start = T0 + rng.randrange(0, 48) * HOUR
        lower = rng.choice([0, 500, 1000, 3000])
        out.append(
            act(
                i,
                rng.choice(["SY", "IL", "XX"]),
                vol(
                    geom,
                    r=rng.uniform(0, 3000),
                    lower=lower,
                    upper=lower + rng.choice([0, 500, 2000]),
                    datum=rng.choice(["MSL", "MSL", "AGL"]),
                    start=start,
                    end=start + rng.randrange(1, 12) * HOUR,
                ),
                kind=rng.choice(["air-patrol", "ground-exercise"]),
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sweep_finds_exactly_what_checking_each_activity_finds(seed: int) -> None:
    activities = random_activities(seed, 400)
    zones = [
        zone(
            id=f"z{i}",
            geometry=shapely.box(i * 9000, 0, i * 9000 + 4000, 50_000),
            forbidden=frozenset({"ground-exercise"}),
            binds=frozenset({"SY", "IL"}),
        )
        for i in range(6)
    ]
    swept = engine.sweep(ActivitySet(activities), ZoneSet(zones))
    pairs = {tuple(sorted((activities[a].id, activities[b].id))) for a, b in swept.pairs}
    hits = {(activities[a].id, zones[z].id) for a, z in swept.zone_hits}
    one_by_one_pairs, one_by_one_hits = set(), set()
    for i, a in enumerate(activities):
        found = check(a, activities[:i] + activities[i + 1 :], zones)
        one_by_one_pairs |= {tuple(sorted((a.id, f.other_id))) for f in found if f.kind is Kind.ACTIVITY}
        one_by_one_hits |= {(a.id, f.zone) for f in found if f.rule is Rule.FORBIDDEN}
    assert pairs == one_by_one_pairs and hits == one_by_one_hits
    assert len(pairs) > 20 and len(hits) > 20  # the data makes the test mean something


# -- distances against the geodesic -------------------------------------------------------------------------------


def test_distances_in_the_theatres_projection_are_within_a_tenth_of_a_percent_of_the_geodesic() -> None:
    theatre = load_charter(EXAMPLE_CHARTER).deescalation.theatres[0]
    west, south, east, north = theatre.bounds
    rng = random.Random(16)
    geod = Geod(ellps="WGS84")
    worst = 0.0
    for _ in range(2000):
        lon1, lon2 = rng.uniform(west, east), rng.uniform(west, east)
        lat1, lat2 = rng.uniform(south, north), rng.uniform(south, north)
        a = theatre.projection_.project(shapely.Point(lon1, lat1))
        b = theatre.projection_.project(shapely.Point(lon2, lat2))
        _, _, geodesic = geod.inv(lon1, lat1, lon2, lat2)
        if geodesic > 100:
            worst = max(worst, abs(shapely.distance(a, b) - geodesic) / geodesic)
    assert worst < 0.001, worst

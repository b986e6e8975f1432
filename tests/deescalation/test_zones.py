"""The zones: the charter's in force, a version proposed by the mediator entering into force when the last party
accepts it, which version was in force at any instant, and the rules that follow the version in force."""

from __future__ import annotations

import copy
from datetime import timedelta

from fusioncell.deescalation.models import ZoneVersion
from tests.conftest import START, add_user, ledger_size, login, table_count
from tests.deescalation.helpers import activity


def _charter_zone(client, member, zone_id):  # type: ignore[no-untyped-def]
    [zone] = [z for z in client.get("/api/v1/zones", headers=member.headers).json()["items"] if z["id"] == zone_id]
    return zone


def _definition(zone):  # type: ignore[no-untyped-def]
    keep = (
        "id",
        "kind",
        "names",
        "approximate",
        "controlled_by",
        "binds",
        "valid_from",
        "valid_until",
        "altitude",
        "rules",
        "geometry",
    )
    return {k: copy.deepcopy(zone[k]) for k in keep if zone[k] is not None}


def test_the_example_zones_are_read_by_every_joint_reader(client, crew) -> None:
    zones = client.get("/api/v1/zones", headers=crew["undof"].headers).json()["items"]
    by_id = {z["id"]: z for z in zones}
    assert set(by_id) == {
        "area-of-separation",
        "limitation-10km",
        "limitation-20km",
        "limitation-25km",
        "il-control-area",
        "sy-control-area",
        "southern-dmz",
    }
    assert all(z["approximate"] for z in zones) and by_id["southern-dmz"]["status"] == "proposed"
    assert by_id["limitation-10km"]["rules"]["caps"] == {
        "troops": 6000,
        "tanks": 75,
        "guns-short-range": 36,
        "guns-long-range": 0,
        "sam": 0,
    }
    assert by_id["area-of-separation"]["geometry"]["type"] == "Polygon"
    assert client.get("/api/v1/zones", headers=crew["sy_admin"].headers).json()["items"] == []


def test_a_proposal_enters_into_force_when_the_last_party_accepts_and_the_history_answers(client, cell, crew) -> None:
    for name, delegation in (("sy.signatory", "SY"), ("il.signatory", "IL")):
        add_user(cell, name, delegation, "signatory")
    sy, il = (login(client, n) for n in ("sy.signatory", "il.signatory"))
    belt = _charter_zone(client, crew["us"], "limitation-10km")
    changed = _definition(belt)
    changed["rules"]["caps"]["tanks"] = 40
    before = ledger_size(cell)
    for who in ("sy", "il", "undof"):
        r = client.post("/api/v1/zones", json={"zone": changed}, headers=crew[who].headers)
        assert r.status_code == 403
    assert ledger_size(cell) == before
    r = client.post("/api/v1/zones", json={"zone": changed, "note": "Halve the tanks"}, headers=crew["us"].headers)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["status"]) == (2, "proposed")
    # still version 1's cap of 75
    belt_point = {"type": "Point", "coordinates": [35.98, 33.0]}
    check = client.post(
        "/api/v1/activities/check", json=activity(geometry=belt_point, forces={"tanks": 50}), headers=crew["sy"].headers
    )
    assert check.json()["conflicts"] == []
    cell.clock.advance(timedelta(hours=1))
    accept = "/api/v1/zones/limitation-10km/versions/2/accept"
    assert client.post(accept, headers={"Authorization": f"Bearer {sy}"}).json()["status"] == "proposed"
    assert client.post(accept, headers={"Authorization": f"Bearer {sy}"}).status_code == 409
    assert client.post(accept, headers=crew["sy"].headers).status_code == 403  # a liaison is no signatory
    cell.clock.advance(timedelta(hours=1))
    accepted = client.post(accept, headers={"Authorization": f"Bearer {il}"})
    assert accepted.json()["status"] == "in-force"
    assert accepted.json()["in_force_from"] == (START + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    check = client.post(
        "/api/v1/activities/check", json=activity(geometry=belt_point, forces={"tanks": 50}), headers=crew["sy"].headers
    )
    assert [c["ref"] for c in check.json()["conflicts"]] == ["zone:limitation-10km@2:cap:tanks"]
    # which version was in force when
    history = client.get("/api/v1/zones/limitation-10km", headers=crew["il"].headers).json()["items"]
    assert [(z["version"], z["status"]) for z in history] == [(1, "superseded"), (2, "in-force")]
    earlier = (START + timedelta(hours=1)).isoformat()
    history = client.get("/api/v1/zones/limitation-10km", params={"at": earlier}, headers=crew["il"].headers).json()
    assert [(z["version"], z["status"]) for z in history["items"]] == [(1, "in-force"), (2, "proposed")]


def test_a_bad_proposal_is_refused_and_writes_nothing(client, cell, crew) -> None:
    zone = _definition(_charter_zone(client, crew["us"], "area-of-separation"))
    cases = [
        (
            {
                **zone,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[36, 33], [36.1, 33.1], [36.1, 33], [36, 33.1], [36, 33]]],
                },
            },
            "Self-intersection",
        ),
        (
            {**zone, "geometry": {"type": "Polygon", "coordinates": [[[2, 48], [2.1, 48], [2.1, 48.1], [2, 48]]]}},
            "not inside any theatre",
        ),
        ({**zone, "rules": {"forbidden": ["picnic"]}}, "unknown activity type"),
        ({**zone, "rules": {"caps": {"battleships": 1}}}, "unknown equipment"),
        ({**zone, "names": {"en": "only English"}}, "names"),
        ({**zone, "kind": "volcano"}, "kind"),
        ({**zone, "binds": ["US"]}, "not a party"),
    ]
    before = (ledger_size(cell), table_count(cell, ZoneVersion))
    for definition, words in cases:
        r = client.post("/api/v1/zones", json={"zone": definition}, headers=crew["us"].headers)
        assert r.status_code == 422 and words in r.json()["detail"], (words, r.text)
    assert (ledger_size(cell), table_count(cell, ZoneVersion)) == before


def test_an_instant_without_its_offset_is_refused_precisely(client, crew) -> None:
    for path in ("/api/v1/zones", "/api/v1/zones/area-of-separation", "/api/v1/map/export"):
        r = client.get(path, params={"at": "2026-03-02T06:00:00"}, headers=crew["il"].headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "at", r.text


def test_an_agreed_zone_not_yet_valid_is_in_force_and_applies_from_its_start(client, cell, crew) -> None:
    add_user(cell, "sy.signatory", "SY", "signatory")
    add_user(cell, "il.signatory", "IL", "signatory")
    zone = _definition(_charter_zone(client, crew["us"], "area-of-separation"))
    zone |= {
        "id": "new-buffer",
        "valid_from": (START + timedelta(days=10)).isoformat(),
        "names": {"en": "New buffer", "ar": "منطقة عازلة جديدة", "he": "אזור חיץ חדש"},
        "rules": {"forbidden": ["ground-exercise"]},
        "geometry": {"type": "Polygon", "coordinates": [[[36.3, 33.2], [36.4, 33.2], [36.4, 33.3], [36.3, 33.2]]]},
    }
    assert client.post("/api/v1/zones", json={"zone": zone}, headers=crew["us"].headers).status_code == 201
    for name in ("sy.signatory", "il.signatory"):
        r = client.post(
            "/api/v1/zones/new-buffer/versions/1/accept", headers={"Authorization": f"Bearer {login(client, name)}"}
        )
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "in-force"
    inside = {"type": "Point", "coordinates": [36.38, 33.22]}
    early = client.post("/api/v1/activities/check", json=activity(geometry=inside), headers=crew["sy"].headers)
    assert early.json()["conflicts"] == []  # four days ahead: before the zone's rules apply
    later = activity(
        geometry=inside,
        start=(START + timedelta(days=11)).isoformat(),
        end=(START + timedelta(days=11, hours=2)).isoformat(),
    )
    found = client.post("/api/v1/activities/check", json=later, headers=crew["sy"].headers).json()["conflicts"]
    assert [c["ref"] for c in found] == ["zone:new-buffer@1:forbidden"]
    huge = _definition(_charter_zone(client, crew["us"], "limitation-10km"))
    huge["rules"]["caps"]["tanks"] = 10**30
    assert client.post("/api/v1/zones", json={"zone": huge}, headers=crew["us"].headers).status_code == 422


def test_a_zone_the_mediator_proposed_can_be_named_in_an_incident(client, cell, crew) -> None:
    corridor = _definition(_charter_zone(client, crew["us"], "area-of-separation"))
    corridor["id"] = "humanitarian-corridor"
    corridor["names"] = {"en": "Humanitarian corridor", "ar": "ممر إنساني", "he": "מסדרון הומניטרי"}
    r = client.post("/api/v1/zones", json={"zone": corridor}, headers=crew["us"].headers)
    assert r.status_code == 201, r.text
    report = {
        "audience": "joint",
        "kind": "airspace-violation",
        "occurred_at": (START - timedelta(hours=1)).isoformat(),
        "place": {"type": "Point", "coordinates": [35.824, 33.125]},
        "description": "A drone over the corridor.",
    }
    made = client.post("/api/v1/incidents", json=report | {"zone": "humanitarian-corridor"},
                       headers=crew["undof"].headers)  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["zone"] == "humanitarian-corridor"
    unknown = client.post("/api/v1/incidents", json=report | {"zone": "atlantis"}, headers=crew["undof"].headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "zone"

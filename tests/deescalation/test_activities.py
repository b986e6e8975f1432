"""Activities through the API on SQLite and PostgreSQL: notified, refused with their conflicts until acknowledged,
alerts, amended, cancelled and ended; bad input refused with nothing written."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from fusioncell.deescalation.models import Activity, ActivityConflict
from fusioncell.traffic.models import Alert
from tests.conftest import START, Member, ledger_size, login, table_count
from tests.deescalation.helpers import EAST, QUNEITRA, WEST, activity, at


class Unchanged:
    """Assert that a block wrote nothing: ledger, activities, conflicts, alerts."""

    def __init__(self, cell) -> None:  # type: ignore[no-untyped-def]
        self.cell = cell

    def counts(self) -> tuple[int, ...]:
        return (
            ledger_size(self.cell),
            table_count(self.cell, Activity),
            table_count(self.cell, ActivityConflict),
            table_count(self.cell, Alert),
        )

    def __enter__(self) -> Unchanged:
        self.before = self.counts()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.counts() == self.before


def notify(client, member, body: dict[str, Any], status: int = 201) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/activities", json=body, headers=member.headers)
    assert r.status_code == status, r.text
    return r.json()


def point(lonlat: list[float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": lonlat}


def test_a_clear_activity_is_notified_recorded_and_read_by_its_audience(client, cell, crew) -> None:
    before = ledger_size(cell)
    made = notify(client, crew["sy"], activity())
    assert made["state"] == "planned" and made["version"] == 1 and made["conflicts"] == []
    assert made["theatre"] == "golan" and made["ledger_index"] == before
    assert ledger_size(cell) == before + 1
    entry = client.get(f"/api/v1/ledger/entries?start={before}&end={before + 1}", headers=crew["il"].headers).json()
    assert entry["items"][0]["action"] == "activity.notified"
    for reader in ("il", "us", "undof"):
        got = client.get(f"/api/v1/activities/{made['id']}", headers=crew[reader].headers)
        assert got.status_code == 200 and got.json()["geometry"] == point(EAST)
    assert client.get(f"/api/v1/activities/{made['id']}", headers=crew["sy_admin"].headers).status_code == 404
    assert client.get("/api/v1/activities", headers=crew["sy_admin"].headers).json()["items"] == []
    versions = client.get(f"/api/v1/activities/{made['id']}/versions", headers=crew["il"].headers).json()
    assert [v["version"] for v in versions] == [1] and versions[0]["record"]["activity_type"] == "ground-exercise"


def test_a_forbidden_zone_is_a_409_that_writes_nothing_until_acknowledged(client, cell, crew) -> None:
    body = activity(geometry=point(QUNEITRA))
    with Unchanged(cell):
        r = client.post("/api/v1/activities", json=body, headers=crew["sy"].headers)
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        [conflict] = r.json()["conflicts"]
        assert conflict["ref"] == "zone:area-of-separation@1:forbidden"
        assert "Ground exercise is forbidden in UNDOF area of separation" in conflict["summary"]
        assert r.json()["unacknowledged"] == [conflict["ref"]]
        # a wrong or partial acknowledgement is no acknowledgement
        again = client.post(
            "/api/v1/activities",
            json=body | {"acknowledge": ["zone:area-of-separation@2:forbidden"]},
            headers=crew["sy"].headers,
        )
        assert again.status_code == 409
    made = notify(client, crew["sy"], body | {"acknowledge": [conflict["ref"]]})
    assert [c["ref"] for c in made["conflicts"]] == [conflict["ref"]]
    # the mediator and the other party are alerted; the notifier is not
    us = [a for a in client.get("/api/v1/alerts", headers=crew["us"].headers).json()["items"] if a["target"] == "US"]
    assert [a["kind"] for a in us] == ["activity_conflict"] and str(made["id"]) in us[0]["summary"]
    il = [a for a in client.get("/api/v1/alerts", headers=crew["il"].headers).json()["items"] if a["target"] == "IL"]
    assert len(il) == 1 and "forbidden in UNDOF area of separation" in il[0]["summary"]
    sy = [a for a in client.get("/api/v1/alerts", headers=crew["sy"].headers).json()["items"] if a["target"] == "SY"]
    assert sy == []


def test_a_short_notice_needs_a_justification_and_is_flagged(client, cell, crew) -> None:
    soon = activity(**at(24))  # a ground exercise owes 72 hours' notice
    with Unchanged(cell):
        r = client.post("/api/v1/activities", json=soon, headers=crew["sy"].headers)
        assert r.status_code == 409 and "justification" in r.json()["detail"]
        [conflict] = r.json()["conflicts"]
        assert conflict["kind"] == "notice" and conflict["detail"]["required_us"] == 72 * 3600 * 10**6
        assert conflict["summary"] == "notified 24 h 00 min before its start; Ground exercise needs 72 h 00 min"
    made = notify(client, crew["sy"], soon | {"justification": "Rescheduled after the storm"})
    assert made["short_notice"] is True and made["justification"] == "Rescheduled after the storm"
    alerts = client.get("/api/v1/alerts", headers=crew["us"].headers).json()["items"]
    assert any("Ground exercise needs 72 h" in a["summary"] for a in alerts)
    # exactly 72 hours ahead is enough
    notify(client, crew["sy"], activity(**at(72), geometry=point([36.5, 33.2])))


def test_a_suspended_strike_and_a_zone_cap(client, cell, crew) -> None:
    strike = activity(
        activity_type="air-strike",
        **at(30, 1),
        geometry=point([36.3, 33.0]),
        forces={"aircraft": 2},
        altitude={"lower_m": 0, "upper_m": 9000, "datum": "MSL"},
    )
    r = client.post("/api/v1/activities", json=strike, headers=crew["il"].headers)
    assert r.status_code == 409
    assert [c["ref"] for c in r.json()["conflicts"]] == ["suspension:il-strikes-east-of-bravo"]
    assert "IL's Air strike is suspended over Area east of the Bravo line" in r.json()["conflicts"][0]["summary"]
    # the same strike by SY east of the Bravo line breaks no commitment
    notify(client, crew["sy"], strike)
    # 75 tanks in the first 10 km at once, then one more
    belt = point([35.98, 33.0])
    notify(client, crew["sy"], activity(geometry=belt, forces={"tanks": 75}))
    r = client.post("/api/v1/activities", json=activity(geometry=belt, forces={"tanks": 1}), headers=crew["sy"].headers)
    assert r.status_code == 409
    [cap] = r.json()["conflicts"]
    assert cap["ref"] == "zone:limitation-10km@1:cap:tanks" and cap["detail"]["total"] == 76
    # after the first exercise has ended, the tank is within the cap
    notify(client, crew["sy"], activity(geometry=belt, forces={"tanks": 1}, **at(96 + 6, 2)))


def test_overlapping_activities_of_the_two_parties_and_a_stale_acknowledgement(client, cell, crew) -> None:
    sy = notify(client, crew["sy"], activity())
    mine = activity(geometry=point([36.455, 33.05]))  # ~470 m away, each 1000 m wide
    r = client.post("/api/v1/activities", json=mine, headers=crew["il"].headers)
    assert r.status_code == 409
    [overlap] = r.json()["conflicts"]
    assert overlap["ref"] == f"activity:{sy['id']}@1" and overlap["other_delegation"] == "SY"
    assert 400 < overlap["detail"]["distance_m"] < 500 and overlap["detail"]["separation_m"] == 2000
    # SY amends its activity: an acknowledgement of version 1 no longer covers it
    amended = client.put(f"/api/v1/activities/{sy['id']}", json=activity(radius_m=1500), headers=crew["sy"].headers)
    assert amended.status_code == 200 and amended.json()["version"] == 2
    r = client.post("/api/v1/activities", json=mine | {"acknowledge": [overlap["ref"]]}, headers=crew["il"].headers)
    assert r.status_code == 409 and r.json()["unacknowledged"] == [f"activity:{sy['id']}@2"]
    il = notify(client, crew["il"], mine | {"acknowledge": [f"activity:{sy['id']}@2"]})
    # each side reads the conflict from its own side
    seen_by_sy = client.get(f"/api/v1/activities/{sy['id']}/conflicts", headers=crew["sy"].headers).json()
    assert [(c["other_activity"], c["other_delegation"]) for c in seen_by_sy] == [(il["id"], "IL")]
    seen_by_il = client.get(f"/api/v1/activities/{il['id']}", headers=crew["il"].headers).json()["conflicts"]
    assert [c["other_activity"] for c in seen_by_il] == [sy["id"]]
    sy_alerts = client.get("/api/v1/alerts", headers=crew["sy"].headers).json()["items"]
    assert any(a["target"] == "SY" and str(il["id"]) in a["summary"] for a in sy_alerts)


def test_a_plan_withheld_from_the_notifier_is_reported_without_any_of_its_detail(client, cell, crew) -> None:
    secret = activity(audience="mediated:SY", description="Brigade 61 moves at night", forces={"troops": 900})
    withheld = [notify(client, crew["sy"], secret), notify(client, crew["sy"], secret | {"radius_m": 1200})]
    mine = activity(geometry=point([36.455, 33.05]), description="IL exercise")
    # a check (nothing on the record) says nothing of it: otherwise check after check would find the plan
    with Unchanged(cell):
        checked = client.post("/api/v1/activities/check", json=mine, headers=crew["il"].headers)
    assert checked.status_code == 200 and checked.json()["conflicts"] == []
    # notified, it is on the record: told as one line, whatever the number, and the mediator alerted with both
    il = notify(client, crew["il"], mine)
    assert [(c["kind"], c["ref"], c["summary"]) for c in il["conflicts"]] == [
        ("withheld", "withheld", "conflicts with an activity notified to the mediator")
    ]
    shown = str(il)
    for plan in withheld:
        assert str(plan["id"]) not in shown
    assert "Brigade" not in shown and "900" not in shown
    # IL reads nothing more of it anywhere
    for plan in withheld:
        assert client.get(f"/api/v1/activities/{plan['id']}", headers=crew["il"].headers).status_code == 404
        assert client.get(f"/api/v1/activities/{plan['id']}/conflicts", headers=crew["il"].headers).status_code == 404
    listed = client.get("/api/v1/activities", headers=crew["il"].headers).json()["items"]
    assert [a["id"] for a in listed] == [il["id"]]
    page = client.get(f"/api/v1/activities/{il['id']}/conflicts", headers=crew["il"].headers)
    assert [c["kind"] for c in page.json()] == ["withheld"] and page.json()[0]["found_at"] is None
    content = client.get(f"/api/v1/ledger/entries/{il['ledger_index']}/content", headers=crew["il"].headers).text
    for text in (page.text, content):
        assert all(str(plan["id"]) not in text for plan in withheld) and "Brigade" not in text
    # the mediator is alerted with both; IL's alerts hold nothing of it
    us = [a for a in client.get("/api/v1/alerts", headers=crew["us"].headers).json()["items"] if a["target"] == "US"]
    assert len(us) == 1 and us[0]["audience"] == "mediator"
    assert all(str(plan["id"]) in us[0]["summary"] for plan in withheld) and str(il["id"]) in us[0]["summary"]
    il_alerts = client.get("/api/v1/alerts", headers=crew["il"].headers).text
    assert all(str(plan["id"]) not in il_alerts for plan in withheld)
    # SY reads IL's joint activity and its own plans: it is told, in its own audience with the mediator
    sy = [a for a in client.get("/api/v1/alerts", headers=crew["sy"].headers).json()["items"] if a["target"] == "SY"]
    assert len(sy) == 1 and sy[0]["audience"] == "mediated:SY" and str(withheld[0]["id"]) in sy[0]["summary"]
    seen_by_us = client.get(f"/api/v1/activities/{il['id']}/conflicts", headers=crew["us"].headers).json()
    assert sorted(c["other_activity"] for c in seen_by_us) == sorted(p["id"] for p in withheld)


def test_a_plan_notified_after_the_other_partys_activity_tells_that_party_nothing(client, cell, crew) -> None:
    il = notify(client, crew["il"], activity(geometry=point([36.455, 33.05])))
    ack = [f"activity:{il['id']}@1"]
    first = notify(client, crew["sy"], activity(audience="mediated:SY", acknowledge=ack))
    client.put(f"/api/v1/activities/{first['id']}", json=activity(audience="mediated:SY", radius_m=1500,
               acknowledge=ack), headers=crew["sy"].headers).raise_for_status()  # fmt: skip
    # found on SY's plan, with IL's activity: IL, never told, reads nothing of it (not even that it exists)
    assert client.get(f"/api/v1/activities/{il['id']}/conflicts", headers=crew["il"].headers).json() == []
    assert client.get(f"/api/v1/activities/{il['id']}", headers=crew["il"].headers).json()["conflicts"] == []
    us = client.get(f"/api/v1/activities/{il['id']}/conflicts", headers=crew["us"].headers).json()
    assert {c["other_activity"] for c in us} == {first["id"]}


def test_times_are_kept_in_utc_whatever_offset_they_came_with(client, cell, crew) -> None:
    start = (START + timedelta(days=4)).astimezone(timezone(timedelta(hours=5)))
    made = notify(client, crew["sy"], activity(start=start.isoformat(), end=(start + timedelta(hours=2)).isoformat()))
    assert made["start"].endswith("Z") and made["start"] == (START + timedelta(days=4)).isoformat().replace(
        "+00:00", "Z"
    )
    record = client.get(f"/api/v1/activities/{made['id']}/versions", headers=crew["sy"].headers).json()[0]["record"]
    assert record["start"].endswith("+00:00")


def test_a_cap_counts_the_partys_equipment_anywhere_in_the_zone(client, cell, crew) -> None:
    notify(client, crew["sy"], activity(geometry=point([35.98, 33.0]), forces={"tanks": 75}))
    far = client.post("/api/v1/activities", json=activity(geometry=point([35.97, 33.25]), forces={"tanks": 75}),
                      headers=crew["sy"].headers)  # fmt: skip
    assert far.status_code == 409 and far.json()["conflicts"][0]["detail"]["total"] == 150


def test_a_mediated_activity_never_reaches_the_other_party_on_the_stream(client, cell, crew) -> None:
    start = ledger_size(cell) - 1
    hidden = notify(client, crew["sy"], activity(audience="mediated:SY", description="night move"))
    shown = notify(client, crew["sy"], activity(geometry=point([36.5, 33.2])))
    from tests.traffic.helpers import StreamReader

    with client.websocket_connect(f"/api/v1/stream?after={start}", headers=crew["il"].headers) as ws:
        reader = StreamReader(ws)
        reader.replay()
    indices = [e["index"] for e in reader.events]
    assert shown["ledger_index"] in indices
    assert hidden["ledger_index"] not in indices and "night move" not in str(reader.frames)


def test_amend_cancel_and_end_follow_the_clock_and_the_party(client, cell, crew) -> None:
    made = notify(client, crew["sy"], activity())
    ident = made["id"]
    assert client.put(f"/api/v1/activities/{ident}", json=activity(), headers=crew["il"].headers).status_code == 403
    r = client.post(f"/api/v1/activities/{ident}/end", json={}, headers=crew["sy"].headers)
    assert r.status_code == 409 and "cancel it instead" in r.json()["detail"]
    with Unchanged(cell):
        r = client.put(f"/api/v1/activities/{ident}", json=activity(audience="mediated:SY"), headers=crew["sy"].headers)
        assert r.status_code == 422 and r.json()["field"] == "audience"
    cell.clock.advance(timedelta(days=4, hours=1))  # into its window (tokens last 12 hours: sign in again)
    crew = {key: Member(m.username, m.delegation, login(client, m.username)) for key, m in crew.items()}
    assert client.get(f"/api/v1/activities/{ident}", headers=crew["il"].headers).json()["state"] == "active"
    assert [
        a["id"] for a in client.get("/api/v1/activities?state=active", headers=crew["il"].headers).json()["items"]
    ] == [ident]
    ended = client.post(f"/api/v1/activities/{ident}/end", json={"reason": "done early"}, headers=crew["sy"].headers)
    assert (
        ended.status_code == 200 and ended.json()["state"] == "ended" and ended.json()["close_reason"] == "done early"
    )
    assert ended.json()["live_until"] == (START + timedelta(days=4, hours=1)).isoformat().replace("+00:00", "Z")
    r = client.post(f"/api/v1/activities/{ident}/cancel", json={}, headers=crew["sy"].headers)
    assert r.status_code == 409 and r.json()["state"] == "ended"
    later = notify(client, crew["sy"], activity(**at(200)))
    cancelled = client.post(
        f"/api/v1/activities/{later['id']}/cancel", json={"reason": "weather"}, headers=crew["sy"].headers
    )
    assert cancelled.json()["state"] == "cancelled"
    # a cancelled activity no longer conflicts
    notify(client, crew["il"], activity(**at(200)))


def test_only_a_partys_liaison_notifies_and_only_into_its_own_audiences(client, cell, crew) -> None:
    with Unchanged(cell):
        for who in ("us", "undof", "sy_analyst", "sy_admin"):
            assert client.post("/api/v1/activities", json=activity(), headers=crew[who].headers).status_code == 403
        r = client.post("/api/v1/activities", json=activity(audience="mediated:IL"), headers=crew["sy"].headers)
        assert r.status_code == 422 and r.json()["field"] == "audience"
        r = client.post("/api/v1/activities", json=activity(audience="mediator"), headers=crew["sy"].headers)
        assert r.status_code == 422


SELF_CROSSING = {
    "type": "Polygon",
    "coordinates": [[[36.4, 33.0], [36.5, 33.1], [36.5, 33.0], [36.4, 33.1], [36.4, 33.0]]],
}
UNCLOSED = {"type": "Polygon", "coordinates": [[[36.4, 33.0], [36.5, 33.0], [36.5, 33.1], [36.4, 33.1]]]}
MANY = {"type": "LineString", "coordinates": [[36.3 + i * 0.0001, 33.0] for i in range(2001)]}


BAD_INPUT = [
    ({"geometry": SELF_CROSSING}, "geometry.coordinates", "Self-intersection"),
    ({"geometry": UNCLOSED}, "geometry.coordinates[0]", "not closed"),
    ({"geometry": point([36.4, 95.0])}, "geometry.coordinates[1]", "latitude 95 is out of range"),
    ({"geometry": point([181.0, 33.0])}, "geometry.coordinates[0]", "longitude 181 is out of range"),
    ({"geometry": point([33.05, 36.45])}, "geometry", "swapped"),
    ({"geometry": point([2.35, 48.85])}, "geometry", "not inside any theatre"),
    ({"geometry": {"type": "Point", "coordinates": []}}, "geometry.coordinates", "a position is"),
    ({"geometry": {"type": "Polygon", "coordinates": []}}, "geometry.coordinates", "the polygon is empty"),
    ({"geometry": {"type": "LineString", "coordinates": [[36.4, 33.0]]}}, "geometry.coordinates", "at least 2"),
    ({"geometry": MANY}, "geometry.coordinates", "at most 2000"),
    ({"geometry": {"type": "Point", "coordinates": [36.4, 33.0, 500]}}, "geometry.coordinates", "altitude band"),
    ({"geometry": {"type": "GeometryCollection", "geometries": []}}, "geometry.type", "unknown geometry type"),
    ({"geometry": {"type": "MultiPolygon", "coordinates": []}}, "geometry.type", "not accepted here"),
    (
        {"start": (START + timedelta(days=5)).isoformat(), "end": (START + timedelta(days=4)).isoformat()},
        "end",
        "end must come after start",
    ),
    (
        {"start": (START - timedelta(days=2)).isoformat(), "end": (START - timedelta(days=1)).isoformat()},
        "end",
        "already ended",
    ),
    ({"activity_type": "picnic"}, "activity_type", "unknown activity type 'picnic'"),
    ({"forces": {"battleships": 2}}, "forces", "unknown equipment battleships"),
    ({"altitude": {"lower_m": 500, "upper_m": 100, "datum": "MSL"}}, "altitude.upper_m", "below"),
    ({"radius_m": -5}, "/radius_m", None),
    ({"audience": "everyone"}, "audience", "unknown audience"),
]


def test_bad_input_is_refused_precisely_and_writes_nothing(client, cell, crew) -> None:
    for change, field, words in BAD_INPUT:
        with Unchanged(cell):
            r = client.post("/api/v1/activities", json=activity(**change), headers=crew["sy"].headers)
            amend = client.post("/api/v1/activities/check", json=activity(**change), headers=crew["sy"].headers)
        for answer in (r, amend):
            assert answer.status_code == 422, (change, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            problem = answer.json()
            if words is None:
                assert any(e["pointer"] == field for e in problem["errors"]), problem
            else:
                assert problem["field"] == field and words in problem["detail"], (change, problem)


def test_the_check_answers_without_writing(client, cell, crew) -> None:
    with Unchanged(cell):
        r = client.post("/api/v1/activities/check", json=activity(geometry=point(QUNEITRA)), headers=crew["sy"].headers)
    assert r.status_code == 200
    assert [c["ref"] for c in r.json()["conflicts"]] == ["zone:area-of-separation@1:forbidden"]
    assert r.json()["notice_required_s"] == 72 * 3600
    west = client.post("/api/v1/activities/check", json=activity(geometry=point(WEST)), headers=crew["il"].headers)
    assert west.json()["conflicts"] == []


def test_an_amended_activity_is_found_where_and_when_it_now_is(client, cell, crew) -> None:
    """The check's box index (an R*Tree kept by triggers on SQLite, GiST on PostgreSQL) follows each amendment."""
    sy = notify(client, crew["sy"], activity())
    moved = [36.65, 33.05]  # about 19 km east

    def overlaps(**overrides: Any) -> list[int]:
        r = client.post("/api/v1/activities/check", json=activity(**overrides), headers=crew["il"].headers)
        assert r.status_code == 200, r.text
        return [c["other_activity"] for c in r.json()["conflicts"] if c["kind"] == "activity"]

    assert overlaps() == [sy["id"]] and overlaps(geometry=point(moved)) == []
    amended = client.put(f"/api/v1/activities/{sy['id']}", json=activity(geometry=point(moved)),
                         headers=crew["sy"].headers)  # fmt: skip
    assert amended.status_code == 200, amended.text
    assert overlaps() == [] and overlaps(geometry=point(moved)) == [sy["id"]]
    later = at(24 * 6)  # two days after its first window
    client.put(f"/api/v1/activities/{sy['id']}", json=activity(geometry=point(moved), **later),
               headers=crew["sy"].headers).raise_for_status()  # fmt: skip
    assert overlaps(geometry=point(moved)) == [] and overlaps(geometry=point(moved), **later) == [sy["id"]]
    client.post(f"/api/v1/activities/{sy['id']}/cancel", json={}, headers=crew["sy"].headers).raise_for_status()
    assert overlaps(geometry=point(moved), **later) == []


def test_a_notification_sent_again_under_its_id_is_answered_from_the_record(client, cell, crew) -> None:
    """A link that dropped the answer: the same notification sent again is the first one, written once."""
    body = activity(client_txn_id="sy-night-0415")
    made = notify(client, crew["sy"], body)
    with Unchanged(cell):
        again = client.post("/api/v1/activities", json=body, headers=crew["sy"].headers)
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == made["id"] and again.json()["version"] == 1
        # other content under the same id is a mistake, said so
        other = client.post("/api/v1/activities", json=body | {"radius_m": 900}, headers=crew["sy"].headers)
        assert other.status_code == 409 and other.json()["activity"] == made["id"]
        assert "already used for a different notification" in other.json()["detail"]
        bad = client.post("/api/v1/activities", json=body | {"client_txn_id": "a b"}, headers=crew["sy"].headers)
        assert bad.status_code == 422
        # amending and checking take no such id
        amend = client.put(f"/api/v1/activities/{made['id']}", json=body, headers=crew["sy"].headers)
        assert amend.status_code == 422
        assert client.post("/api/v1/activities/check", json=body, headers=crew["sy"].headers).status_code == 422
    # the id is the account's own: another account's notification under it is its own
    il = client.post("/api/v1/activities", json=activity(geometry=point([36.65, 33.05]), client_txn_id="sy-night-0415"),
                     headers=crew["il"].headers)  # fmt: skip
    assert il.status_code == 201 and il.json()["id"] != made["id"]
    # acknowledgements aside: the notification sent again knowing of more is still the same one
    replay = client.post("/api/v1/activities", json=body | {"acknowledge": ["anything@1"]}, headers=crew["sy"].headers)
    assert replay.status_code == 200 and replay.json()["id"] == made["id"]


def test_the_box_index_is_built_for_activities_notified_before_it(client, cell, crew) -> None:
    """Migration 0014 on a cell that already holds activities: each is found through the new index (and a
    notification sent under the earlier schema is not taken for a resend)."""
    from alembic import command

    from fusioncell.migrate import alembic_config, upgrade

    sy = notify(client, crew["sy"], activity())
    cell.db.dispose()
    command.downgrade(alembic_config(str(cell.db.url)), "0013")
    upgrade(cell.db)
    r = client.post("/api/v1/activities/check", json=activity(), headers=crew["il"].headers)
    assert [c["other_activity"] for c in r.json()["conflicts"] if c["kind"] == "activity"] == [sy["id"]]
    again = notify(client, crew["sy"], activity(geometry=point([36.65, 33.05]), client_txn_id="after-0014"))
    assert again["id"] != sy["id"]


def test_an_activity_ended_a_fraction_of_a_millisecond_into_a_window_still_meets_it(client, cell, crew) -> None:
    """The box index keeps times to the millisecond; the window it is asked about is widened so that the exact
    comparison, to the microsecond, decides."""
    sy = notify(client, crew["sy"], activity())
    start = START + timedelta(days=4)
    cell.clock.advance(start + timedelta(hours=1, microseconds=400) - cell.clock.now())
    crew = {key: Member(m.username, m.delegation, login(client, m.username)) for key, m in crew.items()}
    client.post(f"/api/v1/activities/{sy['id']}/end", json={}, headers=crew["sy"].headers).raise_for_status()
    after = start + timedelta(hours=1, microseconds=200)  # 0.2 ms before it ended
    window = {"start": after.isoformat(), "end": (after + timedelta(hours=2)).isoformat()}
    r = client.post("/api/v1/activities/check", json=activity(**window), headers=crew["il"].headers)
    assert [c["other_activity"] for c in r.json()["conflicts"] if c["kind"] == "activity"] == [sy["id"]]
    later = start + timedelta(hours=1, microseconds=400)  # the instant it ended: the window is half-open
    window = {"start": later.isoformat(), "end": (later + timedelta(hours=2)).isoformat()}
    r = client.post("/api/v1/activities/check", json=activity(**window), headers=crew["il"].headers)
    assert [c for c in r.json()["conflicts"] if c["kind"] == "activity"] == []

"""Redacted releases, recalls and sightings: each reaches every recipient as STIX versions do, and a sighting
reaches them without its reporter."""

from __future__ import annotations

from fusioncell.intel.models import IntelItem, IntelObject
from tests.conftest import ledger_size, table_count
from tests.intel.stixdata import identity, indicator
from tests.intel.test_release import released, submit


def ipv4(value: str = "198.51.100.7") -> dict:
    import uuid

    return {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{uuid.uuid5(uuid.NAMESPACE_URL, value)}",
        "value": value,
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }


def test_a_redacted_release_is_a_new_version_without_what_was_redacted(client, cell, crew) -> None:
    us = crew["us"]
    source = indicator(description="Seen by our observation post OP-7 at 04:10", name="Uplink")
    other = indicator(name="Second uplink")
    item = submit(client, crew["sy_analyst"], [source, other]).json()
    before = ledger_size(cell), table_count(cell, IntelObject)
    for bad in (
        [{"id": source["id"], "remove": ["pattern"]}],  # pattern is required: the result would not be STIX
        [{"id": source["id"], "remove": ["id"]}],
        [{"id": "indicator--00000000-0000-4000-8000-000000000000", "remove": ["description"]}],
        [{"id": source["id"], "remove": ["description"]}, {"id": source["id"], "remove": ["name"]}],
    ):
        r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint", "redactions": bad},
                        headers=us.headers)  # fmt: skip
        assert r.status_code == 422, (bad, r.text)
    assert (ledger_size(cell), table_count(cell, IntelObject)) == before
    redactions = [{"id": source["id"], "remove": ["description"], "replace": {"name": "Uplink (source withheld)"}}]
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint", "redactions": redactions},
                    headers=us.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["state"] == "redacted", r.text
    objects = {o["id"]: o for o in released(client, crew["il"])}
    redacted = objects[source["id"]]
    assert "description" not in redacted and redacted["name"] == "Uplink (source withheld)"
    assert redacted["modified"] > source["modified"] and redacted["created"] == source["created"]
    assert "OP-7" not in str(objects)
    assert objects[other["id"]] == other  # not named: released whole


def test_a_recall_reaches_every_recipient(client, cell, crew) -> None:
    us = crew["us"]
    author = identity()
    sent = indicator(author=author)
    item = submit(client, crew["sy_analyst"], [author, sent, ipv4()]).json()
    r = client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "x"}, headers=us.headers)
    assert r.status_code == 409  # not released yet
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    assert {o["type"] for o in released(client, crew["il"])} == {"identity", "indicator", "ipv4-addr"}
    assert client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "Source retracted"},
                       headers=crew["sy_analyst"].headers).status_code == 403  # fmt: skip
    r = client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "Source retracted"}, headers=us.headers)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    for reader in (crew["il"], crew["undof"]):
        versions = [o for o in released(client, reader) if o["id"] == sent["id"]]
        assert [v.get("revoked", False) for v in versions] == [False, True]  # the recall is the newest version
        assert versions[1]["modified"] > versions[0]["modified"]
        assert all(o["type"] != "ipv4-addr" for o in released(client, reader))  # no versions: no longer served
        assert any(o["type"] == "identity" for o in released(client, reader))  # the mediator's: not recalled
    again = client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "again"}, headers=us.headers)
    assert again.status_code == 409


def test_a_sighting_reaches_the_audience_without_its_reporter(client, cell, crew) -> None:
    """Reported, a sighting is an item before the mediator like any submission; released, it reaches the object's
    audience as the mediator's, dated at its release: neither its source nor its time points at the report."""
    from datetime import timedelta

    from fusioncell.intel.stix import stamp_text

    us = crew["us"]
    sent = indicator()
    item = submit(client, crew["sy_analyst"], [sent]).json()
    # nothing to sight before it is released (it is not yet anything IL or SY reads as released)
    r = client.post("/api/v1/intel/sightings", json={"sighting_of": sent["id"]}, headers=crew["sy_analyst"].headers)
    assert r.status_code == 404
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    items = table_count(cell, IntelItem)
    reported_at = cell.clock.now()
    r = client.post(
        "/api/v1/intel/sightings",
        json={
            "sighting_of": sent["id"],
            "count": 3,
            "first_seen": "2026-03-02T04:00:00Z",
            "description": "Twice at dawn",
        },
        headers=crew["sy_analyst"].headers,
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["kind"] == "sighting" and report["state"] == "submitted" and report["delegation"] == "SY"
    [reported] = report["objects"]
    assert table_count(cell, IntelItem) == items + 1
    # the entry that names the reporter is read by the reporter's delegation and the mediator only, and its
    # header, which every member reads, is that of any submission
    index = ledger_size(cell) - 1
    assert client.get(f"/api/v1/ledger/entries/{index}/content", headers=crew["il"].headers).status_code == 404
    assert client.get(f"/api/v1/ledger/entries/{index}/content", headers=us.headers).status_code == 200
    headers = client.get(f"/api/v1/ledger/entries?start={index}", headers=crew["il"].headers).json()["items"]
    assert [(e["action"], e["subject"]) for e in headers] == [(None, None)]
    headers = client.get(f"/api/v1/ledger/entries?start={index}", headers=us.headers).json()["items"]
    assert [(e["action"], e["subject"]) for e in headers] == [("intel.submitted", f"intel-submission:{report['id']}")]
    # nothing reaches IL before the mediator releases it; the reporter's own delegation sees its item's state
    assert [o for o in released(client, crew["il"]) if o["type"] == "sighting"] == []
    assert client.get(f"/api/v1/intel/items/{report['id']}", headers=crew["il"].headers).status_code == 404
    assert client.get(f"/api/v1/intel/items/{report['id']}", headers=crew["sy"].headers).json()["state"] == "submitted"
    queue = client.get("/api/v1/intel/items?state=submitted", headers=us.headers).json()["items"]
    assert [i["id"] for i in queue if i["kind"] == "sighting"] == [report["id"]]
    # not to readers who were never given the object it sights (it went to joint: any audience within will do)
    private = indicator(name="For SY alone")
    elsewhere = submit(client, crew["sy_analyst"], [private]).json()
    client.post(f"/api/v1/intel/items/{elsewhere['id']}/release", json={"audience": "mediated:SY"},
                headers=us.headers)  # fmt: skip
    pointed = {
        "audience": "joint",
        "redactions": [{"id": reported["id"], "replace": {"sighting_of_ref": private["id"]}}],
    }
    before = ledger_size(cell), table_count(cell, IntelObject)
    for body in ({"audience": "mediated:XX"}, pointed):
        r = client.post(f"/api/v1/intel/items/{report['id']}/release", json=body, headers=us.headers)
        assert r.status_code in (409, 422), r.text
    assert r.status_code == 409 and r.json()["field"] == "audience", r.text
    assert (ledger_size(cell), table_count(cell, IntelObject)) == before
    # the mediator releases it later: the sighting is dated then, not when it was reported
    cell.clock.advance(timedelta(hours=2, minutes=17))
    r = client.post(f"/api/v1/intel/items/{report['id']}/release", json={"audience": "joint"}, headers=us.headers)
    assert r.status_code == 200, r.text
    [sighting] = [o for o in released(client, crew["il"]) if o["type"] == "sighting"]
    assert sighting["id"] == reported["id"] and sighting["count"] == 3 and sighting["description"] == "Twice at dawn"
    assert sighting["created"] == sighting["modified"] == stamp_text(cell.clock.now()) != stamp_text(reported_at)
    assert sighting["created_by_ref"] != sent.get("created_by_ref") and "where_sighted_refs" not in sighting
    assert sighting["created_by_ref"] == next(o["id"] for o in released(client, crew["il"]) if o["type"] == "identity")
    assert "sy." not in str(sighting) and "SY" not in str(sighting)
    # a liaison (no analyst role) reports nothing; an unknown object is not found
    assert client.post("/api/v1/intel/sightings", json={"sighting_of": sent["id"]},
                       headers=crew["sy"].headers).status_code == 403  # fmt: skip
    unknown = {"sighting_of": "indicator--00000000-0000-4000-8000-000000000000"}
    assert client.post("/api/v1/intel/sightings", json=unknown, headers=crew["sy_analyst"].headers).status_code == 404


def test_a_sighting_may_go_to_any_audience_given_the_object(client, cell, crew) -> None:
    us = crew["us"]
    sent = indicator()
    item = submit(client, crew["sy_analyst"], [sent]).json()
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    for audience in ("mediated:IL", "mediator"):
        report = client.post("/api/v1/intel/sightings", json={"sighting_of": sent["id"], "count": 1},
                             headers=crew["sy_analyst"].headers).json()  # fmt: skip
        r = client.post(f"/api/v1/intel/items/{report['id']}/release", json={"audience": audience}, headers=us.headers)
        assert r.status_code == 200, (audience, r.text)
    assert len([o for o in released(client, crew["il"]) if o["type"] == "sighting"]) == 1


def test_sighting_times_need_their_offset_and_a_year_in_range(client, cell, crew) -> None:
    us = crew["us"]
    sent = indicator()
    item = submit(client, crew["sy_analyst"], [sent]).json()
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    before = ledger_size(cell), table_count(cell, IntelItem)
    for name, moment in (("first_seen", "0001-01-01T00:00:00+01:00"), ("last_seen", "9999-12-31T23:59:59-01:00"),
                         ("first_seen", "2026-03-02T04:00:00")):  # fmt: skip
        r = client.post("/api/v1/intel/sightings", json={"sighting_of": sent["id"], name: moment},
                        headers=crew["sy_analyst"].headers)  # fmt: skip
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert name in r.text
    assert (ledger_size(cell), table_count(cell, IntelItem)) == before


def test_the_mediator_may_withhold_the_reporters_words(client, cell, crew) -> None:
    us = crew["us"]
    sent = indicator()
    item = submit(client, crew["sy_analyst"], [sent]).json()
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    report = client.post("/api/v1/intel/sightings", json={"sighting_of": sent["id"], "description": "From OP-7"},
                         headers=crew["sy_analyst"].headers).json()  # fmt: skip
    [reported] = report["objects"]
    r = client.post(
        f"/api/v1/intel/items/{report['id']}/release",
        json={"audience": "joint", "redactions": [{"id": reported["id"], "remove": ["description"]}]},
        headers=us.headers,
    )
    assert r.status_code == 200, r.text
    [sighting] = [o for o in released(client, crew["il"]) if o["type"] == "sighting"]
    assert "description" not in sighting and "OP-7" not in str(released(client, crew["il"]))


def test_a_sighting_is_marked_as_the_most_restrictive_copy_its_reporter_reads(client, cell, crew) -> None:
    from fusioncell.intel.markings import Tlp

    us = crew["us"]
    sent = indicator()
    for audience, tlp in (("joint", None), ("mediated:SY", "amber")):
        item = submit(client, crew["sy_analyst"], [sent], share_identity=audience != "joint").json()
        body = {"audience": audience, **({"tlp": tlp} if tlp else {})}
        assert (
            client.post(f"/api/v1/intel/items/{item['id']}/release", json=body, headers=us.headers).status_code == 200
        )
    report = client.post("/api/v1/intel/sightings", json={"sighting_of": sent["id"]},
                         headers=crew["sy_analyst"].headers).json()  # fmt: skip
    assert report["tlp"] == Tlp.AMBER.label
    assert report["objects"][0]["object_marking_refs"] == [Tlp.AMBER.marking_id]

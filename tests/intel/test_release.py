"""Intelligence goes from a party to the mediator, and from the mediator to the audience it releases it to:
never further, never earlier, never with a lower marking, and without the submitter's identity unless allowed."""

from __future__ import annotations

import json
import uuid

import pytest

from fusioncell.intel.markings import Tlp, tlp_of
from fusioncell.intel.models import IntelItem, IntelObject
from tests.conftest import add_user, ledger_size, login, table_count
from tests.intel.stixdata import bundle, identity, indicator
from tests.traffic.helpers import StreamReader


def submit(client, member, stix, **extra):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/intel/items", json={"stix": stix, **extra}, headers=member.headers)


def released(client, member) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/intel/objects?limit=1000", headers=member.headers)
    assert r.status_code == 200, r.text
    return r.json()["objects"]


def test_nothing_reaches_the_other_party_before_release(client, cell, crew) -> None:
    sy, il, us = crew["sy_analyst"], crew["il"], crew["us"]
    author = identity()
    secret = indicator(author=author, name="Hidden launcher at grid 37S")
    r = submit(client, sy, bundle(author, secret))
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["state"] == "submitted" and item["tlp"] == "TLP:GREEN" and item["summary"] == "identity, indicator"

    # before release: IL reads nothing of it on any path
    assert released(client, il) == []
    assert client.get(f"/api/v1/intel/items/{item['id']}", headers=il.headers).status_code == 404
    assert client.get("/api/v1/intel/items", headers=il.headers).json()["items"] == []
    entry = client.get(f"/api/v1/ledger/entries/{item['ledger_index']}/content", headers=il.headers)
    assert entry.status_code == 404
    with client.websocket_connect("/api/v1/stream?after=-1", headers=il.headers) as ws:
        stream = StreamReader(ws)
        stream.replay()
    for secret_text in ("Hidden launcher", secret["id"], author["id"], "sy.analyst"):
        assert secret_text not in str(stream.frames), secret_text
    # the submitting delegation follows its status; the mediator has it in the queue
    assert [i["id"] for i in client.get("/api/v1/intel/items", headers=crew["sy"].headers).json()["items"]] == [
        item["id"]
    ]
    queue = client.get("/api/v1/intel/items?state=submitted", headers=us.headers).json()["items"]
    assert [i["id"] for i in queue] == [item["id"]]
    shown = client.get(f"/api/v1/intel/items/{item['id']}", headers=us.headers).json()
    assert shown["objects"][1]["name"] == "Hidden launcher at grid 37S"

    # released to the joint audience: IL and the joint-reading observer receive it, with the mediator as source
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "released" and r.json()["released_tlp"] == "TLP:GREEN"
    for reader in (il, crew["undof"], sy):
        objects = released(client, reader)
        by_type = {o["type"]: o for o in objects}
        assert set(by_type) == {"identity", "indicator"}
        assert by_type["indicator"]["id"] == secret["id"]
        assert by_type["indicator"]["created_by_ref"] == by_type["identity"]["id"] != author["id"]
        assert author["name"] not in str(objects)
    # the administrator reads no content
    assert released(client, crew["sy_admin"]) == []


def test_the_submitter_may_let_its_identity_through(client, cell, crew) -> None:
    author = identity()
    item = submit(client, crew["sy_analyst"], [author, indicator(author=author)], share_identity=True).json()
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=crew["us"].headers)
    objects = released(client, crew["il"])
    assert {o["id"] for o in objects} >= {author["id"]}
    assert next(o for o in objects if o["type"] == "indicator")["created_by_ref"] == author["id"]


def test_a_resend_is_a_no_op_but_a_new_choice_about_identity_is_a_new_item(client, cell, crew) -> None:
    author = identity()
    content = [author, indicator(author=author)]
    first = submit(client, crew["sy_analyst"], content)
    assert first.status_code == 201, first.text
    entries = ledger_size(cell)
    resent = submit(client, crew["sy_analyst"], content)
    assert resent.json()["id"] == first.json()["id"] and ledger_size(cell) == entries
    shared = submit(client, crew["sy_analyst"], content, share_identity=True)
    assert shared.status_code == 201 and shared.json()["id"] != first.json()["id"], shared.text
    assert shared.json()["share_identity"] is True and ledger_size(cell) == entries + 1
    assert submit(client, crew["sy_analyst"], content, share_identity=True).json()["id"] == shared.json()["id"]


def test_a_draft_is_the_delegations_own_until_it_submits_it(client, cell, crew) -> None:
    sy, us, il = crew["sy_analyst"], crew["us"], crew["il"]
    entries = ledger_size(cell)
    r = submit(client, sy, [indicator(name="First thought")], draft=True)
    assert r.status_code == 201 and r.json()["state"] == "draft", r.text
    draft = r.json()
    assert ledger_size(cell) == entries + 1
    # the mediator's queue and pages do not hold it, nor does the other party's; the delegation's do
    for reader in (us, il):
        assert client.get(f"/api/v1/intel/items/{draft['id']}", headers=reader.headers).status_code == 404
        items = client.get("/api/v1/intel/items", headers=reader.headers).json()["items"]
        assert draft["id"] not in [i["id"] for i in items]
    assert client.get(f"/api/v1/intel/items/{draft['id']}", headers=crew["sy"].headers).json()["state"] == "draft"
    for act, body in (("release", {"audience": "joint"}), ("decline", {"reason": "x"}), ("revoke", {"reason": "x"})):
        assert client.post(f"/api/v1/intel/items/{draft['id']}/{act}", json=body, headers=us.headers).status_code == 404
    # revised: the content is checked as a submission's (a bad one changes nothing), then replaced
    before = ledger_size(cell)
    bad = client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": indicator(pattern="[x")}, headers=sy.headers)
    assert bad.status_code == 422 and ledger_size(cell) == before
    revised = indicator(name="Second thought")
    r = client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": [revised]}, headers=sy.headers)
    assert r.status_code == 200 and r.json()["summary"] == "indicator", r.text
    from tests.conftest import TEST_PASSWORD, add_user, bearer

    add_user(cell, "il.analyst", "IL", "liaison", "analyst")
    token = client.post("/api/v1/auth/token", json={"username": "il.analyst", "password": TEST_PASSWORD}).json()
    il_analyst = bearer(token["access_token"])
    assert client.get(f"/api/v1/intel/items/{draft['id']}", headers=il_analyst).status_code == 404
    for path in ("submit", "discard"):  # another delegation's analyst: not its draft to touch
        assert client.post(f"/api/v1/intel/items/{draft['id']}/{path}", headers=il_analyst).status_code == 404
    assert client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": [revised]},
                      headers=il_analyst).status_code == 404  # fmt: skip
    for other, status in ((crew["il"], 403), (crew["sy"], 403)):  # no analyst: neither revises, nor submits
        assert client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": [revised]},
                          headers=other.headers).status_code == status  # fmt: skip
        assert client.post(f"/api/v1/intel/items/{draft['id']}/submit", headers=other.headers).status_code == status
    # submitted: now the mediator's to decide, and no longer a draft to change
    r = client.post(f"/api/v1/intel/items/{draft['id']}/submit", headers=sy.headers)
    assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
    assert r.json()["ledger_index"] == ledger_size(cell) - 1  # its entry is the submission's
    assert client.get(f"/api/v1/intel/items/{draft['id']}", headers=us.headers).json()["objects"] == [revised]
    assert client.post(f"/api/v1/intel/items/{draft['id']}/submit", headers=sy.headers).status_code == 409
    assert client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": [revised]},
                      headers=sy.headers).status_code == 409  # fmt: skip
    # a draft of exactly that content could never be submitted: refused, as a draft or a revision, changing nothing
    before = ledger_size(cell), table_count(cell, IntelItem)
    r = submit(client, sy, [revised], draft=True)
    assert r.status_code == 409 and str(draft["id"]) in r.json()["detail"], r.text
    again = submit(client, sy, [indicator(name="Third thought")], draft=True).json()
    r = client.put(f"/api/v1/intel/items/{again['id']}", json={"stix": [revised]}, headers=sy.headers)
    assert r.status_code == 409 and str(draft["id"]) in r.json()["detail"], r.text
    assert (ledger_size(cell), table_count(cell, IntelItem)) == (before[0] + 1, before[1] + 1)  # "Third" alone
    r = client.post(f"/api/v1/intel/items/{again['id']}/discard", headers=sy.headers)
    assert r.status_code == 200 and r.json()["state"] == "discarded"
    # the headers every member reads say only that SY's home audience wrote entries, not what they were
    theirs = [e for e in client.get(f"/api/v1/ledger/entries?start={entries}", headers=il.headers).json()["items"]
              if e["audience"] == "mediated:SY"]  # fmt: skip
    assert len(theirs) == 5 and all((e["action"], e["subject"], e["actor_delegation"]) == (None, None, None)
                                    for e in theirs)  # fmt: skip
    # and SY's own headers say a draft was worked on, not which, how often, or that one was dropped
    headers = [e for e in client.get(f"/api/v1/ledger/entries?start={entries}", headers=sy.headers).json()["items"]
               if e["action"] and e["action"].startswith("intel.")]  # fmt: skip
    assert [e["action"] for e in headers] == ["intel.draft"] * 2 + ["intel.submitted"] + ["intel.draft"] * 2
    drafts = [e["subject"] for e in headers if e["action"] == "intel.draft"]
    for entry in (e for e in headers if e["action"] == "intel.draft"):  # their contents: SY's and the mediator's
        path = f"/api/v1/ledger/entries/{entry['index']}/content"
        assert client.get(path, headers=il.headers).status_code == 404
        assert client.get(path, headers=crew["sy"].headers).status_code == 200
    assert len(set(drafts)) == 4 and all(uuid.UUID(d.removeprefix("intel-draft:")) for d in drafts)  # not the item


def test_markings_keep_or_rise_never_fall(client, cell, crew) -> None:
    us = crew["us"]
    amber = submit(client, crew["sy_analyst"], indicator(Tlp.AMBER)).json()
    before = ledger_size(cell), table_count(cell, IntelObject)
    for lower in ("clear", "TLP:GREEN", "white"):
        r = client.post(f"/api/v1/intel/items/{amber['id']}/release", json={"audience": "joint", "tlp": lower},
                        headers=us.headers)  # fmt: skip
        assert r.status_code == 409 and "not lower it" in r.json()["detail"], r.text
    assert (ledger_size(cell), table_count(cell, IntelObject)) == before
    assert client.get(f"/api/v1/intel/items/{amber['id']}", headers=us.headers).json()["state"] == "submitted"
    r = client.post(f"/api/v1/intel/items/{amber['id']}/release", json={"audience": "joint", "tlp": "amber+strict"},
                    headers=us.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["released_tlp"] == "TLP:AMBER+STRICT"
    [obj] = released(client, crew["il"])
    assert tlp_of(obj) is Tlp.AMBER_STRICT and obj["object_marking_refs"] == [Tlp.AMBER_STRICT.marking_id]


def test_red_goes_to_named_recipients_only(client, cell, crew) -> None:
    us = crew["us"]
    red = submit(client, crew["sy_analyst"], indicator(Tlp.RED)).json()
    r = client.post(f"/api/v1/intel/items/{red['id']}/release", json={"audience": "joint"}, headers=us.headers)
    assert r.status_code == 409 and "named recipients" in r.json()["detail"]
    raised = submit(client, crew["sy_analyst"], indicator(Tlp.GREEN)).json()
    r = client.post(f"/api/v1/intel/items/{raised['id']}/release", json={"audience": "joint", "tlp": "red"},
                    headers=us.headers)  # fmt: skip
    assert r.status_code == 409
    r = client.post(f"/api/v1/intel/items/{red['id']}/release", json={"audience": "mediated:IL"}, headers=us.headers)
    assert r.status_code == 200, r.text
    assert [tlp_of(o) for o in released(client, crew["il"])] == [Tlp.RED]
    assert released(client, crew["undof"]) == [] and released(client, crew["sy_analyst"]) == []


def test_decline_with_a_reason_for_the_submitter(client, cell, crew) -> None:
    us, sy = crew["us"], crew["sy_analyst"]
    item = submit(client, sy, indicator()).json()
    assert client.post(f"/api/v1/intel/items/{item['id']}/decline", json={"reason": ""},
                       headers=us.headers).status_code == 422  # fmt: skip
    reason = "Duplicates item 3; stale since 04:00."
    r = client.post(f"/api/v1/intel/items/{item['id']}/decline", json={"reason": reason}, headers=us.headers)
    assert r.status_code == 200 and r.json()["state"] == "declined"
    mine = client.get(f"/api/v1/intel/items/{item['id']}", headers=sy.headers).json()
    assert mine["state"] == "declined" and mine["reason"] == reason
    again = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=us.headers)
    assert again.status_code == 409 and again.json()["state"] == "declined"
    assert released(client, crew["il"]) == []


def test_who_may_do_what(client, cell, crew) -> None:
    add_user(cell, "il.analyst", "IL", "analyst")
    il_analyst = login(client, "il.analyst")
    headers = {"Authorization": f"Bearer {il_analyst}"}
    assert submit(client, crew["sy"], indicator()).status_code == 403  # a liaison is not an analyst
    item = submit(client, crew["sy_analyst"], indicator()).json()
    # a party's analyst may neither read the other party's submission nor release anything
    assert client.get(f"/api/v1/intel/items/{item['id']}", headers=headers).status_code == 404
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=headers)
    assert r.status_code == 403
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"},
                    headers=crew["sy_analyst"].headers)  # fmt: skip
    assert r.status_code == 403
    assert client.post("/api/v1/intel/items/999999/release", json={"audience": "joint"},
                       headers=crew["us"].headers).status_code == 404  # fmt: skip
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "mediated:XX"},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pattern": None}, "pattern"),
        ({"id": "indicator--not-a-uuid"}, "id"),
        ({"created": "yesterday at noon"}, "created"),
        ({"type": "x-launcher", "id": "x-launcher--0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b"}, "type"),
        ({"pattern": "[ipv4-addr:value = "}, "pattern"),
        ({"object_marking_refs": None}, "object_marking_refs"),
        ({"colour": "red"}, "colour"),
        ({"spec_version": "2.0"}, "spec_version"),
        ({"revoked": "true"}, "revoked"),  # stix2 would take it as true; it is served as sent
    ],
)
def test_invalid_stix_is_refused_by_object_and_field(client, cell, crew, change, field) -> None:
    good, bad = indicator(), indicator(**change)
    before = ledger_size(cell), table_count(cell, IntelItem)
    r = submit(client, crew["sy_analyst"], bundle(good, bad))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    [error] = r.json()["errors"]
    assert error["pointer"] == f"/stix/objects/1/{field}" and error["field"] == f"stix.objects.1.{field}", error
    assert error["reason"].startswith(bad["id"] if field != "id" else "indicator--not-a-uuid"), error
    assert (ledger_size(cell), table_count(cell, IntelItem)) == before


def test_shapes_that_are_not_stix(client, cell, crew) -> None:
    before = ledger_size(cell), table_count(cell, IntelItem)
    for stix in ([], {"type": "bundle", "objects": []}, "indicator", [17], {"type": "bundle"}):
        r = submit(client, crew["sy_analyst"], stix)
        assert r.status_code == 422, (stix, r.text)
    assert (ledger_size(cell), table_count(cell, IntelItem)) == before


def test_evidence_bundles_carry_an_item_only_to_its_audience(client, cell, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.web.witnesses import witness_both_parties

    checkpointer, _ = witness_both_parties(cell, tmp_path)
    author = identity("SY desk Quneitra")
    secret = indicator(author=author, name="Hidden launcher")
    item = submit(client, crew["sy_analyst"], [author, secret]).json()
    checkpointer.tick()  # both parties' witnesses cosign: the entries are under a final checkpoint
    subject = f"intel-submission:{item['id']}"
    mine = client.get(f"/api/v1/ledger/evidence?subject={subject}", headers=crew["us"].headers)
    assert mine.status_code == 200, mine.text
    assert secret["id"] in mine.text  # the mediator's bundle opens the entry
    theirs = client.get(f"/api/v1/ledger/evidence?subject={subject}", headers=crew["il"].headers)
    assert theirs.status_code == 404, theirs.text  # no entry about it IL may read: not even their indices
    for secret_text in (secret["id"], author["id"], "sy.analyst", "Hidden launcher"):
        assert secret_text not in theirs.text, secret_text


def test_every_reference_to_the_submitter_is_replaced(client, cell, crew) -> None:
    """Not only created_by_ref: a relationship, a report's object_refs, a sighting's where_sighted_refs."""

    author = identity("SY desk Quneitra")
    target = indicator(author=author)
    stamp = target["created"]
    green = Tlp.GREEN.marking_id
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "relationship_type": "attributed-to",
        "source_ref": target["id"],
        "target_ref": author["id"],
        "object_marking_refs": [green],
    }
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "name": "Weekly",
        "published": stamp,
        "object_refs": [target["id"], author["id"]],
        "object_marking_refs": [green],
    }
    sighting = {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}", "created": stamp,
                "modified": stamp, "sighting_of_ref": target["id"], "where_sighted_refs": [author["id"]],
                "object_marking_refs": [green]}  # fmt: skip
    item = submit(client, crew["sy_analyst"], [author, target, relationship, report, sighting]).json()
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=crew["us"].headers)
    assert r.status_code == 200, r.text
    received = released(client, crew["il"])
    assert author["id"] not in str(received) and "Quneitra" not in str(received)
    mediator = next(o["id"] for o in received if o["type"] == "identity")
    by_type = {o["type"]: o for o in received}
    assert by_type["relationship"]["target_ref"] == mediator
    assert by_type["report"]["object_refs"] == [target["id"], mediator]
    assert by_type["sighting"]["where_sighted_refs"] == [mediator]


def test_reserved_and_malformed_content_is_refused(client, cell, crew) -> None:
    before = ledger_size(cell), table_count(cell, IntelItem)
    mediator = client.get("/api/v1/intel/objects", headers=crew["il"].headers)  # nothing yet; the id is derived
    assert mediator.status_code == 200
    from fusioncell.intel.service import mediator_identity

    forged = {**mediator_identity(cell), "modified": "2026-06-01T00:00:00.000Z", "name": "Mediator (forged)"}
    red_definition = {"type": "marking-definition", "spec_version": "2.1", "id": Tlp.RED.marking_id,
                      "created": "2022-10-01T00:00:00.000Z", "definition_type": "statement",
                      "definition": {"statement": "actually clear"}}  # fmt: skip
    same_version = indicator()
    cases = [
        [forged],
        [red_definition, indicator()],
        [indicator(extensions=True)],
        [indicator(name="\ud800")],
        [same_version, {**same_version, "modified": same_version["modified"].replace(".000Z", "Z")}],
    ]
    for stix in cases:
        # sent as ASCII JSON: a lone surrogate travels as its \\u escape, as another client would send it
        r = client.post("/api/v1/intel/items", content=json.dumps({"stix": stix}),
                        headers={**crew["sy_analyst"].headers, "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 422, (stix, r.text)
    assert (ledger_size(cell), table_count(cell, IntelItem)) == before

"""Who may version an object, and the range of its timestamps: a party makes no new version of another party's
object (refused where it reads that object, stopped at the mediator's release where it does not, so that the
refusal confirms nothing it may not read); the mediator's review shows whose object a new version supersedes and
what it changes; no version is dated past the cell's clock, and whatever is stored can still be recalled and
redacted."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

from sqlalchemy import update

from fusioncell.intel import stix
from fusioncell.intel.markings import Tlp
from fusioncell.intel.models import IntelItem, IntelObject, IntelOwner, IntelVersion
from fusioncell.intel.stix import stamp_text
from tests.conftest import add_user, bearer, ledger_size, login, table_count
from tests.intel.stixdata import CREATED, bundle, indicator
from tests.intel.test_taxii import ROOT, TAXII, add, basic, collections
from tests.web.pages import browser, signed_in

END_OF_TIME = "9999-12-31T23:59:59.999Z"


def submit(client, headers, stix_content, **extra):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/intel/items", json={"stix": stix_content, **extra}, headers=headers)


def release(client, crew, item_id: int, audience: str = "joint", **extra):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/intel/items/{item_id}/release", json={"audience": audience, **extra}, headers=crew["us"].headers
    )


def il_analyst(client, cell) -> dict[str, str]:  # type: ignore[no-untyped-def]
    add_user(cell, "il.analyst", "IL", "analyst")
    return bearer(login(client, "il.analyst"))


def released(client, headers) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/intel/objects?limit=1000", headers=headers)
    assert r.status_code == 200, r.text
    return {o["id"]: o for o in r.json()["objects"]}


def later(obj: dict, minutes: int, **changes) -> dict:  # type: ignore[no-untyped-def]
    """A new version of the object, `minutes` after its current one."""
    moment = stix.stix_time(obj["modified"]) + timedelta(minutes=minutes)
    return {k: v for k, v in {**obj, "modified": stamp_text(moment), **changes}.items() if v is not None}


def written(cell) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple(table_count(cell, t) for t in (IntelItem, IntelVersion, IntelObject)) + (ledger_size(cell),)


def test_a_party_cannot_version_an_object_released_to_it_by_another(client, cell, crew) -> None:
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    original = indicator(name="Launcher at grid 37S", description="Seen twice at dawn")
    item = submit(client, il, [original]).json()
    assert release(client, crew, item["id"]).status_code == 200
    assert released(client, crew["sy"].headers)[original["id"]]["name"] == "Launcher at grid 37S"

    hijack = later(original, 30, name="Launcher withdrawn", description=None)
    before = written(cell)
    for body, extra, where in (
        ([hijack], {}, "/stix/0/id"),
        (bundle(hijack), {}, "/stix/objects/0/id"),
        ([indicator(), hijack], {"draft": True}, "/stix/1/id"),
    ):
        r = submit(client, sy, body, **extra)
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json", r.text
        [error] = r.json()["errors"]
        assert error["pointer"] == where and error["code"] == "another-delegations-object"
        assert original["id"] in error["reason"] and r.json()["objects"] == [original["id"]]
        assert "IL" not in r.text and "il.analyst" not in r.text  # the first submitter stays unnamed
    # over TAXII, and by revising a draft into it
    submissions = collections(client, basic("sy.analyst"))["SY submissions"]["id"]
    r = add(client, basic("sy.analyst"), submissions, [hijack])
    assert r.status_code == 409 and r.headers["content-type"] == TAXII and original["id"] in r.text
    draft = submit(client, sy, [indicator()], draft=True).json()
    drafted = written(cell)
    r = client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": [hijack]}, headers=sy)
    assert r.status_code == 409 and original["id"] in r.text
    assert written(cell) == drafted and drafted[0] == before[0] + 1  # the draft alone was written

    # the delegation that first submitted it, and the mediator, may version it
    own = later(original, 30, name="Launcher moved to grid 38S")
    assert submit(client, il, [own]).status_code == 201
    joint = collections(client, basic("us.mediator"))["Joint"]["id"]
    assert add(client, basic("us.mediator"), joint, [later(original, 60, confidence=80)]).status_code == 202
    current = released(client, crew["sy"].headers)[original["id"]]
    assert current["confidence"] == 80 and current["name"] == "Launcher at grid 37S"


def test_a_party_that_does_not_read_the_object_learns_nothing_and_the_mediator_cannot_release_it(
    client, cell, crew
) -> None:
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    hidden = indicator(name="Observation post east of the ridge")
    il_item = submit(client, il, [hidden]).json()  # under review: SY reads nothing of it

    # SY's version of it is answered as a new id would be: the answer says nothing of IL's object
    guessed = later(hidden, 5, name="Observation post (our copy)")
    fresh = indicator(name="Observation post (our copy)")
    answers = [submit(client, sy, [o]) for o in (guessed, fresh)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json().keys() == answers[1].json().keys() and answers[0].json()["state"] == "submitted"
    assert "IL" not in answers[0].text and "Observation post east" not in answers[0].text
    item = answers[0].json()

    # neither is released: the object is no one's yet, and the mediator's review of each names the other
    us = signed_in(browser(client), "us.mediator")
    for mine, theirs, by in ((item, il_item, "IL"), (il_item, item, "SY")):
        page = us.get(f"/intel/{mine['id']}").text
        assert "none of its submissions is released yet" in page and 'data-testid="not-theirs"' not in page
        assert f'data-testid="rival" data-delegation="{by}"' in page and f'href="/intel/{theirs["id"]}"' in page
        assert '<button type="submit">Release</button>' in page

    # the mediator releases IL's: the object is IL's, and SY's version of it can no longer be released
    assert release(client, crew, il_item["id"], audience="mediated:IL").status_code == 200
    before = written(cell)
    r = release(client, crew, item["id"])
    assert r.status_code == 409 and hidden["id"] in r.json()["detail"] and "first submitted by IL" in r.json()["detail"]
    assert r.json()["objects"] == {hidden["id"]: "IL"}
    assert written(cell) == before
    page = us.get(f"/intel/{item['id']}")
    assert "New version of an object first submitted by IL" in page.text and 'data-testid="rival"' not in page.text
    assert 'data-testid="not-theirs"' in page.text and f'href="/intel/{il_item["id"]}"' in page.text
    assert '<button type="submit" disabled>Release</button>' in page.text  # not offered: it would be refused
    # SY's own page of its item shows nothing of IL's
    own = signed_in(browser(client), "sy.analyst").get(f"/intel/{item['id']}")
    assert own.status_code == 200 and 'data-testid="supersession"' not in own.text
    assert "Observation post east" not in own.text and f'/intel/{il_item["id"]}"' not in own.text


def test_a_submission_claims_no_object_until_it_is_released(client, cell, crew) -> None:
    """A party cannot hold an id the other party will use by submitting it first: a pending or declined
    submission makes the object no one's."""
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    # identities are often given ids made from their names, so the other party can send one first
    unit = {
        "type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid5(uuid.NAMESPACE_DNS, 'golani')}",
        "created": CREATED, "modified": CREATED, "name": "Golani Brigade", "identity_class": "organization",
        "object_marking_refs": [Tlp.GREEN.marking_id],
    }  # fmt: skip
    squatted = submit(client, sy, [later(unit, 1, name="Golani Brigade (withdrawn)")]).json()
    first = submit(client, il, [unit]).json()
    r = client.post(f"/api/v1/intel/items/{squatted['id']}/decline", json={"reason": "Not SY's to describe"},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert release(client, crew, first["id"], audience="mediated:IL").status_code == 200
    assert released(client, crew["il"].headers)[unit["id"]]["name"] == "Golani Brigade"
    # and the first released decides, whoever submitted first: here SY's later one is now refused
    again = submit(client, sy, [later(unit, 2, name="Golani Brigade (moved)")]).json()
    assert release(client, crew, again["id"]).json()["objects"] == {unit["id"]: "IL"}


def test_a_party_may_send_another_partys_object_unchanged(client, cell, crew) -> None:
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    original = indicator(name="Rocket cache near the dam")
    assert release(client, crew, submit(client, il, [original]).json()["id"]).status_code == 200
    as_read = released(client, sy)[original["id"]]  # as SY received it: the mediator's, marked
    relationship = {
        "type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
        "created": as_read["modified"], "modified": as_read["modified"], "relationship_type": "related-to",
        "source_ref": as_read["id"], "target_ref": as_read["id"], "object_marking_refs": [Tlp.GREEN.marking_id],
    }  # fmt: skip
    item = submit(client, sy, bundle(as_read, relationship))
    assert item.status_code == 201, item.text
    page = signed_in(browser(client), "us.mediator").get(f"/intel/{item.json()['id']}").text
    assert 'data-order="same"' in page and 'data-testid="no-changes"' in page and 'data-testid="not-theirs"' not in page
    assert release(client, crew, item.json()["id"]).status_code == 200
    # the same version with anything changed is a new version under an old name: refused
    before = written(cell)
    for changed in ({**as_read, "name": "Rocket cache (empty)"}, {**as_read, "confidence": 5}):
        r = submit(client, sy, [changed])
        assert r.status_code == 409 and r.json()["errors"][0]["code"] == "another-delegations-object", r.text
    assert written(cell) == before


def test_the_review_compares_with_what_readers_hold(client, cell, crew) -> None:
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    first = indicator(name="Checkpoint on route 98", description="Two vehicles")
    first_item = submit(client, sy, [first]).json()
    assert release(client, crew, first_item["id"], audience="mediated:SY").status_code == 200
    # IL does not read it, so its guessed version goes before the mediator, dated later than SY's next one
    guessed = submit(client, il, [later(first, 60, name="Checkpoint removed")]).json()
    item = submit(client, sy, [later(first, 30, description="Four vehicles")]).json()
    page = signed_in(browser(client), "us.mediator").get(f"/intel/{item['id']}").text
    assert 'data-order="newer"' in page and 'data-testid="base-state" data-state="released"' in page
    assert f'href="/intel/{first_item["id"]}"' in page and f'href="/intel/{guessed["id"]}"' not in page
    changes = set(re.findall(r'data-property="([^"]+)" data-change="([^"]+)"', page))
    assert changes == {("description", "changed"), ("modified", "changed")}


def test_the_review_shows_what_a_new_version_changes_in_every_language(client, cell, crew) -> None:
    sy = crew["sy_analyst"].headers
    first = indicator(name="Convoy staging yard", description="Trucks at the quarry")
    first_item = submit(client, sy, [first]).json()
    assert release(client, crew, first_item["id"]).status_code == 200
    second = later(first, 90, name="Convoy staging yard (empty)", description=None, confidence=40)
    item = submit(client, sy, [second]).json()

    us = signed_in(browser(client), "us.mediator")
    page = us.get(f"/intel/{item['id']}").text
    assert 'data-testid="supersession"' in page and 'data-order="newer"' in page
    assert "New version of an object first submitted by SY" in page and 'data-testid="not-theirs"' not in page
    assert '<button type="submit">Release</button>' in page
    changes = set(re.findall(r'data-property="([^"]+)" data-change="([^"]+)"', page))
    assert changes == {("name", "changed"), ("modified", "changed"), ("confidence", "added"),
                       ("description", "removed")}  # fmt: skip
    assert "&#34;Trucks at the quarry&#34;" in page and "2026-03-02T05:00:00.000000Z" in page
    assert f'href="/intel/{first_item["id"]}"' in page
    assert 'data-testid="supersession"' not in us.get(f"/intel/{first_item['id']}").text  # the first has none
    for lang, notice, change in (
        ("ar", "نسخة جديدة من كائن قدّمه أولًا SY", "حُذفت"),
        ("he", "גרסה חדשה של אובייקט שהוגש לראשונה על ידי SY", "הוסר"),
    ):
        text = us.get(f"/intel/{item['id']}?lang={lang}").text
        assert notice in text and change in text and "New version of" not in text, lang

    # the same version again, in another item, once the first is released: said so, and nothing differs
    assert release(client, crew, item["id"]).status_code == 200
    again = submit(client, sy, [second, indicator()]).json()
    page = us.get(f"/intel/{again['id']}").text
    assert 'data-order="same"' in page and 'data-testid="no-changes"' in page


def test_timestamps_keep_to_the_cells_range(client, cell, crew) -> None:
    sy = crew["sy_analyst"].headers
    now = cell.clock.now()
    ahead = stamp_text(now + timedelta(days=1, minutes=1))
    certificate = {
        "type": "x509-certificate",
        "spec_version": "2.1",
        "id": f"x509-certificate--{uuid.uuid4()}",
        "serial_number": "01",
        "x509_v3_extensions": {"private_key_usage_period_not_before": "0001-01-01T00:00:00Z"},
        "object_marking_refs": [Tlp.GREEN.marking_id],
    }
    cases = [
        (indicator(modified=END_OF_TIME), "/stix/0/modified"),
        (indicator(created=ahead, modified=ahead, valid_from=ahead), "/stix/0/created"),
        (indicator(created="1969-12-31T23:59:59.000Z"), "/stix/0/created"),
        (indicator(valid_from="0001-01-01T00:00:00Z"), "/stix/0/valid_from"),
        (certificate, "/stix/0/x509_v3_extensions/private_key_usage_period_not_before"),
    ]
    before = written(cell)
    for obj, pointer in cases:
        for extra in ({}, {"draft": True}):
            r = submit(client, sy, [obj], **extra)
            assert r.status_code == 422, (obj, r.text)
            assert pointer in [e["pointer"] for e in r.json()["errors"]], (pointer, r.text)
    submissions = collections(client, basic("sy.analyst"))["SY submissions"]["id"]
    r = add(client, basic("sy.analyst"), submissions, [indicator(modified=END_OF_TIME)])
    assert r.status_code == 422 and r.headers["content-type"] == TAXII and "modified" in r.text
    joint = collections(client, basic("us.mediator"))["Joint"]["id"]
    assert add(client, basic("us.mediator"), joint, [indicator(modified=END_OF_TIME)]).status_code == 422
    assert written(cell) == before

    # within the range: a clock a few hours fast, a certificate that never expires (RFC 5280), a 1970 epoch
    soon = stamp_text(now + timedelta(hours=23))
    fine = [
        indicator(created=soon, modified=soon, valid_from=soon),
        indicator(valid_until="9999-12-31T23:59:59Z"),
        indicator(created="1970-01-01T00:00:00Z", modified="1970-01-01T00:00:00Z", valid_from="1970-01-01T00:00:00Z"),
        {**certificate, "id": f"x509-certificate--{uuid.uuid4()}",
         "x509_v3_extensions": {"private_key_usage_period_not_before": "1900-01-01T00:00:00Z"}},
    ]  # fmt: skip
    for obj in fine:
        assert submit(client, sy, [obj]).status_code == 201, obj


def test_a_sightings_times_keep_to_the_range(client, cell, crew) -> None:
    target = indicator()
    item = submit(client, crew["sy_analyst"].headers, [target]).json()
    assert release(client, crew, item["id"]).status_code == 200
    before = written(cell)
    r = client.post("/api/v1/intel/sightings", json={"sighting_of": target["id"], "first_seen": "1850-01-01T00:00:00Z"},
                    headers=crew["sy_analyst"].headers)  # fmt: skip
    assert r.status_code == 422 and "first_seen" in r.text, r.text
    assert written(cell) == before


def _store_at(cell, item_id: int, stix_id: str, modified: str) -> None:  # type: ignore[no-untyped-def]
    """The object as a cell without bounded timestamps stored it: submitted, and released, at `modified`."""
    with cell.db.engine.begin() as conn:
        item = conn.execute(IntelItem.__table__.select().where(IntelItem.id == item_id)).one()
        objects = [{**o, "modified": modified} if o["id"] == stix_id else o for o in json.loads(item.objects)]
        text = stix.encode(objects)
        conn.execute(
            update(IntelItem).where(IntelItem.id == item_id).values(objects=text, objects_sha256=stix.sha256(text))
        )
        version = stix.version_of({"modified": modified})
        for row in conn.execute(IntelObject.__table__.select().where(IntelObject.stix_id == stix_id)).all():
            raw = json.dumps({**json.loads(row.raw), "modified": modified}, separators=(",", ":"))
            conn.execute(update(IntelObject).where(IntelObject.id == row.id).values(raw=raw, version=version))


def test_an_object_stored_at_the_end_of_time_can_still_be_recalled_and_redacted(client, cell, crew) -> None:
    sy, il = crew["sy_analyst"].headers, crew["il"].headers
    # recalled: a new version with revoked: true, in the last microsecond STIX writes
    stuck = indicator(name="Stuck at the end of time")
    item = submit(client, sy, [stuck]).json()
    assert release(client, crew, item["id"]).status_code == 200
    _store_at(cell, item["id"], stuck["id"], END_OF_TIME)
    assert released(client, il)[stuck["id"]]["modified"] == END_OF_TIME
    r = client.post(
        f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "Wrong grid"}, headers=crew["us"].headers
    )
    assert r.status_code == 200, r.text
    [current] = client.get(
        f"{ROOT}collections/{collections(client, basic('il.liaison'))['Joint']['id']}/objects/{stuck['id']}/",
        headers=basic("il.liaison"),
    ).json()["objects"]
    assert current["revoked"] is True and current["modified"] == "9999-12-31T23:59:59.999999Z"

    # redacted on release: the new version is in that microsecond too
    pending = indicator(name="Also stuck", description="From our post OP-7")
    other = submit(client, sy, [pending]).json()
    _store_at(cell, other["id"], pending["id"], END_OF_TIME)
    r = release(client, crew, other["id"], redactions=[{"id": pending["id"], "remove": ["description"]}])
    assert r.status_code == 200, r.text
    got = released(client, il)[pending["id"]]
    assert "description" not in got and got["modified"] == "9999-12-31T23:59:59.999999Z"

    # at that very microsecond nothing can follow: a recall stops serving it, a redaction keeps its version
    last = "9999-12-31T23:59:59.999999Z"
    final = indicator(name="At the last instant", description="From OP-9")
    third = submit(client, sy, [final]).json()
    _store_at(cell, third["id"], final["id"], last)
    r = release(client, crew, third["id"], redactions=[{"id": final["id"], "remove": ["description"]}])
    assert r.status_code == 200, r.text
    got = released(client, il)[final["id"]]
    assert "description" not in got and got["modified"] == last
    r = client.post(f"/api/v1/intel/items/{third['id']}/revoke", json={"reason": "Stale"}, headers=crew["us"].headers)
    assert r.status_code == 200, r.text
    assert final["id"] not in released(client, il)


def test_objects_submitted_before_the_migration_keep_their_first_submitter(client, cell, crew) -> None:
    from alembic import command

    from fusioncell.migrate import alembic_config, upgrade

    original = indicator(name="Bridge at the crossing")
    il_item = submit(client, il_analyst(client, cell), [original]).json()
    assert release(client, crew, il_item["id"], audience="mediated:IL").status_code == 200
    sy_item = submit(client, crew["sy_analyst"].headers, [later(original, 5, name="Bridge (ours)")]).json()
    cell.db.dispose()
    command.downgrade(alembic_config(str(cell.db.url)), "0007")
    upgrade(cell.db)  # rebuilt from the items, in the order they were submitted
    assert table_count(cell, IntelVersion) == 2
    r = release(client, crew, sy_item["id"])
    assert r.status_code == 409 and r.json()["objects"] == {original["id"]: "IL"}


def test_a_copy_released_later_does_not_take_the_object(client, cell, crew) -> None:
    """Whose an object is is written once, by its first release: a copy from the other party, released after it,
    changes nothing (objects from a shared feed reach both parties with the same ids and timestamps)."""
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    feed = indicator(name="Known launcher pattern")
    sy_item = submit(client, sy, [feed]).json()  # first submitted by SY, left pending
    il_item = submit(client, il, [feed]).json()
    assert release(client, crew, il_item["id"]).status_code == 200  # the first release: the object is IL's
    assert release(client, crew, sy_item["id"]).status_code == 200  # SY's is a copy: it versions nothing
    with cell.reading() as session:
        assert session.get(IntelOwner, feed["id"]).delegation == "IL"  # type: ignore[union-attr]
    # IL still versions its object, and SY still cannot
    assert release(client, crew, submit(client, il, [later(feed, 10, confidence=70)]).json()["id"]).status_code == 200
    r = submit(client, sy, [later(feed, 20, name="Not a launcher")])
    assert r.status_code == 409 and r.json()["objects"] == [feed["id"]]


def test_each_version_in_a_submission_is_judged_on_its_own(client, cell, crew) -> None:
    """A copy of an object beside a new version of it, in one submission, does not pass the new version off."""
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    shown = indicator(name="Crossing point north")
    assert release(client, crew, submit(client, il, [shown]).json()["id"]).status_code == 200
    as_read = released(client, sy)[shown["id"]]
    before = written(cell)
    r = submit(client, sy, [later(as_read, 5, name="Crossing closed"), as_read])
    assert r.status_code == 409 and [e["pointer"] for e in r.json()["errors"]] == ["/stix/0/id"], r.text
    # a number written another way is another version under the same name: 1 is not 1.0
    r = submit(client, sy, [{**as_read, "confidence": 1}])
    assert r.status_code == 409, r.text
    assert written(cell) == before

    # where SY does not read the object, the mediator's release stops the new version, not the copy beside it
    hidden = indicator(name="Depot south of the ridge")
    assert release(client, crew, submit(client, il, [hidden]).json()["id"], audience="mediated:IL").status_code == 200
    item = submit(client, sy, [hidden, later(hidden, 5, name="Depot empty")]).json()
    r = release(client, crew, item["id"])
    assert r.status_code == 409 and r.json()["objects"] == {hidden["id"]: "IL"}
    page = signed_in(browser(client), "us.mediator").get(f"/intel/{item['id']}").text
    assert page.count('data-testid="supersession"') == 2 and page.count('data-testid="not-theirs"') == 1


def test_a_partys_pages_show_nothing_of_what_others_do_with_the_same_id(client, cell, crew) -> None:
    il, sy = il_analyst(client, cell), crew["sy_analyst"].headers
    mine = indicator(name="Patrol route B")
    submit(client, il, [mine])
    second = submit(client, il, [later(mine, 10, name="Patrol route B (night)")]).json()
    il_pages = signed_in(browser(client), "il.analyst")

    def sections() -> list[str]:
        page = il_pages.get(f"/intel/{second['id']}").text
        return re.findall(r'<section class="card supersession".*?</section>', page, re.S)

    seen = sections()
    assert len(seen) == 1 and "your delegation submitted before" in seen[0] and 'data-testid="rival"' not in seen[0]
    # SY sends the same id; the mediator releases SY's: nothing of it shows on IL's page
    theirs = submit(client, sy, [later(mine, 20, name="SY's route")]).json()
    assert sections() == seen
    assert release(client, crew, theirs["id"], audience="mediated:SY").status_code == 200
    assert sections() == seen


def test_the_review_says_when_the_version_compared_with_was_recalled(client, cell, crew) -> None:
    sy = crew["sy_analyst"].headers
    first = indicator(name="Launcher at the quarry")
    item = submit(client, sy, [first]).json()
    assert release(client, crew, item["id"]).status_code == 200
    r = client.post(
        f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "Wrong grid"}, headers=crew["us"].headers
    )
    assert r.status_code == 200, r.text
    again = submit(client, sy, [first, indicator()]).json()  # the recalled version again, with another object
    page = signed_in(browser(client), "us.mediator").get(f"/intel/{again['id']}").text
    assert 'data-order="same"' in page and 'data-testid="base-state" data-state="revoked"' in page

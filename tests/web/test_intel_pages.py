"""The intelligence pages: the mediator decides from the queue, a party follows its own submissions, and another
party sees nothing of them."""

from __future__ import annotations

from fusioncell.intel.markings import Tlp
from fusioncell.intel.models import IntelObject
from tests.conftest import ledger_size, table_count
from tests.intel.stixdata import indicator
from tests.web.pages import browser, csrf_of, signed_in


def submitted(client, crew, *objects):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/intel/items", json={"stix": list(objects)}, headers=crew["sy_analyst"].headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_mediator_releases_with_a_raised_marking_and_a_withheld_property(client, cell, crew) -> None:
    secret = indicator(name="Launcher north of the ridge", description="From our post OP-7")
    item = submitted(client, crew, secret)
    us = signed_in(browser(client), "us.mediator")
    queue = us.get("/intel?state=submitted")
    assert f'data-item="{item["id"]}" data-state="submitted"' in queue.text
    page = us.get(f"/intel/{item['id']}")
    assert "Launcher north of the ridge" in page.text and 'name="withhold:' in page.text
    assert '<option value="TLP:CLEAR">' not in page.text  # a lower marking is not even offered
    r = us.post(
        f"/intel/{item['id']}/release",
        data={
            "csrf": csrf_of(page.text),
            "audience": "joint",
            "tlp": "TLP:AMBER",
            f"withhold:{secret['id']}": "description",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert 'data-testid="state">redacted' in us.get(f"/intel/{item['id']}").text
    [received] = client.get("/api/v1/intel/objects", headers=crew["il"].headers).json()["objects"]
    assert "description" not in received and received["object_marking_refs"] == [Tlp.AMBER.marking_id]


def test_a_refused_decision_says_why_and_changes_nothing(client, cell, crew) -> None:
    item = submitted(client, crew, indicator(Tlp.AMBER))
    us = signed_in(browser(client), "us.mediator")
    form = csrf_of(us.get(f"/intel/{item['id']}").text)
    before = ledger_size(cell), table_count(cell, IntelObject)
    lowered = us.post(f"/intel/{item['id']}/release", data={"csrf": form, "audience": "joint", "tlp": "TLP:GREEN"})
    assert lowered.status_code == 409 and "not lower it" in lowered.text
    empty = us.post(f"/intel/{item['id']}/decline", data={"csrf": form, "reason": "   "})
    assert empty.status_code == 422
    forged = us.post(f"/intel/{item['id']}/release", data={"csrf": "x" * 64, "audience": "joint"})
    assert forged.status_code == 403
    # a party's analyst posting the mediator's form is refused too
    sy = signed_in(browser(client), "sy.analyst")
    sy_form = csrf_of(sy.get(f"/intel/{item['id']}").text)
    assert sy.post(f"/intel/{item['id']}/release", data={"csrf": sy_form, "audience": "joint"}).status_code == 403
    assert (ledger_size(cell), table_count(cell, IntelObject)) == before
    assert 'data-testid="state">submitted' in us.get(f"/intel/{item['id']}").text


def test_the_submitting_party_follows_its_items_and_the_other_sees_nothing(client, cell, crew) -> None:
    item = submitted(client, crew, indicator(name="Convoy staging yard"))
    us = signed_in(browser(client), "us.mediator")
    form = csrf_of(us.get(f"/intel/{item['id']}").text)
    r = us.post(
        f"/intel/{item['id']}/decline", data={"csrf": form, "reason": "Too old to act on"}, follow_redirects=False
    )
    assert r.status_code == 303
    for username in ("sy.analyst", "sy.liaison"):
        sy = signed_in(browser(client), username)
        assert f'data-item="{item["id"]}" data-state="declined"' in sy.get("/intel").text
        page = sy.get(f"/intel/{item['id']}")
        assert "Too old to act on" in page.text and "Decline</button>" not in page.text
    il = signed_in(browser(client), "il.liaison")
    for path in ("/intel", "/intel?state=declined", f"/intel/{item['id']}", f"/intel/{item['id']}?lang=ar"):
        text = il.get(path).text
        assert "Convoy staging yard" not in text and "Too old to act on" not in text, path
        assert f'data-item="{item["id"]}"' not in text
    assert il.get(f"/intel/{item['id']}").status_code == 404


def test_a_draft_shows_on_its_delegations_pages_alone(client, cell, crew) -> None:
    r = client.post("/api/v1/intel/items", json={"stix": [indicator(name="Half-written note")], "draft": True},
                    headers=crew["sy_analyst"].headers)  # fmt: skip
    draft = r.json()
    sy = signed_in(browser(client), "sy.analyst")
    assert f'data-item="{draft["id"]}" data-state="draft"' in sy.get("/intel?state=draft").text
    assert "Half-written note" in sy.get(f"/intel/{draft['id']}").text
    for username in ("us.mediator", "il.liaison"):
        other = signed_in(browser(client), username)
        queue = other.get("/intel").text
        assert f'data-item="{draft["id"]}"' not in queue and "Half-written note" not in queue, username
        assert other.get(f"/intel/{draft['id']}").status_code == 404
    assert 'href="/intel?state=draft"' not in signed_in(browser(client), "us.mediator").get("/intel").text

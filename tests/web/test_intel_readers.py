"""Intelligence for its readers on the web: what was released, read by its audience (not only over TAXII); an
analyst submits, keeps drafts and reports sightings from the pages; a delegation that submits nothing (an
observer, an admin) sees only what it may read."""

from __future__ import annotations

import json

from fusioncell.intel.models import IntelItem
from tests.conftest import ledger_size, table_count
from tests.intel.stixdata import indicator
from tests.web.pages import browser, csrf_of, signed_in


def released(client, crew, audience: str, **fields):  # type: ignore[no-untyped-def]
    obj = indicator(**fields)
    item = client.post("/api/v1/intel/items", json={"stix": [obj]}, headers=crew["sy_analyst"].headers).json()
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": audience},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    return obj


def test_released_intelligence_is_read_by_its_audience_only(client, crew) -> None:
    shared = released(client, crew, "joint", name="Launch site shared with all")
    narrow = released(client, crew, "mediated:SY", name="Only for Syria")
    undof = signed_in(browser(client), "undof.observer")
    assert undof.get("/intel", follow_redirects=False).headers["location"] == "/intel/released"
    page = undof.get("/intel/released").text
    assert shared["id"] in page and "Launch site shared with all" in page
    assert narrow["id"] not in page and "Only for Syria" not in page
    assert "Submit intelligence" not in page and "Report a sighting" not in page  # an observer reads, submits nothing
    il = signed_in(browser(client), "il.liaison").get("/intel/released").text
    assert shared["id"] in il and narrow["id"] not in il
    sy = signed_in(browser(client), "sy.analyst").get("/intel/released").text
    assert shared["id"] in sy and narrow["id"] in sy and "Report a sighting" in sy
    admin = signed_in(browser(client), "sy.admin")
    assert 'href="/intel"' not in admin.get("/account").text  # no intelligence in an admin's navigation
    assert "Your account reads no intelligence." in admin.get("/intel", follow_redirects=True).text


def test_an_analyst_submits_from_the_page(client, cell, crew) -> None:
    sy = signed_in(browser(client), "sy.analyst")
    form = sy.get("/intel/new")
    assert form.status_code == 200
    token = csrf_of(form.text)
    before = ledger_size(cell), table_count(cell, IntelItem)
    bad = sy.post("/intel/new", data={"csrf": token, "content": "{not json", "action": "submit"})
    assert bad.status_code == 422 and "This is not JSON" in bad.text and "{not json" in bad.text  # kept to fix
    unmarked = indicator()
    del unmarked["object_marking_refs"]
    refused = sy.post("/intel/new", data={"csrf": token, "content": json.dumps([unmarked]), "action": "submit"})
    assert refused.status_code == 422 and 'data-testid="errors"' in refused.text
    assert (ledger_size(cell), table_count(cell, IntelItem)) == before
    good = sy.post("/intel/new", data={"csrf": token, "content": json.dumps(indicator(name="Seen from the web")),
                                       "action": "submit"}, follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    item = sy.get(good.headers["location"]).text
    assert "Seen from the web" in item and 'data-testid="state">submitted' in item
    assert signed_in(browser(client), "il.liaison").get("/intel/new").status_code == 403


def test_a_draft_is_kept_revised_submitted_or_discarded(client, cell, crew) -> None:
    sy = signed_in(browser(client), "sy.analyst")
    token = csrf_of(sy.get("/intel/new").text)
    kept = sy.post("/intel/new", data={"csrf": token, "content": json.dumps(indicator(name="First words")),
                                       "action": "draft"}, follow_redirects=False)  # fmt: skip
    url = kept.headers["location"]
    page = sy.get(url).text
    assert 'data-testid="state">draft' in page and 'data-testid="draft"' in page and "First words" in page
    # a revision refused says why, as a submission does: where the JSON breaks off, each problem of the objects
    broken = sy.post(f"{url}/draft", data={"csrf": token, "action": "revise", "content": "{not json"})
    assert broken.status_code == 422 and "This is not JSON" in broken.text
    unmarked = indicator(name="Unmarked words")
    del unmarked["object_marking_refs"]
    refused = sy.post(f"{url}/draft", data={"csrf": token, "action": "revise", "content": json.dumps(unmarked)})
    assert refused.status_code == 422 and "object_marking_refs" in refused.text, refused.text
    assert "First words" in sy.get(url).text
    revised = sy.post(f"{url}/draft", data={"csrf": token, "action": "revise",
                                            "content": json.dumps(indicator(name="Better words"))})  # fmt: skip
    assert revised.status_code == 200 and "Better words" in revised.text
    assert signed_in(browser(client), "us.mediator").get(url).status_code == 404  # not before the mediator yet
    sent = sy.post(f"{url}/draft", data={"csrf": token, "action": "submit"})
    assert 'data-testid="state">submitted' in sent.text and 'data-testid="draft"' not in sent.text
    assert "Better words" in signed_in(browser(client), "us.mediator").get(url).text
    other = sy.post("/intel/new", data={"csrf": token, "content": json.dumps(indicator(name="Never mind")),
                                        "action": "draft"}, follow_redirects=False).headers["location"]  # fmt: skip
    gone = sy.post(f"{other}/draft", data={"csrf": token, "action": "discard"})
    assert 'data-testid="state">discarded' in gone.text


def test_an_analyst_reports_a_sighting_from_the_page(client, cell, crew) -> None:
    shared = released(client, crew, "joint", name="Relay on the ridge")
    sy = signed_in(browser(client), "sy.analyst")
    token = csrf_of(sy.get("/intel/released").text)
    r = sy.post("/intel/sightings", data={"csrf": token, "sighting_of": shared["id"], "count": "3",
                                          "first_seen": "2026-03-02T04:00", "description": "From post OP-7"},
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    item = sy.get(r.headers["location"]).text
    assert 'data-testid="state">submitted' in item and "sighting" in item and "From post OP-7" in item
    unknown = sy.post("/intel/sightings", data={"csrf": token, "sighting_of": "indicator--nothing"})
    assert unknown.status_code == 404 and "no released object" in unknown.text
    assert sy.get("/intel/released?error=Call+this+number").text.count("Call this number") == 0  # no text from links

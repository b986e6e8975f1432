"""The map's web endpoints: what the page loads is what the reader may see; drawing and notifying from the page
needs the session's CSRF token and answers as the API does."""

from __future__ import annotations

import re

from fusioncell.deescalation.models import Activity
from tests.conftest import ledger_size, table_count
from tests.deescalation.helpers import QUNEITRA, activity
from tests.web.pages import browser, signed_in

CSRF = re.compile(r'data-csrf="([^"]+)"')


def test_the_map_loads_only_what_the_reader_may_see(client, cell, crew) -> None:
    secret = client.post("/api/v1/activities", json=activity(audience="mediated:SY", description="night-move"),
                         headers=crew["sy"].headers).json()  # fmt: skip
    shown = client.post("/api/v1/activities", json=activity(geometry={"type": "Point", "coordinates": [36.5, 33.2]}),
                        headers=crew["sy"].headers).json()  # fmt: skip
    il = signed_in(browser(client), "il.liaison")
    page = il.get("/map")
    assert page.status_code == 200 and 'id="map"' in page.text and 'data-testid="notify-form"' in page.text
    assert "night-move" not in page.text
    features = il.get("/map/features.json").json()["features"]
    ids = {f["properties"].get("activity") for f in features if f["properties"]["layer"] == "activities"}
    assert ids == {shown["id"]} and str(secret["id"]) not in il.get("/map/features.json").text
    sy = signed_in(browser(client), "sy.liaison")
    assert secret["id"] in {f["properties"].get("activity") for f in sy.get("/map/features.json").json()["features"]}
    # an observer reads the map but notifies nothing; an admin has no map
    undof = signed_in(browser(client), "undof.observer").get("/map")
    assert undof.status_code == 200 and "notify-form" not in undof.text
    admin = signed_in(browser(client), "sy.admin")
    assert "no map for this account" in admin.get("/map").text
    assert admin.get("/map/features.json").json()["features"] == []


def test_notifying_from_the_page_needs_its_csrf_token_and_answers_as_the_api(client, cell, crew) -> None:
    il = signed_in(browser(client), "il.liaison")
    token = CSRF.search(il.get("/map").text).group(1)
    body = activity(geometry={"type": "Point", "coordinates": QUNEITRA})
    before = (ledger_size(cell), table_count(cell, Activity))
    assert il.post("/map/activities", json=body).status_code == 403
    assert il.post("/map/activities", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    checked = il.post("/map/check", json=body, headers={"X-CSRF-Token": token})
    assert [c["ref"] for c in checked.json()["conflicts"]] == ["zone:area-of-separation@1:forbidden"]
    refused = il.post("/map/activities", json=body, headers={"X-CSRF-Token": token})
    assert refused.status_code == 409 and refused.json()["unacknowledged"] == ["zone:area-of-separation@1:forbidden"]
    bad = il.post("/map/activities", json=body | {"geometry": {"type": "Point", "coordinates": [33.1, 35.8]}},
                  headers={"X-CSRF-Token": token})  # fmt: skip
    assert bad.status_code == 422 and "swapped" in bad.json()["detail"]
    assert (ledger_size(cell), table_count(cell, Activity)) == before
    sent = body | {"acknowledge": ["zone:area-of-separation@1:forbidden"], "client_txn_id": "map-0f3a"}
    made = il.post("/map/activities", json=sent, headers={"X-CSRF-Token": token})
    assert made.status_code == 201 and table_count(cell, Activity) == before[1] + 1
    # Notify pressed again (or the answer lost on the way): the page's id for the drawing notifies it once
    again = il.post("/map/activities", json=sent, headers={"X-CSRF-Token": token})
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    assert table_count(cell, Activity) == before[1] + 1


def test_the_maps_script_is_told_when_the_session_has_ended(client, cell, crew) -> None:
    """A page's script asking for JSON gets a 401 problem it can act on (to sign in, then back), not the sign-in page
    in place of its data; a browser's own navigation is still sent to sign in."""
    from datetime import timedelta

    il = signed_in(browser(client), "il.liaison")
    token = CSRF.search(il.get("/map").text).group(1)
    cell.clock.advance(timedelta(hours=13))
    before = (ledger_size(cell), table_count(cell, Activity))
    for r in (
        il.get("/map/features.json", headers={"Accept": "application/json"}),
        il.post("/map/check", json=activity(), headers={"X-CSRF-Token": token, "Accept": "application/json"}),
        il.post("/map/activities", json=activity(), headers={"X-CSRF-Token": token, "Accept": "application/json"}),
    ):
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["title"] == "Sign in first" and r.headers["hx-redirect"].startswith("/login?next=")
    assert (ledger_size(cell), table_count(cell, Activity)) == before
    page = browser(client).get("/map", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fmap"

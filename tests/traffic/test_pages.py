"""The watch's pages over HTTP: the roster's forms and its shift log, what each role's watch holds, the count of
alerts in the navigation."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import add_user
from tests.traffic.helpers import draft
from tests.web.pages import browser, csrf_of, signed_in


def test_taking_and_handing_over_the_watch_from_the_page(client, cell, crew) -> None:
    add_user(cell, "sy.night", "SY", "liaison")
    sy = signed_in(browser(client), "sy.liaison")
    page = sy.get("/watch").text
    assert "Take the watch" in page and "Hand over" not in page
    r = sy.post("/watch/take", data={"csrf": csrf_of(page), "note": "Day shift from 0600Z"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/watch"
    page = sy.get("/watch").text
    assert 'data-testid="holding"' in page and 'data-holder="SY">sy.liaison' in page
    assert '<option value="sy.night">' in page  # a colleague to hand over to
    refused = sy.post("/watch/hand-over", data={"csrf": csrf_of(page), "note": "  ", "to": "sy.night"})
    assert refused.status_code == 422 and "handover note" in refused.text
    r = sy.post("/watch/hand-over", data={"csrf": csrf_of(page), "note": "FLASH 0600Z open", "to": "sy.night"},
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    night = signed_in(browser(client), "sy.night").get("/watch").text
    assert 'data-testid="holding"' in night
    assert "FLASH 0600Z open" in night and "Day shift from 0600Z" in night  # the shift log, with its notes
    assert "FLASH 0600Z open" not in signed_in(browser(client), "il.liaison").get("/watch").text


def test_each_role_sees_its_own_watch(client, cell, crew) -> None:
    client.post("/api/v1/messages", json=draft(subject="Joint for all"), headers=crew["sy"].headers)
    undof = signed_in(browser(client), "undof.observer").get("/watch").text
    assert "Joint for all" in undof
    assert 'data-testid="owed"' not in undof and "/compose" not in undof and "Take the watch" not in undof
    assert 'href="/alerts"' not in undof  # nothing for an observer to handle
    admin = signed_in(browser(client), "sy.admin")
    assert admin.get("/watch").status_code == 403 and admin.get("/watch/live").status_code == 403
    assert admin.get("/", follow_redirects=False).headers["location"] == "/ledger"


def test_the_navigation_counts_the_alerts_for_me(client, cell, crew) -> None:
    client.post("/api/v1/messages", json=draft(audience="mediated:SY"), headers=crew["sy"].headers)
    cell.clock.advance(timedelta(minutes=20))
    client.app.state.scheduler.run_due()  # the mediator owes it: its duty officer's step, then the mediator's
    us = signed_in(browser(client), "us.mediator")
    for path in ("/watch", "/ledger", "/intel", "/account"):
        page = us.get(path).text
        assert 'data-testid="nav-count"' in page, path
    il = signed_in(browser(client), "il.liaison")
    assert 'data-testid="nav-count"' not in il.get("/watch").text

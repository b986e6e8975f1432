"""The account page: language and time zone kept with the account, and signing out everywhere."""

from __future__ import annotations

from fusioncell.web.session import SESSION_COOKIE
from tests.conftest import login
from tests.web.pages import browser, csrf_of, signed_in


def test_settings_are_kept_with_the_account(client, crew) -> None:
    page = signed_in(browser(client), "il.liaison")
    form = page.get("/account")
    assert form.status_code == 200 and "il.liaison" in form.text
    r = page.post("/account", data={"csrf": csrf_of(form.text), "lang": "he", "time_zone": "Asia/Jerusalem"},
                  follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/account?saved=1"
    # another browser, signed in as the same person, shows Hebrew and the zone at once
    other = signed_in(browser(client), "il.liaison")
    watch = other.get("/watch", headers={"Accept-Language": "en"})
    assert 'lang="he" dir="rtl"' in watch.text and 'data-time-zone="Asia/Jerusalem"' in watch.text
    refused = page.post("/account", data={"csrf": csrf_of(form.text), "time_zone": "Moon/Base"})
    assert refused.status_code == 422 and "Moon/Base" in refused.text


def test_sign_out_everywhere(client, crew) -> None:
    here = signed_in(browser(client), "sy.liaison")
    there = signed_in(browser(client), "sy.liaison")
    api = login(client, "sy.liaison")
    form = here.get("/account")
    r = here.post("/account/sign-out-everywhere", data={"csrf": csrf_of(form.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert f"{SESSION_COOKIE}=" in r.headers["set-cookie"]
    assert there.get("/watch", follow_redirects=False).status_code == 303  # the other browser is signed out
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {api}"}).status_code == 401
    assert client.get("/api/v1/me", headers=crew["il"].headers).status_code == 200
    # a form from another site cannot do it
    again = signed_in(browser(client), "sy.liaison")
    r = again.post("/account/sign-out-everywhere", data={"csrf": "forged"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert again.get("/watch", follow_redirects=False).status_code == 200

"""The web pages: signing in and out, CSRF, languages, and the ledger page saying which checkpoint is final."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from fusioncell.app import create_app
from fusioncell.auth import service as auth_service
from fusioncell.auth.models import AccessToken, LoginAttempt
from fusioncell.ledger import log
from fusioncell.ledger.models import LedgerCosignature
from fusioncell.policy import Principal, resolve_audience
from fusioncell.web.session import LANG_COOKIE, SESSION_COOKIE
from tests.conftest import CLI_ACTOR, ledger_size, table_count
from tests.ledger.test_log import send_some
from tests.web.pages import browser, csrf_of, signed_in, web_login
from tests.web.witnesses import witness_both_parties


def session_cookie(response) -> str:  # type: ignore[no-untyped-def]
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]
    return cookie


def rows(html: str) -> dict[int, str]:
    """Checkpoint rows of the ledger page: size -> data-final."""
    return {int(s): f for s, f in re.findall(r'data-size="(\d+)" data-final="(yes|no)"', html)}


def test_pages_send_a_stranger_to_sign_in(client, crew) -> None:
    r = client.get("/ledger?before=5", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fledger%3Fbefore%3D5"
    # a page's refresh sends the browser to sign in and back to the page, not to the bare fragment
    live = client.get(
        "/ledger/live",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/ledger?lang=ar"},
        follow_redirects=False,
    )
    assert live.status_code == 401 and live.headers["HX-Redirect"] == "/login?next=%2Fledger%3Flang%3Dar"
    # a form posted after the session ended comes back to the default page, not to a POST-only address
    out = client.post("/logout", data={"csrf": "x"}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login?next=%2F"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    # a forged or revoked cookie is no session either
    client.cookies.set(SESSION_COOKIE, "fc_forged")
    assert client.get("/ledger", follow_redirects=False).status_code == 303


def test_sign_in_and_out(client, cell, crew) -> None:
    tokens = table_count(cell, AccessToken)
    r = web_login(client, "sy.liaison", next="/ledger?before=3")
    assert r.status_code == 303 and r.headers["location"] == "/ledger?before=3"
    cookie = session_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie and "Max-Age=43200" in cookie
    assert table_count(cell, AccessToken) == tokens + 1
    page = client.get("/ledger")
    assert page.status_code == 200
    assert "sy.liaison · SY" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store"
    # the session is the API's own token: the same person, revoked by signing out
    token = client.cookies.get(SESSION_COOKIE)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "sy.liaison"
    out = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    client.cookies.set(SESSION_COOKIE, token)  # a copy of the old cookie opens nothing
    assert client.get("/ledger", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("username", "password", "status", "message"),
    [
        ("sy.liaison", "wrong-passphrase", 401, "Invalid username or password."),
        ("nobody", "wrong-passphrase", 401, "Invalid username or password."),
        ("sy.li\x00aison", "x", 422, "Invalid username or password."),
    ],
)
def test_a_refused_sign_in_says_why_and_opens_nothing(client, cell, crew, username, password, status, message) -> None:
    tokens, attempts = table_count(cell, AccessToken), table_count(cell, LoginAttempt)
    r = web_login(client, username, password)
    assert r.status_code == status, r.text
    assert message in r.text and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert table_count(cell, AccessToken) == tokens
    if status == 422:  # refused before any lookup: not even a failed attempt is written
        assert table_count(cell, LoginAttempt) == attempts


def test_forms_refuse_a_missing_or_foreign_csrf_token(client, cell, crew) -> None:
    tokens = table_count(cell, AccessToken)
    client.get("/login")
    forged = client.post("/login", data={"username": "sy.liaison", "password": "x", "csrf": "guess"})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    # another site's page posting the right fields: refused by its Origin
    form = client.get("/login")
    cross = client.post(
        "/login",
        data={"username": "sy.liaison", "password": "night-shift-passphrase-7", "csrf": csrf_of(form.text)},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert table_count(cell, AccessToken) == tokens
    # signed in, a logout without the session's token, or from another site, leaves the session as it was
    page = signed_in(client, "sy.liaison").get("/ledger")
    assert client.post("/logout", data={"csrf": "0" * 64}).status_code == 403
    foreign = client.post("/logout", data={"csrf": csrf_of(page.text)}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert client.get("/ledger", follow_redirects=False).status_code == 200
    # a sign-in token cookie that this site did not make is replaced, not a lock-out
    stranger = browser(client)
    stranger.cookies.set("fusioncell_login_csrf", "x" * 500)
    assert web_login(stranger, "sy.liaison").status_code == 303


def test_after_sign_in_only_this_site(client, crew) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "ledger"):
        r = web_login(browser(client), "sy.liaison", next=target)
        assert r.status_code == 303 and r.headers["location"] == "/", target
    # an address too long for the form's field is not carried into it (the form would be refused)
    form = browser(client).get("/login?next=/" + "a" * 2000)
    assert 'name="next" value="/"' in form.text


def test_signing_in_again_ends_the_session_before(client, crew) -> None:
    signed_in(client, "sy.liaison")
    old = client.cookies.get(SESSION_COOKIE)
    signed_in(client, "sy.liaison")
    assert client.cookies.get(SESSION_COOKIE) != old
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/ledger", follow_redirects=False).status_code == 200


def test_signing_in_after_the_session_was_revoked(client, cell, crew) -> None:
    """Issue 14.6: a session revoked elsewhere (signed out from another device, disabled, TOTP enrolled) left a
    dead cookie; every later sign-in in that browser answered raw JSON 401 and issued a token no one held."""
    page = signed_in(browser(client), "il.liaison")
    dead = page.cookies[SESSION_COOKIE]
    [domain] = {c.domain for c in page.cookies.jar if c.name == SESSION_COOKIE}
    auth_service.logout(cell=cell, raw_token=dead)  # ended elsewhere
    r = page.get("/ledger", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert f"{SESSION_COOKIE}=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    # a browser that kept the cookie anyway (a page open since before) signs in normally
    page.cookies.set(SESSION_COOKIE, dead, domain=domain)
    before = table_count(cell, AccessToken)
    r = web_login(page, "il.liaison")
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    assert table_count(cell, AccessToken) == before + 1 and page.cookies[SESSION_COOKIE] != dead
    assert page.get("/ledger").status_code == 200  # the one token issued is the one the browser holds


def test_one_time_codes_as_typed(client, cell, crew) -> None:
    with cell.command() as uow:
        uri = auth_service.enroll_totp(cell=cell, uow=uow, actor=CLI_ACTOR, username="us.mediator")
    code = pyotp.parse_uri(uri).at(cell.clock.now())
    asked = web_login(client, "us.mediator")
    assert asked.status_code == 401 and 'name="otp"' in asked.text
    assert "Enter the one-time code from your authenticator." in asked.text
    attempts = table_count(cell, LoginAttempt)
    for typed in ("12ab56", "١٢٣", "1" * 9):  # not a code: refused before any check, nothing written
        r = web_login(client, "us.mediator", otp=typed)
        assert r.status_code == 422 and "That one-time code is not valid." in r.text, typed
    assert table_count(cell, LoginAttempt) == attempts
    wrong = "".join(str((int(c) + 1) % 10) for c in code)
    assert web_login(client, "us.mediator", otp=wrong).status_code == 401
    # typed on an Arabic keyboard, with a space between the groups
    arabic = "".join("٠١٢٣٤٥٦٧٨٩"[int(c)] for c in code)
    r = web_login(client, "us.mediator", otp=arabic[:3] + " " + arabic[3:])
    assert r.status_code == 303, r.text


def test_behind_https_cookies_are_secure_and_forms_come_from_the_public_address(cell, crew) -> None:
    cell.settings = cell.settings.model_copy(update={"public_url": "https://cell.example"})
    with TestClient(create_app(cell, run_scheduler=False), base_url="https://cell.example") as https:
        r = web_login(https, "sy.liaison")
        assert r.status_code == 303 and "Secure" in session_cookie(r)
        page = https.get("/ledger")
        assert page.status_code == 200
        # the same form from the plain-http address (or a rebinding host) is another site's
        r = https.post("/logout", data={"csrf": csrf_of(page.text)}, headers={"Origin": "http://cell.example"})
        assert r.status_code == 403
        assert https.post("/logout", data={"csrf": csrf_of(page.text)}, headers={"Origin": "https://cell.example"},
                          follow_redirects=False).status_code == 303  # fmt: skip


def test_a_witness_date_beyond_any_calendar_does_not_break_the_page(client, cell, crew, tmp_path: Path) -> None:
    checkpointer, _ = witness_both_parties(cell, tmp_path)
    signed = checkpointer.tick()
    with cell.command() as uow:  # as if stored before the log refused such dates
        uow.session.execute(
            update(LedgerCosignature)
            .where(LedgerCosignature.size == signed.size, LedgerCosignature.witness == "il.witness.test")
            .values(timestamp=10**15)
        )
    page = signed_in(client, "sy.liaison").get("/ledger")
    assert page.status_code == 200 and rows(page.text)[signed.size] == "yes"


def test_languages_and_direction(client, crew) -> None:
    signed_in(client, "il.liaison")
    english = client.get("/ledger")
    assert 'lang="en" dir="ltr"' in english.text and ">Ledger<" in english.text
    arabic = client.get("/ledger?before=9&lang=ar")
    assert 'lang="ar" dir="rtl"' in arabic.text and "السجل" in arabic.text
    assert 'href="/ledger?before=9&amp;lang=he"' in arabic.text  # the switcher keeps the page's query
    assert f"{LANG_COOKIE}=ar" in arabic.headers["set-cookie"]
    assert 'lang="ar" dir="rtl"' in client.get("/ledger").text  # remembered
    hebrew = browser(client).get("/login", headers={"Accept-Language": "fr;q=1, he-IL;q=0.8, en;q=0.5"})
    assert 'lang="he" dir="rtl"' in hebrew.text and "כניסה" in hebrew.text
    unknown = browser(client).get("/login?lang=xx", headers={"Accept-Language": "de"})
    assert 'lang="en" dir="ltr"' in unknown.text
    # a link is not a setting: the account keeps no language, another browser reads its own
    me = {"Authorization": f"Bearer {client.cookies[SESSION_COOKIE]}"}
    assert client.get("/api/v1/me", headers=me).json()["lang"] is None
    other = signed_in(browser(client), "il.liaison")
    assert 'lang="en" dir="ltr"' in other.get("/ledger", headers={"Accept-Language": "en"}).text
    # the account page's form keeps it with the account: another browser, once signed in, reads Arabic too
    form = client.get("/account")
    saved = client.post("/account", data={"csrf": csrf_of(form.text), "lang": "ar"}, follow_redirects=False)
    assert saved.status_code == 303 and client.get("/api/v1/me", headers=me).json()["lang"] == "ar"
    assert 'lang="ar" dir="rtl"' in other.get("/ledger", headers={"Accept-Language": "en"}).text


def test_a_language_link_does_not_change_the_accounts_language(client, crew) -> None:
    """A GET changes nothing kept: ?lang= shows that page in the language asked for, and the browser remembers
    it, but the account keeps the language saved with its form (a link from anywhere cannot change it)."""
    sy = signed_in(client, "sy.liaison")
    me = {"Authorization": f"Bearer {sy.cookies[SESSION_COOKIE]}"}
    form = sy.get("/account")
    assert sy.post("/account", data={"csrf": csrf_of(form.text), "lang": "he"}).status_code == 200
    assert sy.get("/api/v1/me", headers=me).json()["lang"] == "he"
    for path in ("/watch?lang=ar", "/ledger?lang=en", "/account?lang=ar", "/no/such/page?lang=en"):
        page = sy.get(path)
        wanted = path.rsplit("=", 1)[1]
        assert f'lang="{wanted}"' in page.text, path  # that page, in the language asked for
        assert sy.get("/api/v1/me", headers=me).json()["lang"] == "he", path
    assert 'lang="he" dir="rtl"' in sy.get("/watch").text  # the account's language, over the browser's cookie


def test_ledger_page_says_which_checkpoint_is_final(client, cell, crew, tmp_path: Path) -> None:
    checkpointer, witnesses = witness_both_parties(cell, tmp_path)
    send_some(client, crew, 3, "a")
    first = checkpointer.tick()  # both parties' witnesses cosign: final
    send_some(client, crew, 2, "b")
    witnesses.down.add("il.witness.test")
    second = checkpointer.tick()  # only SY's witness could cosign: not final
    assert first.size < second.size

    page = signed_in(client, "sy.liaison").get("/ledger")
    assert rows(page.text) == {second.size: "no", first.size: "yes"}
    assert (
        f'Latest final checkpoint: size {first.size}, signed <time datetime="{first.signed_at.isoformat()}">'
        in page.text
    )
    newest = page.text.split(f'data-size="{second.size}"')[1].split("</tr>")[0]
    assert 'data-witness="sy.witness.test"' in newest and "Cosigned" in newest
    assert re.search(r'data-witness="il.witness.test">\s*<span aria-hidden="true">…</span> Awaiting', newest)
    # the API says the same
    api = client.get("/api/v1/ledger/checkpoints", headers=crew["sy"].headers).json()
    assert api["latest_final_size"] == first.size
    assert {c["size"]: c["final"] for c in api["items"]} == {second.size: False, first.size: True}

    # IL's witness is back: the part of the page htmx refreshes shows the newer checkpoint final
    witnesses.down.clear()
    third = checkpointer.tick()
    live = client.get("/ledger/live", headers={"HX-Request": "true"})
    assert live.status_code == 200 and "<html" not in live.text
    assert rows(live.text)[third.size] == "yes"
    assert f"Latest final checkpoint: size {third.size}," in live.text


def test_ledger_page_pages_back(client, cell, crew) -> None:
    sizes = []
    for i in range(23):
        send_some(client, crew, 1, f"p{i}")
        sizes.append(log.sign_checkpoint(cell).size)
    page = signed_in(client, "us.mediator").get("/ledger")
    assert sorted(rows(page.text)) == sorted(sizes)[-20:]
    assert "No checkpoint is final yet." in page.text  # the charter lists no witness here
    older = re.search(r'href="/ledger\?before=(\d+)"', page.text)
    assert older, page.text
    back = client.get(f"/ledger?before={older.group(1)}")
    assert sorted(rows(back.text)) == [s for s in sorted(sizes) if s < int(older.group(1))][-20:]
    assert 'hx-trigger="every' not in back.text  # an older page stays still
    assert client.get("/ledger?before=-1").status_code == 422


def test_ledger_page_shows_a_refusal_only_to_its_audience(client, cell, crew, tmp_path: Path) -> None:
    checkpointer, witnesses = witness_both_parties(cell, tmp_path)
    witnesses.down.add("il.witness.test")
    # IL's witness refuses two checkpoints: the first refusal is recorded for everyone, the second for IL and the
    # mediator only (the log records refusals jointly; a narrower one proves the page asks the rule)
    refusals = {}
    for tag, audience, reason in (("a", "joint", "joint-reason"), ("b", "mediated:IL", "il-only-reason")):
        send_some(client, crew, 1, tag)
        signed = checkpointer.tick()
        with cell.command() as uow:
            uow.record(
                action="witness.refused",
                actor=Principal.system("log"),
                audience=resolve_audience(audience, cell.charter.roster),
                subject=f"checkpoint:{signed.size}",
                content={"witness": "il.witness.test", "delegation": "IL", "size": signed.size,
                         "root": "", "status": 422, "reason": reason},
            )  # fmt: skip
        refusals[reason] = signed.size
    before = ledger_size(cell)
    readers = {
        "sy.liaison": {"joint-reason"},
        "undof.observer": {"joint-reason"},  # an observer that reads the joint audience
        "il.liaison": {"joint-reason", "il-only-reason"},
        "us.mediator": {"joint-reason", "il-only-reason"},
        "sy.admin": set(),  # an administrator reads no content at all
    }
    for username, sees in readers.items():
        reader = signed_in(browser(client), username)
        for path in ("/ledger", "/ledger/live", "/ledger?lang=he"):
            text = reader.get(path).text
            for reason, size in refusals.items():
                row = text.split(f'data-size="{size}"')[1].split("</tr>")[0]
                il_state = row.split('data-witness="il.witness.test"')[1].split("</td>")[0]
                if reason in sees:
                    assert f"422 {reason}" in il_state and ("Refused" in il_state or "סורבה" in il_state), (
                        username,
                        path,
                    )
                else:
                    assert reason not in text and ("Awaiting" in il_state or "ממתינה" in il_state), (username, path)
    assert ledger_size(cell) == before  # reading pages writes nothing to the ledger


def test_static_files(client) -> None:
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]
    assert client.get("/static/vendor/other.js").status_code == 404
    assert client.get("/static/fusioncell.css").status_code == 200
    assert client.get("/static/fusioncell.js").status_code == 200

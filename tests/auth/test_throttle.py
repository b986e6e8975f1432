"""Sign-in throttling as another party would try to get round it or turn it against a duty officer: invented
X-Forwarded-For addresses, guesses from many addresses, a lock-out from the same NAT (fusioncell.auth.throttle)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fusioncell.app import create_app
from fusioncell.auth import service
from fusioncell.auth.models import LoginAttempt
from fusioncell.auth.throttle import SIGNED_IN
from fusioncell.cell import Cell
from fusioncell.proxies import parse_trusted
from tests.conftest import CLI_ACTOR, TEST_PASSWORD, add_user, make_cell
from tests.server import Server, free_port
from tests.web.pages import csrf_of

TOKEN_URL = "/api/v1/auth/token"
PROXY = "10.0.0.2"
WRONG = "not-the-passphrase-1"


def attempts(cell: Cell) -> list[tuple[str | None, str]]:
    """(client, reason) of every failure on record, in order."""
    with cell.reading() as session:
        rows = session.execute(
            select(LoginAttempt.client, LoginAttempt.reason)
            .where(LoginAttempt.reason != SIGNED_IN)
            .order_by(LoginAttempt.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def sign_in(client: TestClient, username: str, password: str = TEST_PASSWORD, **extra: str) -> httpx.Response:
    return client.post(TOKEN_URL, json={"username": username, "password": password}, **extra)


def from_address(cell: Cell, address: str, port: int = 50000) -> TestClient:
    """A client connecting straight from `address` (not through a proxy)."""
    return TestClient(create_app(cell, run_scheduler=False), client=(address, port), raise_server_exceptions=False)


@pytest.fixture
def proxied(backend, clock) -> Iterator[Cell]:  # type: ignore[no-untyped-def]
    """The cell behind a reverse proxy at PROXY, named in FUSIONCELL_TRUSTED_PROXIES."""
    settings = backend.settings.model_copy(update={"trusted_proxies": parse_trusted(PROXY)})
    cell = make_cell(dataclasses.replace(backend, settings=settings), clock)
    yield cell
    cell.db.dispose()


@pytest.fixture
def proxy(proxied: Cell) -> Iterator[TestClient]:
    with from_address(proxied, PROXY) as c:
        yield c


def via(address: str) -> dict[str, dict[str, str]]:
    """What the proxy adds for a request from `address` (a client's own X-Forwarded-For is kept on its left)."""
    return {"headers": {"X-Forwarded-For": address}}


# ---- who is asking ----------------------------------------------------------------------------------------------


def test_fusioncell_serve_believes_no_forwarded_address(backend, cell) -> None:
    """The issue's attack on a real server: twelve wrong passwords, each with an invented X-Forwarded-For, from
    one local client. uvicorn used to believe them (it trusts 127.0.0.1 by default), so none was throttled and the
    right password then got in from a thirteenth invented address."""
    add_user(cell, "il.liaison", "IL", "liaison")
    server = Server(backend, free_port())
    server.start()
    try:
        statuses = []
        for i in range(12):
            r = httpx.post(
                server.url + TOKEN_URL,
                json={"username": "il.liaison", "password": WRONG},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            statuses.append(r.status_code)
        limit = cell.settings.login_max_failures
        assert statuses == [401] * limit + [429] * (12 - limit)
        r = httpx.post(
            server.url + TOKEN_URL,
            json={"username": "il.liaison", "password": TEST_PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.99"},
        )
        assert r.status_code == 429 and "from this address" in r.json()["detail"]
    finally:
        server.kill()
    assert attempts(cell) == [("127.0.0.1", "bad-credentials")] * limit


def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(proxied, proxy) -> None:
    add_user(proxied, "il.liaison", "IL", "liaison")
    limit = proxied.settings.login_max_failures
    # the attacker at 203.0.113.7 writes its own X-Forwarded-For; the proxy appends the address it really saw
    for i in range(limit):
        spoofed = {"headers": {"X-Forwarded-For": f"192.0.2.{i + 1}, 203.0.113.7"}}
        assert sign_in(proxy, "il.liaison", WRONG, **spoofed).status_code == 401
    held = sign_in(proxy, "il.liaison", **via("192.0.2.50, 203.0.113.7"))
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
    assert attempts(proxied) == [("203.0.113.7", "bad-credentials")] * limit
    # the liaison, at another address behind the same proxy, is not held by it
    assert sign_in(proxy, "il.liaison", **via("198.51.100.4")).status_code == 200
    # a client that is not the proxy gets nowhere with the header: it is counted as itself
    with from_address(proxied, "203.0.113.9") as direct:
        for _ in range(limit):
            assert sign_in(direct, "il.liaison", WRONG, **via("198.51.100.4")).status_code == 401
        assert sign_in(direct, "il.liaison", **via("198.51.100.4")).status_code == 429
    assert sign_in(proxy, "il.liaison", **via("198.51.100.4")).status_code == 200
    assert attempts(proxied)[limit:] == [("203.0.113.9", "bad-credentials")] * limit


@pytest.mark.parametrize(
    ("forwarded", "counted_as"),
    [
        ("x" * 300, PROXY),  # not an address: the proxy that passed it on
        ("[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"),  # an IPv6 client counts by its /64
        ("::ffff:198.51.100.8", "198.51.100.8"),  # one spelling per address
        (f"198.51.100.8, {PROXY}", "198.51.100.8"),  # a chain through the proxy itself
    ],
)
def test_what_a_forwarded_address_is_counted_as(proxied, proxy, forwarded, counted_as) -> None:
    """Whatever a client sends, what is stored fits its column (the header over 64 characters was a 500)."""
    r = sign_in(proxy, "nobody", WRONG, **via(forwarded))
    assert r.status_code == 401, r.text
    assert attempts(proxied) == [(counted_as, "bad-credentials")]


# ---- many addresses ---------------------------------------------------------------------------------------------


def test_guesses_from_many_addresses_slow_down_without_holding_the_owner(proxied, proxy) -> None:
    settings = proxied.settings
    add_user(proxied, "il.liaison", "IL", "liaison")
    owner = via("192.0.2.10")
    assert sign_in(proxy, "il.liaison", **owner).status_code == 200  # an address the account signs in from
    clients = (f"203.0.113.{i}" for i in range(1, 200))
    for _ in range(settings.login_account_max_failures):  # one guess from each of many addresses
        assert sign_in(proxy, "il.liaison", WRONG, **via(next(clients))).status_code == 401

    waits = []
    while len(waits) < 12:
        r = sign_in(proxy, "il.liaison", WRONG, **via(next(clients)))
        assert r.status_code == 429, r.text
        waits.append(int(r.headers["Retry-After"]))
        # the right password from a new address is held alike, and nothing held is counted
        before = attempts(proxied)
        assert sign_in(proxy, "il.liaison", **via(next(clients))).status_code == 429
        assert attempts(proxied) == before
        # the owner's own address is not held
        assert sign_in(proxy, "il.liaison", **owner).status_code == 200
        proxied.clock.advance(timedelta(seconds=waits[-1]))
        assert sign_in(proxy, "il.liaison", WRONG, **via(next(clients))).status_code == 401
    cap = int(settings.login_backoff_max.total_seconds())
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, cap, cap, cap]

    # a wait shortens as time passes (refusals do not extend it), and a new address gets its try after it
    proxied.clock.advance(timedelta(seconds=cap - 60))
    assert int(sign_in(proxy, "il.liaison", **via(next(clients))).headers["Retry-After"]) == 60
    proxied.clock.advance(timedelta(seconds=60))
    assert sign_in(proxy, "il.liaison", **via("198.51.100.77")).status_code == 200
    # failures age out of the account's window
    proxied.clock.advance(settings.login_account_window)
    for _ in range(settings.login_max_failures):
        assert sign_in(proxy, "il.liaison", WRONG, **via(next(clients))).status_code == 401


def test_the_back_off_tells_nothing_of_the_owners_own_sign_ins(proxied, proxy) -> None:
    """Issue 13.9, the review: the account-wide back-off counted the owner's own failures at the addresses it signs
    in from, so a party holding it open could watch Retry-After move with the owner's typos and sign-ins. Only
    failures from addresses the account is not known at count now."""
    settings = proxied.settings
    add_user(proxied, "il.liaison", "IL", "liaison")
    owner = via("192.0.2.10")
    assert sign_in(proxy, "il.liaison", **owner).status_code == 200
    clients = (f"203.0.113.{i}" for i in range(1, 200))
    failed = 0
    while failed < settings.login_account_max_failures + 3:  # past the limit, the last try a counted failure
        r = sign_in(proxy, "il.liaison", WRONG, **via(next(clients)))
        if r.status_code == 429:
            proxied.clock.advance(timedelta(seconds=int(r.headers["Retry-After"])))
        else:
            failed += 1
    watcher = via("203.0.113.250")

    def seen() -> str:
        r = sign_in(proxy, "il.liaison", WRONG, **watcher)
        assert r.status_code == 429, r.text
        return r.headers["Retry-After"]

    proxied.clock.advance(timedelta(milliseconds=10))
    before = seen()
    assert sign_in(proxy, "il.liaison", WRONG, **owner).status_code == 401  # the owner mistypes at his desk
    assert seen() == before
    assert sign_in(proxy, "il.liaison", **owner).status_code == 200  # and signs in
    assert seen() == before


# ---- the same NAT: a lock caused by others ----------------------------------------------------------------------


@pytest.fixture
def totp(cell) -> pyotp.TOTP:  # type: ignore[no-untyped-def]
    add_user(cell, "il.liaison", "IL", "liaison")
    with cell.command() as uow:
        uri = service.enroll_totp(cell=cell, uow=uow, actor=CLI_ACTOR, username="il.liaison")
    return pyotp.parse_uri(uri)


def test_two_clients_behind_one_nat_the_owner_signs_in_with_the_code(cell, totp) -> None:
    """Another party shares the duty officer's address (the same NAT) and fails five times: the officer's password
    alone is held with it, but the password with the current one-time code signs in."""
    nat = "198.51.100.20"
    limit = cell.settings.login_max_failures
    with from_address(cell, nat, 40001) as attacker, from_address(cell, nat, 40002) as officer:
        for _ in range(limit):
            assert sign_in(attacker, "il.liaison", WRONG).status_code == 401
        assert sign_in(attacker, "il.liaison", WRONG).status_code == 429
        held = sign_in(officer, "il.liaison")
        assert held.status_code == 429 and "one-time code" in held.json()["detail"]

        signed = officer.post(
            TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD, "otp": totp.at(cell.clock.now())}
        )
        assert signed.status_code == 200, signed.text
        me = officer.get("/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['access_token']}"})
        assert me.json()["username"] == "il.liaison"

        # the attacker is held again after its next five; a code with a wrong password gets the same answer as the
        # hold, and is not counted
        for _ in range(limit):
            assert sign_in(attacker, "il.liaison", WRONG).status_code == 401
        before = attempts(cell)
        guess = attacker.post(TOKEN_URL, json={"username": "il.liaison", "password": WRONG, "otp": "123456"})
        assert guess.status_code == 429 and guess.json()["detail"] == held.json()["detail"]
        assert attempts(cell) == before

        # the web's sign-in, held, offers the code field, and the code signs the officer in
        cell.clock.advance(timedelta(seconds=30))
        form = officer.get("/login")
        page = officer.post(
            "/login",
            data={"username": "il.liaison", "password": TEST_PASSWORD, "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert page.status_code == 429 and 'name="otp"' in page.text and "one-time code" in page.text
        page = officer.post(
            "/login",
            data={
                "username": "il.liaison",
                "password": TEST_PASSWORD,
                "otp": totp.at(cell.clock.now()),
                "csrf": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert page.status_code == 303, page.text


def test_the_way_through_closes_when_the_password_is_known(cell, totp, caplog) -> None:
    """Someone with the password but not the device cannot guess the code through a hold: a right password with
    wrong codes closes the way through after the limit (only a holder of the password can close it)."""
    limit = cell.settings.login_max_failures
    with from_address(cell, "198.51.100.30") as thief:
        for _ in range(limit):
            assert sign_in(thief, "il.liaison", WRONG).status_code == 401
        code = totp.at(cell.clock.now())
        wrong_code = "".join(str((int(c) + 1) % 10) for c in code)
        for _ in range(limit):
            r = thief.post(TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD, "otp": wrong_code})
            assert r.status_code == 429
        assert [reason for _, reason in attempts(cell)].count("bad-otp") == limit
        with caplog.at_level("WARNING", logger="fusioncell.auth.service"):
            r = thief.post(TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD, "otp": code})
        assert r.status_code == 429
        assert any(rec.getMessage() == "second factor being guessed" for rec in caplog.records)
    # elsewhere, with no hold on the address, the owner still signs in with both factors
    with from_address(cell, "192.0.2.44") as owner:
        cell.clock.advance(timedelta(seconds=30))
        r = owner.post(
            TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD, "otp": totp.at(cell.clock.now())}
        )
        assert r.status_code == 200, r.text

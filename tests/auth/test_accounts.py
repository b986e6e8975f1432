"""Accounts end to end: init and accounts through the CLI, then login, /me, logout, revocation, TOTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fusioncell.app import create_app, open_cell
from fusioncell.auth.models import AccessToken, LoginAttempt, User
from fusioncell.cli import app as cli
from fusioncell.clock import ManualClock
from fusioncell.ledger.models import LedgerEntry
from fusioncell.settings import Settings
from tests.conftest import (
    EXAMPLE_CHARTER,
    START,
    TEST_PASSWORD,
    add_user,
    bearer,
    ledger_size,
    login,
    make_cell,
    table_count,
)

runner = CliRunner()


def run(env: dict[str, str], *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    result = runner.invoke(cli, list(args), env=env, input=stdin)
    return result


def test_cli_init_accounts_then_api(empty_backend: dict[str, str]) -> None:
    env = empty_backend
    result = run(env, "init", "--charter", str(EXAMPLE_CHARTER))
    assert result.exit_code == 0, result.output
    assert "Initialised" in result.output
    assert (Path(env["FUSIONCELL_DATA"]) / "charter.yaml").exists()

    result = run(
        env,
        "users",
        "add",
        "sy.duty",
        "--delegation",
        "SY",
        "--role",
        "liaison",
        "--role",
        "analyst",
        "--password-stdin",
        stdin=TEST_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    result = run(
        env,
        "users",
        "add",
        "us.med",
        "--delegation",
        "US",
        "--role",
        "mediator",
        "--password-stdin",
        stdin=TEST_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output

    # refused: a party cannot hold the mediator role; an unknown delegation; a duplicate; a weak password
    bad = run(
        env,
        "users",
        "add",
        "sy.x",
        "--delegation",
        "SY",
        "--role",
        "mediator",
        "--password-stdin",
        stdin=TEST_PASSWORD + "\n",
    )
    assert bad.exit_code == 1 and "cannot hold role(s) mediator" in bad.output
    bad = run(
        env,
        "users",
        "add",
        "zz.x",
        "--delegation",
        "ZZ",
        "--role",
        "liaison",
        "--password-stdin",
        stdin=TEST_PASSWORD + "\n",
    )
    assert bad.exit_code == 1 and "unknown delegation 'ZZ'" in bad.output
    bad = run(
        env,
        "users",
        "add",
        "sy.duty",
        "--delegation",
        "SY",
        "--role",
        "liaison",
        "--password-stdin",
        stdin=TEST_PASSWORD + "\n",
    )
    assert bad.exit_code == 1 and "already exists" in bad.output
    bad = run(
        env, "users", "add", "sy.weak", "--delegation", "SY", "--role", "liaison", "--password-stdin", stdin="short\n"
    )
    assert bad.exit_code == 1 and "at least 12 characters" in bad.output

    listed = run(env, "users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["username"]: r for r in json.loads(listed.output)}
    assert set(rows) == {"sy.duty", "us.med"}
    assert rows["sy.duty"]["roles"] == ["liaison", "analyst"] and rows["sy.duty"]["delegation"] == "SY"

    settings = Settings(**{"data": Path(env["FUSIONCELL_DATA"]), "database_url": env.get("FUSIONCELL_DATABASE_URL")})
    cell = open_cell(settings, clock=ManualClock(START))
    try:
        # the ledger: charter adoption, then one entry per account created, audience the delegation + mediator
        with cell.reading() as session:
            entries = session.execute(select(LedgerEntry).order_by(LedgerEntry.index)).scalars().all()
        assert [(e.index, e.action, e.audience) for e in entries] == [
            (0, "charter.adopted", "joint"),
            (1, "account.created", "mediated:SY"),
            (2, "account.created", "mediator"),
        ]
        assert "password" not in entries[1].content and "argon2" not in entries[1].content

        with TestClient(create_app(cell, run_scheduler=False)) as client:
            token = login(client, "sy.duty")
            me = client.get("/api/v1/me", headers=bearer(token))
            assert me.status_code == 200
            assert me.json() == {
                "username": "sy.duty",
                "delegation": "SY",
                "roles": ["liaison", "analyst"],
                "totp_enabled": False,
                "lang": None,
                "time_zone": None,
            }

            # disable through the CLI: the token stops working at once
            assert run(env, "users", "disable", "sy.duty").exit_code == 0
            refused = client.get("/api/v1/me", headers=bearer(token))
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
            again = client.post("/api/v1/auth/token", json={"username": "sy.duty", "password": TEST_PASSWORD})
            assert again.status_code == 401 and "disabled" in again.json()["detail"]
    finally:
        cell.db.dispose()


def test_password_hashes_are_argon2id(cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    with cell.reading() as session:
        user = session.execute(select(User)).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in user.password_hash


def test_login_me_logout_and_revocation(client, cell) -> None:
    add_user(cell, "il.liaison", "IL", "liaison")
    first = login(client, "il.liaison")
    second = login(client, "il.liaison")
    assert first != second
    body = client.post("/api/v1/auth/token", json={"username": "il.liaison", "password": TEST_PASSWORD}).json()
    assert body["token_type"] == "bearer"
    assert body["expires_at"].startswith((START + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"))

    # tokens are stored hashed, never in the clear
    with cell.reading() as session:
        hashes = set(session.execute(select(AccessToken.token_hash)).scalars())
    assert first not in hashes and len(hashes) == 3

    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 401
    # the other token of the same person is untouched
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200


def test_tokens_expire(client, cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    token = login(client, "sy.liaison")
    cell.clock.advance(timedelta(hours=12) - timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    cell.clock.advance(timedelta(seconds=1))
    expired = client.get("/api/v1/me", headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_password_reset_revokes_tokens(client, cell) -> None:
    from fusioncell.auth import service
    from tests.conftest import CLI_ACTOR

    add_user(cell, "sy.liaison", "SY", "liaison")
    token = login(client, "sy.liaison")
    with cell.command() as uow:
        service.reset_password(
            cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.liaison", password="a-brand-new-passphrase"
        )
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert (
        client.post("/api/v1/auth/token", json={"username": "sy.liaison", "password": TEST_PASSWORD}).status_code == 401
    )
    login(client, "sy.liaison", "a-brand-new-passphrase")


def test_totp_required_after_enrolment(client, cell) -> None:
    from fusioncell.auth import service
    from tests.conftest import CLI_ACTOR

    add_user(cell, "us.mediator", "US", "mediator")
    with cell.command() as uow:
        uri = service.enroll_totp(cell=cell, uow=uow, actor=CLI_ACTOR, username="us.mediator")
    assert uri.startswith("otpauth://totp/")
    totp = pyotp.parse_uri(uri)

    no_code = client.post("/api/v1/auth/token", json={"username": "us.mediator", "password": TEST_PASSWORD})
    assert no_code.status_code == 401 and no_code.json()["otp_required"] is True
    wrong = client.post(
        "/api/v1/auth/token",
        json={
            "username": "us.mediator",
            "password": TEST_PASSWORD,
            "otp": "000000" if totp.at(cell.clock.now()) != "000000" else "111111",
        },
    )
    assert wrong.status_code == 401

    code = totp.at(cell.clock.now())
    token = login(client, "us.mediator", otp=code)
    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me["totp_enabled"] is True
    # the same code cannot be replayed
    replay = client.post("/api/v1/auth/token", json={"username": "us.mediator", "password": TEST_PASSWORD, "otp": code})
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    # the next time step's code works
    cell.clock.advance(timedelta(seconds=30))
    login(client, "us.mediator", otp=totp.at(cell.clock.now()))


def test_enrolling_totp_ends_tokens_and_cached_basic_sign_ins(backend, cell, client) -> None:
    """`users totp` ends what the password alone had opened: the account's bearer tokens, and HTTP Basic sign-ins
    that any worker had cached (two app instances on one database stand for two workers; the command line that
    enrols is another process again)."""
    import base64

    add_user(cell, "il.liaison", "IL", "liaison")
    token = login(client, "il.liaison")
    basic = {
        "Authorization": "Basic " + base64.b64encode(f"il.liaison:{TEST_PASSWORD}".encode()).decode(),
        "Accept": "application/taxii+json;version=2.1",
    }
    other = make_cell(backend, cell.clock)
    try:
        with TestClient(create_app(other, run_scheduler=False)) as other_worker:
            for worker in (client, other_worker):  # checked once, then trusted for a while
                assert worker.get("/taxii2/", headers=basic).status_code == 200

            env = {"FUSIONCELL_DATA": str(backend.settings.data)}
            if backend.settings.database_url:
                env["FUSIONCELL_DATABASE_URL"] = backend.settings.database_url
            result = run(env, "users", "totp", "il.liaison")
            assert result.exit_code == 0, result.output

            for worker in (client, other_worker):
                refused = worker.get("/taxii2/", headers=basic)
                assert refused.status_code == 401 and "second factor" in refused.json()["description"]
            assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    finally:
        other.db.dispose()
    with cell.reading() as session:
        revoked = session.execute(select(AccessToken.revoked_at)).scalars().all()
    assert len(revoked) == 1 and None not in revoked


def test_failed_logins_are_throttled_and_logged(client, cell, caplog) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    limit = cell.settings.login_max_failures
    with caplog.at_level("WARNING", logger="fusioncell.auth.service"):
        for _ in range(limit):
            r = client.post("/api/v1/auth/token", json={"username": "sy.liaison", "password": "wrong-password-1"})
            assert r.status_code == 401
    assert sum(1 for rec in caplog.records if rec.getMessage() == "login failed") == limit
    assert table_count(cell, LoginAttempt) == limit

    # now even the right password is refused until the window passes
    blocked = client.post("/api/v1/auth/token", json={"username": "sy.liaison", "password": TEST_PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["content-type"].startswith("application/problem+json")
    retry_after = int(blocked.headers["Retry-After"])
    assert 0 < retry_after <= cell.settings.login_failure_window.total_seconds() + 1

    cell.clock.advance(timedelta(seconds=retry_after))
    login(client, "sy.liaison")
    # a success clears the slate: what stays is that the account signs in from this client
    with cell.reading() as session:
        assert list(session.execute(select(LoginAttempt.client, LoginAttempt.reason))) == [("testclient", "signed-in")]


def test_unknown_user_is_indistinguishable_and_counts(client, cell) -> None:
    r = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "whatever-password"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid username or password"
    assert table_count(cell, LoginAttempt) == 1


def test_logins_write_no_ledger_entry(client, cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    before = ledger_size(cell)
    token = login(client, "sy.liaison")
    client.post("/api/v1/auth/logout", headers=bearer(token))
    client.post("/api/v1/auth/token", json={"username": "sy.liaison", "password": "wrong-password-1"})
    # sessions are security bookkeeping, not the shared record: the other party never learns our shift times
    assert ledger_size(cell) == before


@pytest.mark.parametrize("username", ["sy.liaison"])
def test_admin_of_a_party_manages_only_its_own_delegation(cell, username) -> None:
    from fusioncell.auth import service
    from fusioncell.errors import Forbidden
    from fusioncell.policy import Principal, Role

    sy_admin = Principal("sy.admin", "SY", frozenset({Role.ADMIN}))
    us_admin = Principal("us.admin", "US", frozenset({Role.ADMIN}))
    sy_liaison = Principal("sy.l", "SY", frozenset({Role.LIAISON}))
    with cell.command() as uow:
        service.add_user(
            cell=cell,
            uow=uow,
            actor=sy_admin,
            username=username,
            delegation="SY",
            roles=["liaison"],
            password=TEST_PASSWORD,
        )
    before = ledger_size(cell)
    for actor, delegation in ((sy_admin, "IL"), (sy_liaison, "SY")):
        with pytest.raises(Forbidden), cell.command() as uow:
            service.add_user(
                cell=cell,
                uow=uow,
                actor=actor,
                username="il.new",
                delegation=delegation,
                roles=["liaison"],
                password=TEST_PASSWORD,
            )
    with cell.command() as uow:
        service.add_user(
            cell=cell,
            uow=uow,
            actor=us_admin,
            username="il.new",
            delegation="IL",
            roles=["liaison"],
            password=TEST_PASSWORD,
        )
    assert ledger_size(cell) == before + 1


def test_throttle_is_per_client_so_another_terminal_cannot_lock_a_liaison_out(cell) -> None:
    """Failures from one address do not block the account's owner at another address."""
    from fusioncell.auth import service
    from fusioncell.errors import TooManyRequests, Unauthorized

    add_user(cell, "sy.liaison", "SY", "liaison")
    for _ in range(cell.settings.login_max_failures):
        with pytest.raises(Unauthorized):
            service.login(cell=cell, username="sy.liaison", password="guessing-123", otp=None, client="10.9.9.9")
    with pytest.raises(TooManyRequests):
        service.login(cell=cell, username="sy.liaison", password=TEST_PASSWORD, otp=None, client="10.9.9.9")
    issued = service.login(cell=cell, username="sy.liaison", password=TEST_PASSWORD, otp=None, client="10.0.0.5")
    assert issued.principal.delegation == "SY"


def test_parallel_guesses_cannot_outrun_the_limit(client, cell) -> None:
    """Attempts are counted before the slow password hash: a burst of simultaneous guesses gets no more tries
    than the limit."""
    import threading

    add_user(cell, "sy.liaison", "SY", "liaison")
    limit = cell.settings.login_max_failures
    statuses: list[int] = []
    lock = threading.Lock()
    go = threading.Barrier(3 * limit)

    def guess(i: int) -> None:
        go.wait()
        r = client.post("/api/v1/auth/token", json={"username": "sy.liaison", "password": f"guess-number-{i}"})
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(3 * limit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * limit + [429] * (2 * limit)
    assert table_count(cell, LoginAttempt) == limit

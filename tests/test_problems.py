"""Every error is RFC 9457 application/problem+json, precise about the field, and bad input writes nothing.

Runs on SQLite and PostgreSQL through the `client` and `cell` fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from fusioncell.auth.models import AccessToken, LoginAttempt
from fusioncell.cell import Cell
from fusioncell.errors import PROBLEM_BASE
from fusioncell.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import TEST_PASSWORD, add_user, bearer, ledger_size, login, table_count

TOKEN_URL = "/api/v1/auth/token"
ME_URL = "/api/v1/me"


# -- helpers -------------------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int, *, slug: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with the given status, and its body is returned."""
    assert response.status_code == status, response.text
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert media_type == PROBLEM_MEDIA_TYPE, response.headers.get("content-type")
    body = response.json()
    assert isinstance(body, dict), body
    for member in ("type", "title", "status", "detail"):
        assert member in body, f"problem lacks {member!r}: {body}"
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_BASE), body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if slug is not None:
        assert body["type"].endswith(slug), body["type"]
    return body


def error_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, f"no 'errors' list in {body}"
    for item in errors:
        assert {"pointer", "reason"} <= set(item), item
    return errors


def pointers(body: dict[str, Any]) -> set[str]:
    return {item["pointer"] for item in error_items(body)}


def _counts(cell: Cell) -> dict[str, int]:
    return {
        "ledger": ledger_size(cell),
        "login_attempts": table_count(cell, LoginAttempt),
        "access_tokens": table_count(cell, AccessToken),
    }


@contextmanager
def writes_nothing(cell: Cell) -> Iterator[None]:
    """The block leaves the ledger, the login attempts and the tokens as they were."""
    before = _counts(cell)
    yield
    assert _counts(cell) == before


# -- malformed and invalid bodies -------------------------------------------------------------------------


def test_malformed_json_is_400(client, cell):
    with writes_nothing(cell):
        r = client.post(
            TOKEN_URL,
            content=b'{"username": "sy.liaison", "password": ',
            headers={"Content-Type": "application/json"},
        )
        body = assert_problem(r, 400, slug="malformed-json")
    assert body["instance"] == TOKEN_URL


def test_wrong_type_is_422_naming_the_field(client, cell):
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, json={"username": 5, "password": TEST_PASSWORD})
        body = assert_problem(r, 422)
    assert "/username" in pointers(body)
    item = next(i for i in error_items(body) if i["pointer"] == "/username")
    assert item["reason"]
    assert "username" in body["detail"]


def test_unknown_field_is_422_naming_it(client, cell):
    add_user(cell, "sy.liaison", "SY", "liaison")
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, json={"username": "sy.liaison", "password": TEST_PASSWORD, "admin": True})
        body = assert_problem(r, 422)
    assert "/admin" in pointers(body)
    assert "admin" in body["detail"]


def test_missing_field_is_422_naming_it(client, cell):
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, json={"username": "sy.liaison"})
        body = assert_problem(r, 422)
    assert "/password" in pointers(body)
    assert "password" in body["detail"]


@pytest.mark.parametrize("payload", [[], "a string", 42, None], ids=["array", "string", "number", "null"])
def test_body_of_wrong_shape_is_422(client, cell, payload):
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, json=payload)
        assert_problem(r, 422)


def test_several_errors_are_all_reported(client, cell):
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, json={"username": 5, "extra": 1})
        body = assert_problem(r, 422)
    assert {"/username", "/password", "/extra"} <= pointers(body)


# -- size limit -----------------------------------------------------------------------------------------


def _oversized(cell: Cell) -> bytes:
    limit = cell.settings.max_body_bytes
    assert limit == 1_048_576
    # Valid JSON, so only the size can be the reason for refusing it.
    filler = "x" * (limit + 100_000)
    return ('{"username": "sy.liaison", "password": "' + filler + '"}').encode()


def test_oversized_body_is_413(client, cell):
    payload = _oversized(cell)
    assert len(payload) > 1_100_000
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, content=payload, headers={"Content-Type": "application/json"})
        body = assert_problem(r, 413)
    assert body.get("max_bytes") == cell.settings.max_body_bytes


def test_oversized_streamed_body_without_content_length_is_413(client, cell):
    payload = _oversized(cell)
    chunk = 64 * 1024

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), chunk):
            yield payload[start : start + chunk]

    with writes_nothing(cell):
        request = client.build_request(
            "POST", TOKEN_URL, content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in request.headers
        assert request.headers.get("transfer-encoding") == "chunked"
        r = client.send(request)
        body = assert_problem(r, 413)
    assert body.get("max_bytes") == cell.settings.max_body_bytes


def test_body_just_under_the_limit_is_not_refused_for_size(client, cell):
    """The limit is the limit: a body under it reaches validation (here: 422 for a too-long password)."""
    limit = cell.settings.max_body_bytes
    prefix, suffix = '{"username": "sy.liaison", "password": "', '"}'
    payload = (prefix + "x" * (limit - len(prefix) - len(suffix)) + suffix).encode()
    assert len(payload) == limit
    with writes_nothing(cell):
        r = client.post(TOKEN_URL, content=payload, headers={"Content-Type": "application/json"})
        body = assert_problem(r, 422)
    assert "/password" in pointers(body)


# -- routing --------------------------------------------------------------------------------------------


def test_unknown_route_is_404_problem(client, cell):
    with writes_nothing(cell):
        r = client.get("/api/v1/no-such-thing")
        body = assert_problem(r, 404)
    assert body["instance"] == "/api/v1/no-such-thing"


def test_unknown_route_with_a_body_is_404_problem(client, cell):
    with writes_nothing(cell):
        r = client.post("/api/v1/no-such-thing", json={"username": "x", "password": "y"})
        assert_problem(r, 404)


def test_wrong_method_is_405_problem_with_allow(client, cell):
    with writes_nothing(cell):
        r = client.get(TOKEN_URL)
        assert_problem(r, 405)
    allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert "POST" in allow, r.headers


def test_wrong_method_on_me_is_405_problem_with_allow(client, cell):
    with writes_nothing(cell):
        r = client.delete(ME_URL)
        assert_problem(r, 405)
    assert "GET" in r.headers.get("allow", "").upper()


# -- authentication -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer fc_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic c3kubGlhaXNvbjpwYXNz"},
        {"Authorization": "garbage"},
    ],
    ids=["missing", "unknown-token", "empty-token", "basic-scheme", "no-scheme"],
)
def test_me_without_a_valid_token_is_401_problem(client, cell, headers):
    with writes_nothing(cell):
        r = client.get(ME_URL, headers=headers)
        assert_problem(r, 401)
    assert r.headers.get("www-authenticate", "").split()[0].lower() == "bearer", r.headers


def test_logout_without_a_token_is_401_problem(client, cell):
    with writes_nothing(cell):
        r = client.post("/api/v1/auth/logout")
        assert_problem(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_revoked_token_is_401_problem(client, cell):
    add_user(cell, "il.liaison", "IL", "liaison")
    token = login(client, "il.liaison")
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    with writes_nothing(cell):
        r = client.get(ME_URL, headers=bearer(token))
        assert_problem(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_bad_credentials_are_401_problem(client, cell):
    """Not bad input (the shape is right): a failed attempt is recorded, but no token and no ledger entry."""
    add_user(cell, "sy.liaison", "SY", "liaison")
    ledger, tokens, attempts = (
        ledger_size(cell),
        table_count(cell, AccessToken),
        table_count(cell, LoginAttempt),
    )
    r = client.post(TOKEN_URL, json={"username": "sy.liaison", "password": "wrong-passphrase-123"})
    assert_problem(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert (ledger_size(cell), table_count(cell, AccessToken)) == (ledger, tokens)
    assert table_count(cell, LoginAttempt) == attempts + 1


def test_problem_responses_carry_a_request_id(client):
    r = client.get("/api/v1/no-such-thing", headers={"X-Request-ID": "trace-me-42"})
    assert_problem(r, 404)
    assert r.headers.get("x-request-id") == "trace-me-42"


def test_a_nul_character_is_refused_on_either_database(client, cell, crew) -> None:
    """PostgreSQL cannot store U+0000 in text and SQLite would: both refuse it as input, naming the field, and
    nothing is written."""
    from tests.conftest import ledger_size
    from tests.traffic.helpers import draft

    before = ledger_size(cell)
    for field, body in [
        ("subject", draft(precedence="ROUTINE", subject="a\u0000b", client_txn_id="nul-1")),
        ("body", draft(precedence="ROUTINE", body="a\u0000b", client_txn_id="nul-2")),
    ]:
        r = client.post("/api/v1/messages", json=body, headers=crew["sy"].headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text and "NUL" in r.text
    r = client.post(
        "/api/v1/messages",
        json=draft(precedence="ROUTINE", translations={"fr": {"subject": "s", "body": "a\u0000b"}}, client_txn_id="n3"),
        headers=crew["sy"].headers,
    )
    assert r.status_code == 422 and "/translations/fr/body" in r.text  # the field itself, not its container
    r = client.post("/api/v1/auth/token", json={"username": "sy.liaison", "password": "x\u0000"})
    assert r.status_code == 422 and "password" in r.text
    # query parameters too, on every route: PostgreSQL answered 500 here before
    for path, name in [
        ("/api/v1/alerts?target=S%00Y", "target"),
        ("/api/v1/ledger/evidence?subject=message:1%00", "subject"),
    ]:
        r = client.get(path, headers=crew["us"].headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert name in r.text and "NUL" in r.text
    assert client.get("/api/v1/messages", headers=crew["sy"].headers).json()["items"] == []
    assert ledger_size(cell) == before


def test_a_password_with_a_nul_character_is_refused_when_set() -> None:
    """It could be set but never used: the token route refuses NUL in any text."""
    from fusioncell.auth.passwords import check_strength

    assert check_strength("a long enough pass\x00phrase") is not None
    assert check_strength("a long enough passphrase") is None


# -- identifiers bounded by their columns --------------------------------------------------------------------------

BEYOND = 2**31  # one past what a row id column holds on PostgreSQL (INTEGER, 32-bit)


def test_an_id_beyond_its_column_is_refused_on_either_database(client, cell, crew) -> None:
    """Row ids (messages, alerts, intelligence items) are 32-bit on PostgreSQL, which answered 500 to a larger one in
    a path, a query or a body: on either database it is a 422 naming it, and nothing is written. The largest id a row
    can have is merely not found."""
    from fusioncell.intel.models import IntelItem
    from fusioncell.schemas import ROW_ID_MAX
    from tests.traffic.helpers import draft

    before = ledger_size(cell), table_count(cell, IntelItem)
    us, analyst = crew["us"].headers, crew["sy_analyst"].headers
    for method, path, body, headers, pointer in [
        ("get", f"/api/v1/messages/{BEYOND}", None, us, "path:message_id"),
        ("post", f"/api/v1/messages/{BEYOND}/ack", {}, us, "path:message_id"),
        ("post", f"/api/v1/messages/{BEYOND}/readback-verdict", {"verdict": "confirmed"}, us, "path:message_id"),
        # lists page by ledger index (BigInteger): a cursor past it, or before -1, is as bad
        ("get", f"/api/v1/messages?after={2**63}", None, us, "query:after"),
        ("get", f"/api/v1/alerts?after={2**63}", None, us, "query:after"),
        ("get", "/api/v1/messages?after=-2", None, us, "query:after"),
        # a reply goes through the group commit, where PostgreSQL's refusal failed (and re-ran) the whole batch
        ("post", "/api/v1/messages", draft(precedence="ROUTINE", reply_to=BEYOND), us, "/reply_to"),
        ("get", f"/api/v1/intel/items/{BEYOND}", None, analyst, "path:item_id"),
        ("post", f"/api/v1/intel/items/{BEYOND}/submit", None, analyst, "path:item_id"),
        ("post", f"/api/v1/intel/items/{BEYOND}/release", {"audience": "joint"}, us, "path:item_id"),
        ("post", f"/api/v1/intel/items/{BEYOND}/decline", {"reason": "no"}, us, "path:item_id"),
    ]:
        r = client.request(method, path, json=body, headers=headers)
        assert pointer in pointers(assert_problem(r, 422, slug="validation-error")), (path, r.text)
    assert (ledger_size(cell), table_count(cell, IntelItem)) == before
    largest = ROW_ID_MAX
    assert_problem(client.get(f"/api/v1/messages/{largest}", headers=us), 404)
    assert_problem(client.get(f"/api/v1/intel/items/{largest}", headers=analyst), 404)
    assert client.get(f"/api/v1/messages?after={2**63 - 1}", headers=us).json()["items"] == []
    assert client.get(f"/api/v1/alerts?after={2**63 - 1}", headers=us).json()["items"] == []
    r = client.post("/api/v1/messages", json=draft(precedence="ROUTINE", reply_to=largest), headers=us)
    assert_problem(r, 422)  # a message no one can read, refused by the service as any unknown reply_to is
    assert ledger_size(cell) == before[0]


# -- a server error -------------------------------------------------------------------------------------------------


def test_a_server_error_is_a_problem_that_tells_nothing(client, crew, monkeypatch) -> None:
    """A bug in a route is a 500 problem, with nothing of the error in it (under /taxii2/ it is TAXII's error message:
    tests/intel/test_taxii.py)."""
    from fusioncell.traffic import service

    def broken(**_: object) -> None:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(service, "inbox", broken)
    r = client.get("/api/v1/inbox", headers=crew["sy"].headers)
    body = assert_problem(r, 500, slug="internal-error")
    assert body["instance"] == "/api/v1/inbox" and "secret" not in r.text

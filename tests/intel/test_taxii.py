"""TAXII 2.1 by the letter: media types (406, 415), sizes (413), filters and keyset pages, and what each user's
collections let through — never an unreleased item, another party's collection, or a submitter's identity."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest

from fusioncell.intel.markings import Tlp
from fusioncell.intel.models import IntelItem, IntelObject, IntelStatus
from tests.conftest import TEST_PASSWORD, ledger_size, table_count
from tests.intel.stixdata import identity, indicator

TAXII = "application/taxii+json;version=2.1"
ROOT = "/taxii2/cell/"


def basic(username: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": TAXII}


def collections(client, headers) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r = client.get(ROOT + "collections/", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == TAXII, r.text
    return {c["title"]: c for c in r.json().get("collections", [])}


def add(client, headers, collection_id: str, objects: list[dict]):  # type: ignore[no-untyped-def]
    return client.post(
        f"{ROOT}collections/{collection_id}/objects/",
        json={"objects": objects},
        headers={**headers, "Content-Type": TAXII},
    )


@pytest.fixture
def analyst(crew) -> dict[str, str]:
    return basic("sy.analyst")


def test_media_types_and_sizes(client, cell, crew, analyst) -> None:
    submissions = collections(client, analyst)["SY submissions"]["id"]
    path = f"{ROOT}collections/{submissions}/objects/"
    for accept in ("application/json", "application/taxii+json;version=2.0", "text/html"):
        r = client.get(ROOT, headers={**analyst, "Accept": accept})
        assert r.status_code == 406 and r.headers["content-type"] == TAXII and r.json()["http_status"] == "406"
    assert client.get(ROOT, headers={**analyst, "Accept": "application/taxii+json"}).status_code == 200
    before = ledger_size(cell), table_count(cell, IntelItem), table_count(cell, IntelStatus)
    for content_type in ("application/json", "application/stix+json;version=2.1", "application/taxii+json;version=2.0"):
        r = client.post(path, json={"objects": [indicator()]}, headers={**analyst, "Content-Type": content_type})
        assert r.status_code == 415 and r.json()["http_status"] == "415", content_type
    big = b'{"objects": [' + b" " * (cell.settings.max_body_bytes + 1) + b"]}"
    r = client.post(path, content=big, headers={**analyst, "Content-Type": TAXII})
    assert r.status_code == 413 and r.headers["content-type"] == TAXII
    for body in (b"{not json", b"[]", b'{"objects": {}}', b"[" * 100_000 + b"]" * 100_000):
        r = client.post(path, content=body, headers={**analyst, "Content-Type": TAXII})
        assert r.status_code == 400, body
    assert (ledger_size(cell), table_count(cell, IntelItem), table_count(cell, IntelStatus)) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"pattern": None},
        {"id": "indicator--nope"},
        {"valid_from": "2026-13-45T00:00:00Z"},
        {"type": "x-custom", "id": f"x-custom--{uuid.uuid4()}"},
        {"object_marking_refs": None},
        {"id": None},  # stix2 would make one up
        {"id": []},  # and here too: it reads [] as absent
    ],
)
def test_invalid_stix_adds_nothing(client, cell, crew, analyst, bad) -> None:
    submissions = collections(client, analyst)["SY submissions"]["id"]
    before = ledger_size(cell), table_count(cell, IntelItem), table_count(cell, IntelStatus)
    r = add(client, analyst, submissions, [indicator(), indicator(**bad)])
    assert r.status_code == 422 and r.headers["content-type"] == TAXII, r.text
    [error] = r.json()["details"]["errors"]
    assert error["pointer"].startswith("/objects/1")  # where it sits in the envelope sent
    assert (ledger_size(cell), table_count(cell, IntelItem), table_count(cell, IntelStatus)) == before


def test_filters_pages_and_next(client, cell, crew, analyst) -> None:
    us = basic("us.mediator")
    joint = collections(client, us)["Joint"]["id"]
    sent = [indicator(name=f"n{i}") for i in range(6)]
    r = add(client, us, joint, sent)
    assert r.status_code == 202 and r.json()["success_count"] == 6
    status = client.get(f"{ROOT}status/{r.json()['id']}/", headers=us)
    assert status.status_code == 200 and status.json()["status"] == "complete"
    il = basic("il.liaison")
    path = f"{ROOT}collections/{joint}/objects/"
    first = client.get(path + "?limit=4", headers=il)
    assert first.status_code == 200 and first.json()["more"] is True
    assert first.headers["X-TAXII-Date-Added-First"] <= first.headers["X-TAXII-Date-Added-Last"]
    rest = client.get(path + f"?limit=4&next={first.json()['next']}", headers=il)
    assert rest.json()["more"] is False and "next" not in rest.json()
    assert [o["id"] for o in first.json()["objects"] + rest.json()["objects"]] == [o["id"] for o in sent]
    # a next token is tied to its filters
    other = client.get(path + f"?limit=4&match[type]=indicator&next={first.json()['next']}", headers=il)
    assert other.status_code == 400
    assert client.get(path + "?next=garbage", headers=il).status_code == 400
    assert client.get(path + "?limit=0", headers=il).status_code == 400
    assert client.get(path + "?limit=²", headers=il).status_code == 400
    token = first.json()["next"]
    altered = token[:10] + ("B" if token[10] == "A" else "A") + token[11:]
    assert client.get(path + f"?limit=4&next={altered}", headers=il).status_code == 400
    assert client.get(path + "?colour=red", headers=il).status_code == 400
    # match[id], match[type], added_after
    ids = f"{sent[0]['id']},{sent[3]['id']}"
    picked = client.get(path + f"?match[id]={ids}", headers=il).json()["objects"]
    assert [o["id"] for o in picked] == [sent[0]["id"], sent[3]["id"]]
    assert client.get(path + "?match[type]=malware", headers=il).json().get("objects", []) == []
    later = client.get(path + f"?added_after={first.headers['X-TAXII-Date-Added-Last']}", headers=il)
    assert later.json().get("objects", []) == []  # all were added in the same instant
    assert client.get(path + "?added_after=yesterday", headers=il).status_code == 400
    # a second batch, added later: added_after the first batch's time returns it alone; versions first and last
    cell.clock.advance(timedelta(minutes=5))
    newer = {**sent[0], "modified": "2026-03-02T07:00:00.000Z", "name": "moved"}
    assert add(client, us, joint, [newer]).status_code == 202
    since = client.get(path + f"?added_after={first.headers['X-TAXII-Date-Added-Last']}", headers=il).json()
    assert [o["name"] for o in since["objects"]] == ["moved"]
    assert client.get(path + f"?match[id]={sent[0]['id']}&match[version]=first", headers=il).json()["objects"] == [
        sent[0]
    ]
    assert client.get(path + f"?match[id]={sent[0]['id']}", headers=il).json()["objects"] == [newer]
    # DELETE with match[version]=last takes only the newest version out
    r = client.delete(f"{ROOT}collections/{joint}/objects/{sent[0]['id']}/?match[version]=last", headers=us)
    assert r.status_code == 200
    versions = client.get(f"{ROOT}collections/{joint}/objects/{sent[0]['id']}/versions/", headers=il).json()
    assert versions["versions"] == ["2026-03-02T05:00:00.000000Z"]
    # an object the collection does not hold is 404 with or without a query; one a filter leaves out, an empty page
    unknown = f"{ROOT}collections/{joint}/objects/indicator--{uuid.uuid4()}/"
    for query in ("", "?match[version]=all", "?limit=5"):
        assert client.get(unknown + query, headers=il).status_code == 404, query
    for query in ("", "?limit=5", "?match[spec_version]=2.1"):
        assert client.get(unknown + "versions/" + query, headers=il).status_code == 404, query
    filtered = client.get(f"{ROOT}collections/{joint}/objects/{sent[0]['id']}/?match[version]=2020-01-01T00:00:00Z",
                          headers=il)  # fmt: skip
    assert filtered.status_code == 200 and filtered.json().get("objects", []) == []
    # the same envelope again into the mediator's collection: a success that adds nothing
    entries = ledger_size(cell)
    again = add(client, us, joint, sent)
    assert again.status_code == 202 and again.json()["success_count"] == 6 and ledger_size(cell) == entries


def test_nothing_leaks_through_taxii(client, cell, crew, analyst) -> None:
    """An unreleased item, a mediated:SY release, and the submitter's identity never reach IL by any TAXII path."""
    sy_collections = collections(client, analyst)
    author = identity("SY desk Quneitra")
    unreleased = indicator(author=author, name="Unreleased launcher")
    r = add(client, analyst, sy_collections["SY submissions"]["id"], [author, unreleased])
    assert r.status_code == 202, r.text
    status_id = r.json()["id"]
    private = indicator(Tlp.AMBER, author=author, name="For SY alone")
    item = client.post(
        "/api/v1/intel/items", json={"stix": [author, private]}, headers=crew["sy_analyst"].headers
    ).json()
    client.post(
        f"/api/v1/intel/items/{item['id']}/release", json={"audience": "mediated:SY"}, headers=crew["us"].headers
    )
    shared = indicator(author=author, name="Shared launcher")
    item = client.post(
        "/api/v1/intel/items", json={"stix": [author, shared]}, headers=crew["sy_analyst"].headers
    ).json()
    client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"}, headers=crew["us"].headers)

    il = basic("il.liaison")
    mine = collections(client, il)
    assert set(mine) == {"Joint", "IL and the mediator"}
    seen = []
    for collection in mine.values():
        base = f"{ROOT}collections/{collection['id']}/"
        for path in ("objects/?match[version]=all", "manifest/", f"objects/{unreleased['id']}/",
                     f"objects/{private['id']}/", f"objects/{private['id']}/versions/"):  # fmt: skip
            r = client.get(base + path, headers=il)
            assert r.status_code in (200, 404), (path, r.text)
            seen.append(r.text)
    # the others' collections do not exist for IL, nor does SY's status
    for other in (sy_collections["SY submissions"], sy_collections["SY and the mediator"]):
        assert client.get(f"{ROOT}collections/{other['id']}/", headers=il).status_code == 404
        assert client.get(f"{ROOT}collections/{other['id']}/objects/", headers=il).status_code == 404
        r = add(client, il, other["id"], [indicator()])
        assert r.status_code == 404
    assert client.get(f"{ROOT}status/{status_id}/", headers=il).status_code == 404
    everything = "".join(seen)
    assert "Shared launcher" in everything  # the released one does arrive
    for secret in ("Unreleased launcher", "For SY alone", "SY desk Quneitra", author["id"]):
        assert secret not in everything, secret
    assert table_count(cell, IntelObject) > 0


def test_parties_write_only_to_their_submissions(client, cell, crew, analyst) -> None:
    joint = collections(client, analyst)["Joint"]
    assert joint["can_write"] is False
    before = ledger_size(cell)
    assert add(client, analyst, joint["id"], [indicator()]).status_code == 403
    assert (
        client.delete(f"{ROOT}collections/{joint['id']}/objects/{indicator()['id']}/", headers=analyst).status_code
        == 403
    )
    assert ledger_size(cell) == before
    # a liaison (no analyst role) has no submissions collection; an account with no content role reads nothing
    assert "SY submissions" not in collections(client, basic("sy.liaison"))
    assert collections(client, basic("sy.admin")) == {}


def test_sign_in(client, crew) -> None:
    assert client.get(ROOT, headers={"Accept": TAXII}).status_code == 401
    r = client.get(ROOT, headers=basic("sy.analyst", "wrong"))
    assert r.status_code == 401 and "Basic" in r.headers["www-authenticate"]
    assert client.get(ROOT, headers={"Accept": TAXII, "Authorization": "Basic !!!"}).status_code == 401
    bearer = {"Accept": TAXII, "Authorization": f"Bearer {crew['il'].token}"}
    assert client.get(ROOT, headers=bearer).status_code == 200


def test_a_throttled_basic_sign_in_says_when_to_try_again(client, cell) -> None:
    """TAXII clients are told how long to wait, as the API's clients are (Retry-After), in a TAXII error message."""
    for _ in range(cell.settings.login_max_failures):
        assert client.get(ROOT, headers=basic("sy.analyst", "wrong")).status_code == 401
    r = client.get(ROOT, headers=basic("sy.analyst"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.headers["content-type"] == TAXII and taxii_error(r, 429)["description"]


def test_a_cached_basic_sign_in_ends_with_the_account(client, cell, crew) -> None:
    from fusioncell.auth import service as auth_service
    from tests.conftest import CLI_ACTOR

    headers = basic("il.liaison")
    assert client.get(ROOT, headers=headers).status_code == 200  # checked once, then trusted for a while
    with cell.command() as uow:
        auth_service.disable_user(cell=cell, uow=uow, actor=CLI_ACTOR, username="il.liaison")
    assert client.get(ROOT, headers=headers).status_code == 401


def taxii_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    """The response is TAXII 2.1's error message (§3.6.1) with this status; its body is returned."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == TAXII, response.headers["content-type"]
    body = response.json()
    assert body["http_status"] == str(status), body
    assert isinstance(body["title"], str) and body["title"] and isinstance(body["description"], str), body
    return body


def test_every_error_under_taxii2_is_a_taxii_error_message(client, cell, crew, analyst, monkeypatch) -> None:
    """Whatever raises it (a bug in a route, an unknown path or method, an invalid parameter), a TAXII client reads
    TAXII's error message, never problem+json; a server error tells nothing of itself."""
    from fusioncell.intel import taxii

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret detail of a bug")

    with monkeypatch.context() as patched:
        patched.setattr(taxii, "collections_for", broken)
        r = client.get(ROOT + "collections/", headers=analyst)
        taxii_error(r, 500)
        assert "secret" not in r.text
    assert client.get(ROOT + "collections/", headers=analyst).status_code == 200
    taxii_error(client.get(ROOT + "no-such-resource/", headers=analyst), 404)
    r = client.put(ROOT, headers=analyst)
    taxii_error(r, 405)
    assert "GET" in r.headers["allow"]
    # U+0000 in a path parameter: refused before the route, naming it
    body = taxii_error(client.get(ROOT + "collections/a%00b/", headers=analyst), 422)
    assert [e["pointer"] for e in body["details"]["errors"]] == ["path:collection_id"]
    # the API next to it keeps problem+json
    r = client.get("/api/v1/no-such-resource", headers=crew["sy"].headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_a_basic_username_longer_than_any_account_is_a_wrong_login(client, cell, crew) -> None:
    """No account's name is longer than 64 characters (what its column holds): a longer one over HTTP Basic is
    answered as a wrong password is, and nothing is recorded (PostgreSQL answered 500: the name overflowed the login
    attempts' column)."""
    from fusioncell.auth.models import LoginAttempt

    wrong = client.get(ROOT, headers=basic("sy.analyst", "wrong"))
    attempts = table_count(cell, LoginAttempt)
    for name in ("a" * 65, "sy.analyst" + "x" * 500):
        r = client.get(ROOT, headers=basic(name))
        assert taxii_error(r, 401) == wrong.json()
        assert "Basic" in r.headers["www-authenticate"]
    assert table_count(cell, LoginAttempt) == attempts
    assert client.get(ROOT, headers=basic("sy.analyst")).status_code == 200

"""Identifiers that count nothing hidden (issue 13.7): page tokens over objects numbered across every audience,
item ids, and the subjects of withdrawals and recalls tell a reader nothing it could not count from what it may
read."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fusioncell.app import create_app
from fusioncell.intel.models import IntelObject
from fusioncell.ledger.models import LedgerEntry
from fusioncell.pagetokens import TOKEN_LENGTH, PageTokens, bound_to
from tests.conftest import add_user, bearer, ledger_size, login, make_cell
from tests.intel.stixdata import indicator
from tests.intel.test_taxii import ROOT, TAXII, basic, collections

OBJECTS = "/api/v1/intel/objects"


def release(client, crew, audience: str, *objects: dict) -> dict:  # type: ignore[no-untyped-def]
    """SY's analyst submits the objects and the mediator releases them to the audience."""
    item = client.post("/api/v1/intel/items", json={"stix": list(objects)}, headers=crew["sy_analyst"].headers)
    assert item.status_code == 201, item.text
    r = client.post(f"/api/v1/intel/items/{item.json()['id']}/release", json={"audience": audience},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def row_ids(cell, *stix_ids: str) -> list[int]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return [session.execute(select(IntelObject.id).where(IntelObject.stix_id == s)).scalar_one() for s in stix_ids]


def assert_opaque(token: object, *positions: int) -> None:
    """A token is text of one length, whatever position it holds, and holds none of these row ids in any form."""
    assert isinstance(token, str) and len(token) == TOKEN_LENGTH, token
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for position in positions:
        assert position.to_bytes(8, "big") not in raw and position.to_bytes(4, "big") not in raw


def test_object_pages_count_nothing_another_audience_was_given(client, cell, crew) -> None:
    il, sy = crew["il"], crew["sy"]
    first = indicator(name="joint one")
    release(client, crew, "joint", first)
    hidden = [indicator(name=f"for SY alone {i}") for i in range(5)]
    release(client, crew, "mediated:SY", *hidden)  # rows IL cannot see, numbered between IL's
    second, third = indicator(name="joint two"), indicator(name="joint three")
    release(client, crew, "joint", second)
    release(client, crew, "joint", third)
    ids = row_ids(cell, first["id"], second["id"], third["id"])
    assert ids[1] - ids[0] > 5  # what a row id in the clear told IL

    page = client.get(f"{OBJECTS}?limit=1", headers=il.headers).json()
    assert [o["name"] for o in page["objects"]] == ["joint one"]
    assert_opaque(page["next_after"], *ids)
    following = client.get(f"{OBJECTS}?limit=1&after={page['next_after']}", headers=il.headers).json()
    assert [o["name"] for o in following["objects"]] == ["joint two"]
    assert_opaque(following["next_after"], *ids)
    last = client.get(f"{OBJECTS}?limit=1&after={following['next_after']}", headers=il.headers).json()
    assert [o["name"] for o in last["objects"]] == ["joint three"] and last["next_after"] is None
    # a page that ends exactly at the end says so (no empty page to fetch), and "0" still starts at the start
    assert client.get(f"{OBJECTS}?limit=3&after=0", headers=il.headers).json()["next_after"] is None

    # no probing by position: a number, a token altered, IL's token in SY's hands, each a precise 400
    token = page["next_after"]
    altered = token[:10] + ("B" if token[10] == "A" else "A") + token[11:]
    for reader, after in ((il, str(ids[0])), (il, "1"), (il, altered), (il, "x" * 50), (sy, token)):
        r = client.get(f"{OBJECTS}?limit=1&after={after}", headers=reader.headers)
        assert r.status_code == 400, (after, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/invalid-page-token") and "page token" in r.json()["detail"]
    assert client.get(f"{OBJECTS}?after={'x' * 101}", headers=il.headers).status_code == 422  # longer than any


def test_a_page_token_serves_on_another_instance_and_after_a_restart(client, cell, crew, backend, clock) -> None:
    release(client, crew, "joint", indicator(name="a"), indicator(name="b"))
    token = client.get(f"{OBJECTS}?limit=1", headers=crew["il"].headers).json()["next_after"]
    other = make_cell(backend, clock)  # another process on the same data: its key comes from the same log key
    try:
        with TestClient(create_app(other, run_scheduler=False), raise_server_exceptions=False) as elsewhere:
            r = elsewhere.get(f"{OBJECTS}?limit=1&after={token}", headers=crew["il"].headers)
            assert r.status_code == 200 and [o["name"] for o in r.json()["objects"]] == ["b"], r.text
    finally:
        other.db.dispose()


def test_page_tokens_open_only_with_their_key_and_binding() -> None:
    tokens = PageTokens.derived_from(b"k" * 32)
    small, large = tokens.seal(1, bound_to=bound_to("l", "u")), tokens.seal(2**63 - 1, bound_to=bound_to("l", "u"))
    assert len(small) == len(large) == TOKEN_LENGTH
    assert tokens.seal(1, bound_to=bound_to("l", "u")) != small  # a fresh nonce: equal positions do not show
    assert tokens.open(large, bound_to=bound_to("l", "u")) == 2**63 - 1
    from fusioncell.errors import InvalidPageToken

    for opener, binding in (
        (tokens, bound_to("l", "v")),
        (tokens, bound_to("m", "u")),
        (tokens, bound_to("l", "u", "")),
        (PageTokens.derived_from(b"j" * 32), bound_to("l", "u")),  # another cell's key
    ):
        with pytest.raises(InvalidPageToken):
            opener.open(small, bound_to=binding)


def test_taxii_next_counts_nothing_and_is_the_readers_own(client, cell, crew) -> None:
    us, il, sy = basic("us.mediator"), basic("il.liaison"), basic("sy.liaison")
    joint = collections(client, us)["Joint"]["id"]
    first = indicator(name="joint one")
    release(client, crew, "joint", first)
    release(client, crew, "mediated:SY", *(indicator(name=f"hidden {i}") for i in range(5)))
    second = indicator(name="joint two")
    release(client, crew, "joint", second, indicator(name="joint three"))
    ids = row_ids(cell, first["id"], second["id"])
    path = f"{ROOT}collections/{joint}/objects/"
    page = client.get(path + "?limit=1", headers=il)
    assert page.status_code == 200 and page.json()["more"] is True, page.text
    assert_opaque(page.json()["next"], *ids)
    token = page.json()["next"]
    following = client.get(path + f"?limit=1&next={token}", headers=il).json()
    assert [o["name"] for o in following["objects"]] == ["joint two"]
    assert_opaque(following["next"], *ids)
    before = ledger_size(cell)
    for reader, query in (
        (sy, f"?limit=1&next={token}"),  # SY reads the joint collection too, but this token is IL's
        (il, f"?limit=1&match[type]=indicator&next={token}"),  # other filters
        (il, f"?limit=1&next={token[:-3]}"),
    ):
        r = client.get(path + query, headers=reader)
        assert r.status_code == 400 and r.headers["content-type"] == TAXII, r.text
        assert r.json()["http_status"] == "400" and "page token" in r.json()["description"]
    # the manifest pages with the same tokens; the REST list does not take them
    assert client.get(f"{ROOT}collections/{joint}/manifest/?limit=1&next={token}", headers=il).status_code == 200
    assert client.get(f"{OBJECTS}?after={token}", headers=crew["il"].headers).status_code == 400
    assert ledger_size(cell) == before


def test_item_ids_neither_count_nor_date_other_delegations_work(client, cell, crew) -> None:
    """Ids were one sequence for every delegation's items and drafts: the gap between two of IL's ids counted what
    SY drafted and submitted meanwhile, and a draft's id, submitted later, dated it among IL's."""
    add_user(cell, "il.analyst", "IL", "analyst")
    il = bearer(login(client, "il.analyst"))
    sy = crew["sy_analyst"].headers

    def submitted(headers, **extra):  # type: ignore[no-untyped-def]
        r = client.post("/api/v1/intel/items", json={"stix": [indicator()], **extra}, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    before = submitted(il)
    drafts = [submitted(sy, draft=True) for _ in range(3)]
    for _ in range(2):
        submitted(sy)
    after = submitted(il)
    assert after - before != 1 + len(drafts) + 2  # what the sequence gave away
    r = client.post(f"/api/v1/intel/items/{drafts[0]}/submit", headers=sy)
    assert r.status_code == 200 and r.json()["id"] == drafts[0], r.text  # a draft keeps its id when submitted
    ids = [submitted(il) for _ in range(12)]
    assert ids != sorted(ids) and all(1 <= i <= 2**31 - 1 for i in ids)  # no order to read a date from
    # the queue keeps the order of submission whatever the ids
    queue = client.get("/api/v1/intel/items?state=submitted", headers=crew["us"].headers).json()["items"]
    assert [i["id"] for i in queue[:13]] == [drafts[0], *ids][::-1]


def test_withdrawals_and_recalls_name_nothing_hidden(client, cell, crew) -> None:
    """The subject of an entry was public in a format-1 header (and is the key evidence is asked by): a withdrawal
    named the object (its type and id) and a recall the very release it took back."""
    us_taxii = basic("us.mediator")
    withdrawn = indicator(name="withdrawn")
    recalled = indicator(name="recalled")
    kept = release(client, crew, "mediated:SY", withdrawn)
    item = release(client, crew, "mediated:SY", recalled)
    start = ledger_size(cell)
    r = client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": "Source retracted"},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    mediated_sy = collections(client, us_taxii)["SY and the mediator"]["id"]
    r = client.delete(f"{ROOT}collections/{mediated_sy}/objects/{withdrawn['id']}/", headers=us_taxii)
    assert r.status_code == 200, r.text
    with cell.reading() as session:
        entries = list(session.execute(select(LedgerEntry).where(LedgerEntry.index >= start)).scalars())
        releases = set(session.execute(select(LedgerEntry.subject).where(LedgerEntry.action == "intel.released"))
                       .scalars())  # fmt: skip
    by_action = {e.action: e for e in entries}
    recall, withdrawal = by_action["intel.revoked"], by_action["intel.withdrawn"]
    for entry in (recall, withdrawal):
        for hidden in (withdrawn["id"], recalled["id"], "indicator", item["release_id"], kept["release_id"]):
            assert hidden not in entry.subject, (entry.action, entry.subject)
        assert entry.subject not in releases
    # the audience still reads what was recalled and withdrawn, in the content
    assert json.loads(recall.content)["release"] == item["release_id"]
    assert json.loads(withdrawal.content)["object"] == withdrawn["id"]
    # a second recall-worthy act gets a subject of its own: nothing ties two of them together
    third = release(client, crew, "mediated:SY", indicator(name="another"))
    client.post(f"/api/v1/intel/items/{third['id']}/revoke", json={"reason": "x"}, headers=crew["us"].headers)
    with cell.reading() as session:
        recalls = list(session.execute(select(LedgerEntry.subject).where(LedgerEntry.action == "intel.revoked"))
                       .scalars())  # fmt: skip
    assert len(set(recalls)) == 2
    # and IL, outside the audience, reads none of it in the log it witnesses
    public = client.get(f"/api/v1/ledger/entries?start={start}", headers=crew["il"].headers)
    assert public.status_code == 200
    for hidden in (withdrawn["id"], recalled["id"], item["release_id"]):
        assert hidden not in public.text

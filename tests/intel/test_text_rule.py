"""The text rule (fusioncell.text) in intelligence, on SQLite and PostgreSQL: every string value of a submitted STIX
object, and every property name, over REST and TAXII, as a draft or a revision; a redaction's new values; the
mediator's reasons and a sighting's note. A refused text names the very value, the character and its position,
and nothing is written; STIX content not in NFC is refused, not normalised, since objects are served as sent."""

from __future__ import annotations

import pytest

from fusioncell.intel.models import IntelItem, IntelObject, IntelStatus
from tests.conftest import ledger_size, table_count
from tests.intel.stixdata import bundle, indicator
from tests.intel.test_release import released, submit
from tests.intel.test_taxii import ROOT, TAXII, add, basic, collections

RLO = "Launcher at line \u202e0081\u202c"
TAGS = "Uplink" + "".join(chr(0xE0000 + ord(c)) for c in "release to IL only")  # hidden from the reviewer
ARABIC = "منصة إطلاق عند الخط \u20661800\u2069 \u200fشمال التل"


def counts(cell) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return ledger_size(cell), table_count(cell, IntelItem), table_count(cell, IntelObject)


def only_error(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"] if "errors" in r.json() else r.json()["details"]["errors"]
    return error


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"description": RLO}, "description", "U+202E RIGHT-TO-LEFT OVERRIDE at position 17"),
        ({"name": TAGS}, "name", "U+E0072 TAG LATIN SMALL LETTER R at position 6: tag characters are invisible"),
        ({"name": "Uplink\x1b[2K"}, "name", "U+001B ESCAPE at position 6"),
        ({"description": "\u2067\u0645\u0646\u0635"}, "description", "U+2067 RIGHT-TO-LEFT ISOLATE at position 0"),
        ({"labels": ["ok", "sp\u200e\u2066ot"]}, "labels/1", "U+2066 LEFT-TO-RIGHT ISOLATE at position 3"),
        ({"external_references": [{"source_name": "OP-7", "description": "x\u2028y"}]},
         "external_references/0/description", "U+2028 LINE SEPARATOR at position 1"),
        ({"description": "Caf\u0065\u0301"}, "description", "not in Unicode normalisation form C from position 3"),
    ],
)  # fmt: skip
def test_a_refused_text_in_stix_is_pointed_at(client, cell, crew, change, where, message) -> None:
    good, bad = indicator(), indicator(**change)
    before = counts(cell)
    error = only_error(submit(client, crew["sy_analyst"], bundle(good, bad)))
    assert error["pointer"] == f"/stix/objects/1/{where}", error
    assert error["reason"].startswith(bad["id"]) and message in error["reason"], error
    error = only_error(submit(client, crew["sy_analyst"], [bad]))  # a plain list: its own positions
    assert error["pointer"] == f"/stix/0/{where}", error
    assert counts(cell) == before


def test_a_property_name_is_one_line_of_text_too() -> None:
    """Names are held to the rule as values are (stix2 already limits the names of its dictionaries to ASCII
    letters, digits, '-' and '_'; this holds whatever a later library lets through)."""
    from fusioncell.intel.stix import text_problems

    obj = {"id": "x-a--1", "hashes": {"SHA-256\u202e": "ab"}, "labels": ["fine", {"k\n": "caf\u0065\u0301"}]}
    found = [(p.at, p.reason) for p in text_problems(("stix", 0), obj)]
    assert [at for at, _ in found] == [
        ("stix", 0, "hashes", "SHA-256\u202e"),
        ("stix", 0, "labels", 1, "k\n"),
        ("stix", 0, "labels", 1, "k\n"),
    ]
    assert found[0][1].startswith("the name U+202E RIGHT-TO-LEFT OVERRIDE at position 7")
    assert found[1][1].startswith("the name U+000A LINE FEED at position 1: this text is one line")
    assert found[2][1].startswith("not in Unicode normalisation form C from position 3")


def test_arabic_with_isolates_and_marks_is_stored_and_served_byte_for_byte(client, cell, crew) -> None:
    sent = indicator(name=ARABIC, description="سطر أول\nسطر \u2067ثان\u2069")
    item = submit(client, crew["sy_analyst"], [sent]).json()
    assert client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"},
                       headers=crew["us"].headers).status_code == 200  # fmt: skip
    [got] = released(client, crew["il"])
    assert got == sent


def test_taxii_answers_a_taxii_error_pointing_at_the_value(client, cell, crew) -> None:
    analyst = basic("sy.analyst")
    submissions = collections(client, analyst)["SY submissions"]["id"]
    before = (*counts(cell), table_count(cell, IntelStatus))
    r = add(client, analyst, submissions, [indicator(), indicator(description=RLO)])
    assert r.status_code == 422 and r.headers["content-type"] == TAXII, r.text
    assert r.json()["http_status"] == "422"
    [error] = r.json()["details"]["errors"]
    assert error["pointer"] == "/objects/1/description", error  # in the envelope sent
    assert "U+202E RIGHT-TO-LEFT OVERRIDE at position 17" in error["reason"], error
    # the mediator's own collection (publishing straight to an audience) is held to the same rule
    joint = collections(client, basic("us.mediator"))["Joint"]["id"]
    r = add(client, basic("us.mediator"), joint, [indicator(name=TAGS)])
    assert r.status_code == 422 and r.headers["content-type"] == TAXII, r.text
    assert (*counts(cell), table_count(cell, IntelStatus)) == before
    assert not client.get(f"{ROOT}collections/{joint}/objects/", headers=basic("il.liaison")).json().get("objects")


def test_drafts_are_held_to_the_rule(client, cell, crew) -> None:
    sy = crew["sy_analyst"]
    before = counts(cell)
    error = only_error(submit(client, sy, [indicator(description=RLO)], draft=True))
    assert error["pointer"] == "/stix/0/description" and "U+202E" in error["reason"]
    assert counts(cell) == before
    draft = submit(client, sy, [indicator(name="First thought")], draft=True).json()
    before = counts(cell)
    r = client.put(f"/api/v1/intel/items/{draft['id']}", json={"stix": bundle(indicator(name=TAGS))},
                   headers=sy.headers)  # fmt: skip
    error = only_error(r)
    assert error["pointer"] == "/stix/objects/0/name" and "TAG LATIN SMALL LETTER R" in error["reason"], error
    assert counts(cell) == before
    [kept] = client.get(f"/api/v1/intel/items/{draft['id']}", headers=sy.headers).json()["objects"]
    assert kept["name"] == "First thought"


def test_the_mediators_words_follow_the_rule(client, cell, crew) -> None:
    us, sy = crew["us"], crew["sy_analyst"]
    source = indicator(description="From our post OP-7")
    item = submit(client, sy, [source]).json()
    before = counts(cell)
    for reason, message in ((RLO, "U+202E RIGHT-TO-LEFT OVERRIDE at position 17"), ("Stale\x1b[1A", "U+001B")):
        r = client.post(f"/api/v1/intel/items/{item['id']}/decline", json={"reason": reason}, headers=us.headers)
        error = only_error(r)
        assert error["pointer"] == "/reason" and message in error["reason"], error
    # a redaction's new values are STIX content: refused, pointed at, never normalised
    redactions = [{"id": source["id"], "replace": {"description": "Source withheld \u2067"}}]
    r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint", "redactions": redactions},
                    headers=us.headers)  # fmt: skip
    error = only_error(r)
    assert error["pointer"] == f"/redactions/{source['id']}/description", error
    assert "U+2067 RIGHT-TO-LEFT ISOLATE at position 16" in error["reason"], error
    r = client.post(f"/api/v1/intel/items/{item['id']}/release",
                    json={"audience": "joint", "redactions": [{"id": source["id"], "remove": ["name\u202e"]}]},
                    headers=us.headers)  # fmt: skip
    error = only_error(r)
    assert error["pointer"] == "/redactions/0/remove" and "remove/0: U+202E" in error["reason"], error
    assert counts(cell) == before
    assert client.get(f"/api/v1/intel/items/{item['id']}", headers=sy.headers).json()["state"] == "submitted"
    # released, then recalled: the reason follows the rule too
    assert client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"},
                       headers=us.headers).status_code == 200  # fmt: skip
    before = counts(cell)
    r = client.post(f"/api/v1/intel/items/{item['id']}/revoke", json={"reason": TAGS}, headers=us.headers)
    assert only_error(r)["pointer"] == "/reason"
    # and a party's sighting note
    r = client.post("/api/v1/intel/sightings", json={"sighting_of": source["id"], "description": f"Seen {RLO}"},
                    headers=sy.headers)  # fmt: skip
    error = only_error(r)
    assert error["pointer"] == "/description" and "U+202E RIGHT-TO-LEFT OVERRIDE at position 22" in error["reason"]
    assert counts(cell) == before
    # an accepted note is stored in NFC, as any text a client writes outside STIX content
    r = client.post("/api/v1/intel/sightings", json={"sighting_of": source["id"], "description": "Caf\u0065\u0301"},
                    headers=sy.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    stored = client.get(f"/api/v1/intel/items/{r.json()['id']}", headers=sy.headers).json()["objects"][0]
    assert stored["description"] == "Caf\u00e9"

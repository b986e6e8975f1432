"""The mediator's review page shows text as the ledger holds it: a direction change in Arabic or English is kept
and marked, a character stored before the text rule is named instead of acting, and the decline form holds the
mediator's reason to the rule, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import update

from fusioncell.intel import stix
from fusioncell.intel.models import IntelItem
from tests.conftest import ledger_size
from tests.intel.stixdata import indicator
from tests.web.pages import browser, csrf_of, signed_in

ARABIC = "منصة إطلاق عند الخط \u20661800\u2069 \u200fشمال التل"
ENGLISH = "Launcher at line \u20670081\u2069 north of the ridge"


def submitted(client, crew, *objects) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/intel/items", json={"stix": list(objects)}, headers=crew["sy_analyst"].headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_direction_change_is_kept_and_marked(client, cell, crew) -> None:
    item = submitted(client, crew, indicator(name=ARABIC, description=ENGLISH))
    page = signed_in(browser(client), "us.mediator").get(f"/intel/{item}")
    assert page.status_code == 200
    html = page.text
    lri = '<abbr class="textmark direction" title="U+2066 LEFT-TO-RIGHT ISOLATE">LRI</abbr>\u2066'
    pdi = '\u2069<abbr class="textmark direction" title="U+2069 POP DIRECTIONAL ISOLATE">PDI</abbr>'
    rli = '<abbr class="textmark direction" title="U+2067 RIGHT-TO-LEFT ISOLATE">RLI</abbr>\u2067'
    assert f'{lri}<span class="isolated">1800</span>{pdi}' in html  # in the name, the Arabic
    assert f'{rli}<span class="isolated">0081</span>{pdi}' in html  # in the description, the English
    assert '<abbr class="textmark direction" title="U+200F RIGHT-TO-LEFT MARK">RLM</abbr>\u200f' in html
    # the Hebrew page the same, right to left
    he = signed_in(browser(client), "us.mediator").get(f"/intel/{item}?lang=he").text
    assert 'dir="rtl"' in he and f'{rli}<span class="isolated">0081</span>{pdi}' in he


def test_text_stored_before_the_rule_is_named_never_acted_on(client, cell, crew) -> None:
    item = submitted(client, crew, indicator(name="placeholder"))
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "release to IL only")
    stored = json.loads(client.get(f"/api/v1/intel/items/{item}", headers=crew["us"].headers).text)["objects"]
    stored[0]["name"] = "Seen\x1b[2K at <b>04:10</b> \u2067unclosed, line \u202e0081\u202c" + hidden
    text = stix.encode(stored)
    digest = stix.sha256(text)
    with cell.db.engine.begin() as conn:  # as an item submitted before the rule holds it
        conn.execute(update(IntelItem).where(IntelItem.id == item).values(objects=text, objects_sha256=digest))
    html = signed_in(browser(client), "us.mediator").get(f"/intel/{item}").text
    assert '<abbr class="textmark refused" title="U+202E RIGHT-TO-LEFT OVERRIDE">RLO</abbr>0081' in html
    assert '<abbr class="textmark refused" title="U+202C POP DIRECTIONAL FORMATTING">PDF</abbr>' in html
    assert "TAG “release to IL only”</abbr>" in html
    assert '<abbr class="textmark refused" title="U+001B ESCAPE">\\x1b</abbr>[2K at &lt;b&gt;04:10&lt;/b&gt;' in html
    assert '<abbr class="textmark refused" title="U+2067 RIGHT-TO-LEFT ISOLATE">RLI</abbr>unclosed' in html
    for char in ("\u202e", "\u202c", "\x1b", "\U000e0072", "\u2067"):
        assert char not in html, repr(char)


def test_the_decline_form_holds_the_reason_to_the_rule(client, cell, crew) -> None:
    item = submitted(client, crew, indicator())
    us = signed_in(browser(client), "us.mediator")
    page = us.get(f"/intel/{item}")
    before = ledger_size(cell)
    r = us.post(f"/intel/{item}/decline", data={"csrf": csrf_of(page.text), "reason": "Stale since line \u202e0081"},
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 422, r.text
    assert "U+202E RIGHT-TO-LEFT OVERRIDE at position 17" in r.text and "\u202e" not in r.text
    assert ledger_size(cell) == before
    assert client.get(f"/api/v1/intel/items/{item}", headers=crew["us"].headers).json()["state"] == "submitted"
    r = us.post(f"/intel/{item}/decline", data={"csrf": csrf_of(page.text), "reason": "Dup\u0065\u0301 of #3"},
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    declined = client.get(f"/api/v1/intel/items/{item}", headers=crew["us"].headers).json()
    assert declined["state"] == "declined" and declined["reason"] == "Dup\u00e9 of #3"  # stored in NFC

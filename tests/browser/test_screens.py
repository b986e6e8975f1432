"""Every page of the watch fits every screen: from a 1920-wide watch display to a 360-wide phone, left to right
and right to left, nothing is pushed off-screen; and the README's screenshots, made here (FUSIONCELL_SHOTS=DIR
keeps them; `docs/screens` holds the README's)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PASSWORD
from tests.intel.stixdata import indicator
from tests.traffic.helpers import draft

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

WIDTHS = (1920, 1280, 768, 360)
ARABIC = {"ar": {"subject": "قافلة تعبر المنطقة العازلة الساعة 0600Z",
                 "body": "أربع مركبات لوجستية غير مسلحة تعبر المنطقة العازلة قرب القنيطرة الساعة 0600Z."}}  # fmt: skip


def _night(served: str, crew) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A night's traffic: a FLASH awaiting IL with its read-back rejected, an IMMEDIATE awaiting, an open loop."""

    def send(member: str, **fields) -> int:  # type: ignore[no-untyped-def]
        r = httpx.post(f"{served}/api/v1/messages", json=draft(**fields), headers=crew[member].headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    flash = send("sy", subject="Convoy crossing the area of separation at 0600Z", readback_required=True,
                 body="Four unarmed logistics vehicles will cross the buffer zone near Quneitra at 0600Z, escorted. "
                 "Request de-confliction with patrols on the Alpha line.", translations=ARABIC)  # fmt: skip
    httpx.post(f"{served}/api/v1/messages/{flash}/ack", json={"readback": "Four vehicles cross at 0700Z."},
               headers=crew["il"].headers)  # fmt: skip
    httpx.post(f"{served}/api/v1/messages/{flash}/readback-verdict",
               json={"verdict": "negative", "note": "0600Z, not 0700Z"}, headers=crew["sy"].headers)  # fmt: skip
    send("sy", precedence="IMMEDIATE", subject="Patrol at grid 37S BU 123 456 until 0900Z")
    send("il", precedence="ROUTINE", track="commercial", subject="Water-sharing pilot: counterpart contact",
         marker="QUESTION", body="Who will be the counterpart contact for the water-sharing pilot?")  # fmt: skip
    corridor = "Both sides keep forces 2 km clear of the route."
    send("us", precedence="PRIORITY", marker="INSTRUCTION", track="humanitarian",
         subject="Humanitarian corridor open 0800Z-1600Z", body=corridor)  # fmt: skip
    item = httpx.post(f"{served}/api/v1/intel/items", json={"stix": [indicator(name="Launch site near the ridge")]},
                      headers=crew["sy_analyst"].headers).json()  # fmt: skip
    httpx.post(f"{served}/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"},
               headers=crew["us"].headers)  # fmt: skip
    return {"flash": flash}


def _signed_in(chromium, served: str, username: str):  # type: ignore[no-untyped-def]
    context = chromium.new_context(locale="en-GB", timezone_id="Asia/Damascus")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{served}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served}/watch")
    return page, problems


def test_every_page_fits_every_width_both_ways(chromium, served, crew) -> None:  # type: ignore[no-untyped-def]
    ids = _night(served, crew)
    il, problems = _signed_in(chromium, served, "il.liaison")
    pages = ["/watch", f"/messages/{ids['flash']}", "/compose", "/alerts", "/account", "/intel/released", "/ledger",
             "/map", "/disputes"]  # fmt: skip
    for lang in ("en", "ar"):
        for path in pages:
            # each page loaded once and laid out again at every width (no script reads the width: the layout is
            # the style sheet's alone)
            il.set_viewport_size({"width": WIDTHS[0], "height": 900})
            il.goto(f"{served}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert il.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
            for width in WIDTHS:
                il.set_viewport_size({"width": width, "height": 900})
                assert il.evaluate("window.innerWidth") == width
                overflow = il.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{path} in {lang} at {width}: {overflow}px pushed off-screen"
    il.context.close()
    assert not problems, problems


SCREENS = [  # (file, who, path, language, width)
    ("watch-en.png", "il.liaison", "/watch", "en", 1280),
    ("message-en.png", "sy.liaison", "/messages/{flash}", "en", 1280),
    ("watch-ar.png", "il.liaison", "/watch", "ar", 1280),
    ("message-ar-phone.png", "il.liaison", "/messages/{flash}", "ar", 390),
    ("compose-he-phone.png", "sy.liaison", "/compose", "he", 390),
    ("alerts-en.png", "us.mediator", "/alerts", "en", 1280),
    ("map-ar.png", "sy.liaison", "/map", "ar", 1280),
    ("dispute-ar.png", "us.mediator", "/disputes/{dispute}", "ar", 1280),
]


def test_the_readmes_screenshots(chromium, served, cell, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fusioncell.deescalation.demo import seed_ground_picture
    from fusioncell.disputes.demo import seed_cases

    ids = _night(served, crew)
    seed_ground_picture(cell)  # the map's activities, one in conflict, and an incident
    ids["dispute"] = seed_cases(cell)[0]  # a case on that incident, under review
    shots = Path(os.environ.get("FUSIONCELL_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    signed: dict[str, tuple] = {}  # one browser for each person, signed in once
    for name, who, path, lang, width in SCREENS:
        if who not in signed:
            signed[who] = _signed_in(chromium, served, who)
        page, problems = signed[who]
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{served}{path.format(**ids)}?lang={lang}")
        page.wait_for_function("() => !document.querySelector('[data-live]') || document.documentElement.dataset.ready")
        page.wait_for_function(
            "() => !document.getElementById('map') || (document.getElementById('map').dataset.basemap"
            " && document.getElementById('map').dataset.loaded)"
        )
        page.screenshot(path=str(shots / name), full_page=True)
        assert (shots / name).stat().st_size > 10_000
        assert not problems, (name, problems)
    for page, _ in signed.values():
        page.context.close()

"""The agreement pages in Chromium: Israel's officer watches the timeline while UNDOF, its verifier, attests a phase
from the agreement's page, and the phase turns verified on Israel's chart without a reload; the list, the agreement
and its compliance report read right to left in Arabic and Hebrew, wide and narrow, with nothing spilling sideways, the
timeline running right to left with them."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.agreements.helpers import approved_key, milestone, sign
from tests.browser.test_screens import _signed_in

pytestmark = [pytest.mark.browser]


def _binding(served: str, crew, signatories) -> int:  # type: ignore[no-untyped-def]
    """An agreement both parties have signed: north due in ten days, south in forty."""
    with httpx.Client(base_url=served) as http:
        body = {
            "audience": "joint",
            "title": {"en": "Phased withdrawal timeline", "ar": "جدول الانسحاب المرحلي", "he": "לוח נסיגה בשלבים"},
            "text": {"en": "Israel withdraws in phases; UNDOF verifies each phase."},
            "signatories": ["SY", "IL"],
            "milestones": [milestone("north", days=10), milestone("south", days=40)],
        }
        r = http.post("/api/v1/agreements", json=body, headers=crew["us"].headers)
        assert r.status_code == 201, r.text
        a = r.json()["id"]
        for k in ("sy", "il"):
            sign(http, signatories[k], approved_key(http, crew, signatories[k]), a)
    return a


def _status(page, key: str) -> str:  # type: ignore[no-untyped-def]
    return page.get_attribute(f'.gantt-row[data-milestone="{key}"]', "data-status")


def test_an_attestation_turns_the_phase_verified_live(chromium, served, crew, signatories) -> None:  # type: ignore[no-untyped-def]
    a = _binding(served, crew, signatories)
    il, il_problems = _signed_in(chromium, served, "il.liaison")
    il.goto(f"{served}/agreements/{a}")
    il.wait_for_function("() => document.documentElement.dataset.ready === '1'")  # following the stream
    assert _status(il, "north") == "pending" and il.get_attribute("[data-testid=binding]", "data-binds") == "yes"
    assert il.locator("[data-testid=attest]").count() == 0  # Israel does not verify its own withdrawal

    undof, undof_problems = _signed_in(chromium, served, "undof.observer")
    undof.goto(f"{served}/agreements/{a}")
    form = 'form[data-attest="north"]'
    undof.fill(f"{form} textarea[name=note]", "Patrol 14 found OP-73 vacated at 0900Z.")
    undof.click(f"{form} button")
    undof.wait_for_url(f"{served}/agreements/{a}#milestone-north")
    assert _status(undof, "north") == "verified"
    assert "Patrol 14 found OP-73 vacated" in undof.inner_text('article[data-milestone="north"]')
    # Israel's page, untouched, shows it from the stream: the bar, the badge and the verification's mark
    il.wait_for_function("() => document.querySelector('.gantt-row[data-milestone=\"north\"]').dataset.status"
                         " === 'verified'")  # fmt: skip
    assert il.locator('.gantt-row[data-milestone="north"] .gantt-verified').count() == 1
    assert il.inner_text('article[data-milestone="north"] [data-testid=milestone-status]') == "verified"
    for p in (il, undof):
        p.context.close()
    assert not il_problems and not undof_problems, (il_problems, undof_problems)


def test_the_agreement_pages_read_right_to_left_wide_and_narrow(chromium, served, crew, signatories, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shots = Path(os.environ.get("FUSIONCELL_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    a = _binding(served, crew, signatories)
    us, problems = _signed_in(chromium, served, "us.mediator")
    for lang, width in (("ar", 1280), ("ar", 360), ("he", 1280), ("he", 360), ("en", 1280), ("en", 360)):
        us.set_viewport_size({"width": width, "height": 900})
        for name, path in (("list", "/agreements"), ("agreement", f"/agreements/{a}"),
                           ("report", f"/agreements/{a}/report")):  # fmt: skip
            us.goto(f"{served}{path}?lang={lang}")
            assert us.evaluate("document.documentElement.dir") == ("ltr" if lang == "en" else "rtl")
            assert us.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, (lang, width, path)
            if name != "list":
                # time runs with the reading: south (due later) lies left of north in Arabic and Hebrew
                xs = us.evaluate("() => ['north', 'south'].map(k => { const r = document.querySelector("
                                 "`.gantt-row[data-milestone=\"${k}\"] rect`).getBoundingClientRect();"
                                 " return r.x + r.width / 2; })")  # fmt: skip
                assert (xs[1] < xs[0]) == (lang != "en"), (lang, width, name, xs)
            if lang == "ar" and name == "agreement":
                assert us.inner_text("[data-testid=binding] h2") == "النسخة 1 ملزمة"
            us.screenshot(path=str(shots / f"agreements-{name}-{lang}-{width}.png"), full_page=True)
    us.context.close()
    assert not problems, problems

"""The dispute pages in Chromium: Israel's duty officer finds the case brought against it with its clock running,
acknowledges and answers it with a file from the case's page while Syria's officer, on the same case, sees it move
without reloading; the mediator's word-for-word record shows each side in its column; the pages read right to left in
Arabic and Hebrew, wide and narrow, with nothing spilling sideways."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.browser.test_screens import _signed_in
from tests.disputes.helpers import case

pytestmark = [pytest.mark.browser]


def _open(served: str, crew, **overrides) -> dict:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{served}/api/v1/disputes", json=case(**overrides), headers=crew["sy"].headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_case_answered_in_the_browser_moves_live_on_the_other_side(chromium, served, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = _open(served, crew)
    sy, sy_problems = _signed_in(chromium, served, "sy.liaison")
    sy.goto(f"{served}/disputes/{d['id']}")
    sy.wait_for_function("() => document.documentElement.dataset.ready === '1'")  # following the stream
    assert sy.inner_text("[data-testid=case-state]") == "open"

    il, il_problems = _signed_in(chromium, served, "il.liaison")
    il.goto(f"{served}/disputes")
    row = il.locator(f'tr[data-case="{d["id"]}"]')
    assert "Acknowledgement due" in row.inner_text() and row.locator("[data-testid=countdown]").count() == 1
    row.locator("a").click()
    il.wait_for_url(f"{served}/disputes/{d['id']}")
    il.fill("form[data-act=acknowledge] input[name=note]", "Received; checking the air picture.")
    il.click("form[data-act=acknowledge] button")
    il.wait_for_url(f"{served}/disputes/{d['id']}")
    assert il.inner_text("[data-testid=case-state]") == "acknowledged"
    # Syria's page, untouched, shows the new state from the stream
    sy.wait_for_function(
        "() => document.querySelector('[data-testid=case-state]').textContent.trim() === 'acknowledged'"
    )

    track = tmp_path / "track.txt"
    track.write_text("0405Z-0430Z: nothing of ours within 5 km of Quneitra\n")
    il.fill("form[data-act=respond] textarea[name=text]", "No aircraft of ours flew there.")
    il.set_input_files("form[data-act=respond] input[name=evidence]", str(track))
    il.click("form[data-act=respond] button")
    il.wait_for_url(f"{served}/disputes/{d['id']}")
    assert il.inner_text("[data-testid=case-state]") == "responded"
    response = il.locator('article[data-kind="response"]')
    assert "No aircraft of ours" in response.inner_text() and "track.txt" in response.inner_text()
    assert "side-respondent" in (response.get_attribute("class") or "")
    # a bad file is refused with the reason, and the case is as it was
    bad = tmp_path / "photo.png"
    bad.write_text("not a picture")
    il.fill("form[data-act=statement] textarea[name=text]", "A photo")
    il.set_input_files("form[data-act=statement] input[name=evidence]", str(bad))
    il.click("form[data-act=statement] button")
    assert "its bytes are text/plain" in il.inner_text("[data-testid=error]") or "declared" in il.inner_text(
        "[data-testid=error]"
    )
    assert il.locator("article[data-statement]").count() == 2

    sy.wait_for_function("() => document.querySelectorAll('article[data-statement]').length === 2")
    columns = sy.evaluate(
        "() => [...document.querySelectorAll('article[data-statement]')]"
        ".map(a => Math.round(a.getBoundingClientRect().x))"
    )
    assert columns[0] != columns[1]  # the complaint and the response side by side
    for p in (sy, il):
        p.context.close()
    # the refused upload is the one error the browser logs
    assert not sy_problems and [p for p in il_problems if "status of 422" not in p] == [], (sy_problems, il_problems)


def test_the_dispute_pages_read_right_to_left_wide_and_narrow(chromium, served, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shots = Path(os.environ.get("FUSIONCELL_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    d = _open(served, crew)
    httpx.post(f"{served}/api/v1/disputes/{d['id']}/acknowledge", json={}, headers=crew["il"].headers)
    r = httpx.post(f"{served}/api/v1/disputes/{d['id']}/respond", json={"text": "لم تحلق أي طائرة لنا هناك."},
                   headers=crew["il"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    r = httpx.post(f"{served}/api/v1/disputes/{d['id']}/statements",
                   json={"text": "For the mediator alone: our radar lost it at 0415Z.", "audience": "mediated:SY"},
                   headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    us, problems = _signed_in(chromium, served, "us.mediator")
    for lang, width in (("ar", 1280), ("ar", 360), ("he", 1280), ("he", 360), ("en", 1280), ("en", 360)):
        us.set_viewport_size({"width": width, "height": 900})
        # the case's pages, and the alerts and watch that link to it
        for name, path in (("list", "/disputes"), ("case", f"/disputes/{d['id']}"), ("alerts", "/alerts"),
                           ("watch", "/watch")):  # fmt: skip
            us.goto(f"{served}{path}?lang={lang}")
            assert us.evaluate("document.documentElement.dir") == ("ltr" if lang == "en" else "rtl")
            assert us.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, (lang, width, path)
            if lang == "ar" and name == "case":
                assert us.inner_text("[data-testid=case-state]") == "تم الرد"
            if name == "alerts":
                assert us.locator(f'a[href="/disputes/{d["id"]}"]').count() >= 1  # the alert opens its case
            us.screenshot(path=str(shots / f"disputes-{name}-{lang}-{width}.png"), full_page=True)
    us.context.close()
    assert not problems, problems

"""In Chromium, the mediator's review page marks a direction change visibly, in English and in Arabic, on a wide
screen and a phone's: the marks take room on the page and the isolated text reads as its writer meant.
(FUSIONCELL_SHOTS=DIR also keeps the screenshots there.)"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PASSWORD
from tests.intel.stixdata import indicator

pytestmark = pytest.mark.browser

ARABIC = "منصة إطلاق عند الخط \u20661800\u2069 \u200fشمال التل"
ENGLISH = "Launcher seen at line \u20670081\u2069 (the other party wrote it right to left)"


def test_a_direction_change_is_marked_on_the_review_page(page, served, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sent = indicator(name=ARABIC, description=ENGLISH, pattern="[ipv4-addr:value = '198.51.100.7']")
    r = httpx.post(f"{served}/api/v1/intel/items", json={"stix": [sent]}, headers=crew["sy_analyst"].headers)
    assert r.status_code == 201, r.text
    item = r.json()["id"]

    page.goto(f"{served}/intel/{item}")
    page.fill("input[name=username]", "us.mediator")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served}/intel/{item}")

    shots = Path(os.environ["FUSIONCELL_SHOTS"]) if os.environ.get("FUSIONCELL_SHOTS") else None
    for lang in ("en", "ar"):
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{served}/intel/{item}?lang={lang}")
            assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
            label = page.locator("[data-testid=label]").first
            assert label.inner_text().replace("\u2066", "").replace("\u2069", "").replace("\u200f", "").split() == [
                "منصة", "إطلاق", "عند", "الخط", "LRI1800PDI", "RLMشمال", "التل",
            ]  # fmt: skip
            page.locator("details").first.evaluate("d => d.open = true")
            for mark in page.locator("abbr.textmark.direction").all():
                box = mark.bounding_box()
                assert mark.is_visible() and box is not None and box["width"] > 8 and box["height"] > 6
            isolated = page.locator("span.isolated").first
            assert isolated.is_visible() and isolated.inner_text() == "1800"
            shot = tmp_path / f"13.2-text-marks-{lang}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, shots / shot.name)

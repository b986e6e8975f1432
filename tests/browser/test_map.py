"""The map in Chromium: the example zones drawn on the offline basemap, an activity drawn across the area of
separation showing its conflict before it is sent and then notified knowingly, and the page right to left in
Arabic with the map itself left to right."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.browser.test_screens import _signed_in
from tests.conftest import TEST_PASSWORD
from tests.deescalation.helpers import activity

pytestmark = [pytest.mark.browser]


def _loaded(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => document.getElementById('map').dataset.loaded === '1'")


def _point(page, lat: float, lon: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = page.locator("#map").bounding_box()
    x, y = page.evaluate(
        "([lat, lon]) => { const p = document.getElementById('map').leafletMap.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [lat, lon],
    )
    return box["x"] + x, box["y"] + y


def test_drawing_an_activity_across_the_area_of_separation_shows_the_conflict(chromium, served, crew) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{served}/api/v1/activities", json=activity(), headers=crew["sy"].headers).raise_for_status()
    il, problems = _signed_in(chromium, served, "il.liaison")
    il.set_viewport_size({"width": 1280, "height": 900})
    il.goto(f"{served}/map")
    _loaded(il)
    assert il.locator("#map").get_attribute("data-zones") == "7"
    assert il.locator("#map").get_attribute("data-activities") == "1"
    assert il.locator("#map .leaflet-overlay-pane path").count() >= 8  # the zones and the activity, drawn
    # draw a line from west of the Alpha line across the area of separation
    il.locator(".leaflet-pm-icon-polyline").click()
    start, end = _point(il, 33.13, 35.70), _point(il, 33.13, 35.95)
    il.mouse.click(*start)
    il.mouse.click(*end)
    il.mouse.click(*end)  # a second click on the last point finishes the line
    il.wait_for_function("() => document.getElementById('map').dataset.drawn === 'LineString'")
    il.select_option("select[name=activity_type]", "ground-exercise")
    il.get_by_test_id("check").click()
    conflicts = il.get_by_test_id("conflicts")
    conflicts.wait_for()
    assert "Ground exercise is forbidden in UNDOF area of separation" in conflicts.inner_text()
    before = httpx.get(f"{served}/api/v1/activities", headers=crew["il"].headers).json()["items"]
    # sent without acknowledging: refused, the conflict listed again
    il.get_by_test_id("submit").click()
    il.wait_for_function("() => document.querySelector('#result .warning')")
    assert httpx.get(f"{served}/api/v1/activities", headers=crew["il"].headers).json()["items"] == before
    for box in il.locator("#result input[data-ref]").all():
        box.check()
    il.get_by_test_id("submit").click()
    il.wait_for_function("() => document.querySelector('#result .ok')")
    _loaded(il)
    il.wait_for_function("() => document.getElementById('map').dataset.activities === '2'")
    mine = [a for a in httpx.get(f"{served}/api/v1/activities", headers=crew["il"].headers).json()["items"]
            if a["delegation"] == "IL"]  # fmt: skip
    assert len(mine) == 1 and mine[0]["geometry"]["type"] == "LineString"
    notified = httpx.get(f"{served}/api/v1/activities/{mine[0]['id']}", headers=crew["il"].headers).json()
    assert [c["ref"] for c in notified["conflicts"]] == ["zone:area-of-separation@1:forbidden"]
    # the time slider says which hour is shown
    il.get_by_test_id("time-slider").fill("96")
    assert "UTC" in il.get_by_test_id("time-label").inner_text()
    il.context.close()
    # the refusal the page was shown (a 409, as designed) is the one line Chromium logs; nothing else may be
    assert [p for p in problems if "status of 409" not in p] == [], problems


def test_a_session_that_ends_while_drawing_signs_in_again_and_keeps_the_drawing(chromium, served, crew, cell) -> None:  # type: ignore[no-untyped-def]
    il, problems = _signed_in(chromium, served, "il.liaison")
    il.set_viewport_size({"width": 1280, "height": 900})
    il.goto(f"{served}/map")
    _loaded(il)
    il.locator(".leaflet-pm-icon-polyline").click()
    start, end = _point(il, 33.0, 35.60), _point(il, 33.05, 35.65)
    il.mouse.click(*start)
    il.mouse.click(*end)
    il.mouse.click(*end)
    il.wait_for_function("() => document.getElementById('map').dataset.drawn === 'LineString'")
    drawn = il.evaluate("document.getElementById('drawn').textContent")
    cell.clock.advance(timedelta(hours=13))  # past the session's 12 hours
    il.get_by_test_id("check").click()
    il.wait_for_url(f"{served}/login?next=%2Fmap")
    il.fill("input[name=username]", "il.liaison")
    il.fill("input[name=password]", TEST_PASSWORD)
    il.click("button[type=submit]")
    il.wait_for_url(f"{served}/map")
    _loaded(il)
    il.wait_for_function("() => document.getElementById('map').dataset.drawn === 'LineString'")
    assert il.evaluate("document.getElementById('drawn').textContent") == drawn
    il.get_by_test_id("check").click()
    il.get_by_test_id("result").locator(".ok").wait_for()  # west of the Alpha line, clear of every zone's rules
    il.context.close()
    # the one refused request (the session had ended) is the line Chromium logs; nothing else may be
    assert [p for p in problems if "status of 401" not in p] == [], problems


def test_the_map_reads_right_to_left_in_arabic_and_hebrew(chromium, served, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shots = Path(os.environ.get("FUSIONCELL_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    httpx.post(f"{served}/api/v1/activities", json=activity(), headers=crew["sy"].headers).raise_for_status()
    sy, problems = _signed_in(chromium, served, "sy.liaison")
    for lang, width in (("ar", 1280), ("he", 1280), ("ar", 360), ("en", 360), ("en", 1280)):
        sy.set_viewport_size({"width": width, "height": 900})
        sy.goto(f"{served}/map?lang={lang}")
        _loaded(sy)
        assert sy.evaluate("document.documentElement.dir") == ("ltr" if lang == "en" else "rtl")
        assert sy.locator("#map").get_attribute("dir") == "ltr"
        assert sy.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        if lang == "ar":
            assert "المناطق" in sy.locator(".layers").inner_text()
        sy.wait_for_timeout(300)
        sy.screenshot(path=str(shots / f"map-{lang}-{width}.png"), full_page=True)
    sy.context.close()
    assert not problems, problems

"""The mediator, in the browser, opens a party's submission from the queue, withholds a property, raises the
marking and releases it; the other party's tools then receive the redacted version."""

from __future__ import annotations

import httpx
import pytest

from fusioncell.intel.markings import Tlp
from tests.conftest import TEST_PASSWORD
from tests.intel.stixdata import indicator

pytestmark = pytest.mark.browser


def test_mediator_reviews_and_releases(page, served, crew, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = indicator(name="Launcher north of the ridge", description="From our post OP-7")
    r = httpx.post(f"{served}/api/v1/intel/items", json={"stix": [secret]}, headers=crew["sy_analyst"].headers)
    assert r.status_code == 201, r.text
    item = r.json()["id"]

    page.goto(f"{served}/intel")
    page.fill("input[name=username]", "us.mediator")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served}/intel")
    page.click(f'tr[data-item="{item}"] a')
    page.wait_for_url(f"{served}/intel/{item}")
    assert "Launcher north of the ridge" in page.inner_text("[data-testid=objects]")
    page.check(f'input[name="withhold:{secret["id"]}"][value="description"]')
    page.select_option("select[name=audience]", "joint")
    page.select_option("select[name=tlp]", "TLP:AMBER")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    page.click("#release-form button[type=submit]")
    page.wait_for_url(f"{served}/intel/{item}")
    assert page.inner_text("[data-testid=state]") == "redacted"

    objects = httpx.get(f"{served}/api/v1/intel/objects", headers=crew["il"].headers).json()["objects"]
    assert [o["id"] for o in objects] == [secret["id"]]
    assert "description" not in objects[0] and objects[0]["object_marking_refs"] == [Tlp.AMBER.marking_id]

    # in Hebrew the same page reads right to left, the state translated
    page.goto(f"{served}/intel/{item}?lang=he")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.inner_text("[data-testid=state]") == "שוחרר בעריכה"

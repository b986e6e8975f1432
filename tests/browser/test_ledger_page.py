"""A liaison officer signs in, reads which checkpoint is final, watches the page follow the log, reads it in
Arabic laid out right to left, and signs out."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PASSWORD
from tests.traffic.helpers import draft
from tests.web.witnesses import witness_both_parties

pytestmark = pytest.mark.browser


def send(url: str, member, subject: str) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{url}/api/v1/messages", json=draft(precedence="ROUTINE", subject=subject), headers=member.headers)
    assert r.status_code == 201, r.text


def test_officer_reads_finality_live_and_in_arabic(page, served, cell, crew, tmp_path: Path) -> None:
    checkpointer, witnesses = witness_both_parties(cell, tmp_path)
    send(served, crew["sy"], "first")
    final = checkpointer.tick()

    page.goto(f"{served}/ledger")
    assert page.url.startswith(f"{served}/login?next=")
    page.fill("input[name=username]", "il.liaison")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served}/ledger")
    assert "il.liaison · IL" in page.inner_text("[data-testid=who]")
    assert f"Latest final checkpoint: size {final.size}," in page.inner_text("[data-testid=finality]")
    assert page.get_attribute(f'tr[data-size="{final.size}"]', "data-final") == "yes"
    # times are shown in the reader's zone (Damascus here) with UTC beside them, the full UTC spelling on hover
    signed = page.locator(f'tr[data-size="{final.size}"] td:nth-child(2) time')
    assert "UTC" in (signed.get_attribute("title") or "")
    assert re.fullmatch(r"Mar 2, 2026, \d\d:\d\d [AP]M GMT\+3 \(\d\d:\d\d UTC\)", signed.inner_text())

    # the log moves on while IL's witness is unreachable: the page follows without a reload
    page.evaluate("window.stillTheSamePage = true")
    witnesses.down.add("il.witness.test")
    send(served, crew["il"], "second")
    pending = checkpointer.tick()
    row = page.locator(f'tr[data-size="{pending.size}"]')
    row.wait_for(timeout=15_000)
    assert row.get_attribute("data-final") == "no"
    assert "Awaiting" in row.locator('[data-witness="il.witness.test"]').inner_text()
    witnesses.down.clear()
    checkpointer.tick()  # IL's witness is back and cosigns
    page.locator(f'tr[data-size="{pending.size}"][data-final="yes"]').wait_for(timeout=15_000)
    assert f"Latest final checkpoint: size {pending.size}," in page.inner_text("[data-testid=finality]")
    assert page.evaluate("window.stillTheSamePage") is True
    page.screenshot(path=str(tmp_path / "ledger-en.png"), full_page=True)  # kept with the test's files, to look at

    # Arabic, right to left: the cell's name sits at the right of the bar
    page.click("a[hreflang=ar]")
    page.wait_for_url(f"{served}/ledger?lang=ar")
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == "rtl"
    assert page.inner_text("nav[aria-label] a[aria-current=page]") == "السجل"
    brand = page.locator(".brand").bounding_box()
    assert brand and brand["x"] > page.viewport_size["width"] / 2
    assert page.locator(f'tr[data-size="{pending.size}"] .badge.final').inner_text() == "نهائية"
    page.screenshot(path=str(tmp_path / "ledger-ar.png"), full_page=True)

    # signing out ends the session: the ledger asks for a sign-in again
    page.click("form[action='/logout'] button")
    page.wait_for_url(f"{served}/login")
    page.goto(f"{served}/ledger")
    assert page.url.startswith(f"{served}/login?next=")
    assert page.evaluate("document.documentElement.dir") == "rtl"  # the language choice outlives the session

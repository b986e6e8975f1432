"""Browser tests: Debian's Chromium driven by Playwright (no browser is downloaded), against the app served by
uvicorn in this process on a free port. Without Chromium they are skipped, unless FUSIONCELL_REQUIRE_BROWSER=1
(as CI sets) makes that a failure; `make test` installs Chromium first."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusioncell.app import create_app
from tests.agreements.helpers import signatories  # noqa: F401  (the fixture, for the agreement pages)
from tests.server import serving

CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no calls home: this machine's network is closed
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("FUSIONCELL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


# Per module, not per session: while Playwright's sync API runs, this thread has a running event loop, and the
# tests after these that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed: `make test` installs Debian's chromium (or set FUSIONCELL_CHROMIUM)"
        if os.environ.get("FUSIONCELL_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def served(cell) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The cell's app on a real socket (the scheduler off, as in the other tests: the tests drive the clock)."""
    with serving(create_app(cell, run_scheduler=False)) as url:
        yield url


@pytest.fixture
def page(chromium, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh browser profile; any script error or CSP violation on the page fails the test."""
    context = chromium.new_context(locale="en-GB", timezone_id="Asia/Damascus")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()
    assert not problems, problems

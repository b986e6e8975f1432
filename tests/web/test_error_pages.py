"""Every error on a web path is a page in the reader's language with a way on, never raw JSON; the API keeps
answering problems."""

from __future__ import annotations

import pytest

from tests.web.pages import browser, signed_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/no/such/page", 404, "Not found"),
        ("/messages/not-a-number", 422, "Not valid"),
        ("/messages/123", 404, "Not found"),
        ("/logout", 405, "Not here"),
    ],
)
def test_errors_on_pages_are_pages(client, crew, path, status, title) -> None:
    page = signed_in(browser(client), "il.liaison")
    r = page.get(path, headers=HTML)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in r.text and 'href="/"' in r.text  # a way on: back to the signed-in home
    assert "Content-Security-Policy" in r.headers


def test_an_error_page_speaks_the_readers_language(client, crew) -> None:
    r = browser(client).get("/no/such/page?lang=ar", headers=HTML)
    assert r.status_code == 404 and 'lang="ar" dir="rtl"' in r.text
    assert "غير موجود" in r.text and 'href="/login"' in r.text  # not signed in: the way on is signing in


def test_the_api_still_answers_problems(client, crew) -> None:
    for path in ("/api/v1/messages/123", "/api/v1/nothing"):
        r = client.get(path, headers={**HTML, **crew["il"].headers})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")

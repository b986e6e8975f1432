"""Signing in through the web form, as a browser does."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def browser(client: TestClient) -> TestClient:
    """Another browser on the same app: its own cookie jar."""
    return TestClient(client.app, raise_server_exceptions=False)


def web_login(client: TestClient, username: str, password: str = TEST_PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    form = client.get("/login")
    assert form.status_code == 200, form.text
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf_of(form.text), **extra},
        follow_redirects=False,
    )


def signed_in(client: TestClient, username: str) -> TestClient:
    r = web_login(client, username)
    assert r.status_code == 303, r.text
    return client

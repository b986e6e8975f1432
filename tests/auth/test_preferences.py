"""A person's language and time zone stay with the account; signing out everywhere ends every session."""

from __future__ import annotations

import pytest

from fusioncell.auth.models import UserPreferences
from tests.conftest import ledger_size, login, table_count


def test_language_and_time_zone_are_kept_with_the_account(client, cell, crew) -> None:
    me = client.get("/api/v1/me", headers=crew["sy"].headers).json()
    assert (me["lang"], me["time_zone"]) == (None, None)
    before = ledger_size(cell)
    r = client.patch("/api/v1/me", json={"lang": "ar", "time_zone": "Asia/Damascus"}, headers=crew["sy"].headers)
    assert r.status_code == 200, r.text
    assert (r.json()["lang"], r.json()["time_zone"]) == ("ar", "Asia/Damascus")
    assert ledger_size(cell) == before  # one's own settings are not shared record
    # another sign-in (another browser) finds them; a field left out stays, null clears
    other = {"Authorization": f"Bearer {login(client, 'sy.liaison')}"}
    r = client.patch("/api/v1/me", json={"time_zone": None}, headers=other)
    assert (r.json()["lang"], r.json()["time_zone"]) == ("ar", None)
    # another account's are its own
    assert client.get("/api/v1/me", headers=crew["il"].headers).json()["lang"] is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"lang": "fr"}, "lang", "not one of the charter's"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA name"),
        ({"time_zone": ""}, "time_zone", None),
        ({"colour": "red"}, "colour", None),
    ],
)
def test_wrong_settings_are_refused_and_nothing_is_written(client, cell, crew, body, field, words) -> None:
    r = client.patch("/api/v1/me", json=body, headers=crew["sy"].headers)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert field in {problem.get("field")} | {e["field"] for e in problem.get("errors", [])}
    if words:
        assert words in problem["detail"]
    assert table_count(cell, UserPreferences) == 0


def test_sign_out_everywhere_revokes_every_session(client, crew) -> None:
    second = {"Authorization": f"Bearer {login(client, 'sy.liaison')}"}
    assert client.post("/api/v1/auth/logout-everywhere", headers=crew["sy"].headers).status_code == 204
    for headers in (crew["sy"].headers, second):
        assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=crew["il"].headers).status_code == 200  # others' sessions stay
    with client.websocket_connect(f"/api/v1/stream?access_token={crew['sy'].token}") as ws:
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["status"] == 401

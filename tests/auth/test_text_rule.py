"""The text rule (fusioncell.text) on account fields, on SQLite and PostgreSQL: a username is one line of text,
whether it is typed at sign-in or given to `users add`; a password is a secret, compared as typed."""

from __future__ import annotations

import pytest

from fusioncell.auth.models import AccessToken, LoginAttempt, User
from fusioncell.errors import InvalidInput
from tests.conftest import TEST_PASSWORD, add_user, ledger_size, table_count


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("sy.liaison\x1b[2K", "U+001B ESCAPE at position 10"),
        ("sy.\u202enosiail", "U+202E RIGHT-TO-LEFT OVERRIDE at position 3"),
        ("sy.liaison\n", "U+000A LINE FEED at position 10: this text is one line"),
    ],
)
def test_a_username_with_a_refused_character_is_refused_before_any_lookup(client, cell, crew, username, message):
    before = table_count(cell, LoginAttempt), table_count(cell, AccessToken)
    r = client.post("/api/v1/auth/token", json={"username": username, "password": TEST_PASSWORD})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    [error] = r.json()["errors"]
    assert error["pointer"] == "/username" and message in error["reason"], error
    assert (table_count(cell, LoginAttempt), table_count(cell, AccessToken)) == before


def test_a_password_is_a_secret_compared_as_typed(client, cell, crew) -> None:
    """Never shown, so not held to the display rule, and never normalised: the bytes set are the bytes checked."""
    typed = "caf\u0065\u0301 \u202e night-shift 7"
    add_user(cell, "sy.duty", "SY", "liaison", password=typed)
    for password, status in ((typed.replace("e\u0301", "\u00e9"), 401), (typed, 200)):
        r = client.post("/api/v1/auth/token", json={"username": "sy.duty", "password": password})
        assert r.status_code == status, r.text


def test_users_add_refuses_a_name_with_a_final_newline(cell) -> None:
    """`users add $'sy.new\\n'` made an account whose name printed a line break in every listing and ledger entry."""
    before = ledger_size(cell), table_count(cell, User)
    for name in ("sy.new\n", "sy.new\r", "sy.\u202enew"):
        with pytest.raises(InvalidInput) as refused:
            add_user(cell, name, "SY", "liaison")
        assert refused.value.extensions["field"] == "username" and "a username is" in refused.value.detail
    assert (ledger_size(cell), table_count(cell, User)) == before

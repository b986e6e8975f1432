from tests.conftest import add_user, bearer, login


def test_login_me(client, cell):
    add_user(cell, "sy.liaison", "SY", "liaison")
    token = login(client, "sy.liaison")
    r = client.get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["delegation"] == "SY"

"""The dispute pages as a browser reads them, on SQLite and PostgreSQL: a party's page never shows what the other said
to the mediator alone nor a case it may not read; the forms act as the API does, refuse what the API refuses and write
nothing then, and want their CSRF token."""

from __future__ import annotations

from tests.conftest import ledger_size
from tests.disputes.helpers import case, open_case
from tests.web.pages import browser, csrf_of, signed_in


def test_pages_show_each_party_only_what_it_reads(client, cell, crew) -> None:
    joint = open_case(client, crew["sy"])
    private = open_case(client, crew["us"], audience="mediated:SY", respondent="SY", title="Private-title-7731",
                        complaint="Private-complaint-7731", evidence=[])  # fmt: skip
    r = client.post(f"/api/v1/disputes/{joint['id']}/statements",
                    json={"text": "For the mediator alone: secret-4417", "audience": "mediated:SY"},
                    headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 201
    il = signed_in(browser(client), "il.liaison")
    for path in ("/disputes", "/disputes/live", "/disputes?shown=all", f"/disputes/{joint['id']}",
                 f"/disputes/{joint['id']}/live"):  # fmt: skip
        page = il.get(path)
        assert page.status_code == 200, path
        assert "secret-4417" not in page.text and "7731" not in page.text, path
        assert str(private["id"]) not in page.text, path
    assert "Drone over Quneitra" in il.get("/disputes").text
    for path in (f"/disputes/{private['id']}", f"/disputes/{private['id']}/live"):
        assert il.get(path).status_code == 404
    sy = signed_in(browser(client), "sy.liaison")
    mine = sy.get(f"/disputes/{joint['id']}").text
    assert "secret-4417" in mine and "Private-title-7731" in sy.get("/disputes").text


def test_forms_act_as_the_api_and_refuse_as_it_does(client, cell, crew) -> None:
    d = open_case(client, crew["sy"])
    il = signed_in(browser(client), "il.liaison")
    page = il.get(f"/disputes/{d['id']}")
    token = csrf_of(page.text)
    assert 'data-act="acknowledge"' in page.text and 'data-act="finding"' not in page.text
    size = ledger_size(cell)
    r = il.post(f"/disputes/{d['id']}/acknowledge", data={"csrf": "forged", "note": "Seen"}, follow_redirects=False)
    assert r.status_code == 403 and ledger_size(cell) == size  # a forged CSRF token: refused, nothing written
    r = il.post(f"/disputes/{d['id']}/respond", data={"csrf": token, "text": "  "}, follow_redirects=False)
    assert r.status_code == 422 and "text" in r.text and ledger_size(cell) == size
    r = il.post(f"/disputes/{d['id']}/respond", data={"csrf": token, "text": "Too early"}, follow_redirects=False)
    assert r.status_code == 409 and "is open" in r.text and ledger_size(cell) == size
    r = il.post(f"/disputes/{d['id']}/acknowledge", data={"csrf": token, "note": "Seen"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/disputes/{d['id']}"
    files = [("evidence", ("track.txt", b"0405Z-0430Z: nothing of ours near Quneitra\n", "text/plain"))]
    r = il.post(f"/disputes/{d['id']}/respond", data={"csrf": token, "text": "Not ours", "lang": "en"}, files=files,
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    record = client.get(f"/api/v1/disputes/{d['id']}", headers=crew["sy"].headers).json()
    assert record["state"] == "responded" and record["statements"][1]["evidence"][0]["filename"] == "track.txt"
    size = ledger_size(cell)
    bad = [("evidence", ("photo.png", b"plain words", "image/png"))]
    r = il.post(f"/disputes/{d['id']}/statements", data={"csrf": token, "text": "A photo"}, files=bad,
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 422 and "image/png" in r.text and ledger_size(cell) == size

    sy = signed_in(browser(client), "sy.liaison")
    token = csrf_of(sy.get("/disputes").text)
    fields = {k: v for k, v in case(respondent="SY").items() if k != "evidence"}
    r = sy.post("/disputes", data={"csrf": token, **fields}, follow_redirects=False)
    assert r.status_code == 422 and "against itself" in r.text and ledger_size(cell) == size
    fields = {k: v for k, v in case(title="Shelling near Rafid").items() if k != "evidence"}
    r = sy.post("/disputes", data={"csrf": token, **fields}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/disputes/")
    assert "Shelling near Rafid" in sy.get(r.headers["location"]).text

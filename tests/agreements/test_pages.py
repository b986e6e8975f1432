"""The agreement pages as a browser reads them, on SQLite and PostgreSQL: a party never sees an agreement it may not
read, on the list, the agreement's page, its live part or its report; the page shows whether it binds, the timeline
coloured by status and the signatures; the verifier's form acts as the API does, refuses what it refuses and writes
nothing then; the report page names the checkpoint the API's report names."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.agreements.helpers import amendment, approved_key, milestone, propose, sign
from tests.conftest import ledger_size
from tests.disputes.helpers import signed_in_again
from tests.web.pages import browser, csrf_of, signed_in


def _statuses(html: str) -> dict[str, str]:
    """Each Gantt row's milestone and the status its bar is drawn in."""
    chart = html[html.index('data-testid="gantt"') :]
    chart = chart[: chart.index("</figure>")]
    return dict(re.findall(r'class="gantt-row" data-milestone="([^"]+)" data-status="([^"]+)"', chart))


def test_pages_show_each_party_only_what_it_reads(client, cell, crew) -> None:
    joint = propose(client, crew, title={"en": "Joint-timeline-5120"})
    private = propose(client, crew, audience="mediated:SY", signatories=["SY"], title={"en": "Private-title-9931"},
                      milestones=[milestone("secret-phase", obligor="SY", verifier="US", zone=None)])  # fmt: skip
    il = signed_in(browser(client), "il.liaison")
    for path in ("/agreements", "/agreements/live", f"/agreements/{joint['id']}",
                 f"/agreements/{joint['id']}/live", f"/agreements/{joint['id']}/report"):  # fmt: skip
        page = il.get(path)
        assert page.status_code == 200, path
        assert "9931" not in page.text and "secret-phase" not in page.text, path
    assert "Joint-timeline-5120" in il.get("/agreements").text
    for path in (f"/agreements/{private['id']}", f"/agreements/{private['id']}/live",
                 f"/agreements/{private['id']}/report"):  # fmt: skip
        assert il.get(path).status_code == 404, path
    sy = signed_in(browser(client), "sy.liaison")
    assert "Private-title-9931" in sy.get("/agreements").text
    assert "secret-phase" in sy.get(f"/agreements/{private['id']}").text


def test_the_agreement_page_shows_binding_timeline_and_signatures(client, cell, crew, signatories, clock) -> None:
    phases = [milestone("north", days=5), milestone("south", days=20)]
    a = propose(client, crew, milestones=phases)["id"]
    sy_signer = signed_in(browser(client), signatories["sy"].username)
    page = sy_signer.get(f"/agreements/{a}").text
    assert 'data-binds="no"' in page and "Not binding yet" in page
    assert f"fusioncell sign --agreement {a} --version 1 --key FILE" in page  # how a signatory signs, offline
    assert _statuses(page) == {"north": "pending", "south": "pending"}  # nothing is due while it does not bind

    sign(client, signatories["sy"], approved_key(client, crew, signatories["sy"]), a)
    assert "fusioncell sign --agreement" not in sy_signer.get(f"/agreements/{a}/live").text  # signed: no more hint
    sign(client, signatories["il"], approved_key(client, crew, signatories["il"]), a)
    clock.advance(timedelta(days=6))  # north passed unverified; south due within the charter's week? not yet
    signed_in_again(client, crew)
    il = signed_in(browser(client), "il.liaison")
    page = il.get(f"/agreements/{a}").text
    assert 'data-testid="binding" data-binds="yes"' in page and "Version 1 binds" in page
    assert _statuses(page) == {"north": "overdue", "south": "pending"}
    assert 'class="gantt-today"' in page  # today marked on the chart
    versions = page[page.index('data-testid="versions"') :]
    assert versions.count("signed") >= 2 and "awaited" not in versions
    digest = client.get(f"/api/v1/agreements/{a}", headers=crew["il"].headers).json()["versions"][0]["digest"]
    assert digest in versions
    client.app.state.scheduler.run_due()  # north's deadline: the alert opens the agreement
    alerts = il.get("/alerts").text
    assert "Milestone overdue" in alerts and f'href="/agreements/{a}"' in alerts

    # an amendment: a signatory is asked to sign the new version only, never a superseded one
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(milestones=[milestone("north", days=30)]),
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    page = signed_in(browser(client), signatories["sy"].username).get(f"/agreements/{a}").text
    assert f"--agreement {a} --version 2 --key" in page and "--version 1 --key" not in page
    assert "Version 2 is proposed and awaits signatures; version 1 stays in force until it binds." in page


def test_the_verifier_attests_from_the_page(client, cell, crew, signatories) -> None:
    a = propose(client, crew, milestones=[milestone("north", days=20)])["id"]
    assert 'data-testid="attest"' not in signed_in(browser(client), "undof.observer").get(f"/agreements/{a}").text
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a)
    undof = signed_in(browser(client), "undof.observer")
    page = undof.get(f"/agreements/{a}").text
    assert 'data-attest="north"' in page
    token = csrf_of(page)
    action = f"/agreements/{a}/milestones/north/attest"
    size = ledger_size(cell)
    r = undof.post(action, data={"csrf": "forged", "verdict": "verified", "note": "Seen"}, follow_redirects=False)
    assert r.status_code == 403 and ledger_size(cell) == size
    r = undof.post(action, data={"csrf": token, "verdict": "verified", "note": "  "}, follow_redirects=False)
    assert r.status_code == 422 and "note" in r.text and ledger_size(cell) == size
    r = undof.post(action, data={"csrf": token, "verdict": "done", "note": "Seen"}, follow_redirects=False)
    assert r.status_code == 422 and "verdict" in r.text and ledger_size(cell) == size
    il = signed_in(browser(client), "il.liaison")
    assert 'data-testid="attest"' not in il.get(f"/agreements/{a}").text  # the obligor does not verify itself
    r = il.post(action, data={"csrf": csrf_of(il.get("/agreements").text), "verdict": "verified", "note": "Done"},
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 403 and ledger_size(cell) == size
    files = [("evidence", ("patrol.txt", b"Patrol 14: OP-73 vacated at 0900Z\n", "text/plain"))]
    r = undof.post(action, data={"csrf": token, "verdict": "verified", "note": "OP-73 vacated"}, files=files,
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/agreements/{a}#milestone-north"
    page = il.get(f"/agreements/{a}").text
    assert _statuses(page) == {"north": "verified"} and "OP-73 vacated" in page and "patrol.txt" in page
    assert 'class="gantt-verified' in page


def test_the_report_page_names_the_checkpoint(client, cell, crew, signatories) -> None:
    a = propose(client, crew, milestones=[milestone("north", days=5), milestone("south", days=30)])["id"]
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a)
    il = signed_in(browser(client), "il.liaison")
    page = il.get(f"/agreements/{a}/report").text
    root = re.search(r'data-testid="report-root">([0-9a-f]{64})<', page).group(1)
    api = client.get(f"/api/v1/agreements/{a}/report", headers=crew["il"].headers).json()
    assert api["checkpoint"]["root"] == root  # nothing written between: the same checkpoint
    assert _statuses(page) == {m["key"]: m["status"] for m in api["milestones"]}
    assert f"/api/v1/agreements/{a}/report?format=pdf&amp;lang=en" in page
    arabic = il.get(f"/agreements/{a}/report?lang=ar").text
    assert 'dir="rtl"' in arabic and "format=pdf&amp;lang=ar" in arabic


def test_the_mediator_proposes_a_charter_timeline_from_the_page(client, cell, crew) -> None:
    us = signed_in(browser(client), "us.mediator")
    page = us.get("/agreements").text
    assert 'data-testid="propose-timeline"' in page
    assert 'data-testid="propose-timeline"' not in signed_in(browser(client), "il.liaison").get("/agreements").text
    token = csrf_of(page)
    size = ledger_size(cell)
    for bad, status, said in ((("start", "31/12/2026"), 422, "not a date"), (("timeline", "no-such"), 404, "no-such"),
                              (("audience", "mediated:XX"), 422, "audience")):  # fmt: skip
        form = {"csrf": token, "timeline": "phased-withdrawal", "start": "2026-03-01", "audience": "joint"}
        form[bad[0]] = bad[1]
        r = us.post("/agreements/timelines", data=form, follow_redirects=False)
        assert r.status_code == status and said in r.text and ledger_size(cell) == size, (bad, r.text[-500:])
    r = us.post("/agreements/timelines", data={"csrf": token, "timeline": "phased-withdrawal", "start": "2026-03-01"},
                follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    created = int(r.headers["location"].rsplit("/", 1)[1])
    shown = us.get(f"/agreements/{created}").text
    assert "(illustrative)" in shown and len(_statuses(shown)) == 4

"""An undertaking between Syria and the mediator (`mediated:SY`) never reaches Israel on any read path: the list, the
agreement, its versions, its evidence files, the alerts and case its overdue milestone raises, the ledger contents
and the stream; Israel reads the joint agreement beside it in full."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

from tests.agreements.helpers import approved_key, milestone, propose, sign
from tests.conftest import ledger_size, login
from tests.disputes.helpers import signed_in_again
from tests.traffic.helpers import StreamReader

SECRET = "Undertaking-7719"


def test_a_mediated_agreement_never_reaches_the_other_party(client, cell, crew, signatories, clock) -> None:
    start = ledger_size(cell) - 1
    report = milestone("belt-report", days=5, obligor="SY", verifier="US", zone=None)
    private = propose(client, crew, audience="mediated:SY", signatories=["SY"], title={"en": SECRET},
                      text={"en": f"{SECRET}: Syria reports its belt figures to the mediator alone."},
                      milestones=[report])  # fmt: skip
    joint = propose(client, crew)
    sy_key = approved_key(client, crew, signatories["sy"])
    il_key = approved_key(client, crew, signatories["il"])
    sign(client, signatories["sy"], sy_key, private["id"])
    sign(client, signatories["sy"], sy_key, joint["id"])
    sign(client, signatories["il"], il_key, joint["id"])
    log = base64.b64encode(f"{SECRET} figures: 5,900 troops\n".encode()).decode()
    files = [{"filename": "figures.txt", "content_type": "text/plain", "content_base64": log}]
    r = client.post(f"/api/v1/agreements/{private['id']}/milestones/belt-report/attestations",
                    json={"verdict": "not-verified", "note": f"{SECRET} partial report", "evidence": files},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    attestation = r.json()["milestones"][0]["attestations"][0]
    clock.advance(timedelta(days=6))
    client.app.state.scheduler.run_due()  # the undertaking's milestone is overdue: alerts and a case, for SY and US
    signed_in_again(client, crew)
    for k in ("sy", "il"):
        signatories[k].token = login(client, signatories[k].username)

    for reader in (crew["il"], signatories["il"]):
        h = reader.headers
        assert private["id"] not in {a["id"] for a in client.get("/api/v1/agreements", headers=h).json()["items"]}
        assert joint["id"] in {a["id"] for a in client.get("/api/v1/agreements", headers=h).json()["items"]}
        for path in (f"/api/v1/agreements/{private['id']}", f"/api/v1/agreements/{private['id']}/versions/1",
                     f"/api/v1/agreements/{private['id']}/evidence", f"/api/v1/agreements/{private['id']}/report",
                     f"/api/v1/agreements/{private['id']}/attestations/{attestation['id']}/evidence/"
                     f"{attestation['evidence'][0]['sha256']}"):  # fmt: skip
            assert client.get(path, headers=h).status_code == 404, path
        r = client.post(f"/api/v1/agreements/{private['id']}/versions/1/signatures",
                        json={"key_id": "il.signatory+00000000", "signature": "AA=="}, headers=h)  # fmt: skip
        assert r.status_code in (403, 404)
        lists = ("/api/v1/agreements", "/api/v1/alerts?limit=500", "/api/v1/disputes?limit=500")
        texts = [client.get(path, headers=h).text for path in lists]
        headers = client.get(f"/api/v1/ledger/entries?start={start + 1}", headers=h)
        texts.append(headers.text)
        for entry in headers.json()["items"]:
            got = client.get(f"/api/v1/ledger/entries/{entry['index']}/content", headers=h)
            if got.status_code == 200:
                texts.append(got.text)
        with client.websocket_connect(f"/api/v1/stream?after={start}", headers=h) as ws:
            stream = StreamReader(ws)
            stream.replay()
        texts.append(str(stream.frames))
        everything = "\n".join(texts)
        assert SECRET not in everything
        assert str(private["id"]) not in set(re.findall(r"\d{6,}", everything))
    # Syria and the mediator read it all: the case its overdue milestone opened, too
    mine = client.get(f"/api/v1/agreements/{private['id']}", headers=crew["sy"].headers).json()
    assert mine["milestones"][0]["status"] == "overdue" and mine["milestones"][0]["dispute"] is not None
    assert SECRET in client.get("/api/v1/agreements", headers=crew["sy"].headers).text

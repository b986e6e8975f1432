"""The compliance report on SQLite and PostgreSQL: computed from the ledger below a signed checkpoint it names, the
same statuses the agreement shows, the figures, a CSV row a milestone; only for the agreement's audience."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from pypdf import PdfReader
from pypdf.generic import ContentStream
from sqlalchemy import delete

from fusioncell.agreements.gantt import COLOURS
from fusioncell.agreements.models import Attestation
from tests.agreements.helpers import approved_key, milestone, propose, sign
from tests.conftest import ledger_size
from tests.disputes.helpers import signed_in_again


def test_the_report_from_the_ledger(client, cell, crew, signatories, clock) -> None:
    phases = [milestone("north", days=5), milestone("south", days=8), milestone("belt", days=14, obligor="SY"),
              milestone("zone", days=40, obligor="SY", verifier="US")]  # fmt: skip
    a = propose(client, crew, milestones=phases)["id"]
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a)
    clock.advance(timedelta(days=4))
    signed_in_again(client, crew)
    r = client.post(f"/api/v1/agreements/{a}/milestones/north/attestations",
                    json={"verdict": "verified", "note": "OP-73 vacated."}, headers=crew["undof"].headers)  # fmt: skip
    assert r.status_code == 201
    clock.advance(timedelta(days=5))  # day 9: south is a day overdue, belt due within the week, zone pending
    client.app.state.scheduler.run_due()  # south's deadline: a case against IL
    signed_in_again(client, crew)
    shown = {m["key"]: m["status"] for m in client.get(f"/api/v1/agreements/{a}", headers=crew["us"].headers)
             .json()["milestones"]}  # fmt: skip
    assert shown == {"north": "verified", "south": "overdue", "belt": "due", "zone": "pending"}

    r = client.get(f"/api/v1/agreements/{a}/report", headers=crew["il"].headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    report = r.json()
    assert {m["key"]: m["status"] for m in report["milestones"]} == shown
    assert report["in_force"] == 1 and report["binds"] is True and report["signatories"] == ["SY", "IL"]
    assert report["checkpoint"]["size"] == ledger_size(cell) and len(report["checkpoint"]["root"]) == 64
    assert report["figures"]["by_status"] == {"pending": 1, "due": 1, "verified": 1, "overdue": 1, "disputed": 0}
    assert report["figures"]["verified_on_time"] == 1 and report["figures"]["share_verified_on_time"] == 0.25
    south = next(m for m in report["milestones"] if m["key"] == "south")
    assert south["days_overdue"] == 1.0 and south["dispute"] is not None
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/agreements/{a}/report?format=csv",
                                                      headers=crew["il"].headers).text)))  # fmt: skip
    assert [(row["key"], row["status"]) for row in rows] == list(shown.items())
    assert rows[0]["verified_at"].startswith("2026-03-06")

    # the PDF opens, names its checkpoint, and draws the timeline: a bar a milestone in its status's colour, today
    r = client.get(f"/api/v1/agreements/{a}/report?format=pdf", headers=crew["il"].headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="compliance-{a}.pdf"'
    pdf = PdfReader(io.BytesIO(r.content))
    assert str(report["checkpoint"]["root"]) in pdf.metadata.subject
    text = "".join(page.extract_text() for page in pdf.pages)
    for m in report["milestones"]:
        assert f"{m['key']} · Phase {m['key']}" in text  # the chart's row names
    assert "Today" in text and "2026-03" in text and "Compliance report of agreement" in text
    assert {status: n - 1 for status, n in _filled(pdf).items()} == {  # less the legend's swatch
        "pending": 1, "due": 1, "verified": 1, "overdue": 1, "disputed": 0}  # fmt: skip
    arabic = PdfReader(io.BytesIO(client.get(f"/api/v1/agreements/{a}/report?format=pdf&lang=ar",
                                             headers=crew["sy"].headers).content))  # fmt: skip
    assert arabic.trailer["/Root"]["/Lang"] == "ar" and _filled(arabic)["overdue"] == 2
    assert "%(" not in "".join(page.extract_text() for page in arabic.pages)  # every placeholder filled in

    # the figures are the ledger's: a verification erased from the tables behind the ledger's back is still counted
    with cell.db.write_engine.begin() as conn:  # around the write path, as a tampering operator would
        conn.execute(delete(Attestation))
    api = {m["key"]: m["status"] for m in client.get(f"/api/v1/agreements/{a}", headers=crew["us"].headers)
           .json()["milestones"]}  # fmt: skip
    assert api["north"] == "overdue"  # the tables say so now
    again = client.get(f"/api/v1/agreements/{a}/report", headers=crew["us"].headers).json()
    assert {m["key"]: m["status"] for m in again["milestones"]}["north"] == "verified"


def test_the_report_is_for_the_agreements_audience(client, cell, crew, signatories) -> None:
    private = propose(client, crew, audience="mediated:SY", signatories=["SY"],
                      milestones=[milestone("report", obligor="SY", verifier="US", zone=None)])  # fmt: skip
    for path in (
        f"/api/v1/agreements/{private['id']}/report",
        f"/api/v1/agreements/{private['id']}/report?format=csv",
        f"/api/v1/agreements/{private['id']}/report?format=pdf",
    ):
        assert client.get(path, headers=crew["il"].headers).status_code == 404
        assert client.get(path, headers=crew["sy"].headers).status_code == 200
    bad = client.get(f"/api/v1/agreements/{private['id']}/report?format=docx", headers=crew["sy"].headers)
    assert bad.status_code == 422


def _filled(pdf: PdfReader) -> dict[str, int]:
    """How many rectangles each status's colour fills, on every page."""
    wanted = {status: tuple(int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)) for status, hex_ in COLOURS.items()}
    counted = dict.fromkeys(COLOURS, 0)
    for page in pdf.pages:
        fill: tuple[float, ...] = ()
        for operands, operator in ContentStream(page.get_contents(), pdf).operations:
            if operator == b"rg":
                fill = tuple(float(x) for x in operands)
            elif operator == b"re":
                for status, colour in wanted.items():
                    if fill and all(abs(a - b) < 0.005 for a, b in zip(fill, colour, strict=True)):
                        counted[status] += 1
    return counted

"""Bad input to every dispute route gets a precise problem (the field and the reason) and writes nothing: the ledger,
the cases, their statements, their evidence and the alerts are as they were."""

from __future__ import annotations

import base64

import pytest

from fusioncell.deescalation.evidence import MAX_FILE_BYTES
from fusioncell.disputes.models import Dispute, DisputeEvidence, DisputeStatement
from fusioncell.traffic.models import Alert
from tests.conftest import ledger_size, table_count
from tests.disputes.helpers import PNG, case, open_case


def upload(data: bytes, content_type: str = "text/plain") -> list[dict[str, str]]:
    return [{"filename": "f", "content_type": content_type, "content_base64": base64.b64encode(data).decode()}]


OPENINGS = [
    ("sy", {"respondent": "XX"}, 422, "respondent"),
    ("sy", {"respondent": "SY"}, 422, "respondent"),
    ("sy", {"respondent": "US"}, 422, "respondent"),
    ("sy", {"respondent": "UNDOF"}, 422, "respondent"),
    ("sy", {"audience": "mediator"}, 422, "audience"),
    ("sy", {"audience": "everyone"}, 422, "audience"),
    ("sy", {"audience": "mediated:IL"}, 403, None),  # SY cannot write where it cannot read
    ("us", {"audience": "mediated:SY", "respondent": "IL"}, 422, "respondent"),  # IL could not answer
    ("sy", {"title": "   "}, 422, "title"),
    ("sy", {"title": "x" * 201}, 422, "title"),
    ("sy", {"complaint": " \n "}, 422, "complaint"),
    ("sy", {"complaint": "x" * 20_001}, 422, "complaint"),
    ("sy", {"lang": "fr"}, 422, "lang"),
    ("sy", {"lang": "english"}, 422, "lang"),
    ("sy", {"incident": 12345}, 422, "incident"),
    ("sy", {"incident": 0}, 422, "incident"),
    ("sy", {"clarification": 12345}, 422, "clarification"),
    ("sy", {"evidence": upload(b"")}, 422, "evidence"),
    ("sy", {"evidence": upload(b"x" * (MAX_FILE_BYTES + 1))}, 422, "evidence[0]"),
    ("sy", {"evidence": upload(b"plain words", "image/png")}, 422, "evidence[0]"),
    ("sy", {"evidence": [{"filename": "f", "content_type": "image/png", "content_base64": "not base64!"}]}, 422,
     "evidence[0].content_base64"),
    ("sy", {"evidence": upload(b"same\n") * 2}, 422, "evidence"),
    ("sy", {"evidence": upload(b"a\n") * 6}, 422, "evidence"),
    ("sy", {"note": "unknown field"}, 422, "note"),
    ("sy_analyst", {}, 403, None),  # analysts do not open cases
    ("sy_admin", {}, 403, None),
]  # fmt: skip


def snapshot(cell) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return (ledger_size(cell), *(table_count(cell, m) for m in (Dispute, DisputeStatement, DisputeEvidence, Alert)))


@pytest.mark.parametrize(("who", "change", "status", "field"), OPENINGS)
def test_a_bad_opening_writes_nothing(client, cell, crew, who, change, status, field) -> None:
    before = snapshot(cell)
    r = client.post("/api/v1/disputes", json=case(**change), headers=crew[who].headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    if field is not None:
        fields = [problem.get("field")] + [e.get("field") for e in problem.get("errors", [])]
        assert any(f == field or (f or "").startswith(field) for f in fields), problem
    assert snapshot(cell) == before


def test_bad_acts_on_a_case_write_nothing(client, cell, crew) -> None:
    private = open_case(client, crew["us"], audience="mediated:SY", respondent="SY", evidence=[])
    joint = open_case(client, crew["sy"])
    before = snapshot(cell)
    statements, requests = f"/api/v1/disputes/{joint['id']}/statements", f"/api/v1/disputes/{joint['id']}/requests"
    tries = [
        ("il", f"/api/v1/disputes/{private['id']}/acknowledge", {}, 404),  # IL does not read it: no such case to IL
        ("sy", "/api/v1/disputes/999999/acknowledge", {}, 404),
        ("sy", "/api/v1/disputes/0/acknowledge", {}, 422),
        ("sy", f"/api/v1/disputes/{private['id']}/statements", {"text": "x", "audience": "joint"}, 422),
        ("sy", statements, {"text": "  "}, 422),
        ("sy", statements, {"text": "x", "audience": "mediated:IL"}, 403),
        ("sy", statements, {"text": "x", "reply_to": 424242}, 422),
        ("sy", statements, {"text": "x", "lang": "de"}, 422),
        ("sy", statements, {"text": "x", "evidence": upload(b"\x89PNG", "text/plain")}, 422),
        ("us", requests, {"addressed_to": "US", "text": "x"}, 422),
        ("us", requests, {"addressed_to": "ZZ", "text": "x"}, 422),
        ("us", requests, {"addressed_to": "IL", "text": "x", "audience": "mediated:SY"}, 422),
        ("sy", requests, {"addressed_to": "IL", "text": "Tell us"}, 403),
        ("us", f"/api/v1/disputes/{joint['id']}/escalate", {"reason": ""}, 422),
        ("sy", f"/api/v1/disputes/{joint['id']}/withdraw", {}, 422),
        ("us", f"/api/v1/disputes/{joint['id']}/finding", {"finding": "guilty", "reasons": "x"}, 422),
        ("il", f"/api/v1/disputes/{joint['id']}/respond", {"text": "x", "audience": "mediated:IL"}, 422),
    ]  # fmt: skip
    for who, path, body, status in tries:
        r = client.post(path, json=body, headers=crew[who].headers)
        assert r.status_code == status, (path, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert snapshot(cell) == before
    for path in (f"/api/v1/disputes/{private['id']}", "/api/v1/disputes/12345678"):
        r = client.get(path, headers=crew["il"].headers)
        assert r.status_code == 404 and r.json()["detail"] == f"no dispute {path.rsplit('/', 1)[1]} that you may read"
    r = client.get(f"/api/v1/disputes/{joint['id']}/statements/1/evidence/{'0' * 64}", headers=crew["sy"].headers)
    assert r.status_code == 404
    r = client.get("/api/v1/disputes?state=pending", headers=crew["sy"].headers)
    assert r.status_code == 422


def test_evidence_of_every_accepted_kind_is_kept_by_its_hash(client, cell, crew) -> None:
    d = open_case(client, crew["sy"], evidence=[{"filename": "photo.png", "content_type": "image/png",
                                                 "content_base64": PNG}])  # fmt: skip
    (statement,) = d["statements"]
    sha = statement["evidence"][0]["sha256"]
    r = client.get(
        f"/api/v1/disputes/{d['id']}/statements/{statement['id']}/evidence/{sha}", headers=crew["il"].headers
    )
    assert r.status_code == 200 and r.content == base64.b64decode(PNG)
    assert r.headers["content-type"] == "image/png" and "attachment" in r.headers["content-disposition"]

"""Bad agreements get a precise problem and write nothing: unknown ids, dates out of order, empty texts, a text
without its authoritative language, parties, verifiers and zones the charter does not have, oversized or mistyped
evidence."""

from __future__ import annotations

import base64

import pytest

from fusioncell.agreements.models import Agreement, AgreementVersion, Attestation, Milestone
from tests.agreements.helpers import amendment, approved_key, draft, milestone, propose, sign
from tests.conftest import START, ledger_size, table_count


def snapshot(cell) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return (ledger_size(cell), *(table_count(cell, m) for m in (Agreement, AgreementVersion, Milestone, Attestation)))


BAD_DRAFTS = [
    ({"milestones": [milestone(starts="2026-04-10T00:00:00Z", due="2026-04-01T00:00:00Z")]}, "milestones"),
    ({"milestones": [milestone(due=START.isoformat())]}, "milestones"),  # due the moment it starts
    ({"text": {"en": "   "}}, "text"),
    ({"text": {"ar": "نص فقط بالعربية"}}, "text"),  # the authoritative language (en) missing
    ({"text": {"en": "Text", "fr": "Texte"}}, "text.fr"),
    ({"title": {}}, "title"),
    ({"signatories": []}, "signatories"),
    ({"signatories": ["SY", "SY"]}, "signatories"),
    ({"signatories": ["SY", "US"]}, "signatories"),  # the mediator signs nothing here
    ({"signatories": ["SY", "XX"]}, "signatories"),
    ({"audience": "mediated:SY"}, "signatories"),  # IL could not read what it signs
    ({"audience": "mediator"}, "audience"),
    ({"milestones": [milestone(obligor="UNDOF")]}, "milestones[0].obligor"),
    ({"milestones": [milestone(verifier="SY")]}, "milestones[0].verifier"),
    ({"milestones": [milestone(zone="golan-heights-all")]}, "milestones[0].zone"),
    ({"milestones": [milestone(), milestone()]}, "milestones"),
    ({"milestones": [milestone(criterion={"en": ""})]}, "milestones"),
    ({"milestones": [milestone(due="2026-04-01")]}, "milestones"),  # no offset: not an instant
    ({"unknown": 1}, "unknown"),
]


@pytest.mark.parametrize(("change", "field"), BAD_DRAFTS)
def test_a_bad_draft_writes_nothing(client, cell, crew, change, field) -> None:
    before = snapshot(cell)
    r = client.post("/api/v1/agreements", json=draft(**change), headers=crew["us"].headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    fields = [problem.get("field") or ""] + [e.get("field") or "" for e in problem.get("errors", [])]
    assert any(f.startswith(field) for f in fields), problem
    assert snapshot(cell) == before


def test_bad_acts_write_nothing(client, cell, crew, signatories) -> None:
    a = propose(client, crew)["id"]
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a)
    before = snapshot(cell)
    png_claim = [{"filename": "p.png", "content_type": "image/png",
                  "content_base64": base64.b64encode(b"plain words").decode()}]  # fmt: skip
    huge = [{"filename": "big.txt", "content_type": "text/plain",
             "content_base64": base64.b64encode(b"x" * (512 * 1024 + 1)).decode()}]  # fmt: skip
    tries = [
        ("sy", "post", "/api/v1/agreements", draft(), 403),  # only the mediator proposes
        ("us", "post", "/api/v1/agreements/999999/versions", amendment(), 404),
        ("us", "get", "/api/v1/agreements/999999", None, 404),
        ("us", "get", f"/api/v1/agreements/{a}/versions/7", None, 404),
        ("us", "post", "/api/v1/agreements/timelines/no-such-timeline", {"start": START.isoformat()}, 404),
        ("undof", "post", f"/api/v1/agreements/{a}/milestones/nowhere/attestations",
         {"verdict": "verified", "note": "x"}, 404),
        ("undof", "post", f"/api/v1/agreements/{a}/milestones/separation-north/attestations",
         {"verdict": "done", "note": "x"}, 422),
        ("undof", "post", f"/api/v1/agreements/{a}/milestones/separation-north/attestations",
         {"verdict": "verified", "note": "  "}, 422),
        ("undof", "post", f"/api/v1/agreements/{a}/milestones/separation-north/attestations",
         {"verdict": "verified", "note": "Photo", "evidence": png_claim}, 422),
        ("undof", "post", f"/api/v1/agreements/{a}/milestones/separation-north/attestations",
         {"verdict": "verified", "note": "Log", "evidence": huge}, 422),
        ("undof", "post", f"/api/v1/agreements/{a}/versions/1/signatures",
         {"key_id": "x+00000000", "signature": "AA=="}, 403),
    ]  # fmt: skip
    for who, method, path, body, status in tries:
        r = client.request(method.upper(), path, json=body, headers=crew[who].headers)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), path
    assert snapshot(cell) == before

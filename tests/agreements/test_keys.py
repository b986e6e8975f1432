"""Signatories' keys on SQLite and PostgreSQL: registered by their owner in their own name, approved by the mediator
alone, revoked from an instant by the owner or the mediator; every bad key refused with the reason and nothing
written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fusioncell.ledger.models import LedgerEntry
from fusioncell.ledger.note import ALG_COSIGNATURE_V1, Signer, Verifier
from fusioncell.signing.models import SigningKey
from tests.agreements.helpers import approved_key, key_id
from tests.conftest import START, ledger_size, table_count


def test_register_approve_revoke(client, cell, crew, signatories, clock) -> None:
    signer = Signer.generate("sy.signatory")
    r = client.post("/api/v1/keys", json={"verifier": str(signer.verifier)}, headers=signatories["sy"].headers)
    assert r.status_code == 201, r.text
    key = r.json()
    assert key["key_id"] == key_id(signer) and key["state"] == "registered" and key["delegation"] == "SY"
    # every delegation that reads joint traffic reads it: a signature is checked against it
    listed = client.get("/api/v1/keys", headers=crew["undof"].headers).json()["items"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert client.get("/api/v1/keys", headers=crew["sy_admin"].headers).status_code == 403  # an admin reads nothing
    # only the mediator approves it
    for who in ("sy", "il", "undof"):
        assert client.post(f"/api/v1/keys/{key['key_id']}/approve", headers=crew[who].headers).status_code == 403
    assert client.post(f"/api/v1/keys/{key['key_id']}/approve", headers=signatories["sy"].headers).status_code == 403
    clock.advance(timedelta(minutes=5))
    r = client.post(f"/api/v1/keys/{key['key_id']}/approve", headers=crew["us"].headers)
    assert r.status_code == 200 and r.json()["state"] == "approved" and r.json()["approved_by"] == "us.mediator"
    assert client.post(f"/api/v1/keys/{key['key_id']}/approve", headers=crew["us"].headers).status_code == 409
    # another signatory may not revoke it; its owner may, from now, never from the past (that would unsign on its
    # word alone what it signed since); the mediator may backdate it, never to before the key existed
    body = {"reason": "The laptop holding it was lost", "revoked_from": (START + timedelta(minutes=1)).isoformat()}
    r = client.post(f"/api/v1/keys/{key['key_id']}/revoke", json=body, headers=signatories["il"].headers)
    assert r.status_code == 403
    r = client.post(f"/api/v1/keys/{key['key_id']}/revoke", json=body, headers=signatories["sy"].headers)
    assert r.status_code == 403 and "mediator" in r.json()["detail"]
    early = {**body, "revoked_from": (START - timedelta(days=1)).isoformat()}
    r = client.post(f"/api/v1/keys/{key['key_id']}/revoke", json=early, headers=crew["us"].headers)
    assert r.status_code == 422 and r.json()["field"] == "revoked_from"
    r = client.post(f"/api/v1/keys/{key['key_id']}/revoke", json={"reason": "Lost"}, headers=signatories["sy"].headers)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert r.json()["revoked_from"].startswith("2026-03-02T06:05:00")
    assert client.post(f"/api/v1/keys/{key['key_id']}/revoke", json=body, headers=crew["us"].headers).status_code == 409
    with cell.reading() as session:
        actions = (
            session.execute(
                select(LedgerEntry.action)
                .where(LedgerEntry.subject == f"signing-key:{key['key_id']}")
                .order_by(LedgerEntry.index)
            )
            .scalars()
            .all()
        )
    assert actions == ["key.registered", "key.approved", "key.revoked"]


def test_the_mediator_revokes_any_key_from_now(client, cell, crew, signatories) -> None:
    signer = approved_key(client, crew, signatories["il"])
    r = client.post(f"/api/v1/keys/{key_id(signer)}/revoke", json={"reason": "Reported taken"},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["revoked_from"] == "2026-03-02T06:00:00Z"


WITNESS = Signer.generate("sy.signatory", alg=ALG_COSIGNATURE_V1)
BAD_KEYS = [
    ("sy", "not a key", 422),
    ("sy", str(Signer.generate("il.signatory").verifier), 422),  # another's name
    ("sy", str(WITNESS.verifier), 422),  # a witness's cosigning key
    ("sy", str(Signer.generate("sy.signatory").verifier)[:-4] + "AAAA", 422),  # the key ID does not match
    ("sy", "sy.signatory+00000000+" + "A" * 44, 422),
    ("sy_liaison", str(Signer.generate("sy.liaison").verifier), 403),  # a liaison officer signs nothing
]


# ids by position: the keys are made afresh in each process (xdist's workers must collect the same ids)
@pytest.mark.parametrize(("who", "verifier", "status"), BAD_KEYS, ids=[f"bad-key-{i}" for i in range(len(BAD_KEYS))])
def test_bad_keys_are_refused_and_write_nothing(client, cell, crew, signatories, who, verifier, status) -> None:
    member = crew["sy"] if who == "sy_liaison" else signatories[who]
    size = ledger_size(cell)
    r = client.post("/api/v1/keys", json={"verifier": verifier}, headers=member.headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert ledger_size(cell) == size and table_count(cell, SigningKey) == 0


def test_the_same_key_twice_is_409(client, cell, crew, signatories) -> None:
    signer = Signer.generate("sy.signatory")
    assert client.post("/api/v1/keys", json={"verifier": str(signer.verifier)},
                       headers=signatories["sy"].headers).status_code == 201  # fmt: skip
    size = ledger_size(cell)
    r = client.post("/api/v1/keys", json={"verifier": str(signer.verifier)}, headers=signatories["sy"].headers)
    assert r.status_code == 409 and ledger_size(cell) == size
    # Syria's public key under Syria's deputy's name: one person's signatures would pass for another's
    copy = Verifier("sy.deputy", signer.verifier.alg, signer.verifier.public)
    r = client.post("/api/v1/keys", json={"verifier": str(copy)}, headers=signatories["sy2"].headers)
    assert r.status_code == 409 and "another name" in r.json()["detail"] and ledger_size(cell) == size
    assert client.post("/api/v1/keys/nobody+00000000/approve", headers=crew["us"].headers).status_code == 404
    assert client.get("/api/v1/keys/bad key", headers=crew["us"].headers).status_code == 422

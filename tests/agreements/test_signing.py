"""Signing and binding through the API on SQLite and PostgreSQL: every way a signature could fail to count is refused
with the reason and writes nothing, and the agreement binds exactly when the last valid signature arrives; an
amendment must be signed again while the version before stays in force; a key revoked from before it signed unbinds
what it alone bound."""

from __future__ import annotations

import base64
from datetime import timedelta

from fusioncell.agreements.binding import signing_message
from fusioncell.agreements.models import AgreementSignature
from fusioncell.ledger.note import Signer
from tests.agreements.helpers import amendment, approved_key, key_id, propose, sign, signature
from tests.conftest import ledger_size, table_count


def state(client, member, agreement: int) -> dict:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/agreements/{agreement}", headers=member.headers).json()


def test_every_bad_signature_is_refused_and_binding_changes_only_on_the_last_valid_one(
    client, cell, crew, signatories, clock
) -> None:
    a = propose(client, crew)["id"]
    sy, il = (approved_key(client, crew, signatories[k]) for k in ("sy", "il"))
    unapproved = Signer.generate("il.signatory")
    assert client.post("/api/v1/keys", json={"verifier": str(unapproved.verifier)},
                       headers=signatories["il"].headers).status_code == 201  # fmt: skip
    unregistered = Signer.generate("il.signatory")
    revoked = approved_key(client, crew, signatories["il"])
    client.post(f"/api/v1/keys/{key_id(revoked)}/revoke", json={"reason": "Lost"}, headers=crew["us"].headers)
    clock.advance(timedelta(seconds=1))
    # a second version, and a message over a changed text
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(text={"en": "Another text"}),
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    fetched = client.get(f"/api/v1/agreements/{a}/versions/1", headers=crew["us"].headers).json()
    changed = signing_message(fetched["document"]["origin"], a, 1, "0" * 64, key_id(il))

    first = sign(client, signatories["sy"], sy, a)
    assert first["binds"] is False and first["versions"][0]["missing"] == ["IL"]

    il_member = signatories["il"]
    good = signature(client, il_member, il, a, 1)
    attempts = [
        ("forged", {"key_id": key_id(il), "signature": base64.b64encode(b"\x01" * 64).decode()}, il_member, 422),
        ("another version", {"key_id": key_id(il), "signature": signature(client, il_member, il, a, 2)}, il_member,
         422),
        ("changed text", {"key_id": key_id(il), "signature": base64.b64encode(il.sign(changed)).decode()}, il_member,
         422),
        ("not registered", {"key_id": key_id(unregistered),
                            "signature": signature(client, il_member, unregistered, a, 1)}, il_member, 422),
        ("not approved", {"key_id": key_id(unapproved),
                          "signature": signature(client, il_member, unapproved, a, 1)}, il_member, 422),
        ("revoked", {"key_id": key_id(revoked), "signature": signature(client, il_member, revoked, a, 1)}, il_member,
         422),
        # Syria's second signatory uploads Israel's signature, with Israel's key: a signature for another party
        ("for another", {"key_id": key_id(il), "signature": good}, signatories["sy2"], 403),
        # Israel's own signatory, with Syria's key
        ("another's key", {"key_id": key_id(sy), "signature": signature(client, il_member, sy, a, 1)}, il_member, 403),
        ("not base64", {"key_id": key_id(il), "signature": "%%%"}, il_member, 422),
        ("too short", {"key_id": key_id(il), "signature": base64.b64encode(b"x" * 10).decode()}, il_member, 422),
        ("liaison", {"key_id": key_id(il), "signature": good}, crew["il"], 403),
    ]  # fmt: skip
    size, rows = ledger_size(cell), table_count(cell, AgreementSignature)
    for name, body, member, status in attempts:
        r = client.post(f"/api/v1/agreements/{a}/versions/1/signatures", json=body, headers=member.headers)
        assert r.status_code == status, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), name
        assert state(client, crew["us"], a)["binds"] is False, name
    assert ledger_size(cell) == size and table_count(cell, AgreementSignature) == rows

    r = client.post(f"/api/v1/agreements/{a}/versions/1/signatures", json={"key_id": key_id(il), "signature": good},
                    headers=il_member.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    bound = r.json()
    assert bound["binds"] is True and bound["in_force"] == 1
    assert bound["versions"][0]["bound_at"] == bound["versions"][0]["signed"]["IL"]
    # the same party again: 409, nothing written
    size = ledger_size(cell)
    r = client.post(f"/api/v1/agreements/{a}/versions/1/signatures", json={"key_id": key_id(il), "signature": good},
                    headers=il_member.headers)  # fmt: skip
    assert r.status_code == 409 and ledger_size(cell) == size


def test_an_amendment_binds_only_once_signed_again_and_a_revocation_unbinds(client, cell, crew, signatories, clock):  # type: ignore[no-untyped-def]
    a = propose(client, crew)["id"]
    sy, il = (approved_key(client, crew, signatories[k]) for k in ("sy", "il"))
    sign(client, signatories["sy"], sy, a)
    sign(client, signatories["il"], il, a)
    clock.advance(timedelta(hours=1))
    amended = amendment(text={"en": "Israel withdraws within 45 days; UNDOF verifies each phase."})
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amended, headers=crew["us"].headers)
    assert r.status_code == 201 and r.json()["latest_version"] == 2 and r.json()["in_force"] == 1
    assert sign(client, signatories["sy"], sy, a, 2)["in_force"] == 1  # the earlier version stays in force
    clock.advance(timedelta(hours=1))
    signed_at = clock.now()
    assert sign(client, signatories["il"], il, a, 2)["in_force"] == 2
    # Israel's key is found to have been taken before it signed version 2: revoked from then, version 1 binds again
    r = client.post(f"/api/v1/keys/{key_id(il)}/revoke",
                    json={"reason": "Taken", "revoked_from": (signed_at - timedelta(minutes=1)).isoformat()},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 200
    after = state(client, crew["sy"], a)
    assert after["in_force"] == 1
    v2 = after["versions"][1]
    assert v2["binds"] is False and v2["missing"] == ["IL"] and "revoked" in v2["invalid"][0]["reason"]
    # a new key, approved, signs version 2 again: it binds again
    fresh = approved_key(client, crew, signatories["il"])
    assert sign(client, signatories["il"], fresh, a, 2)["in_force"] == 2


def test_an_amendment_keeps_every_signatory_of_the_version_in_force(client, cell, crew, signatories) -> None:
    a = propose(client, crew)["id"]
    size = ledger_size(cell)
    # nothing binds yet: the mediator may still change who signs
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(signatories=["SY"], milestones=[]),
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 201 and ledger_size(cell) == size + 1
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(), headers=crew["us"].headers)
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a, 3)
    size = ledger_size(cell)
    # version 3, in force, binds Israel: an amendment signed by Syria alone would unbind it
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(signatories=["SY"], milestones=[]),
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "signatories" and "IL" in r.json()["detail"]
    assert ledger_size(cell) == size

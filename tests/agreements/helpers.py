"""Signatories with keys of their own, agreements as the mediator drafts them, and signatures made as `fusioncell
sign` makes them."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from fusioncell.agreements.binding import digest, signing_message
from fusioncell.ledger.note import Signer
from tests.conftest import START, Member, add_user, login


@pytest.fixture
def signatories(client, cell) -> dict[str, Member]:  # type: ignore[no-untyped-def]
    """A signatory of each party, and a second of Syria's."""
    people = {"sy": ("sy.signatory", "SY"), "il": ("il.signatory", "IL"), "sy2": ("sy.deputy", "SY")}
    out = {}
    for key, (username, delegation) in people.items():
        add_user(cell, username, delegation, "signatory")
        out[key] = Member(username, delegation, login(client, username))
    return out


def milestone(key: str = "separation-north", *, days: float = 30, obligor: str = "IL", **overrides: Any) -> dict:
    body = {
        "key": key,
        "title": {"en": f"Phase {key}", "ar": f"المرحلة {key}"},
        "criterion": {"en": "No forces north of Quneitra; UNDOF patrols confirm."},
        "obligor": obligor,
        "verifier": "UNDOF",
        "zone": "area-of-separation",
        "starts": START.isoformat(),
        "due": (START + timedelta(days=days)).isoformat(),
    }
    body.update(overrides)
    return body


def draft(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "audience": "joint",
        "title": {"en": "Phased withdrawal timeline"},
        "text": {"en": "Israel withdraws in phases from the area of separation; UNDOF verifies each phase."},
        "signatories": ["SY", "IL"],
        "milestones": [milestone()],
    }
    body.update(overrides)
    return body


def amendment(**overrides: Any) -> dict[str, Any]:
    """A new version's whole text (an amendment keeps its agreement's audience)."""
    body = draft(**overrides)
    del body["audience"]
    return body


def propose(client: Any, crew: Any, **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/agreements", json=draft(**overrides), headers=crew["us"].headers)
    assert r.status_code == 201, r.text
    return r.json()


def approved_key(client: Any, crew: Any, member: Member) -> Signer:
    """A key made for the member, registered by them and approved by the mediator."""
    signer = Signer.generate(member.username)
    r = client.post("/api/v1/keys", json={"verifier": str(signer.verifier)}, headers=member.headers)
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/keys/{key_id(signer)}/approve", headers=crew["us"].headers)
    assert r.status_code == 200, r.text
    return signer


def key_id(signer: Signer) -> str:
    return f"{signer.name}+{signer.verifier.id:08x}"


def signature(client: Any, member: Member, signer: Signer, agreement: int, version: int) -> str:
    """As `fusioncell sign` makes it: the version fetched, its digest recomputed, the message signed."""
    fetched = client.get(f"/api/v1/agreements/{agreement}/versions/{version}", params={"key_id": key_id(signer)},
                         headers=member.headers).json()  # fmt: skip
    computed = digest(fetched["document"])
    assert computed == fetched["digest"]
    message = signing_message(fetched["document"]["origin"], agreement, version, computed, key_id(signer))
    assert message.decode() == fetched["signing_message"]
    return base64.b64encode(signer.sign(message)).decode()


def sign(client: Any, member: Member, signer: Signer, agreement: int, version: int = 1, status: int = 201) -> Any:
    body = {"key_id": key_id(signer), "signature": signature(client, member, signer, agreement, version)}
    r = client.post(f"/api/v1/agreements/{agreement}/versions/{version}/signatures", json=body, headers=member.headers)
    assert r.status_code == status, r.text
    return r.json()

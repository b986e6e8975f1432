"""Whether an agreement binds, from its versions, the signatures and the signatories' keys alone. Pure: the service
feeds it the tables, `fusioncell verify` the contents of an evidence bundle, and both get the same answer.

A version binds when every signatory it names (a delegation) has a valid signature over it: Ed25519 over the
version's signing message (which holds the SHA-256 of the version's RFC 8785 canonical form), by a key of that
delegation approved at or before the instant of signing and not revoked from that instant or before. The version in
force is the latest that binds: an amendment must be signed again, and until it binds the one before stays in force.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fusioncell.ledger.entries import canonical

SIGNATURE_DOMAIN = "fusioncell agreement signature"


def digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of the version's RFC 8785 canonical form, hex."""
    return hashlib.sha256(canonical(dict(document))).hexdigest()


def signing_message(origin: str, agreement: int, version: int, version_digest: str, key_id: str) -> bytes:
    """What a signatory signs: the log it belongs to, the agreement, the version, the digest of its text and the key
    it signs with — so a signature over one version (or one cell's agreement) is never one over another, and one
    person's signature never passes for another's under a copy of their public key."""
    return (
        f"{SIGNATURE_DOMAIN}\n{origin}\nagreement {agreement} version {version}\nsha256 {version_digest}\n"
        f"key {key_id}\n"
    ).encode()


@dataclass(frozen=True)
class Key:
    key_id: str
    delegation: str
    public: bytes  # raw Ed25519, 32 bytes
    approved_at: datetime | None
    revoked_from: datetime | None

    def may_sign_at(self, moment: datetime) -> bool:
        approved = self.approved_at is not None and self.approved_at <= moment
        return approved and (self.revoked_from is None or moment < self.revoked_from)


@dataclass(frozen=True)
class Version:
    version: int
    digest: str
    signatories: tuple[str, ...]


@dataclass(frozen=True)
class Signature:
    version: int
    delegation: str
    key_id: str
    signature: bytes
    signed_at: datetime
    ref: Any = None  # the caller's handle on it (a row id, a ledger index)


@dataclass
class VersionState:
    version: int
    binds: bool
    signed: dict[str, datetime]  # delegation → when its first valid signature was made
    missing: list[str]
    bound_at: datetime | None  # when the last signatory's valid signature arrived
    invalid: list[tuple[Signature, str]] = field(default_factory=list)


@dataclass
class Assessment:
    versions: list[VersionState]
    in_force: int | None  # the latest version that binds

    def state(self, version: int) -> VersionState | None:
        return next((v for v in self.versions if v.version == version), None)


class Verifier:
    """Ed25519 verification with each key's object made once (the bare library's cost, per signature)."""

    def __init__(self) -> None:
        self._keys: dict[bytes, Ed25519PublicKey] = {}

    def __call__(self, public: bytes, message: bytes, signature: bytes) -> bool:
        key = self._keys.get(public)
        if key is None:
            try:
                key = self._keys[public] = Ed25519PublicKey.from_public_bytes(public)
            except ValueError:
                return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def check(
    signature: Signature,
    version: Version,
    keys: Mapping[str, Key],
    *,
    origin: str,
    agreement: int,
    verify: Verifier | None = None,
) -> str | None:
    """Why the signature does not count for its delegation on this version, or None when it does."""
    key = keys.get(signature.key_id)
    if key is None:
        return f"key {signature.key_id} is not registered"
    if key.delegation != signature.delegation:
        return f"key {signature.key_id} is {key.delegation}'s, not {signature.delegation}'s"
    if signature.delegation not in version.signatories:
        return f"{signature.delegation} is not a signatory of version {version.version}"
    if key.approved_at is None or key.approved_at > signature.signed_at:
        return f"key {signature.key_id} was not approved when it signed"
    if key.revoked_from is not None and key.revoked_from <= signature.signed_at:
        return f"key {signature.key_id} is revoked from {key.revoked_from.isoformat()}, before it signed"
    message = signing_message(origin, agreement, version.version, version.digest, signature.key_id)
    if not (verify or Verifier())(key.public, message, signature.signature):
        return f"the signature does not verify with key {signature.key_id} over version {version.version}"
    return None


def assess(
    *,
    origin: str,
    agreement: int,
    versions: Iterable[Version],
    signatures: Iterable[Signature],
    keys: Mapping[str, Key],
    verify: Verifier | None = None,
) -> Assessment:
    """Each version's state, and the version in force."""
    verify = verify or Verifier()
    by_version: dict[int, list[Signature]] = {}
    for s in signatures:
        by_version.setdefault(s.version, []).append(s)
    states = []
    for v in sorted(versions, key=lambda v: v.version):
        signed: dict[str, datetime] = {}
        invalid = []
        for s in sorted(by_version.get(v.version, []), key=lambda s: s.signed_at):
            reason = check(s, v, keys, origin=origin, agreement=agreement, verify=verify)
            if reason is not None:
                invalid.append((s, reason))
            elif s.delegation not in signed:
                signed[s.delegation] = s.signed_at
        missing = [d for d in v.signatories if d not in signed]
        binds = bool(v.signatories) and not missing
        states.append(
            VersionState(
                version=v.version,
                binds=binds,
                signed=signed,
                missing=missing,
                bound_at=max(signed.values()) if binds else None,
                invalid=invalid,
            )
        )
    in_force = max((s.version for s in states if s.binds), default=None)
    return Assessment(states, in_force)

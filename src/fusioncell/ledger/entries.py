"""Appending ledger entries and checking their commitments. Pure helpers first, then the append."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

import rfc8785
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from fusioncell.ledger.models import LedgerEntry, LedgerHead
from fusioncell.policy import Audience, Principal

HEAD_ID = 1
NOTIFY_CHANNEL = "fusioncell_ledger"


def jsonable(value: Any) -> Any:
    """Turn domain values into plain JSON: UTC datetimes as RFC 3339, enums as their values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    return value


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON."""
    return rfc8785.dumps(jsonable(value))


def commitment_of(salt: bytes, content: bytes) -> str:
    return hashlib.sha256(salt + content).hexdigest()


def verify_commitment(*, salt_hex: str, content: str, commitment: str) -> bool:
    return hmac.compare_digest(commitment_of(bytes.fromhex(salt_hex), content.encode("utf-8")), commitment)


@dataclass(frozen=True)
class CommittedEntry:
    """What subscribers receive after commit."""

    index: int
    recorded_at: datetime
    action: str
    actor: str
    actor_delegation: str | None
    audience: str
    subject: str
    content: dict[str, Any]


def append(
    session: Session,
    *,
    now: datetime,
    action: str,
    actor: Principal,
    audience: Audience,
    subject: str,
    content: Mapping[str, Any],
) -> LedgerEntry:
    """Append one entry in the caller's transaction, after locking the head row (gapless, commit-ordered)."""
    head = session.execute(select(LedgerHead).where(LedgerHead.id == HEAD_ID).with_for_update()).scalar_one_or_none()
    if head is None:
        raise RuntimeError("the ledger head row is missing: run `fusioncell init` (migrations) first")
    index = head.size
    body = {"actor": actor.username, **content}
    content_bytes = canonical(body)
    salt = secrets.token_bytes(32)
    entry = LedgerEntry(
        index=index,
        recorded_at=now,
        action=action,
        actor=actor.username,
        actor_delegation=actor.delegation,
        audience=audience.label,
        subject=subject,
        content=content_bytes.decode("utf-8"),
        salt=salt.hex(),
        commitment=commitment_of(salt, content_bytes),
    )
    session.add(entry)
    session.execute(update(LedgerHead).where(LedgerHead.id == HEAD_ID).values(size=index + 1))
    if session.get_bind().dialect.name == "postgresql":
        # Transactional: delivered to every listening instance only if and when this commits.
        session.execute(text("SELECT pg_notify(:channel, :index)"), {"channel": NOTIFY_CHANNEL, "index": str(index)})
    return entry

"""Appending ledger entries and checking their commitments. Pure helpers first, then the append."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import rfc8785
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from fusioncell.db import driver_mark
from fusioncell.ledger.models import LedgerHead
from fusioncell.policy import Audience, Principal

HEAD_ID = 1
NOTIFY_CHANNEL = "fusioncell_ledger"


def jsonable(value: Any) -> Any:
    """Turn domain values into plain JSON: UTC datetimes as RFC 3339, enums as their values. Plain values are
    dispatched by exact type first: this runs for every entry."""
    t = type(value)
    if t is str or t is int or t is bool or value is None or t is float:
        return value
    if t is dict:
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):  # before str and int: a StrEnum is written as its value
        return value.value
    if isinstance(value, str | int | float):
        return value
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
    return value


_SAFE_INT = 2**53 - 1
_plain_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), check_circular=False).encode


def _plain(value: Any) -> bool:
    """True when `json` writes `value` exactly as RFC 8785 does: no floats (JCS has its own number format),
    integers within I-JSON's range, and keys without characters beyond the BMP (JCS sorts keys by UTF-16 code
    units, `json` by code points; the two orders differ only there)."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or not (k.isascii() or max(k) < "\U00010000") or not _plain(v):
                return False
        return True
    if t is list:
        return all(_plain(v) for v in value)
    return False


def canonical_pair(value: Any) -> tuple[Any, bytes]:
    """(the plain JSON value, its RFC 8785 canonical bytes). Plain values take the `json` module's C encoder,
    byte-identical to RFC 8785 for them (a differential test holds it so); anything else goes to the `rfc8785`
    library."""
    plain = jsonable(value)
    if _plain(plain):
        return plain, _plain_dumps(plain).encode("utf-8")
    return plain, rfc8785.dumps(plain)


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON."""
    return canonical_pair(value)[1]


def commitment_of(salt: bytes, content: bytes) -> str:
    return hashlib.sha256(salt + content).hexdigest()


def verify_commitment(*, salt_hex: str, content: str, commitment: str) -> bool:
    return hmac.compare_digest(commitment_of(bytes.fromhex(salt_hex), content.encode("utf-8")), commitment)


def _iso(moment: datetime) -> str:
    """The one spelling of an entry's time in its leaf: UTC, microseconds always written."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("naive datetimes are refused: fusioncell stores UTC only")
    if offset:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def _stored_of_iso(iso: str) -> str:
    """An entry's time as UTCDateTime stores it on SQLite (naive UTC, SQLAlchemy's DATETIME spelling), cut from
    the leaf's spelling: the raw inserts and reads of the ledger bypass the type, so both directions live here."""
    return iso[:10] + " " + iso[11:26]


def _iso_of_stored(at: str) -> str:
    if len(at) == 26:
        return at[:10] + "T" + at[11:] + "Z"
    return _iso(datetime.fromisoformat(at).replace(tzinfo=UTC))


_string = json.encoder.encode_basestring  # the C encoder's JSON string, as JCS spells it (ensure_ascii off)


_ESCAPES = re.compile(r'["\\\x00-\x1f]').search


def _leaf_text(
    index: int, iso: str, action: str, actor_delegation: str | None, audience: str, subject: str, commitment: str
) -> str:
    """The leaf's canonical JSON. Values with nothing JSON must escape (the common case) are quoted as they are,
    which is what the encoder would give them; the others go through it."""
    if _ESCAPES(f"{action}{actor_delegation}{audience}{subject}{commitment}") is None:
        delegation = "null" if actor_delegation is None else f'"{actor_delegation}"'
        return (
            f'{{"action":"{action}","actor_delegation":{delegation},"audience":"{audience}",'
            f'"commitment":"{commitment}","index":{int(index)},"recorded_at":"{iso}","subject":"{subject}"}}'
        )
    delegation = "null" if actor_delegation is None else _string(actor_delegation)
    return (
        f'{{"action":{_string(action)},"actor_delegation":{delegation},"audience":{_string(audience)},'
        f'"commitment":{_string(commitment)},"index":{int(index)},"recorded_at":"{iso}","subject":{_string(subject)}}}'
    )


def leaf_bytes(
    *,
    index: int,
    recorded_at: datetime,
    action: str,
    actor_delegation: str | None,
    audience: str,
    subject: str,
    commitment: str,
) -> bytes:
    """The entry as its Merkle leaf commits to it: the public header, content replaced by its salted
    commitment, as RFC 8785 canonical JSON. Written out by hand (the keys are fixed and sorted; the values are
    strings, an integer and null, which JCS spells exactly as `json` does with ensure_ascii off), because every
    append, mirror and verification computes it; a test holds it equal to the rfc8785 library's output."""
    return _leaf_text(index, _iso(recorded_at), action, actor_delegation, audience, subject, commitment).encode()


_LEAVES_SQL = (
    'SELECT "index", recorded_at, action, actor_delegation, audience, subject, commitment FROM ledger_entries '
    'WHERE "index" >= {0} AND "index" < {0} ORDER BY "index"'
)


def leaf_lines(session: Session, start: int, end: int) -> bytes:
    """The leaves of entries [start, end), one per line, read straight from the driver: what a mirror fetches
    a million of. SQLite keeps times as text in one fixed spelling, turned into the leaf's by slicing."""
    mark = driver_mark(session)
    sqlite = mark == "?"
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_LEAVES_SQL.format(mark), (start, end))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    out = []
    for index, at, action, delegation, audience, subject, commitment in rows:
        iso = _iso_of_stored(at) if sqlite else _iso(at)
        out.append(_leaf_text(index, iso, action, delegation, audience, subject, commitment))
    out.append("")
    return "\n".join(out).encode() if rows else b""


def entry_leaf(entry: Any) -> bytes:
    """`leaf_bytes` of anything with the header's attributes (a LedgerEntry, a row, a CommittedEntry)."""
    return leaf_bytes(
        index=entry.index,
        recorded_at=entry.recorded_at,
        action=entry.action,
        actor_delegation=entry.actor_delegation,
        audience=entry.audience,
        subject=entry.subject,
        commitment=entry.commitment,
    )


@dataclass(slots=True)
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
    commitment: str = ""


# built once: these run in every appending transaction
_LOCK_HEAD = select(LedgerHead.size).where(LedgerHead.id == HEAD_ID).with_for_update()
_SET_HEAD = update(LedgerHead.__table__).where(LedgerHead.__table__.c.id == HEAD_ID).values(size=bindparam("size"))
_NOTIFY = text("SELECT pg_notify(:channel, :index)")


def lock_head(session: Session) -> int:
    """Lock the head row for the rest of the transaction and return the ledger's size: the next entry's index.
    Every appending transaction takes this lock first, so indices are gapless and in commit order."""
    size = session.execute(_LOCK_HEAD).scalar_one_or_none()
    if size is None:
        raise RuntimeError("the ledger head row is missing: run `fusioncell init` (migrations) first")
    return size


ENTRY_COLUMNS = (
    "index", "recorded_at", "action", "actor", "actor_delegation", "audience", "subject", "content", "salt",
    "commitment",
)  # fmt: skip
_INSERT_ENTRIES = 'INSERT INTO ledger_entries ("index", recorded_at, action, actor, actor_delegation, audience, subject, content, salt, commitment) VALUES ({})'  # noqa: E501


def entry_row(
    *,
    index: int,
    now: datetime,
    action: str,
    actor: Principal,
    audience: Audience,
    subject: str,
    content: Mapping[str, Any],
    sqlite: bool = False,
) -> tuple[tuple[Any, ...], Any, bytes]:
    """The entry at `index` (the caller holds the head lock) — canonical content, fresh salt, commitment — as
    a row in ENTRY_COLUMNS order (its time in SQLite's stored form when `sqlite`), its content as plain JSON, and
    its Merkle leaf hash."""
    plain, content_bytes = canonical_pair({"actor": actor.username, **content})
    salt = os.urandom(32)
    commitment = hashlib.sha256(salt + content_bytes).hexdigest()
    iso = _iso(now)  # the one spelling of the time: the leaf's, and SQLite's stored form cut from it
    leaf = _leaf_text(index, iso, action, actor.delegation, audience.label, subject, commitment).encode()
    stored = _stored_of_iso(iso) if sqlite else now
    row = (
        index, stored, action, actor.username, actor.delegation, audience.label, subject,
        content_bytes.decode("utf-8"), salt.hex(), commitment,
    )  # fmt: skip
    return row, plain, hashlib.sha256(b"\x00" + leaf).digest()


def insert_entries(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Write the transaction's entries in one executemany, straight to the driver: the rows are final (`entry_row`
    made their times in the column's storage form), so SQLAlchemy's per-row parameter processing is skipped."""
    mark = driver_mark(session)
    session.connection().exec_driver_sql(_INSERT_ENTRIES.format(", ".join([mark] * len(ENTRY_COLUMNS))), rows)


def set_head(session: Session, size: int) -> None:
    """Move the head past the entries this transaction appended; on PostgreSQL, tell every listening instance
    (NOTIFY is transactional: delivered only if and when this commits)."""
    session.execute(_SET_HEAD, {"size": size})
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "index": str(size - 1)})

"""Appending ledger entries and checking their commitments. Pure helpers first, then the append."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import rfc8785
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from fusioncell.db import driver_mark
from fusioncell.ledger import merkle
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
# The same encoder's C core, made once: JSONEncoder.encode builds it again on every call. Only for plain dicts
# (what `_plain` lets through), whose encoding cannot call back into Python.
_c_encoder = (
    json.encoder.c_make_encoder(
        None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)


def _plain_text(plain: Any) -> str:
    if _c_encoder is not None and type(plain) is dict:
        return "".join(_c_encoder(plain, 0))
    return _plain_dumps(plain)


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
    if type(value) is dict and _flat(value):  # most entries' content: one pass, no copy
        return value, "".join(_c_encoder(value, 0)).encode("utf-8")  # type: ignore[misc]
    plain = jsonable(value)
    if _plain(plain):
        return plain, _plain_text(plain).encode("utf-8")
    return plain, rfc8785.dumps(plain)


def _flat(value: dict[Any, Any]) -> bool:
    """A dict already plain JSON with nothing nested: string keys within the BMP, values strings, booleans,
    None or I-JSON integers. (`jsonable` would return it unchanged and `_plain` accept it.)"""
    if _c_encoder is None:
        return False
    for k, v in value.items():
        if type(k) is not str or not (k.isascii() or max(k) < "\U00010000"):
            return False
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is not int or not -_SAFE_INT <= v <= _SAFE_INT:
            return False
    return True


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON."""
    return canonical_pair(value)[1]


class _SaltPool:
    """Fresh 32-byte salts, cut from the operating system's CSPRNG a few kilobytes at a time: one getrandom call
    per 256 entries rather than one per entry. Each salt is used once; the pool is never refilled with anything
    but new random bytes."""

    SALT = 32
    CHUNK = 256

    def __init__(self) -> None:
        self._reset()
        # a forked child must not hand out the salts its parent will: it starts with an empty pool
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0

    def take(self) -> bytes:
        with self._lock:
            at = self._at
            if at >= len(self._buffer):
                self._buffer, at = os.urandom(self.SALT * self.CHUNK), 0
            self._at = at + self.SALT
            return self._buffer[at : at + self.SALT]


new_salt = _SaltPool().take


def commitment_of(salt: bytes, content: bytes) -> str:
    return hashlib.sha256(salt + content).hexdigest()


def verify_commitment(*, salt_hex: str, content: str, commitment: str) -> bool:
    return hmac.compare_digest(commitment_of(bytes.fromhex(salt_hex), content.encode("utf-8")), commitment)


_ISO_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def _iso(moment: datetime) -> str:
    """The one spelling of an entry's time in its leaf: UTC, microseconds always written. (Formatted with `%`:
    three times faster than `isoformat(timespec=...)`, and this runs for every entry.)"""
    if moment.tzinfo is not UTC:
        offset = moment.utcoffset()
        if offset is None:
            raise ValueError("naive datetimes are refused: fusioncell stores UTC only")
        moment = moment.astimezone(UTC)
    m = moment
    return _ISO_FORMAT % (m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond)


def _stored_of_iso(iso: str) -> str:
    """An entry's time as UTCDateTime stores it on SQLite (naive UTC, SQLAlchemy's DATETIME spelling), cut from
    the leaf's spelling: the raw inserts and reads of the ledger bypass the type, so both directions live here."""
    return iso[:10] + " " + iso[11:26]


def _iso_of_stored(at: str) -> str:
    if len(at) == 26:
        return at[:10] + "T" + at[11:] + "Z"
    moment = datetime.fromisoformat(at)
    return _iso(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)


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


# Leaf formats. Format 1 (entries appended before migration 0006) made the whole header public: action, actor's
# delegation and subject beside index, time, audience and commitment. Format 2 keeps in the leaf only what every
# delegation may know of any entry: its index, time, audience and the commitment to its content; the action, the
# actor's delegation and the subject are committed inside the content (as "@action", "@actor_delegation",
# "@subject"), revealed with it to the audience alone. A log is never rewritten: format-1 leaves stay as they are.
LEAF_FORMAT = 2
HEADER_PREFIX = "@"  # the content keys that carry an entry's own header ("@action", ...), not what the command did


def _leaf_text_v2(index: int, iso: str, audience: str, commitment: str) -> str:
    """A format-2 leaf's canonical JSON. Its strings are the server's own (an audience label of the charter's
    codes, a hex digest, a time), so nothing in them needs escaping unless the charter's codes do."""
    if _ESCAPES(f"{audience}{commitment}") is None:
        return (
            f'{{"audience":"{audience}","commitment":"{commitment}","format":2,"index":{int(index)},'
            f'"recorded_at":"{iso}"}}'
        )
    return (
        f'{{"audience":{_string(audience)},"commitment":{_string(commitment)},"format":2,"index":{int(index)},'
        f'"recorded_at":"{iso}"}}'
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
    leaf_format: int = LEAF_FORMAT,
) -> bytes:
    """The entry as its Merkle leaf commits to it: the public header, content replaced by its salted
    commitment, as RFC 8785 canonical JSON. Written out by hand (the keys are fixed and sorted; the values are
    strings, integers and null, which JCS spells exactly as `json` does with ensure_ascii off), because every
    append, mirror and verification computes it; a test holds it equal to the rfc8785 library's output."""
    if leaf_format == 2:
        return _leaf_text_v2(index, _iso(recorded_at), audience, commitment).encode()
    return _leaf_text(index, _iso(recorded_at), action, actor_delegation, audience, subject, commitment).encode()


# The header columns a leaf is made of, in `_leaf_of_row`'s order
_LEAF_COLUMNS = (
    'SELECT "index", recorded_at, action, actor_delegation, audience, subject, commitment, leaf_format '
    "FROM ledger_entries"
)


def _leaf_of_row(row: tuple[Any, ...], sqlite: bool) -> str:
    """The leaf text of a row of `_LEAF_COLUMNS` read straight from the driver (SQLite's time is its stored text)."""
    index, at, action, delegation, audience, subject, commitment, leaf_format = row
    iso = _iso_of_stored(at) if sqlite else _iso(at)
    if leaf_format == 2:
        return _leaf_text_v2(index, iso, audience, commitment)
    return _leaf_text(index, iso, action, delegation, audience, subject, commitment)


# The leaf as the database writes it, for values with nothing JSON must escape: the common case, checked for the
# whole page afterwards (`_unescaped`). Column by column the same text as `_leaf_text`'s fast path. SQLite formats
# it in one printf, the time cut from its stored text (NULL, so the leaf is made again in Python, should a stored
# time not have SQLAlchemy's fixed 26 characters); PostgreSQL concatenates, its timestamp formatted in UTC.
_SQLITE_LEAF = """CASE WHEN length(recorded_at) != 26 THEN NULL WHEN leaf_format = 2 THEN printf(
 '{"audience":"%s","commitment":"%s","format":2,"index":%d,"recorded_at":"%.10sT%sZ"}',
 audience, commitment, "index", recorded_at, substr(recorded_at, 12)) ELSE printf(
 '{"action":"%s","actor_delegation":%s,"audience":"%s","commitment":"%s","index":%d,"recorded_at":"%.10sT%sZ","subject":"%s"}',
 action, iif(actor_delegation IS NULL, 'null', '"' || actor_delegation || '"'), audience, commitment, "index",
 recorded_at, substr(recorded_at, 12), subject) END"""  # noqa: E501
_POSTGRES_TIME = "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
_POSTGRES_LEAF = f"""CASE WHEN leaf_format = 2 THEN
 '{{"audience":"' || audience || '","commitment":"' || commitment || '","format":2,"index":' || "index" ||
 ',"recorded_at":"' || {_POSTGRES_TIME} || 'Z"}}' ELSE
 '{{"action":"' || action || '","actor_delegation":' ||
 CASE WHEN actor_delegation IS NULL THEN 'null' ELSE '"' || actor_delegation || '"' END ||
 ',"audience":"' || audience || '","commitment":"' || commitment || '","index":' || "index" ||
 ',"recorded_at":"' || {_POSTGRES_TIME} || 'Z","subject":"' || subject || '"}}' END"""
_RANGE = '"index" >= {mark} AND "index" < {mark}'
# A page as one string, joined in the database: one step of the driver, not one per row. (SQLite joins in the
# order the ordered subquery yields, its rowid order; the counts say whether a leaf came out NULL.)
_PAGE_SQL = {
    "?": f"SELECT group_concat(leaf, char(10)), count(*), count(leaf), total(v2) FROM (SELECT {_SQLITE_LEAF} AS leaf, "
    f'leaf_format = 2 AS v2 FROM ledger_entries WHERE {_RANGE.format(mark="?")} ORDER BY "index")',
    "%s": f"SELECT string_agg(leaf, E'\\n' ORDER BY i), count(*), count(leaf), count(*) FILTER (WHERE v2) FROM "
    f'(SELECT {_POSTGRES_LEAF} AS leaf, "index" AS i, leaf_format = 2 AS v2 FROM ledger_entries '
    f"WHERE {_RANGE.format(mark='%s')}) AS page",
}
# What a fast-path page may hold besides printable text: newlines between leaves and the quotes of its structure.
# Everything else is deleted, in C, before counting: a backslash or another control character left over means a
# value that JSON escapes.
_KEEP = bytes(range(0x20)) + b'"\\'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_NULL_DELEGATION = b':null,"audience":'


def _unescaped(text: bytes, count: int, v2: int = 0) -> bool:
    """True when none of the `count` leaves of the page `text` (joined by newlines), `v2` of them in format 2, holds
    a value JSON must escape, so the text built without escaping is exactly the canonical one. A backslash or a
    control character shows among the kept bytes; a quote inside a value shows in the count of quotes, which for
    clean leaves is 26 per format-1 leaf, two fewer for a null delegation, and 16 per format-2 leaf. (A value
    holding the null marker itself only lowers the expected count further: that page goes the slow way.)"""
    kept = text.translate(None, _DROP)
    quotes = kept.count(b'"')
    newlines = kept.count(b"\n")
    if quotes + newlines != len(kept) or newlines != count - 1:
        return False
    return quotes == 26 * (count - v2) + 16 * v2 - 2 * text.count(_NULL_DELEGATION)


def _fetch(session: Session, sql: str, start: int, end: int) -> list[tuple[Any, ...]]:
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (start, end))
        return cursor.fetchall()
    finally:
        cursor.close()


def leaf_lines(session: Session, start: int, end: int) -> bytes:
    """The leaves of entries [start, end), one per line, read straight from the driver: what a mirror fetches
    a million of. The database writes each leaf (in C, twice as fast as formatting rows here); a page holding a
    value that needs JSON escaping, or a time stored in another spelling, is formatted in Python instead."""
    mark = driver_mark(session)
    sqlite = mark == "?"
    ((page, count, made, v2),) = _fetch(session, _PAGE_SQL[mark], start, end)
    if not count:
        return b""
    if made == count:
        text = page.encode()
        if _unescaped(text, count, int(v2)):
            return text + b"\n"
    # some leaf needs escaping (or its time another reading): the page is formatted here, row by row, by
    # `_leaf_of_row` in its format, which takes its own no-escape path for the clean ones
    rows = _fetch(session, f'{_LEAF_COLUMNS} WHERE {_RANGE.format(mark=mark)} ORDER BY "index"', start, end)
    return "".join([_leaf_of_row(row, sqlite) + "\n" for row in rows]).encode()


def entry_leaf_hashes(cursor: Any, mark: str, indices: list[int]) -> dict[int, bytes]:
    """Leaf hashes of the entries at `indices`, made from their rows on a driver cursor: the tree stores no
    leaf nodes, the entry row is the leaf."""
    cursor.execute(f'{_LEAF_COLUMNS} WHERE "index" IN ({", ".join([mark] * len(indices))})', indices)
    sqlite = mark == "?"
    return {row[0]: merkle.leaf_hash(_leaf_of_row(row, sqlite).encode()) for row in cursor.fetchall()}


def entry_leaf(entry: Any) -> bytes:
    """`leaf_bytes` of anything with the header's attributes and its `leaf_format` (a LedgerEntry, a row)."""
    return leaf_bytes(
        index=entry.index,
        recorded_at=entry.recorded_at,
        action=entry.action,
        actor_delegation=entry.actor_delegation,
        audience=entry.audience,
        subject=entry.subject,
        commitment=entry.commitment,
        leaf_format=getattr(entry, "leaf_format", 1),  # rows read by migrations older than 0006 have no format
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
    "leaf_format", "commitment",
)  # fmt: skip
_INSERT_ENTRIES = 'INSERT INTO ledger_entries ("index", recorded_at, action, actor, actor_delegation, audience, subject, content, salt, leaf_format, commitment) VALUES ({})'  # noqa: E501


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
    its Merkle leaf hash. The leaf is format 2: action, actor and subject are committed inside the content."""
    plain, content_bytes = canonical_pair(
        {
            **content,
            "@action": action,
            "@actor_delegation": actor.delegation,
            "@subject": subject,
            "actor": actor.username,
        }
    )  # the server's own keys last: no content can stand in for them
    salt = new_salt()
    commitment = hashlib.sha256(salt + content_bytes).hexdigest()
    iso = _iso(now)  # the one spelling of the time: the leaf's, and SQLite's stored form cut from it
    leaf = _leaf_text_v2(index, iso, audience.label, commitment).encode()
    stored = _stored_of_iso(iso) if sqlite else now
    row = (
        index, stored, action, actor.username, actor.delegation, audience.label, subject,
        content_bytes.decode("utf-8"), salt.hex(), LEAF_FORMAT, commitment,
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

"""Ledger queries: public headers for everyone, contents for their audience only."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.errors import InvalidInput, NotFound
from fusioncell.ledger.entries import leaf_lines
from fusioncell.ledger.models import LedgerEntry, LedgerHead
from fusioncell.policy import Principal, can_read, readable_audiences, resolve_audience

MAX_RANGE = 1000
MAX_LEAVES = 65_536
_T = LedgerEntry.__table__


def size(cell: Cell) -> int:
    with cell.reading() as session:
        return session.execute(select(LedgerHead.size)).scalar_one()


_HEADER_COLUMNS = (
    _T.c.index, _T.c.recorded_at, _T.c.leaf_format, _T.c.action, _T.c.actor_delegation, _T.c.audience, _T.c.subject,
    _T.c.commitment,
)  # fmt: skip


def headers(*, cell: Cell, principal: Principal, start: int, end: int) -> tuple[int, list[dict[str, Any]]]:
    """Headers in [start, end), at most MAX_RANGE of them (a client pages on with start = last index + 1). What
    the entry's leaf makes public, to everyone; of a format-2 entry, its action, actor's delegation and subject to
    its audience alone."""
    if start < 0:
        raise InvalidInput("start must be >= 0", field="start")
    end = min(max(end, start), start + MAX_RANGE, 2**63 - 1)
    readable = set(readable_audiences(principal, cell.charter.roster))
    with cell.reading() as session:
        total = session.execute(select(LedgerHead.size)).scalar_one()
        rows = session.execute(
            select(*_HEADER_COLUMNS).where(_T.c.index >= start, _T.c.index < end).order_by(_T.c.index)
        ).all()
    out = []
    for r in rows:
        shown = r.leaf_format == 1 or r.audience in readable
        out.append(
            {
                "index": r.index,
                "recorded_at": r.recorded_at,
                "format": r.leaf_format,
                "action": r.action if shown else None,
                "actor_delegation": r.actor_delegation if shown else None,
                "audience": r.audience,
                "subject": r.subject if shown else None,
                "commitment": r.commitment,
            }
        )
    return total, out


def content(*, cell: Cell, principal: Principal, index: int) -> LedgerEntry:
    with cell.reading() as session:
        entry = session.get(LedgerEntry, index)
    if entry is None or not can_read(principal, resolve_audience(entry.audience, cell.charter.roster)):
        raise NotFound(f"no entry {index} whose content you may read")
    return entry


def visible_after(*, cell: Cell, principal: Principal, after: int, limit: int) -> list[LedgerEntry]:
    """Entries after an index whose content the principal may read, in ledger order (stream replay)."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    with cell.reading() as session:
        return list(
            session.execute(
                select(LedgerEntry)
                .where(LedgerEntry.index > after, LedgerEntry.audience.in_(audiences))
                .order_by(LedgerEntry.index)
                .limit(limit)
            ).scalars()
        )


def parsed(entry: LedgerEntry) -> dict:
    return json.loads(entry.content)


def _range(start: int, end: int, limit: int) -> tuple[int, int]:
    if start < 0:
        raise InvalidInput("start must be >= 0", field="start")
    return start, min(max(end, start), start + limit, 2**63 - 1)  # an empty range is an empty page, as for headers


# One page of leaves made at a time in this process: a mirror keeps a page or two asked for ahead, and pages
# made side by side only contend (for the GIL, and for SQLite's allocator) and come out slower than one by one.
_ONE_PAGE_AT_A_TIME = threading.Lock()


def leaves(*, cell: Cell, start: int, end: int) -> bytes:
    """The canonical leaf bytes of entries [start, end) (at most MAX_LEAVES), one per line: exactly what the tree
    hashes, so a mirror recomputes the root without re-encoding anything."""
    start, end = _range(start, end, MAX_LEAVES)
    with _ONE_PAGE_AT_A_TIME, cell.reading() as session:
        return leaf_lines(session, start, end)


def contents(*, cell: Cell, principal: Principal, start: int, end: int) -> list[tuple[int, str, str]]:
    """(index, content, salt) of the entries in [start, end) whose content the principal may read."""
    start, end = _range(start, end, MAX_LEAVES)
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    query = (
        select(_T.c.index, _T.c.content, _T.c.salt)
        .where(_T.c.index >= start, _T.c.index < end, _T.c.audience.in_(audiences))
        .order_by(_T.c.index)
    )
    with cell.reading() as session:
        return [(r.index, r.content, r.salt) for r in session.execute(query)]


def refusals(*, cell: Cell, principal: Principal, sizes: list[int]) -> dict[tuple[int, str], dict]:
    """The recorded refusals to cosign the checkpoints of these sizes, keyed (size, witness), that the principal
    may read (a refusal is an entry like any other: its content goes to its audience only)."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not sizes or not audiences:
        return {}
    query = (
        select(_T.c.content)
        .where(
            _T.c.action == "witness.refused",
            _T.c.subject.in_([f"checkpoint:{s}" for s in sizes]),
            _T.c.audience.in_(audiences),
        )
        .order_by(_T.c.index)
    )
    with cell.reading() as session:
        found = [json.loads(row.content) for row in session.execute(query)]
    return {(r["size"], r["witness"]): r for r in found}  # the newest refusal of each witness wins

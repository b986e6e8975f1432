"""The ledger's Merkle tree in the database: the hashes of its interior perfect subtrees written with the
entries (a leaf's hash is made from its entry row: the row is the leaf), roots and proofs read back with one
lookup of each kind.

Appending happens inside the transaction that appends the entries, under the ledger head lock, so the tree
and the entries can never disagree about the size, and a rolled-back command leaves no node behind. Every read
— the frontier an append extends, a checkpoint's root, a proof, an evidence bundle — goes through `NodeReader`:
plain statements on the driver, no ORM, since the API serves a proof per request.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from fusioncell.db import Database, driver_mark
from fusioncell.ledger import merkle
from fusioncell.ledger.entries import entry_leaf_hashes

_SHIFT = 56
_INDEX_MASK = (1 << _SHIFT) - 1
_LEVEL_1 = 1 << _SHIFT


# Nodes of level 8 and up (each over 256 entries or more) are shared by most proofs and never change once
# written (a perfect subtree's hash is final; triggers refuse updates): committed reads keep them per database,
# so a proof reads from SQL only its dozen lower nodes. Bounded: 131,072 nodes cover a log of 16 million entries.
CACHED_LEVEL = 8
CACHE_LIMIT = 1 << 17
_UPPER: weakref.WeakKeyDictionary[Database, dict[int, bytes]] = weakref.WeakKeyDictionary()


class TreeCorrupt(RuntimeError):
    """A node the tree must have is missing: the tree table was tampered with or the migration did not run."""


def node_id(node: merkle.Node) -> int:
    level, index = node
    return level << _SHIFT | index


def node_of(node_id_: int) -> merkle.Node:
    return node_id_ >> _SHIFT, node_id_ & _INDEX_MASK


class NodeReader:
    """Reads the log's size and the tree's nodes, and makes roots and RFC 9162 proofs from them: three statements
    at most (the size, the interior nodes, the entry rows of the leaves). `open(db)` takes a pooled driver
    connection of its own; `within(session)` reads in the session's transaction (an append reads its frontier
    under the head lock it holds)."""

    def __init__(
        self, cursor: Any, mark: str, on_close: Callable[[], None], upper: dict[int, bytes] | None = None
    ) -> None:
        self._cursor = cursor
        self._mark = mark
        self._on_close = on_close
        self._upper = upper  # committed upper nodes of this database, for readers outside a writer's transaction

    @classmethod
    def open(cls, db: Database) -> NodeReader:
        conn = db.engine.raw_connection()
        upper = _UPPER.get(db)
        if upper is None:
            upper = _UPPER.setdefault(db, {})
        return cls(
            conn.cursor(), "?" if db.is_sqlite else "%s", conn.close, upper
        )  # back to the pool, which rolls back what the driver began

    @classmethod
    def within(cls, session: Session) -> NodeReader:
        conn = session.connection().connection.dbapi_connection
        assert conn is not None
        return cls(conn.cursor(), driver_mark(session), lambda: None)

    def size(self) -> int:
        self._cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
        return int(self._cursor.fetchone()[0])

    def fetch(self, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
        ids = [node_id(n) for n in set(nodes)]
        found: dict[merkle.Node, bytes] = {}
        upper = self._upper
        if upper is not None:
            wanted = []
            for i in ids:
                h = upper.get(i)
                if h is None:
                    wanted.append(i)
                else:
                    found[node_of(i)] = h
        else:
            wanted = ids
        leaves = [i for i in wanted if i < _LEVEL_1]  # a leaf's id is its index
        interior = [i for i in wanted if i >= _LEVEL_1] if leaves else wanted
        if leaves:
            for i, h in entry_leaf_hashes(self._cursor, self._mark, leaves).items():
                found[(0, i)] = h
        if interior:
            marks = ", ".join([self._mark] * len(interior))
            self._cursor.execute(f"SELECT id, hash FROM ledger_nodes WHERE id IN ({marks})", interior)
            for i, h in self._cursor.fetchall():
                h = bytes(h)
                found[node_of(i)] = h
                if upper is not None and i >> _SHIFT >= CACHED_LEVEL and len(upper) < CACHE_LIMIT:
                    upper[i] = h
        if len(found) != len(ids):
            missing = sorted(set(map(node_of, ids)) - found.keys())[:3]
            raise TreeCorrupt(f"the Merkle tree is missing nodes {missing}")
        return found

    def root(self, size: int) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        nodes = merkle.root_nodes(size)
        found = self.fetch(nodes)
        return merkle.fold([found[n] for n in nodes])

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        """(leaf hash, proof) of entry `index` in the tree of `size`, the leaf's node fetched with the proof's."""
        ranges = merkle.inclusion_ranges(index, size)
        found = self.fetch({(0, index), *merkle.nodes_for(ranges)})
        return found[(0, index)], merkle.resolve(ranges, found.__getitem__)

    def consistency(self, first: int, second: int) -> list[bytes]:
        if first in (0, second):
            return []
        ranges = merkle.consistency_ranges(first, second)
        return merkle.resolve(ranges, self.fetch(merkle.nodes_for(ranges)).__getitem__)

    def close(self) -> None:
        try:
            self._cursor.close()
        finally:
            self._on_close()

    def __enter__(self) -> NodeReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def node_rows(size: int, leaf_hashes: Sequence[bytes], frontier: Sequence[bytes]) -> list[tuple[int, bytes]]:
    """(id, hash) of every interior node completed by appending `leaf_hashes` to a tree of `size` leaves:
    `merkle.new_nodes` without the leaves (a leaf's hash is made from its entry row when read), kept as a stack of
    perfect-subtree hashes (the compact range, largest first: `frontier` is the hashes of
    `merkle.root_nodes(size)`) rather than a dict of nodes."""
    sha = hashlib.sha256
    stack = list(frontier)
    rows: list[tuple[int, bytes]] = []
    add = rows.append
    for i, h in enumerate(leaf_hashes, start=size):
        level, index = 0, i
        while index & 1:  # one merge per trailing one of i: the top of the stack is the left sibling
            h = sha(b"\x01" + stack.pop() + h).digest()
            level, index = level + 1, index >> 1
            add((level << _SHIFT | index, h))
        stack.append(h)
    return rows


def append(session: Session, size: int, leaf_hashes: Sequence[bytes]) -> None:
    """Store the nodes completed by appending `leaf_hashes` to the tree of `size` leaves (the caller holds
    the ledger head lock)."""
    if not leaf_hashes:
        return
    nodes = merkle.root_nodes(size)
    with NodeReader.within(session) as reader:
        found = reader.fetch(nodes)
    rows = node_rows(size, leaf_hashes, [found[n] for n in nodes])
    if rows:  # straight to the driver (ids and bytes need no processing): this runs for every appending transaction
        mark = driver_mark(session)
        session.connection().exec_driver_sql(f"INSERT INTO ledger_nodes (id, hash) VALUES ({mark}, {mark})", rows)

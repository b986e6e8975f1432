"""The ledger's Merkle tree in the database: perfect-subtree hashes written with the entries, roots and proofs
read back with one lookup each.

Appending happens inside the transaction that appends the entries, under the ledger head lock, so the tree
and the entries can never disagree about the size, and a rolled-back command leaves no node behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fusioncell.db import Database
from fusioncell.ledger import merkle
from fusioncell.ledger.models import LedgerNode

_SHIFT = 56
_INDEX_MASK = (1 << _SHIFT) - 1
_NODES = LedgerNode.__table__
_FETCH = select(_NODES.c.id, _NODES.c.hash).where(_NODES.c.id.in_(bindparam("ids", expanding=True)))


class TreeCorrupt(RuntimeError):
    """A node the tree must have is missing: the tree table was tampered with or the migration did not run."""


def node_id(node: merkle.Node) -> int:
    level, index = node
    return level << _SHIFT | index


def node_of(node_id_: int) -> merkle.Node:
    return node_id_ >> _SHIFT, node_id_ & _INDEX_MASK


def fetch(session: Session, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    ids = [node_id(n) for n in set(nodes)]
    if not ids:
        return {}
    found = {node_of(i): bytes(h) for i, h in session.execute(_FETCH, {"ids": ids})}
    if len(found) != len(ids):
        missing = sorted(set(map(node_of, ids)) - found.keys())[:3]
        raise TreeCorrupt(f"the Merkle tree is missing nodes {missing}")
    return found


def append(session: Session, size: int, leaf_hashes: Sequence[bytes]) -> None:
    """Store the nodes completed by appending `leaf_hashes` to the tree of `size` leaves (the caller holds
    the ledger head lock)."""
    if not leaf_hashes:
        return
    frontier = fetch(session, merkle.root_nodes(size))
    nodes = merkle.new_nodes(size, leaf_hashes, frontier)
    # straight to the driver (ids and bytes need no processing): this runs for every appending transaction
    mark = "?" if session.get_bind().dialect.name == "sqlite" else "%s"
    session.connection().exec_driver_sql(
        f"INSERT INTO ledger_nodes (id, hash) VALUES ({mark}, {mark})",
        [(level << _SHIFT | index, h) for (level, index), h in nodes.items()],
    )


def root(session: Session, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    nodes = merkle.root_nodes(size)
    found = fetch(session, nodes)
    return merkle.fold([found[n] for n in nodes])


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    ranges = merkle.inclusion_ranges(index, size)
    found = fetch(session, merkle.nodes_for(ranges))
    return merkle.resolve(ranges, found.__getitem__)


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    if first == 0 or first == second:
        return []
    ranges = merkle.consistency_ranges(first, second)
    found = fetch(session, merkle.nodes_for(ranges))
    return merkle.resolve(ranges, found.__getitem__)


def leaf_hash_at(session: Session, index: int) -> bytes:
    return fetch(session, [(0, index)])[(0, index)]


# -- the read path of proofs, straight to the driver (the API serves these one request each) -----------------


class NodeReader:
    """One pooled driver connection for the size and the nodes of a proof: two statements, no ORM."""

    def __init__(self, db: Database) -> None:
        self._conn = db.engine.raw_connection()
        self._cursor = self._conn.cursor()
        self._mark = "?" if db.is_sqlite else "%s"

    def size(self) -> int:
        self._cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
        return int(self._cursor.fetchone()[0])

    def fetch(self, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
        ids = [node_id(n) for n in set(nodes)]
        if not ids:
            return {}
        marks = ", ".join([self._mark] * len(ids))
        self._cursor.execute(f"SELECT id, hash FROM ledger_nodes WHERE id IN ({marks})", ids)
        found = {node_of(i): bytes(h) for i, h in self._cursor.fetchall()}
        if len(found) != len(ids):
            missing = sorted(set(map(node_of, ids)) - found.keys())[:3]
            raise TreeCorrupt(f"the Merkle tree is missing nodes {missing}")
        return found

    def close(self) -> None:
        try:
            self._cursor.close()
        finally:
            self._conn.close()  # back to the pool, which rolls back whatever the driver began

    def __enter__(self) -> NodeReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

"""The verifiable map each checkpoint carries: from every (audience, subject) to the entries about it.

Why: an evidence bundle must prove that it holds *every* entry about its subject up to its checkpoint, so that an
arbiter can rely on an absence ("IL never acknowledged message 17"). Inclusion proofs show that what a bundle
holds is in the log; they cannot show that nothing was left out. So at each checkpoint the log also commits to a
sparse Merkle map (`smt.py`) whose key is `map_key(audience, subject)` and whose value is `chain(indices)`, the
hash chain of the indices of every entry about that subject in that audience, in log order. The map's root is an
extension line of the signed checkpoint (`fusioncell-map <base64 root>`), so the witnesses cosign it with the
tree: the log cannot show two parties two maps for one checkpoint. A bundle then carries, for each audience its
exporter reads, the indices of the entries about its subject and the map's proof of exactly that chain (or of
no entry at all), and `verify` names any entry the bundle lacks.

The map is keyed by audience as well as subject so that a proof is only ever about what its reader may read:
which entries of another audience concern a subject, or that there are any, is that audience's to know.

The values are written once per checkpoint for the keys its new entries touched (`ledger_map_values`); each
process keeps the newest map in memory and moves it on, hashing only the paths of the keys that changed.
"""

from __future__ import annotations

import base64
import threading
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from fusioncell.cell import Cell
from fusioncell.ledger import smt
from fusioncell.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerMapValue

MAP_LINE = "fusioncell-map "


def map_line(root: bytes) -> str:
    return MAP_LINE + base64.b64encode(root).decode()


def root_of_extensions(extensions: tuple[str, ...] | list[str]) -> bytes | None:
    """The map root a checkpoint's extension lines carry, or None for a checkpoint signed before the map."""
    for line in extensions:
        if line.startswith(MAP_LINE):
            try:
                root = base64.b64decode(line[len(MAP_LINE) :], validate=True)
            except ValueError:
                return None
            return root if len(root) == 32 else None
    return None


def family(subject: str, delegations: list[str]) -> list[str]:
    """The subjects whose entries a bundle about `subject` must hold all of: the subject itself and, for a
    message, each delegation's delivery of it."""
    if subject.startswith("message:") and subject[8:].isdigit():
        return [subject, *(f"delivery:{subject[8:]}:{code}" for code in sorted(delegations))]
    return [subject]


@dataclass
class MapState:
    """The map as of a checkpoint size, with each key's entry count beside its chain."""

    size: int
    tree: smt.SparseMerkleMap
    counts: dict[bytes, int]


_LATEST_VALUES = text(
    "SELECT key, chain, count FROM (SELECT key, chain, count, "
    "row_number() OVER (PARTITION BY key ORDER BY size DESC) AS newest "
    "FROM ledger_map_values WHERE size <= :size) AS v WHERE newest = 1"
)


def _load(session: Session, size: int) -> MapState:
    """The map at `size` (a checkpoint that carries one, or 0), read from the stored values."""
    if size == 0:
        return MapState(0, smt.SparseMerkleMap(), {})
    rows = session.execute(_LATEST_VALUES, {"size": size}).all()
    tree = smt.SparseMerkleMap({bytes(r.key): bytes(r.chain) for r in rows})
    return MapState(size, tree, {bytes(r.key): r.count for r in rows})


def _mapped_size(session: Session, at_most: int) -> int:
    """The newest checkpoint size at or below `at_most` that carries a map (0: none does)."""
    size = session.execute(
        select(func.max(LedgerCheckpoint.size)).where(
            LedgerCheckpoint.map_root.is_not(None), LedgerCheckpoint.size <= at_most
        )
    ).scalar()
    return size or 0


class MapKeeper:
    """One per cell and process: the newest map in memory, moved on in place as checkpoints are signed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: MapState | None = None

    def advance(self, session: Session, size: int) -> tuple[MapState, list[dict[str, object]]]:
        """The map at `size` and the value rows to store with its checkpoint: from the newest mapped checkpoint
        below it, each entry since folded into its key's chain. The map in memory is taken while it moves on, and
        held again by `keep` once its checkpoint is stored; should that fail, the next advance reads it afresh."""
        with self._lock:
            base = _mapped_size(session, size)
            state = self._state if self._state is not None and self._state.size == base else None
            self._state = None
        if state is None:
            state = _load(session, base)
        rows = session.execute(
            select(LedgerEntry.index, LedgerEntry.audience, LedgerEntry.subject)
            .where(LedgerEntry.index >= base, LedgerEntry.index < size)
            .order_by(LedgerEntry.index)
        ).all()
        touched: dict[bytes, list[int]] = defaultdict(list)
        for index, audience, subject in rows:
            touched[smt.map_key(audience, subject)].append(index)
        changes: dict[bytes, bytes] = {}
        for key, found in touched.items():
            value = state.tree.get(key) or smt.EMPTY
            for index in found:
                value = smt.chain_step(value, index)
            changes[key] = value
            state.counts[key] = state.counts.get(key, 0) + len(found)
        state.tree.update(changes)
        state.size = size
        values = [{"key": k, "size": size, "chain": v, "count": state.counts[k]} for k, v in changes.items()]
        return state, values

    def keep(self, state: MapState) -> None:
        """The map at a checkpoint now stored (by this process or, identically, by another)."""
        with self._lock:
            if self._state is None or state.size >= self._state.size:
                self._state = state

    def proofs(self, session: Session, size: int, keys: list[bytes]) -> dict[bytes, tuple[int, smt.MapProof]]:
        """For each key, its entry count and the map's proof at the checkpoint of `size` (which carries a map)."""
        with self._lock:
            state = self._state if self._state is not None and self._state.size == size else None
            if state is not None:
                return {k: (state.counts.get(k, 0), state.tree.prove(k)) for k in keys}
        state = _load(session, size)
        return {k: (state.counts.get(k, 0), state.tree.prove(k)) for k in keys}


def keeper(cell: Cell) -> MapKeeper:
    return cell.derived("ledger_map", MapKeeper)


def indices(session: Session, *, audience: str, subject: str, below: int) -> list[int]:
    """The indices of the entries about `subject` in `audience` before `below`, in log order."""
    return list(
        session.execute(
            select(LedgerEntry.index)
            .where(LedgerEntry.audience == audience, LedgerEntry.subject == subject, LedgerEntry.index < below)
            .order_by(LedgerEntry.index)
        ).scalars()
    )


__all__ = ["LedgerMapValue", "MapKeeper", "MapState", "family", "indices", "keeper", "map_line", "root_of_extensions"]

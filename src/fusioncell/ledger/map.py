"""The verifiable map each checkpoint carries: from every (audience, subject) to the entries about it.

Why: an evidence bundle must prove that it holds *every* entry about its subject up to its checkpoint, so that an
arbiter can rely on an absence ("IL never acknowledged message 17"). Inclusion proofs show that what a bundle
holds is in the log; they cannot show that nothing was left out. So at each checkpoint the log also commits to a
map whose root is an extension line of the signed checkpoint (`fusioncell-map <base64 root>`): the witnesses
cosign it with the tree, so the log cannot show two parties two maps for one checkpoint. A bundle carries, for
each audience its exporter reads, the indices of the entries about its subject with the map's proof of exactly
that list (or of no entry at all), and `verify` names any entry the bundle lacks.

Two levels, so that a proof is only ever about what its reader may read:
- **each audience's map** (`smt.py`, a sparse Merkle tree): key `SHA-256(subject)`, value `chain(indices)`, the
  hash chain of the indices of every entry about that subject in that audience, in log order;
- **the top map**: key `SHA-256(audience)`, value `SHA-256(0x02 ‖ salt ‖ audience root)`, the salt the audience's
  own (derived from the log's secret key, revealed only in bundles of that audience's readers).

A proof in a bundle is the path inside the exporter's own audience (whose entries it reads) and the path of that
audience in the top map, whose siblings are other audiences' salted roots: nothing a reader outside an audience
could test a guess of its subjects or entries against.

The values are written once per checkpoint for the keys its new entries touched (`ledger_map_values`); each
process keeps the newest map in memory and moves it on, hashing only the paths of the keys that changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from fusioncell.cell import Cell
from fusioncell.ledger import smt
from fusioncell.ledger.models import LedgerCheckpoint, LedgerEntry
from fusioncell.ledger.note import derive_key

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


def _named_messages(content: dict[str, object]) -> set[str]:
    listed = content.get("deliveries")
    return {
        f"message:{d['message_id']}"
        for d in (listed if isinstance(listed, list) else [])
        if isinstance(d, dict) and type(d.get("message_id")) is int
    }


def _recalled_release(content: dict[str, object]) -> set[str]:
    release = content.get("release")
    return {f"intel-release:{release}"} if isinstance(release, str) else set()


def _case_about(content: dict[str, object]) -> set[str]:
    about = content.get("about")
    return {about} if isinstance(about, str) and about.startswith(DISPUTE_SOURCES) else set()


DISPUTE_SOURCES = ("incident:", "agreement:", "message:")  # what a case may arise from
# Entries about other subjects besides their own, by the prefix of their own subject: a batch of receipts
# (`deliveries:<delegation>`) is about each message it names; a recall (`intel-recall:<uuid>`) about the release
# it recalls; a case's opening and each change of its state (`dispute:<id>`) about what it arose from (an incident,
# an agreement's milestone, a message's rejected read-back). The evidence about a message accounts for every receipt
# of it and every case on it, about a release for its recall, about an incident or an agreement for each case on it.
ALSO_ABOUT: dict[str, Callable[[dict[str, object]], set[str]]] = {
    "deliveries:": _named_messages,
    "intel-recall:": _recalled_release,
    "dispute:": _case_about,
}
# the subjects those entries name, and the prefixes of the entries that may name them
_NAMED_BY: dict[str, tuple[str, ...]] = {
    "message:": ("deliveries:", "dispute:"),
    "intel-release:": ("intel-recall:",),
    "incident:": ("dispute:",),
    "agreement:": ("dispute:",),
}


def subjects_of(subject: str, content: dict[str, object] | None) -> list[str]:
    """The subjects the map lists an entry under: its own, and those ALSO_ABOUT finds in its content."""
    for prefix, named in ALSO_ABOUT.items():
        if subject.startswith(prefix) and content is not None:
            return [subject, *sorted(named(content) - {subject})]
    return [subject]


def named_by(subject: str) -> tuple[str, ...]:
    """The prefixes of the subjects of entries that may be about `subject` too (see ALSO_ABOUT)."""
    return next((by for prefix, by in _NAMED_BY.items() if subject.startswith(prefix)), ())


def subject_key(subject: str) -> bytes:
    return hashlib.sha256(f"fusioncell map subject\n{subject}".encode()).digest()


def audience_key(audience: str) -> bytes:
    return hashlib.sha256(f"fusioncell map audience\n{audience}".encode()).digest()


def audience_value(salt: bytes, root: bytes) -> bytes:
    return hashlib.sha256(b"\x02" + salt + root).digest()


def audience_salt(secret: bytes, audience: str) -> bytes:
    """An audience's salt: fixed for the log, derived from its secret key, known to no one else until a bundle
    for a reader of that audience reveals it."""
    return derive_key(secret, f"fusioncell map salt\n{audience}".encode())


@dataclass
class MapState:
    """The map as of a checkpoint size: each audience's tree and entry counts, and the top map over them."""

    size: int
    audiences: dict[str, smt.SparseMerkleMap] = field(default_factory=dict)
    counts: dict[tuple[str, bytes], int] = field(default_factory=dict)
    top: smt.SparseMerkleMap = field(default_factory=smt.SparseMerkleMap)

    @property
    def root(self) -> bytes:
        return self.top.root

    def move_on(self, changes: dict[str, dict[bytes, bytes]], salts: Callable[[str], bytes]) -> None:
        for audience, values in changes.items():
            self.audiences.setdefault(audience, smt.SparseMerkleMap()).update(values)
        self.top.update({audience_key(a): audience_value(salts(a), self.audiences[a].root) for a in changes})


_LATEST_VALUES = text(
    "SELECT audience, key, chain, count FROM (SELECT audience, key, chain, count, "
    "row_number() OVER (PARTITION BY audience, key ORDER BY size DESC) AS newest "
    "FROM ledger_map_values WHERE size <= :size) AS v WHERE newest = 1"
)


def _load(session: Session, size: int, salts: Callable[[str], bytes]) -> MapState:
    """The map at `size` (a checkpoint that carries one, or 0), read from the stored values."""
    state = MapState(size)
    if size == 0:
        return state
    changes: dict[str, dict[bytes, bytes]] = defaultdict(dict)
    for r in session.execute(_LATEST_VALUES, {"size": size}):
        changes[r.audience][bytes(r.key)] = bytes(r.chain)
        state.counts[(r.audience, bytes(r.key))] = r.count
    state.move_on(changes, salts)
    return state


def _mapped_size(session: Session, at_most: int) -> int:
    """The newest checkpoint size at or below `at_most` that carries a map (0: none does)."""
    size = session.execute(
        select(func.max(LedgerCheckpoint.size)).where(
            LedgerCheckpoint.map_root.is_not(None), LedgerCheckpoint.size <= at_most
        )
    ).scalar()
    return size or 0


@dataclass(frozen=True)
class SubjectProof:
    """What a bundle carries for one audience: the entry count, the path of the subject in the audience's map,
    the audience's salt and root, and the path of the audience in the top map."""

    count: int
    inner: smt.MapProof
    salt: bytes
    audience_root: bytes
    outer: smt.MapProof


class MapKeeper:
    """One per cell and process: the newest map in memory, moved on in place as checkpoints are signed."""

    def __init__(self, secret: bytes) -> None:
        self._lock = threading.Lock()
        self._state: MapState | None = None
        self._salts: dict[str, bytes] = {}
        self._secret = secret

    def salt(self, audience: str) -> bytes:
        if audience not in self._salts:
            self._salts[audience] = audience_salt(self._secret, audience)
        return self._salts[audience]

    def advance(self, session: Session, size: int) -> tuple[MapState, list[dict[str, object]]]:
        """The map at `size` and the value rows to store with its checkpoint: from the newest mapped checkpoint
        below it, each entry since folded into its key's chain. The map in memory is taken while it moves on, and
        held again by `keep` once its checkpoint is stored; should that fail, the next advance reads it afresh."""
        with self._lock:
            base = _mapped_size(session, size)
            state = self._state if self._state is not None and self._state.size == base else None
            self._state = None
        if state is None:
            state = _load(session, base, self.salt)
        in_range = (LedgerEntry.index >= base, LedgerEntry.index < size)
        rows = session.execute(
            select(LedgerEntry.index, LedgerEntry.audience, LedgerEntry.subject)
            .where(*in_range)
            .order_by(LedgerEntry.index)
        ).all()
        naming = dict(  # the entries whose content names other subjects (few: read them alone)
            session.execute(
                select(LedgerEntry.index, LedgerEntry.content).where(
                    *in_range, or_(*(LedgerEntry.subject.like(prefix + "%") for prefix in ALSO_ABOUT))
                )
            ).all()
        )
        touched: dict[tuple[str, bytes], list[int]] = defaultdict(list)
        for index, audience, subject in rows:
            content = json.loads(naming[index]) if index in naming else None
            for about in subjects_of(subject, content):
                touched[(audience, subject_key(about))].append(index)
        changes: dict[str, dict[bytes, bytes]] = defaultdict(dict)
        values = []
        for (audience, key), found in touched.items():
            tree = state.audiences.get(audience)
            value = (tree.get(key) if tree is not None else None) or smt.EMPTY
            for index in found:
                value = smt.chain_step(value, index)
            changes[audience][key] = value
            count = state.counts[(audience, key)] = state.counts.get((audience, key), 0) + len(found)
            values.append({"audience": audience, "key": key, "size": size, "chain": value, "count": count})
        state.move_on(changes, self.salt)
        state.size = size
        return state, values

    def keep(self, state: MapState) -> None:
        """The map at a checkpoint now stored (by this process or, identically, by another)."""
        with self._lock:
            if self._state is None or state.size >= self._state.size:
                self._state = state

    def proofs(self, session: Session, size: int, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], SubjectProof]:
        """For each (audience, subject): its proof in the map of the checkpoint of `size` (which carries one)."""
        with self._lock:
            state = self._state if self._state is not None and self._state.size == size else None
            if state is not None:
                return self._prove(state, wanted)
        return self._prove(_load(session, size, self.salt), wanted)

    def _prove(self, state: MapState, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], SubjectProof]:
        out = {}
        for audience, subject in wanted:
            tree = state.audiences.get(audience) or smt.SparseMerkleMap()
            key = subject_key(subject)
            out[(audience, subject)] = SubjectProof(
                state.counts.get((audience, key), 0), tree.prove(key), self.salt(audience), tree.root,
                state.top.prove(audience_key(audience)),
            )  # fmt: skip
        return out


def keeper(cell: Cell) -> MapKeeper:
    from fusioncell.ledger.log import log_signer

    return cell.derived("ledger_map", lambda: MapKeeper(log_signer(cell).seed))

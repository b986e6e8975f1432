"""A verifiable map: a sparse Merkle tree over 256-bit keys, pure functions and no I/O.

What it is for: each checkpoint commits, beside the log's root, to a map of every audience's subjects to the
entries about them (`map.py`), so that an evidence bundle can prove it holds *every* entry about its subject
that its exporter may read, and an arbiter can rely on an absence.

The tree is the 256-level binary trie of the keys' bits, with the usual shortcut (as in Diem's sparse Merkle tree
and Trillian's HStar3): a subtree holding one key is that key's leaf, wherever it sits, and an empty subtree is 32
zero bytes. So a tree of n random keys is about log2(n) deep, not 256, and a proof is that many sibling hashes.

    leaf     = SHA-256(0x00 || key || value)
    interior = SHA-256(0x01 || left || right)
    empty    = 0^32

A proof for a key lists the siblings from the root down to where the key's path ends: at its own leaf (the key is
in the map with that value), at an empty subtree, or at another key's leaf that holds the subtree alone (either
way the key is absent). `verify` recomputes the root from the bottom; nothing in a proof is trusted.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EMPTY = bytes(32)
BITS = 256


class MapProofError(ValueError):
    """The proof does not show what it claims."""


def chain_step(value: bytes, index: int) -> bytes:
    return hashlib.sha256(value + index.to_bytes(8, "big")).digest()


def chain(indices: Iterable[int]) -> bytes:
    """The map's value for a key: SHA-256 folded over the entries' indices, oldest first, each as 8 bytes."""
    value = EMPTY
    for index in indices:
        value = chain_step(value, index)
    return value


def leaf_hash(key: bytes, value: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + key + value).digest()


def interior_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _bit(key: int, depth: int) -> int:
    return (key >> (BITS - 1 - depth)) & 1


@dataclass(frozen=True)
class MapProof:
    """Siblings from the root down; `other` is the (key, value) of a different key whose leaf ends the path, for
    a proof of absence through another leaf."""

    siblings: tuple[bytes, ...]
    other: tuple[bytes, bytes] | None = None


class SparseMerkleMap:
    """The map at one moment, which can be moved on: built from all its keys and values, it gives the root and a
    proof per key; `update` sets values (new keys or new values of old ones) and hashes again only the paths of
    the keys it changed. Interior nodes are remembered by (depth, prefix of the key bits above that depth)."""

    def __init__(self, items: Mapping[bytes, bytes] | None = None) -> None:
        self._keys: list[int] = []  # sorted
        self._values: dict[int, bytes] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.root = EMPTY
        if items:
            self.update(items)

    def __len__(self) -> int:
        return len(self._keys)

    def _range(self, depth: int, prefix: int) -> tuple[int, int]:
        """Positions [lo, hi) of the keys whose first `depth` bits are `prefix`."""
        shift = BITS - depth
        return bisect_left(self._keys, prefix << shift), bisect_left(self._keys, (prefix + 1) << shift)

    def _subtree(self, depth: int, prefix: int) -> bytes:
        lo, hi = self._range(depth, prefix)
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            key = self._keys[lo]
            return leaf_hash(key.to_bytes(32, "big"), self._values[key])
        return self._nodes[(depth, prefix)]

    def update(self, items: Mapping[bytes, bytes]) -> None:
        """Set these values; the root and every remembered node on their paths are made again."""
        changed = []
        for key, value in items.items():
            if len(key) != 32 or len(value) != 32:
                raise ValueError("keys and values of the map are 32 bytes")
            k = int.from_bytes(key, "big")
            changed.append(k)
            self._values[k] = value
        new = set(changed) - set(self._keys) if len(changed) < 64 else None
        if new is None or new:
            self._keys = sorted(self._values)  # one merge for many new keys rather than an insert each
        if len(changed) * 16 > len(self._keys):  # much of the tree changes: build it whole, in one pass
            self._nodes = {}
            self.root = self._build(0, len(self._keys), 0)
            return
        # every interior node on a changed key's path, deepest first: a node holds two or more keys
        dirty: dict[int, set[int]] = {}
        for k in changed:
            depth = 0
            while True:
                lo, hi = self._range(depth, k >> (BITS - depth))
                if hi - lo < 2:
                    break
                dirty.setdefault(depth, set()).add(k >> (BITS - depth))
                depth += 1
        for depth in sorted(dirty, reverse=True):
            for prefix in dirty[depth]:
                self._nodes[(depth, prefix)] = interior_hash(
                    self._subtree(depth + 1, prefix << 1), self._subtree(depth + 1, (prefix << 1) | 1)
                )
        self.root = self._subtree(0, 0)

    def _build(self, lo: int, hi: int, depth: int) -> bytes:
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            key = self._keys[lo]
            return leaf_hash(key.to_bytes(32, "big"), self._values[key])
        prefix = self._keys[lo] >> (BITS - depth)
        mid = bisect_left(self._keys, ((prefix << 1) | 1) << (BITS - depth - 1), lo, hi)
        node = interior_hash(self._build(lo, mid, depth + 1), self._build(mid, hi, depth + 1))
        self._nodes[(depth, prefix)] = node
        return node

    def get(self, key: bytes) -> bytes | None:
        return self._values.get(int.from_bytes(key, "big"))

    def items(self) -> dict[bytes, bytes]:
        return {k.to_bytes(32, "big"): v for k, v in self._values.items()}

    def prove(self, key: bytes) -> MapProof:
        """The proof for `key`, whether it is in the map or not."""
        k = int.from_bytes(key, "big")
        siblings: list[bytes] = []
        depth = 0
        while True:
            lo, hi = self._range(depth, k >> (BITS - depth))
            if hi - lo < 2:
                break
            siblings.append(self._subtree(depth + 1, (k >> (BITS - depth - 1)) ^ 1))
            depth += 1
        other = None
        if hi - lo == 1 and self._keys[lo] != k:
            other = (self._keys[lo].to_bytes(32, "big"), self._values[self._keys[lo]])
        return MapProof(tuple(siblings), other)


def root_of(items: Mapping[bytes, bytes]) -> bytes:
    return SparseMerkleMap(items).root


def verify(root: bytes, key: bytes, value: bytes | None, proof: MapProof) -> None:
    """Check that the map with `root` holds `value` at `key` (None: that it holds nothing there). Raises
    MapProofError saying what does not hold."""
    if len(key) != 32 or (value is not None and len(value) != 32):
        raise MapProofError("a map key and a value are 32 bytes")
    depth = len(proof.siblings)
    if depth > BITS or any(len(s) != 32 for s in proof.siblings):
        raise MapProofError("a map proof has at most 256 sibling hashes of 32 bytes")
    k = int.from_bytes(key, "big")
    if value is not None:
        if proof.other is not None:
            raise MapProofError("a proof that the key is in the map ends at its own leaf")
        node = leaf_hash(key, value)
    elif proof.other is None:
        node = EMPTY
    else:
        other_key, other_value = proof.other
        if len(other_key) != 32 or len(other_value) != 32:
            raise MapProofError("the proof's other leaf is malformed")
        o = int.from_bytes(other_key, "big")
        if o == k:
            raise MapProofError("the map holds a value at this key")
        if depth and (o >> (BITS - depth)) != (k >> (BITS - depth)):
            raise MapProofError("the proof's other leaf is not on this key's path")
        node = leaf_hash(other_key, other_value)
    for d in range(depth - 1, -1, -1):
        sibling = proof.siblings[d]
        node = interior_hash(sibling, node) if _bit(k, d) else interior_hash(node, sibling)
    if node != root:
        raise MapProofError(
            "the proof does not lead to the map's root: the map holds another value at this key"
            if value is not None
            else "the proof does not lead to the map's root: the key may be in the map"
        )

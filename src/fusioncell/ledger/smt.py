"""A verifiable map: a sparse Merkle tree over 256-bit keys, pure functions and no I/O.

What it is for: each checkpoint commits, beside the log's root, to the map from every (audience, subject) to the
entries about that subject in that audience, so that an evidence bundle can prove it holds *every* entry about
its subject that its exporter may read, and an arbiter can rely on an absence (issue 13.5). The map's value for a
key is `chain(indices)`, a hash chain over the indices of those entries in log order.

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
_TOP = 1 << BITS


class MapProofError(ValueError):
    """The proof does not show what it claims."""


def map_key(audience: str, subject: str) -> bytes:
    """The map's key for the entries about `subject` in `audience` (neither holds a newline: both are the
    server's own labels)."""
    return hashlib.sha256(f"fusioncell map key\n{audience}\n{subject}".encode()).digest()


def chain(indices: Iterable[int]) -> bytes:
    """The map's value for a key: SHA-256 folded over the entries' indices, oldest first, each as 8 bytes."""
    value = EMPTY
    for index in indices:
        value = hashlib.sha256(value + index.to_bytes(8, "big")).digest()
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
    """The map at one moment: built once from all its keys and values, it gives the root and a proof per key.
    Building hashes about 1.4 nodes per key; each proof is then read from the remembered interior nodes."""

    def __init__(self, items: Mapping[bytes, bytes]) -> None:
        for key, value in items.items():
            if len(key) != 32 or len(value) != 32:
                raise ValueError("keys and values of the map are 32 bytes")
        self._keys = sorted(int.from_bytes(k, "big") for k in items)
        self._values = [items[k.to_bytes(32, "big")] for k in self._keys]
        self._nodes: dict[tuple[int, int], bytes] = {}  # (depth, first key's position) -> interior node hash
        self.root = self._build(0, len(self._keys), 0)

    def __len__(self) -> int:
        return len(self._keys)

    def _split(self, lo: int, hi: int, depth: int) -> int:
        """The position of the first key in [lo, hi) whose bit at `depth` is 1 (they all share the bits above)."""
        prefix = (self._keys[lo] >> (BITS - depth)) << (BITS - depth) if depth else 0
        return bisect_left(self._keys, prefix | (1 << (BITS - 1 - depth)), lo, hi)

    def _build(self, lo: int, hi: int, depth: int) -> bytes:
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            return leaf_hash(self._keys[lo].to_bytes(32, "big"), self._values[lo])
        mid = self._split(lo, hi, depth)
        node = interior_hash(self._build(lo, mid, depth + 1), self._build(mid, hi, depth + 1))
        self._nodes[(depth, lo)] = node
        return node

    def _hash(self, lo: int, hi: int, depth: int) -> bytes:
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            return leaf_hash(self._keys[lo].to_bytes(32, "big"), self._values[lo])
        return self._nodes[(depth, lo)]

    def get(self, key: bytes) -> bytes | None:
        k = int.from_bytes(key, "big")
        at = bisect_left(self._keys, k)
        return self._values[at] if at < len(self._keys) and self._keys[at] == k else None

    def prove(self, key: bytes) -> MapProof:
        """The proof for `key`, whether it is in the map or not."""
        k = int.from_bytes(key, "big")
        lo, hi, depth = 0, len(self._keys), 0
        siblings: list[bytes] = []
        while hi - lo > 1:
            mid = self._split(lo, hi, depth)
            if _bit(k, depth):
                siblings.append(self._hash(lo, mid, depth + 1))
                lo = mid
            else:
                siblings.append(self._hash(mid, hi, depth + 1))
                hi = mid
            depth += 1
        other = None
        if hi - lo == 1 and self._keys[lo] != k:
            other = (self._keys[lo].to_bytes(32, "big"), self._values[lo])
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

"""RFC 9162 §2.1 Merkle trees: hashes, roots, inclusion and consistency proofs and their verification.

Pure functions, no I/O. A tree is addressed by its *perfect subtrees*: node (level, index) covers the leaves
[index·2^level, (index+1)·2^level). Every hash a proof or a root needs is the hash of a range [start, end) of
leaves, and every such range in RFC 9162's recursion splits into a few perfect subtrees (its size in binary,
largest first), so a store of perfect-subtree hashes answers any root or proof with O(log n) lookups:
`range_nodes` says which, `range_hash` folds them.

The proof generators follow RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF) literally, over ranges; the
verifiers follow §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index): the perfect subtree over [index << level, (index + 1) << level)
Range = tuple[int, int]  # leaves [start, end)


class ProofError(ValueError):
    """A proof that does not verify, or a request for one that cannot exist."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


# -- reference implementation over a list of leaf hashes (tests, small trees) ---------------------------------


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes, by the definition."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


# -- ranges and perfect subtrees ----------------------------------------------------------------------------


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees whose hashes make MTH of the leaves [start, end), largest first. `start` must be a
    multiple of the largest power of two not above end - start, which holds for every range RFC 9162's
    recursion produces."""
    if not 0 <= start < end:
        raise ProofError(f"empty or negative range [{start}, {end})")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ProofError(f"range [{start}, {end}) is not a subtree of an RFC 9162 tree")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees, largest first: H(s1, H(s2, … H(sk-1, sk)))."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def range_hash(start: int, end: int, lookup: Callable[[Node], bytes]) -> bytes:
    return fold([lookup(n) for n in range_nodes(start, end)])


def root_nodes(size: int) -> list[Node]:
    return range_nodes(0, size) if size else []


def new_nodes(size: int, leaf_hashes: Sequence[bytes], frontier: Mapping[Node, bytes]) -> dict[Node, bytes]:
    """The perfect subtrees completed by appending `leaf_hashes` to a tree of `size` leaves, the leaves
    themselves included (level 0). `frontier` holds the perfect subtrees of the tree as it was
    (`root_nodes(size)`): the left siblings the new nodes need. The reference the append's `tree.node_rows` is
    held to."""
    known: dict[Node, bytes] = dict(frontier)
    out: dict[Node, bytes] = {}
    for i, h in enumerate(leaf_hashes, start=size):
        level, index = 0, i
        known[(0, i)] = out[(0, i)] = h
        while index & 1:
            h = node_hash(known[(level, index - 1)], h)
            level, index = level + 1, index >> 1
            known[(level, index)] = out[(level, index)] = h
    return out


# -- proofs as ranges (RFC 9162 §2.1.3.1, §2.1.4.1) ---------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(m, D[n]): the ranges whose hashes make the inclusion proof of leaf `index` in a tree of `size`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    out: list[Range] = []

    def path(m: int, start: int, n: int) -> None:
        if n == 1:
            return
        k = _split(n)
        if m < k:
            path(m, start, k)
            out.append((start + k, start + n))
        else:
            path(m - k, start + k, n - k)
            out.append((start, start + k))

    path(index, 0, size)
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """PROOF(m, D[n]) for 0 < m ≤ n (empty when m == n): the ranges of the consistency proof."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from {first} to {second}")
    out: list[Range] = []

    def subproof(m: int, start: int, n: int, whole: bool) -> None:
        if m == n:
            if not whole:
                out.append((start, start + n))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, k, whole)
            out.append((start + k, start + n))
        else:
            subproof(m - k, start + k, n - k, False)
            out.append((start, start + k))

    subproof(first, 0, second, True)
    return out


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    return {node for a, b in ranges for node in range_nodes(a, b)}


def resolve(ranges: Iterable[Range], lookup: Callable[[Node], bytes]) -> list[bytes]:
    return [range_hash(a, b, lookup) for a, b in ranges]


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------------------


def _check_hash(h: bytes, what: str) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(f"{what} is {len(h)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    _check_hash(leaf, "the leaf hash")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "a proof hash")
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raises ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `root`."""
    _check_hash(root, "the root")
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """Raises ProofError unless `proof` shows that the tree of `first` leaves with `first_root` is a prefix of
    the tree of `second` leaves with `second_root`."""
    _check_hash(first_root, "the first root")
    _check_hash(second_root, "the second root")
    for p in proof:
        _check_hash(p, "a proof hash")
    if first < 0 or second < first:
        raise ProofError(f"no consistency from size {first} to size {second}")
    if first == second:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different roots for tree size {first}")
        return
    if first == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != first_root:
        raise ProofError(f"the consistency proof does not lead to the root of tree size {first}")
    if sr != second_root:
        raise ProofError(f"the consistency proof does not lead to the root of tree size {second}")


# -- a whole tree computed as leaves stream by (a mirror, a verifier) -----------------------------------------


class CompactRange:
    """The perfect subtrees of [0, size), kept as leaves are appended: O(log n) memory, one node hash per leaf
    on average. What a mirror uses to recompute a root from every entry."""

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # the perfect subtrees of the decomposition of size, largest first

    def append(self, h: bytes) -> None:
        stack = self._stack
        n = self.size
        while n & 1:
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)
        self.size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        for h in hashes:
            self.append(h)

    def append_subtree(self, h: bytes, level: int) -> None:
        """Append a perfect subtree of 2^level leaves whose root is `h`; the range must be aligned to it."""
        width = 1 << level
        if self.size % width:
            raise ProofError(f"a subtree of {width} leaves cannot start at {self.size}")
        stack = self._stack
        n = self.size >> level
        while n & 1:
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)
        self.size += width

    def hashes(self) -> list[bytes]:
        """The perfect subtrees' hashes, largest first: those of `root_nodes(size)`."""
        return list(self._stack)

    def root(self) -> bytes:
        return fold(self._stack) if self._stack else EMPTY_ROOT


def subtree_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree from its leaf hashes (a power of two of them), a level at a time."""
    if not hashes or len(hashes) & (len(hashes) - 1):
        raise ProofError("a perfect subtree has a power of two of leaves")
    level = list(hashes)
    sha = hashlib.sha256
    while len(level) > 1:
        level = [sha(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=True)]
    return level[0]

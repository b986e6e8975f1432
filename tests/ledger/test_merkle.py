"""RFC 9162 Merkle trees: the published test vectors, every tree size up to 64, and random trees."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from fusioncell.ledger import merkle
from fusioncell.ledger.merkle import ProofError

# transparency-dev/merkle (proof/verify_test.go, testonly): the RFC 6962 leaves, roots, and proofs
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                       "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
H = bytes.fromhex
INCLUSION = [  # (1-based leaf, size, proof) as published
    (1, 1, []),
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (3, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (2, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]  # fmt: skip


class Store:
    """Perfect-subtree hashes of a tree, as the ledger keeps them."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.nodes: dict[merkle.Node, bytes] = {}
        size = 0
        for h in leaf_hashes:  # one at a time, as separate transactions would
            frontier = {n: self.nodes[n] for n in merkle.root_nodes(size)}
            self.nodes.update(merkle.new_nodes(size, [h], frontier))
            size += 1
        self.size = size

    def root(self, size: int) -> bytes:
        return merkle.range_hash(0, size, self.nodes.__getitem__) if size else merkle.EMPTY_ROOT

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return merkle.resolve(merkle.inclusion_ranges(index, size), self.nodes.__getitem__)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return merkle.resolve(merkle.consistency_ranges(first, second), self.nodes.__getitem__)


def hashed(leaves: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(x) for x in leaves]


REFERENCE = Store(hashed(LEAVES))


def test_the_published_roots() -> None:
    assert (
        merkle.root_of([]) == merkle.EMPTY_ROOT == H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    for n in range(1, 9):
        assert merkle.root_of(hashed(LEAVES[:n])) == ROOTS[n - 1]
        assert REFERENCE.root(n) == ROOTS[n - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_the_published_inclusion_proofs(leaf: int, size: int, proof: list[bytes]) -> None:
    assert REFERENCE.inclusion(leaf - 1, size) == proof
    merkle.verify_inclusion(leaf - 1, size, merkle.leaf_hash(LEAVES[leaf - 1]), proof, ROOTS[size - 1])


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_the_published_consistency_proofs(first: int, second: int, proof: list[bytes]) -> None:
    assert REFERENCE.consistency(first, second) == proof
    merkle.verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof)


def _corrupt_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes):  # type: ignore[no-untyped-def]
    """The probes transparency-dev/merkle uses: every one must be refused."""
    some = H("abacaba000000000000000000000000000000000000000000060061e00123456")
    yield index - 1, size, leaf, proof, root
    yield index + 1, size, leaf, proof, root
    yield index ^ 2, size, leaf, proof, root
    yield index, size * 2, leaf, proof, root
    yield index, size // 2, leaf, proof, root
    yield index, size, b"WrongLeaf", proof, root
    yield index, size, leaf, proof, merkle.EMPTY_ROOT
    yield index, size, leaf, proof, some
    yield index, size, leaf, [*proof, b""], root
    yield index, size, leaf, [*proof, root], root
    yield index, size, leaf, [b"", *proof], root
    yield index, size, leaf, [root, *proof], root
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        yield index, size, leaf, wrong, root
    if proof:
        yield index, size, leaf, proof[:-1], root
    if len(proof) > 1:
        yield index, size, leaf, [proof[0], some, *proof[1:]], root


def _corrupt_consistency(first: int, second: int, r1: bytes, r2: bytes, proof: list[bytes]):  # type: ignore[no-untyped-def]
    yield first - 1, second, r1, r2, proof
    yield first + 1, second, r1, r2, proof
    yield first ^ 2, second, r1, r2, proof
    yield first, second * 2, r1, r2, proof
    yield first, second // 2, r1, r2, proof
    yield first, second, b"WrongRoot", r2, proof
    yield first, second, r1, b"WrongRoot", proof
    yield first, second, r2, r1, proof
    yield first, second, r1, r2, []
    yield first, second, r1, r2, [*proof, b""]
    yield first, second, r1, r2, [*proof, r1]
    yield first, second, r1, r2, [*proof, r2]
    yield first, second, r1, r2, [b"", *proof]
    yield first, second, r1, r2, [r1, *proof]
    yield first, second, r1, r2, [r2, *proof]
    yield first, second, r1, r2, [proof[0], *proof]
    yield first, second, r1, r2, proof[:-1]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        yield first, second, r1, r2, wrong


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_are_refused(leaf: int, size: int, proof: list[bytes]) -> None:
    for probe in _corrupt_inclusion(leaf - 1, size, merkle.leaf_hash(LEAVES[leaf - 1]), proof, ROOTS[size - 1]):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*probe)


@pytest.mark.parametrize(("first", "second", "proof"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_are_refused(first: int, second: int, proof: list[bytes]) -> None:
    for probe in _corrupt_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof):
        with pytest.raises(ProofError):
            merkle.verify_consistency(*probe)


def test_edge_cases_of_consistency() -> None:
    r1, r2 = merkle.leaf_hash(b"1"), merkle.leaf_hash(b"2")
    merkle.verify_consistency(0, 0, r1, r1, [])
    merkle.verify_consistency(0, 1, r1, r2, [])  # the empty tree is a prefix of every tree
    merkle.verify_consistency(1, 1, r2, r2, [])
    for first, second, a, b, proof in [
        (0, 0, r1, r2, []),  # same size, different roots: a fork
        (1, 1, r1, r2, []),
        (1, 0, r1, r2, []),  # time travel
        (2, 1, r1, r2, []),
        (1, 2, r1, r2, []),  # missing proof
        (0, 0, r1, r1, [r1]),  # equal sizes with a proof
        (0, 1, r1, r1, [r1]),
        (1, 1, r1, r1, [r1]),
    ]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(first, second, a, b, proof)


def test_every_tree_up_to_64_leaves_every_proof() -> None:
    """Exhaustive: for every size n ≤ 64, the stored nodes give the reference root; every leaf's inclusion
    proof and every consistency proof from every smaller size verifies, and no proof verifies for a leaf or
    a size it was not made for."""
    leaves = hashed([i.to_bytes(2, "big") for i in range(64)])
    store = Store(leaves)
    roots = [merkle.root_of(leaves[:n]) for n in range(65)]
    compact = merkle.CompactRange()
    for n in range(1, 65):
        compact.append(leaves[n - 1])
        assert store.root(n) == roots[n] == compact.root()
        for m in range(n):
            proof = store.inclusion(m, n)
            merkle.verify_inclusion(m, n, leaves[m], proof, roots[n])
            other = (m + 1) % n
            if other != m:
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(other, n, leaves[m], proof, roots[n])
        for m in range(1, n + 1):
            proof = store.consistency(m, n)
            merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            if m < n:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, roots[m - 1] if m > 1 else roots[2], roots[n], proof)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=300), st.data())
def test_random_trees(data_leaves: list[bytes], data: st.DataObject) -> None:
    leaves = hashed(data_leaves)
    n = len(leaves)
    # appended in random batches, as group commits would
    nodes: dict[merkle.Node, bytes] = {}
    size = 0
    while size < n:
        batch = data.draw(st.integers(1, n - size))
        nodes.update(
            merkle.new_nodes(size, leaves[size : size + batch], {k: nodes[k] for k in merkle.root_nodes(size)})
        )
        size += batch
    assert merkle.range_hash(0, n, nodes.__getitem__) == merkle.root_of(leaves)
    m = data.draw(st.integers(0, n - 1))
    proof = merkle.resolve(merkle.inclusion_ranges(m, n), nodes.__getitem__)
    merkle.verify_inclusion(m, n, leaves[m], proof, merkle.root_of(leaves))
    first = data.draw(st.integers(1, n))
    proof = merkle.resolve(merkle.consistency_ranges(first, n), nodes.__getitem__)
    merkle.verify_consistency(first, n, merkle.root_of(leaves[:first]), merkle.root_of(leaves), proof)


def test_requests_for_proofs_that_cannot_exist() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 3)]:
        with pytest.raises(ProofError):
            merkle.inclusion_ranges(index, size)
    for first, second in [(0, 3), (4, 3), (-1, 2)]:
        with pytest.raises(ProofError):
            merkle.consistency_ranges(first, second)


# -- the entries' leaves ------------------------------------------------------------------------------------

LEAF_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@given(
    index=st.integers(0, 2**53 - 1),  # I-JSON integers
    recorded_at=st.datetimes(timezones=st.just(UTC)),
    action=LEAF_TEXT,
    actor_delegation=st.none() | LEAF_TEXT,
    audience=LEAF_TEXT,
    subject=LEAF_TEXT,
    commitment=LEAF_TEXT,
)
def test_leaf_bytes_are_rfc8785(**header: Any) -> None:
    """Both leaf formats: format 1 (before migration 0006) with the whole header public, format 2 with only the
    index, time, audience and commitment, and its format named."""
    from fusioncell.ledger.entries import leaf_bytes

    d = header["recorded_at"]
    spelled = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}Z"
    expected = dict(header, recorded_at=spelled)
    assert leaf_bytes(**header, leaf_format=1) == rfc8785.dumps(expected)
    public = {k: expected[k] for k in ("index", "recorded_at", "audience", "commitment")}
    assert leaf_bytes(**header) == leaf_bytes(**header, leaf_format=2) == rfc8785.dumps({**public, "format": 2})


@given(st.integers(0, 300), st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_the_appends_node_rows_are_the_new_nodes(size: int, batches: list[int]) -> None:
    """The append's stack of perfect subtrees writes exactly the interior nodes the reference `new_nodes` names
    (the leaves are read from the entry rows)."""
    from fusioncell.ledger.tree import node_id, node_rows

    leaves = hashed([i.to_bytes(4, "big") for i in range(size + sum(batches))])
    nodes = merkle.new_nodes(0, leaves[:size], {})
    n = size
    for b in batches:
        frontier = {node: nodes[node] for node in merkle.root_nodes(n)}
        expected = merkle.new_nodes(n, leaves[n : n + b], frontier)
        rows = node_rows(n, leaves[n : n + b], [frontier[node] for node in merkle.root_nodes(n)])
        interior = {node_id(k): v for k, v in expected.items() if k[0] > 0}
        assert dict(rows) == interior and len(rows) == len(interior)
        nodes.update(expected)
        n += b
    assert merkle.fold([nodes[node] for node in merkle.root_nodes(n)]) == merkle.root_of(leaves)

"""The verifiable map (a sparse Merkle tree) against a plain reference, and every proof it gives checked both
ways: what is in the map verifies with its value only, what is not verifies as absent only, and a proof changed
in any way proves nothing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusioncell.ledger import smt

KEYS = st.binary(min_size=32, max_size=32)
VALUES = st.binary(min_size=32, max_size=32)


def reference_root(items: dict[bytes, bytes], depth: int = 0) -> bytes:
    """The same tree written the plainest way: split the keys on the bit at each depth, a lone key is its leaf."""
    if not items:
        return smt.EMPTY
    if len(items) == 1:
        ((key, value),) = items.items()
        return hashlib.sha256(b"\x00" + key + value).digest()
    left = {k: v for k, v in items.items() if not (k[depth // 8] >> (7 - depth % 8)) & 1}
    right = {k: v for k, v in items.items() if k not in left}
    return hashlib.sha256(b"\x01" + reference_root(left, depth + 1) + reference_root(right, depth + 1)).digest()


def near(key: bytes, bit: int) -> bytes:
    """`key` with one bit flipped: the two share a path down to that depth."""
    raw = bytearray(key)
    raw[bit // 8] ^= 1 << (7 - bit % 8)
    return bytes(raw)


# maps with keys that share long paths as well as random ones
MAPS = st.builds(
    lambda base, flips, values: dict(zip([*base, *(near(base[0], b) for b in flips)], values, strict=False)),
    st.lists(KEYS, min_size=1, max_size=40, unique=True),
    st.lists(st.integers(0, 255), max_size=8, unique=True),
    st.lists(VALUES, min_size=48, max_size=48),
)


@settings(max_examples=300, deadline=None)
@given(MAPS, st.lists(KEYS, max_size=5))
def test_root_and_proofs(items: dict[bytes, bytes], absent: list[bytes]) -> None:
    tree = smt.SparseMerkleMap(items)
    assert tree.root == reference_root(items) == smt.root_of(dict(reversed(list(items.items()))))
    for key, value in items.items():
        proof = tree.prove(key)
        assert tree.get(key) == value
        smt.verify(tree.root, key, value, proof)
        with pytest.raises(smt.MapProofError):
            smt.verify(tree.root, key, near(value, 0), proof)
        with pytest.raises(smt.MapProofError):
            smt.verify(tree.root, key, None, proof)
    for key in [*absent, *(near(k, 255) for k in items), *(near(k, 3) for k in items)]:
        if key in items:
            continue
        proof = tree.prove(key)
        assert tree.get(key) is None
        smt.verify(tree.root, key, None, proof)
        with pytest.raises(smt.MapProofError):
            smt.verify(tree.root, key, bytes(32), proof)


@settings(max_examples=200, deadline=None)
@given(MAPS, st.data())
def test_a_changed_proof_proves_nothing(items: dict[bytes, bytes], data: st.DataObject) -> None:
    tree = smt.SparseMerkleMap(items)
    key = data.draw(st.sampled_from(sorted(items)))
    honest = tree.prove(key)
    changed = []
    if honest.siblings:
        at = data.draw(st.integers(0, len(honest.siblings) - 1))
        flipped = list(honest.siblings)
        flipped[at] = near(flipped[at], data.draw(st.integers(0, 255)))
        changed.append(smt.MapProof(tuple(flipped)))
        changed.append(smt.MapProof(honest.siblings[:-1]))
    changed.append(smt.MapProof((*honest.siblings, smt.EMPTY)))
    changed.append(smt.MapProof((smt.EMPTY, *honest.siblings)))
    for proof in changed:
        with pytest.raises(smt.MapProofError):
            smt.verify(tree.root, key, items[key], proof)
    # nor can another key's leaf stand in for this key being absent
    with pytest.raises(smt.MapProofError):
        smt.verify(tree.root, key, None, smt.MapProof(honest.siblings, (near(key, 255), items[key])))


def test_the_empty_map_and_a_single_key() -> None:
    empty = smt.SparseMerkleMap({})
    assert empty.root == smt.EMPTY and len(empty) == 0
    key = hashlib.sha256(b"joint message:1").digest()
    smt.verify(empty.root, key, None, empty.prove(key))
    one = smt.SparseMerkleMap({key: smt.chain([4, 9])})
    assert one.root == smt.leaf_hash(key, smt.chain([4, 9])) and one.prove(key).siblings == ()
    other = hashlib.sha256(b"mediated:SY message:1").digest()
    proof = one.prove(other)
    assert proof.other == (key, smt.chain([4, 9]))
    smt.verify(one.root, other, None, proof)


def test_refusals_of_malformed_input() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        smt.SparseMerkleMap({b"short": bytes(32)})
    key = hashlib.sha256(b"x").digest()
    with pytest.raises(smt.MapProofError, match="at most 256"):
        smt.verify(smt.EMPTY, key, None, smt.MapProof((smt.EMPTY,) * 257))
    with pytest.raises(smt.MapProofError, match="another value at this key|holds a value"):
        smt.verify(smt.leaf_hash(key, bytes(32)), key, None, smt.MapProof((), (key, bytes(32))))


def test_keys_and_chains() -> None:
    assert smt.chain([]) == smt.EMPTY
    assert smt.chain([1, 2]) != smt.chain([2, 1]) != smt.chain([1])
    assert smt.chain([1, 2, 3]) == hashlib.sha256(smt.chain([1, 2]) + (3).to_bytes(8, "big")).digest()


@settings(max_examples=200, deadline=None)
@given(st.lists(MAPS, min_size=1, max_size=4), st.data())
def test_a_map_moved_on_in_steps_is_the_map_built_at_once(steps: list[dict[bytes, bytes]], data) -> None:  # type: ignore[no-untyped-def]
    """As a checkpoint moves the map on: new keys and new values of old keys, a batch at a time; the root and
    every proof are those of the map built from scratch."""
    moving = smt.SparseMerkleMap()
    everything: dict[bytes, bytes] = {}
    for step in steps:
        if everything:  # some old keys get new values
            old = data.draw(st.lists(st.sampled_from(sorted(everything)), max_size=3, unique=True))
            step = {**step, **{k: near(everything[k], 7) for k in old}}
        moving.update(step)
        everything.update(step)
        assert moving.root == reference_root(everything) == smt.SparseMerkleMap(everything).root
        assert moving.items() == everything
    for key, value in everything.items():
        smt.verify(moving.root, key, value, moving.prove(key))


def test_small_steps_on_a_large_map_hash_only_their_paths() -> None:
    """A few keys at a time on a map of hundreds (the path a checkpoint takes in a busy cell), checked against
    the reference after every step."""
    import random

    rng = random.Random(13)
    everything = {rng.randbytes(32): rng.randbytes(32) for _ in range(600)}
    moving = smt.SparseMerkleMap(everything)
    for _ in range(40):
        step = {rng.randbytes(32): rng.randbytes(32) for _ in range(rng.randint(0, 3))}
        step.update({k: rng.randbytes(32) for k in rng.sample(sorted(everything), rng.randint(0, 3))})
        if rng.random() < 0.3:  # a key that shares a long path with one already there
            step[near(rng.choice(sorted(everything)), 250)] = rng.randbytes(32)
        moving.update(step)
        everything.update(step)
        assert moving.root == reference_root(everything)
    for key in rng.sample(sorted(everything), 30):
        smt.verify(moving.root, key, everything[key], moving.prove(key))

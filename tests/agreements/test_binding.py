"""The binding rule alone (agreements/binding.py), against the rule stated again here in plain terms: for any
signatories, keys approved and revoked at any instants, and signatures honest, forged, over another version or with
another party's key, a version binds exactly when every signatory has a signature that verifies, by a key of its own
party approved by then and not revoked from then or before; the version in force is the latest that binds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fusioncell.agreements import binding
from fusioncell.ledger.note import Signer

ORIGIN = "fusioncell.example/test"
AGREEMENT = 4242
T0 = datetime(2026, 3, 2, tzinfo=UTC)
PARTIES = ("SY", "IL", "JO")
SIGNERS = {p: Signer.generate(f"{p.lower()}.signatory") for p in PARTIES}
DIGESTS = {1: "a" * 64, 2: "b" * 64, 3: "c" * 64}


def hours(n: int | None) -> datetime | None:
    return None if n is None else T0 + timedelta(hours=n)


keys = st.fixed_dictionaries(
    {p: st.tuples(st.none() | st.integers(0, 10), st.none() | st.integers(0, 10)) for p in PARTIES}
)  # approved at, revoked from (hours)
signature = st.tuples(
    st.sampled_from([1, 2, 3]),  # version
    st.sampled_from(PARTIES),  # for which delegation
    st.sampled_from(PARTIES),  # whose key made it
    st.sampled_from(["honest", "forged", "other-version"]),
    st.integers(0, 10),  # signed at (hours)
)
versions = st.fixed_dictionaries(
    {v: st.lists(st.sampled_from(PARTIES), min_size=1, max_size=3, unique=True) for v in (1, 2, 3)}
)


@settings(max_examples=300, deadline=None)
@given(keys=keys, signatures=st.lists(signature, max_size=12), versions=versions)
def test_binds_exactly_as_the_rule_says(keys, signatures, versions) -> None:  # type: ignore[no-untyped-def]
    key_facts = {
        f"{p}-key": binding.Key(f"{p}-key", p, SIGNERS[p].verifier.public, hours(a), hours(r))
        for p, (a, r) in keys.items()
    }
    made = []
    for version, delegation, maker, kind, at in signatures:
        signed_over = version if kind != "other-version" else version % 3 + 1
        message = binding.signing_message(ORIGIN, AGREEMENT, signed_over, DIGESTS[signed_over], f"{maker}-key")
        raw = SIGNERS[maker].sign(message) if kind != "forged" else bytes(64)
        made.append(binding.Signature(version, delegation, f"{maker}-key", raw, hours(at)))  # type: ignore[arg-type]
    found = binding.assess(
        origin=ORIGIN,
        agreement=AGREEMENT,
        versions=[binding.Version(v, DIGESTS[v], tuple(s)) for v, s in versions.items()],
        signatures=made,
        keys=key_facts,
    )

    def counts(version: int, delegation: str, maker: str, kind: str, at: int) -> bool:
        approved, revoked = keys[maker]
        return (
            kind == "honest"
            and maker == delegation
            and delegation in versions[version]
            and approved is not None
            and approved <= at
            and (revoked is None or at < revoked)
        )

    expected = {
        v: all(any(counts(sv, d, m, k, at) for sv, d, m, k, at in signatures if sv == v and d == p) for p in parties)
        for v, parties in versions.items()
    }
    assert {s.version: s.binds for s in found.versions} == expected
    assert found.in_force == max((v for v, b in expected.items() if b), default=None)
    for s in found.versions:
        if s.binds:
            assert s.bound_at == max(s.signed.values())


def test_the_signing_message_names_the_log_the_agreement_the_version_the_text_and_the_key() -> None:
    one = binding.signing_message(ORIGIN, 1, 1, "a" * 64, "k+00000001")
    head = b"fusioncell agreement signature\nfusioncell.example/test\nagreement 1 version 1\nsha256 "
    assert one == head + b"a" * 64 + b"\nkey k+00000001\n"
    changed = [
        ("other/log", 1, 1, "a" * 64, "k+00000001"),
        (ORIGIN, 2, 1, "a" * 64, "k+00000001"),
        (ORIGIN, 1, 2, "a" * 64, "k+00000001"),
        (ORIGIN, 1, 1, "b" * 64, "k+00000001"),
        (ORIGIN, 1, 1, "a" * 64, "k+00000002"),
    ]
    others = {binding.signing_message(*c) for c in changed}
    assert one not in others and len(others) == 5
    # the digest is of the RFC 8785 canonical form: key order and spacing do not change it
    assert binding.digest({"b": 1, "a": [1, "x"]}) == binding.digest({"a": [1, "x"], "b": 1})

"""The fast object path (plain.py) never accepts what stix2 refuses, feeds take it, and a submission's answer is
the same with it or without it: every type it reads, generated and mutated, compared with the library."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
import stix2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.intel.run import stix_objects
from fusioncell.intel import plain, stix
from fusioncell.intel.markings import TLP1_IDS, Tlp
from tests.intel.stixdata import CREATED, identity, indicator

GREEN = Tlp.GREEN.marking_id
LATER = "2026-04-01T00:00:00.000Z"


def _id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid5(uuid.NAMESPACE_URL, stix_type)}"


# A value for each property a type requires, so that every type read here has a valid object to start from.
REQUIRED = {
    "name": "Quneitra launch site", "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
    "is_family": True, "relationship_type": "indicates", "source_ref": _id("indicator"),
    "target_ref": _id("malware"), "sighting_of_ref": _id("indicator"), "value": "198.51.100.7",
    "published": CREATED, "object_refs": [_id("indicator")], "context": "suspicious-activity",
    "content": "Seen twice near the line", "opinion": "agree", "number": 64512, "key": "HKEY_LOCAL_MACHINE\\x",
    "path": "C:\\Windows", "user_id": "1001", "dst_ref": _id("ipv4-addr"),
}  # fmt: skip


def template(stix_type: str) -> dict[str, Any]:
    shape = plain.SHAPES[stix_type]
    obj: dict[str, Any] = {"type": stix_type, "spec_version": "2.1", "id": _id(stix_type)}
    if "created" in shape.checks:
        obj |= {"created": CREATED, "modified": CREATED}
    obj |= {name: copy.deepcopy(REQUIRED[name]) for name in shape.required - obj.keys()}
    if stix_type == "malware":
        obj["name"] = REQUIRED["name"]  # a family needs its name
    obj["object_marking_refs"] = [GREEN]
    return obj


RICH = [
    indicator(
        author=identity(), labels=["launch"], confidence=80, valid_until="2026-09-01T00:00:00Z",
        indicator_types=["malicious-activity"], kill_chain_phases=[{"kill_chain_name": "lm", "phase_name": "c2"}],
        external_references=[{"source_name": "sy-desk", "external_id": "SY-17", "url": "https://example.org/17"}],
        lang="ar", description="وصف", revoked=False,
    ),
    {**template("malware"), "first_seen": CREATED, "last_seen": LATER, "aliases": ["Qadhif"],
     "sample_refs": [_id("file")], "malware_types": ["dropper"]},
    {**template("relationship"), "start_time": CREATED, "stop_time": LATER, "description": "drives"},
    {**template("sighting"), "count": 3, "first_seen": CREATED, "last_seen": LATER, "summary": False,
     "where_sighted_refs": [_id("identity"), _id("location")], "observed_data_refs": [_id("observed-data")]},
    {**template("threat-actor"), "threat_actor_types": ["nation-state"], "roles": ["agent"], "goals": ["x"]},
    {**template("report"), "report_types": ["threat-report"], "created_by_ref": _id("identity")},
    {**template("ipv4-addr"), "resolves_to_refs": [_id("mac-addr")], "belongs_to_refs": [_id("autonomous-system")]},
    {**template("user-account"), "is_privileged": True, "account_created": CREATED},
    {**template("attack-pattern"), "external_references": [{"source_name": "mitre-attack", "external_id": "T1059"}]},
]  # fmt: skip


def library_accepts(obj: Any) -> bool:
    try:
        stix2.parse(obj, allow_custom=False, version="2.1")
        return True
    except Exception:  # whatever the library raises is its refusal
        return False


def test_every_type_read_here_has_a_valid_object_that_takes_the_fast_path() -> None:
    for obj in [template(t) for t in plain.SHAPES] + RICH:
        assert library_accepts(obj), json.dumps(obj)
        assert plain.plainly_valid_object(obj), obj


def test_an_object_without_its_id_is_left_to_the_library() -> None:
    """The library makes an id up (for an observable, by hashing properties, which can fail): not plain."""
    for obj in [template(t) for t in plain.SHAPES]:
        del obj["id"]
        assert not plain.plainly_valid_object(obj), obj["type"]


def test_a_feed_takes_the_fast_path() -> None:
    """The benchmark's mix (indicators, malware, addresses, relationships): read here, not built by the library."""
    objects = stix_objects(500)
    assert all(plain.plainly_valid_object(o) for o in objects)


def test_the_library_is_the_one_read() -> None:
    """The constraints written in plain.py are those of stix2 3.0.2: on another release, read its classes again
    (their _properties, __init__ and _check_object_constraints) before changing the pin."""
    assert stix2.__version__ == "3.0.2"
    written = {t for t, c in plain.CONSTRAINTS.items() if c is not plain._none}
    for stix_type, shape in plain.SHAPES.items():
        own = {m for m in ("__init__", "_check_object_constraints") if m in vars(shape.cls)}
        assert ("_check_object_constraints" in own) == (stix_type in written), stix_type
        constructors = {"indicator", "relationship", "sighting"}  # whose __init__ the module reads too
        assert own - {"_check_object_constraints"} <= ({"__init__"} if stix_type in constructors else set())
        for parent in shape.cls.__mro__[1:]:  # no constraint hidden in a base class but the granular markings'
            if "_check_object_constraints" in vars(parent):
                assert parent is stix2.base._STIXBase, (stix_type, parent)


UUIDS = [
    str(uuid.uuid5(uuid.NAMESPACE_DNS, "a")),
    "ce0c6f03-5bd8-4b0e-9a5d-3a0d4c1b2f6e".upper(),
    "{ce0c6f03-5bd8-4b0e-9a5d-3a0d4c1b2f6e}",
    "a8098c1a-f86e-11da-bd1a-00112444be1e",
    "6ba7b810-9dad-11d1-00b4-00c04fd430c8",
    "6ba7b810-9dad-11d1-c0b4-00c04fd430c8",
    "not-a-uuid",
    "",
]
REF_TYPES = [
    "identity",
    "indicator",
    "malware",
    "marking-definition",
    "relationship",
    "sighting",
    "x-custom",
    "location",
    "observed-data",
    "software",
    "file",
    "artifact",
    "ipv4-addr",
    "bundle",
    "language-content",
    "launch-site",
    "Identity",
    "mac-addr",
    "autonomous-system",
    "note",
    "a",
    "a--b",
]
STAMPS = [
    "2026-03-02T05:00:00Z",
    "2026-03-02T05:00:00.1Z",
    "2026-03-02T05:00:00.123456Z",
    "2026-03-02T05:00:00.1234567Z",
    "2026-02-30T05:00:00Z",
    "2026-3-2T05:00:00Z",
    "2026-03-02T05:00:00z",
    "2026-03-02T05:00:00+00:00",
    "2026-03-02 05:00:00Z",
    "٢٠٢٦-03-02T05:00:00Z",
    "2026-03-02T24:00:00Z",
    "2026-03-02T05:00:60Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "2025-01-01T00:00:00.000Z",
    LATER,
    CREATED,
    "2026-03-02T05:00:00.000Z",
    "2026-03-02T05:00Z",
]
PHASES = [
    {"kill_chain_name": "lm", "phase_name": "c2"},
    {"kill_chain_name": "lm"},
    {"kill_chain_name": 1, "phase_name": "x"},
    {"kill_chain_name": "a", "phase_name": "b", "x_extra": 1},
    {"kill_chain_name": "", "phase_name": ""},
]
EXTERNAL = [
    {"source_name": "mitre-attack", "external_id": "T1"},
    {"source_name": "x"},
    {"source_name": "x", "url": 5},
    {"source_name": "x", "hashes": {"SHA-256": "ab" * 32}},
    {"description": "d"},
    {"source_name": "x", "description": None},
    {"source_name": "x", "url": "u", "colour": "red"},
]
PATTERNS = [
    "[ipv4-addr:value = '198.51.100.7']",
    "[ipv4-addr:value = ",
    "[launch:value = 'x']",
    "",
    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
    "alert tcp any any",
    "[ipv4-addr:value = 'a'] OR",
]
SCALARS = [
    None,
    "",
    "text",
    "ünï",
    0,
    1,
    -1,
    100,
    101,
    999999999,
    1000000000,
    True,
    False,
    "true",
    "t",
    "1",
    1.5,
    2.0,
    {},
    {"a": 1},
    "stix",
    "pcre",
    "2.1",
    "2.0",
    "agree",
    "strongly-agree",
    "maybe",
]
KEYS = [
    "x_custom",
    "custom_properties",
    "allow_custom",
    "interoperability",
    "_valid_refs",
    "extensions",
    "granular_markings",
    "colour",
    "Name",
    "hashes",
    "x-launch",
]


# The strategies are built once, here: built afresh at every draw, their validation took most of the time of the
# tests below (the values drawn are the same either way).
_REF = st.builds(lambda t, u: f"{t}--{u}", st.sampled_from(REF_TYPES), st.sampled_from(UUIDS))
_ONE = st.one_of(
    st.sampled_from(SCALARS), st.sampled_from(STAMPS), _REF, st.sampled_from(PATTERNS),
    st.sampled_from(sorted(TLP1_IDS.values())), st.sampled_from(PHASES), st.sampled_from(EXTERNAL),
)  # fmt: skip
VALUES = st.one_of(_ONE, st.lists(_ONE, max_size=3), st.just([]), st.just([GREEN]))
_STARTS = st.one_of(st.sampled_from(RICH), st.sampled_from(sorted(plain.SHAPES)).map(template))
_ACTIONS = st.sampled_from(["set", "set", "set", "delete", "swap"])
_NAMES = {t: st.sampled_from(sorted(shape.checks) + KEYS) for t, shape in plain.SHAPES.items()}


@st.composite
def mutated(draw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    obj = copy.deepcopy(draw(_STARTS))
    names = _NAMES[obj["type"]]
    for _ in range(draw(st.integers(1, 4))):
        action = draw(_ACTIONS)
        if action == "delete" and obj:
            del obj[draw(st.sampled_from(sorted(obj)))]
        elif action == "swap":  # the same value under another name: timestamps out of order, refs misplaced
            a, b = draw(st.sampled_from(sorted(obj))), draw(names)
            obj[b], obj[a] = obj[a], obj.get(b, obj[a])
        else:
            obj[draw(names)] = draw(VALUES)
    return obj


@settings(max_examples=2500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(obj=mutated())
def test_never_accepts_what_the_library_refuses_and_answers_the_same(obj: dict[str, Any]) -> None:
    if plain.plainly_valid_object(obj):
        assert library_accepts(obj), json.dumps(obj)
        assert plain.converted(obj) is None, json.dumps(obj)  # nothing the library would convert
    # a submission's answer, problems and all, is the same as the library's alone
    assert stix.check_object(("stix", 0), obj)[1] == stix.check_object(("stix", 0), obj, plain=False)[1], obj


def test_the_generator_reaches_both_sides() -> None:
    """The property above is not vacuous: mutated objects include fast-accepted and library-refused ones, of
    every type read here."""
    fast: set[str] = set()
    refused, accepted_slowly = 0, 0

    @settings(max_examples=1500, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(obj=mutated())
    def count(obj: dict[str, Any]) -> None:
        nonlocal refused, accepted_slowly
        if plain.plainly_valid_object(obj):
            fast.add(obj["type"])
        elif library_accepts(obj):
            accepted_slowly += 1
        else:
            refused += 1

    count()
    assert refused >= 300 and accepted_slowly >= 30, (refused, accepted_slowly)
    assert len(fast) >= 20, sorted(set(plain.SHAPES) - fast)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T05:00:00Z", "2026-03-02T05:00:00.1Z", "2026-03-02T05:00:00.123456Z", "2024-02-29T23:59:59.5Z",
        "2023-02-29T00:00:00Z", "2026-03-02T24:00:00Z", "2026-03-02T23:59:60Z", "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z", "2026-13-01T00:00:00Z", "2026-03-02T05:00:00.1234567Z",
        "2026-03-02T05:00:00+00:00", "2026-03-02 05:00:00Z", "٢٠٢٦-03-02T05:00:00Z", "2026-03-02T05:00:00z",
    ],
)  # fmt: skip
def test_a_plain_timestamp_is_read_as_the_library_reads_it(text: str) -> None:
    formats = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")  # stix2's, which it tries in turn
    expected = None
    for fmt in formats:
        try:
            expected = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    if plain.TIMESTAMP.fullmatch(text) is None:
        expected = None  # another spelling: left to the library
    assert plain.moment(text) == expected


def test_the_fast_path_keeps_nothing_of_what_it_checked() -> None:
    """Timestamps and referenced types were remembered across submissions: a value another delegation had sent
    was answered faster, a timing oracle on the content of its submissions. Nothing is kept from one check to
    the next (the verdicts on the library's own types are asked once, when the module is read)."""
    from fusioncell.intel import patterns

    caches = [f for module in (plain, patterns) for f in vars(module).values() if hasattr(f, "cache_info")]
    secret = indicator(created="2026-07-04T03:02:01.987Z", modified="2026-07-04T03:02:01.987Z",
                       created_by_ref=f"x-secret-operation--{uuid.uuid4()}")  # fmt: skip
    stix.check_submission([identity(), secret, indicator()])
    assert [f.__name__ for f in caches if f.cache_info().currsize] == []

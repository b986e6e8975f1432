"""The fast pattern path never accepts what stix2-patterns refuses, and the objects it checks get stix2's own
verdict: generated patterns, mutated ones, and whole indicators compared with the library."""

from __future__ import annotations

import stix2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from fusioncell.intel import stix
from fusioncell.intel.patterns import plainly_valid
from fusioncell.intel.plain import converted
from tests.intel.stixdata import indicator

FEED_PATTERNS = [
    "[ipv4-addr:value = '198.51.100.7']",
    "[ipv6-addr:value = '2001:db8::1']",
    "[domain-name:value = 'c2.example.net']",
    "[url:value = 'http://c2.example.net/x?y=1']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
    "[file:name = 'dropper.exe' AND file:size = 20480]",
    "[email-message:from_ref.value = 'ops@example.org']",
    "[network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443]",
    "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example']",
    "[x509-certificate:serial_number = '12:34'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.9']",
    "[process:command_line MATCHES '^cmd\\\\.exe /c']",
    "[email-message:to_refs[*].value LIKE '%@example.org']",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\x']",
    "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]",
    "[ipv4-addr:value != '10.0.0.1' OR ipv4-addr:value NOT = '10.0.0.2']",
]

TYPES = ["ipv4-addr", "file", "x", "network-traffic", "IPv4-Addr", "a-", "-a", "AND", "file2", "e_m"]
PATHS = ["value", "name", "hashes.'SHA-256'", "hashes.MD5", "hashes.'SHA-1'", "to_refs[*].value", "x-y", "AND",
         "'quoted'", "a[0]", "a[-1]", "a.b.c", "size", "Value", "_p", "x.'hashes'.MD5", "hashes[0]", "'hashes'.MD5",
         "hashes[*]"]  # fmt: skip
OPS = ["=", "!=", "<", ">=", "LIKE", "MATCHES", "NOT =", "==", "<>", "IN", "like", "ISSUBSET", "EXISTS"]
LITERALS = [
    "'a'", "'it\\'s'", "'back\\\\slash'", "''", "12", "-0", "0", "007", "1.5", "true", "t'2020-01-01T00:00:00Z'",
    "h'ab'", "b'AA=='", "'d41d8cd98f00b204e9800998ecf8427e'", "'xyz'", "('a', 'b')", "('a', 1)", "()", "'ünï'",
    "12abc",
]  # fmt: skip
JOINS = [" AND ", " OR ", " FOLLOWEDBY ", " and ", " ", ""]
OBS_JOINS = [" AND ", " OR ", " FOLLOWEDBY ", " WITHIN 5 SECONDS ", " REPEATS 2 TIMES AND ", " or ", "\t"]


@st.composite
def patterns(draw) -> str:  # type: ignore[no-untyped-def]
    def comparison() -> str:
        return f"{draw(st.sampled_from(TYPES))}:{draw(st.sampled_from(PATHS))} {draw(st.sampled_from(OPS))} " + draw(
            st.sampled_from(LITERALS)
        )

    def observation() -> str:
        parts = [comparison() for _ in range(draw(st.integers(1, 3)))]
        text = parts[0]
        for part in parts[1:]:
            text += draw(st.sampled_from(JOINS)) + part
        return "[" + text + "]"

    text = observation()
    for _ in range(draw(st.integers(0, 2))):
        text += draw(st.sampled_from(OBS_JOINS)) + observation()
    return text


@st.composite
def mutated(draw) -> str:  # type: ignore[no-untyped-def]
    text = draw(st.sampled_from(FEED_PATTERNS))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(list("[]()'\\ :.=!<>-*,0aAZ_\t")))
        if action == "insert":
            text = text[:at] + char + text[at:]
        elif action == "delete" and at < len(text):
            text = text[:at] + text[at + 1 :]
        elif at < len(text):
            text = text[:at] + char + text[at + 1 :]
    return text


def library_accepts(pattern: str) -> bool:
    try:
        return run_validator(pattern, "2.1") == []
    except Exception:  # the library crashes on some paths (a negative index through its inspector): a refusal
        return False


def test_feed_patterns_take_the_fast_path() -> None:
    for pattern in FEED_PATTERNS:
        assert library_accepts(pattern), pattern
        assert plainly_valid(pattern) is True, pattern


def test_long_patterns_are_left_to_the_library() -> None:
    """Its parser recurses per comparison and path step, and gives out past Python's recursion limit; an index
    past 4,300 digits fails its int(). Those are the library's to refuse, not the fast path's to pass."""
    deep_path = "[file:name" + ".c" * 1000 + " = 'x']"
    long_index = "[file:name[1" + "0" * 4300 + "] = 'x']"
    many = " OR ".join(["[ipv4-addr:value = '198.51.100.7']"] * 1000)
    for pattern in (deep_path, long_index, many):
        assert plainly_valid(pattern) is None
        _, problems = stix.check_object(("stix", 0), indicator(pattern=pattern))
        assert [p.at for p in problems] == [("stix", 0, "pattern")], problems
    assert plainly_valid(" OR ".join(["[ipv4-addr:value = '198.51.100.7']"] * 50)) is True  # a feed's long list


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(pattern=st.one_of(patterns(), mutated()))
def test_never_accepts_what_the_library_refuses(pattern: str) -> None:
    if plainly_valid(pattern):
        assert library_accepts(pattern), pattern


def test_the_generators_reach_both_sides() -> None:
    """The property above is not vacuous: generated patterns include fast-accepted and library-refused ones."""
    fast, refused = 0, 0

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(pattern=st.one_of(patterns(), mutated()))
    def count(pattern: str) -> None:
        nonlocal fast, refused
        fast += plainly_valid(pattern) is True
        refused += not library_accepts(pattern)

    count()
    assert fast >= 30 and refused >= 30, (fast, refused)


def _library_verdict(obj: dict) -> bool:
    try:
        stix2.parse(obj, allow_custom=False, version="2.1")
        return True
    except Exception:  # whatever the library raises is its refusal (some patterns surface as AttributeError)
        return False


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    pattern=st.one_of(patterns(), mutated(), st.sampled_from(FEED_PATTERNS)),
    extra=st.sampled_from(
        [
            {},
            {"valid_until": "2020-01-01T00:00:00Z"},
            {"pattern_version": "2.0"},
            {"pattern_version": "2.1"},
            {"pattern_type": "snort"},
            {"name": 7},
            {"colour": "red"},
            {"indicator_types": "not-a-list"},
        ]
    ),  # fmt: skip
)
def test_indicators_get_the_library_verdict(pattern: str, extra: dict) -> None:
    obj = indicator(pattern=pattern, **extra)
    _, problems = stix.check_object(("stix", 0), obj)
    # the library's verdict, but for values it would convert (a name of 7), which are refused (test_stix.py)
    assert (not problems) == (_library_verdict(obj) and converted(obj) is None), (pattern, extra, problems)

"""A fast path for the STIX 2.1 patterns feeds are made of (pure: no I/O).

The stix2 library checks an indicator's pattern with stix2-patterns' ANTLR parser, which takes about three
quarters of the time an indicator costs. `plainly_valid` recognises the common shape — observations in square
brackets joined by AND, OR or FOLLOWEDBY, each a list of comparisons joined by AND or OR, on object paths with
string, integer or string-list operands — and says True only when the ANTLR grammar and stix2-patterns' checks
(hash formats) would accept the pattern too. For anything else it says None, and the caller asks the library.
It never rejects: every refusal still comes from stix2-patterns, word for word.

Tests hold it to that: every pattern it accepts, generated or mutated, the library accepts. Long patterns are
left to the library too: its parser recurses once per comparison, observation and path step, and fails past
Python's recursion limit (about 975 of them), as it does past 4,300 digits in a list index.
"""

from __future__ import annotations

import re

from stix2patterns.v21.object_validator import HASHES_REGEX

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<string>'(?:[^'\\]|\\['\\])*')
  | (?P<int>-?(?:0|[1-9][0-9]*))(?![0-9.eE])
  | (?P<path>[A-Za-z_][A-Za-z0-9_-]*:[A-Za-z_][A-Za-z0-9_]*
        (?:\.[A-Za-z_][A-Za-z0-9_]*|\.'[A-Za-z0-9_-]+'|\[(?:\*|0|[1-9][0-9]{0,8})\])*)
  | (?P<word>[A-Z]+)(?![A-Za-z0-9_:-])
  | (?P<op>!=|>=|<=|[=<>\[\](),])
    """,
    re.VERBOSE,
)
_TYPE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = frozenset(
    {
        *("AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES", "ISSUPERSET", "ISSUBSET", "EXISTS", "LAST", "IN"),
        *("START", "STOP", "SECONDS", "TRUE", "FALSE", "WITHIN", "REPEATS", "TIMES"),
    }
)
_COMPARE = frozenset({"=", "!=", "<", ">", "<=", ">="})
MAX_TOKENS = 400  # about 100 comparisons: far below where the library's recursive parser gives out
MAX_STEPS = 32  # path steps in one object path
_STRING_OPS = frozenset({"LIKE", "MATCHES"})


def _tokens(pattern: str) -> list[tuple[str, str]] | None:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(pattern):
        match = _TOKEN.match(pattern, position)
        if match is None:
            return None
        kind = match.lastgroup or ""
        if kind != "ws":
            found.append((kind, match.group()))
        position = match.end()
    return found


def _path_ok(path: str) -> tuple[bool, list[str]]:
    object_type, _, rest = path.partition(":")
    if not _TYPE.match(object_type) or object_type.upper() in _KEYWORDS:
        return False, []
    parts = re.findall(r"\.'[^']*'|\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\]", "." + rest)
    components = []
    for part in parts:
        if part.startswith("."):
            name = part[1:]
            if not name.startswith("'") and (not _PROPERTY.match(name) or name.upper() in _KEYWORDS):
                return False, []
            components.append(name)
        else:
            components.append(part)
    return len(components) <= MAX_STEPS, components


def _mentions_hashes(components: list[str]) -> bool:
    """stix2-patterns reads a path step with its quotes stripped: 'hashes' and hashes are the same step."""
    return any(c.strip("'") == "hashes" for c in components)


def _hash_ok(components: list[str], literal: str) -> bool:
    """stix2-patterns' one check past the grammar: a hash compared by name must look like that hash."""
    if any(c.startswith("[") for c in components):
        return False  # an index on a path through hashes: the library's own handling varies; let it decide
    if not _mentions_hashes(components):
        return True
    selector = components[-1].upper().replace("-", "").replace("'", "")
    if selector not in HASHES_REGEX:
        return True
    return re.match(HASHES_REGEX[selector][0], literal[1:-1]) is not None


def plainly_valid(pattern: str) -> bool | None:
    """True if the pattern is of the common shape and valid; None to let stix2-patterns decide."""
    tokens = _tokens(pattern)
    if not tokens or len(tokens) > MAX_TOKENS:
        return None
    at = 0

    def peek(offset: int = 0) -> tuple[str, str]:
        return tokens[at + offset] if at + offset < len(tokens) else ("end", "")

    def comparison() -> bool:
        nonlocal at
        kind, path = peek()
        if kind != "path":
            return False
        ok, components = _path_ok(path)
        if not ok:
            return False
        at += 1
        if peek() == ("word", "NOT"):
            at += 1
        kind, op = peek()
        if kind == "op" and op in _COMPARE:
            at += 1
            kind, literal = peek()
            if kind not in ("string", "int"):
                return False
            if _mentions_hashes(components) and (kind != "string" or op not in ("=", "!=") or "\\" in literal):
                return False
            if _mentions_hashes(components) and not _hash_ok(components, literal):
                return False
            at += 1
            return True
        if kind == "word" and op in _STRING_OPS:
            at += 1
            if peek()[0] != "string" or _mentions_hashes(components):
                return False
            at += 1
            return True
        if kind == "word" and op == "IN":
            at += 1
            if peek() != ("op", "(") or _mentions_hashes(components):
                return False
            at += 1
            kinds = set()
            while True:
                kind, _ = peek()
                if kind not in ("string", "int"):
                    return False
                kinds.add(kind)
                at += 1
                if peek() == ("op", ","):
                    at += 1
                    continue
                if peek() == ("op", ")"):
                    at += 1
                    return True
                return False
        return False

    def observation() -> bool:
        nonlocal at
        if peek() != ("op", "["):
            return False
        at += 1
        if not comparison():
            return False
        while peek() in (("word", "AND"), ("word", "OR")):
            at += 1
            if not comparison():
                return False
        if peek() != ("op", "]"):
            return False
        at += 1
        return True

    if not observation():
        return None
    while peek() in (("word", "AND"), ("word", "OR"), ("word", "FOLLOWEDBY")):
        at += 1
        if not observation():
            return None
    return True if at == len(tokens) else None

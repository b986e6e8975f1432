"""Checking submitted STIX 2.1 content: the `stix2` library's rules, every problem listed by object and field.

A submission is a bundle or a list of objects. Every object but a marking-definition must carry a TLP marking
(2.0, or 1.0 read as 2.0). Nothing is stored unless everything passes.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import multiprocessing
import os
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

import stix2
import stix2.exceptions
import stix2.properties
import stix2.registry
from stix2.registry import class_for_type
from stix2.utils import parse_into_datetime
from stix2patterns.validator import run_validator

from fusioncell import text as text_rule
from fusioncell.intel.markings import LEVEL_OF_ID, Tlp, tlp_of
from fusioncell.intel.patterns import plainly_valid
from fusioncell.intel.plain import TIMESTAMP, converted, plainly_valid_object
from fusioncell.problems import json_pointer

MAX_OBJECTS = 10_000
_FIELD = re.compile(r"(?:property|properties) '?([\w\-]+)'?|'([\w\-]+)' (?:property|is)|^([\w\-]+):")


@dataclass(frozen=True)
class Problem:
    at: tuple[str | int, ...]  # where in the request body: ("stix", "objects", 3, "pattern")
    stix_id: str | None
    reason: str

    def as_error(self) -> dict[str, Any]:
        """As the API lists any invalid field: a JSON Pointer into the body, the dotted field, why, a code."""
        return {
            "pointer": json_pointer(self.at),
            "field": ".".join(str(p) for p in self.at),
            "reason": f"{self.stix_id}: {self.reason}" if self.stix_id else self.reason,
            "code": "invalid-stix",
        }


@dataclass(frozen=True)
class Checked:
    objects: list[dict[str, Any]]
    tlp: Tlp  # the most restrictive marking among them
    versions: list[str | None]  # each object's normalised version (None: it has no timestamp)
    text: str  # the objects as stored, a JSON array
    sha256: str  # of `text`: an exact resubmission is recognised by it


def stix_time(text: str) -> datetime:
    """A STIX timestamp as a UTC datetime (to the microsecond), read as the stix2 library reads it, so whatever it
    accepted in an object reads the same here. ValueError if it is not one."""
    try:
        moment = parse_into_datetime(text)
    except Exception as error:  # the library's TypeError/ValueError for what is not a timestamp
        raise ValueError(f"{text!r} is not a timestamp") from error
    return datetime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)


def version_text(moment: datetime) -> str:
    """A version as stored: four year digits and six fraction digits always, so versions sort as text in time
    order (strftime writes the year 999 as '999')."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z"


def stamp_text(moment: datetime) -> str:
    """A timestamp as this server writes one into STIX: milliseconds, Z."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


LAST_INSTANT = datetime.max.replace(tzinfo=UTC)  # 9999-12-31T23:59:59.999999Z: STIX writes no later time


def next_modified(obj: dict[str, Any], now: datetime) -> str | None:
    """`modified` for a new version of the object: now, or a millisecond past its current version if that is
    later (a version must move forward). Whatever is stored: a version in the last millisecond STIX can write
    moves to its last microsecond; None for one already there, which nothing can follow."""
    current = stix_time(obj["modified"])
    if current < LAST_INSTANT - timedelta(milliseconds=1):
        return stamp_text(max(now, current + timedelta(milliseconds=1)))
    return version_text(LAST_INSTANT) if current < LAST_INSTANT else None


def version_of(obj: dict[str, Any]) -> str | None:
    """The object's version as stored (`modified`, else `created`), or None if it has neither. Its timestamps
    have passed stix2's check, so the common spellings are normalised as text (a datetime round trip per object
    was a twentieth of an ingest)."""
    stamp = obj.get("modified") or obj.get("created")
    return sortable_time(stamp) if stamp else None


def sortable_time(stamp: str) -> str:
    """A timestamp spelled as a version is (text order is time order); ValueError if it is not one."""
    plain = TIMESTAMP.fullmatch(stamp)
    if plain:
        return f"{plain.group(1)}.{(plain.group(8) or '').ljust(6, '0')}Z"
    return version_text(stix_time(stamp))  # another spelling the library reads


# ---- the range of a timestamp -------------------------------------------------------------------------------

# An object's version (created, modified) orders its versions and is what the cell moves on when it redacts or
# recalls it: from 1970 to a day past the cell's clock (a day covers any clock's error and a local time written
# as UTC). Any other time (valid_until, first_seen, a file's mtime, ...) is the object's own statement, stored and
# served as sent: from 1900 to the last instant STIX writes, where standards give the far end a meaning (RFC 5280
# dates a certificate that never expires 9999-12-31T23:59:59Z), while a date before 1900 is what tools write for no
# date (Go's zero time is 0001-01-01T00:00:00Z, .NET's MinValue the same), not a time.
EARLIEST_VERSION = datetime(1970, 1, 1, tzinfo=UTC)
VERSION_AHEAD = timedelta(days=1)
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
_EARLIEST_VERSION_TEXT = version_text(EARLIEST_VERSION)
_EARLIEST_TIME_TEXT = version_text(EARLIEST_TIME)


def _may_hold_times(prop: Any) -> bool:
    """Whether a property is a timestamp or may hold one (a list of them, an embedded object, extensions)."""
    if isinstance(prop, stix2.properties.ListProperty):
        contained = prop.contained
        if isinstance(contained, stix2.properties.Property):
            return _may_hold_times(contained)
        return isinstance(contained, type) and bool(_time_properties(contained))
    if isinstance(prop, stix2.properties.EmbeddedObjectProperty):
        return bool(_time_properties(prop.type))
    return isinstance(prop, stix2.properties.TimestampProperty | stix2.properties.ExtensionsProperty)


@cache
def _time_properties(cls: Any) -> tuple[tuple[str, Any], ...]:
    """The properties of a library class (an object type, an extension, an embedded type) that may hold a time."""
    return tuple((name, prop) for name, prop in getattr(cls, "_properties", {}).items() if _may_hold_times(prop))


@cache
def _time_shape(cls: Any) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """A type's timestamp properties, and those that may hold one deeper (read on every object: kept apart)."""
    properties = _time_properties(cls)
    top = tuple(n for n, p in properties if isinstance(p, stix2.properties.TimestampProperty))
    return top, tuple((n, p) for n, p in properties if n not in top)


def _times(value: Any, prop: Any, at: tuple[str | int, ...]) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Every timestamp in a property's value, with where it sits."""
    if isinstance(prop, stix2.properties.TimestampProperty):
        if isinstance(value, str):
            yield at, value
    elif isinstance(prop, stix2.properties.ListProperty) and isinstance(value, list):
        for index, each in enumerate(value):
            if isinstance(prop.contained, stix2.properties.Property):
                yield from _times(each, prop.contained, (*at, index))
            elif isinstance(each, dict):
                yield from _times_in(each, prop.contained, (*at, index))
    elif isinstance(prop, stix2.properties.EmbeddedObjectProperty) and isinstance(value, dict):
        yield from _times_in(value, prop.type, at)
    elif isinstance(prop, stix2.properties.ExtensionsProperty) and isinstance(value, dict):
        for name, extension in value.items():
            cls = class_for_type(name, "2.1", "extensions")
            if cls is not None and isinstance(extension, dict):
                yield from _times_in(extension, cls, (*at, name))


def _times_in(obj: dict[str, Any], cls: Any, at: tuple[str | int, ...]) -> Iterable[tuple[tuple[str | int, ...], str]]:
    for name, prop in _time_properties(cls):
        if name in obj:
            yield from _times(obj[name], prop, (*at, name))


# every type the library knows, read once at import: what submissions have held leaves no trace in these caches
# (the time a check takes never tells whether another party's submission held a type before)
for _kind in ("objects", "observables", "extensions"):
    for _cls in stix2.registry.STIX2_OBJ_MAPS["2.1"][_kind].values():
        _time_shape(_cls)


_OBSERVABLE_TYPES = frozenset(stix2.registry.STIX2_OBJ_MAPS["2.1"]["observables"])  # spec_version may be left out


def _class_of(stix_type: Any) -> Any:
    if not isinstance(stix_type, str):
        return None
    return class_for_type(stix_type, "2.1", "objects") or class_for_type(stix_type, "2.1", "observables")


def _sortable(text: str) -> str | None:
    """`sortable_time`, or None for what is not a time (check_object has said so)."""
    try:
        return sortable_time(text)
    except ValueError:
        return None


@lru_cache(maxsize=4)
def _latest_version(now: datetime) -> str:
    return version_text(now + VERSION_AHEAD)


def out_of_range(at: tuple[str | int, ...], obj: dict[str, Any], now: datetime) -> list[Problem]:
    """Where the object's timestamps leave the cell's range (above), `now` being the cell's clock: none for an
    object that passed check_object and keeps to it. Compared as text spelled as versions are (text order is time
    order), not as a datetime per timestamp: this runs on every object of every submission."""
    cls = _class_of(obj.get("type"))
    if cls is None:
        return []
    latest = _latest_version(now)
    problems = []
    top, nested = _time_shape(cls)
    found = [((name,), obj[name]) for name in top if isinstance(obj.get(name), str)]
    for name, prop in nested:
        if name in obj:
            found += _times(obj[name], prop, (name,))
    for where, text in found:
        stamp = _sortable(text)
        if stamp is None:
            continue
        if where in (("created",), ("modified",)):
            if _EARLIEST_VERSION_TEXT <= stamp <= latest:
                continue
            field = where[0]
            if stamp < _EARLIEST_VERSION_TEXT:
                reason = f"{field} is before {stamp_text(EARLIEST_VERSION)}: no STIX object was made then"
            else:
                reason = (
                    f"{field} is more than a day past the cell's clock (at most {stamp_text(now + VERSION_AHEAD)}): "
                    "a version dated in the future would stay the newest for as long"
                )
        elif stamp >= _EARLIEST_TIME_TEXT:
            continue
        else:
            field = ".".join(str(step) for step in where)
            reason = (
                f"{field} is before {stamp_text(EARLIEST_TIME)}: tools write such a date for no date at all; leave the "
                "property out"
            )
        problems.append(Problem((*at, *where), obj.get("id") if isinstance(obj.get("id"), str) else None, reason))
    return problems


def submission_out_of_range(body: Any, objects: list[dict[str, Any]], now: datetime) -> list[Problem]:
    """out_of_range for every object of a submission that passed check_submission, placed in the request body."""
    _, prefix = objects_of(body)
    return [problem for i, o in enumerate(objects) for problem in out_of_range(_position(prefix, i), o, now)]


@dataclass(frozen=True)
class Change:
    name: str  # the property
    kind: str  # "changed", "added" or "removed"
    before: Any  # its value in the earlier version (None if added)
    after: Any  # in the later one (None if removed)


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """From one version of an object to another: the properties changed, then added, then removed, each by name."""
    changed = [
        Change(k, "changed", before[k], after[k]) for k in sorted(before.keys() & after.keys()) if before[k] != after[k]
    ]
    added = [Change(k, "added", None, after[k]) for k in sorted(after.keys() - before.keys())]
    removed = [Change(k, "removed", before[k], None) for k in sorted(before.keys() - after.keys())]
    return changed + added + removed


def objects_of(body: Any) -> tuple[list[Any], tuple[str | int, ...]]:
    """The objects of a bundle, a plain list of objects, or a single object, and where each one sits in the
    request body (the position of object i is that prefix + (i,), except for a single object)."""
    if isinstance(body, dict) and body.get("type") == "bundle":
        objects = body.get("objects")
        return (objects if isinstance(objects, list) else []), ("stix", "objects")
    if isinstance(body, list):
        return body, ("stix",)
    return [body], ()


def _field_of(error: Exception) -> str | None:
    prop = getattr(error, "prop_name", None)
    if isinstance(prop, str):
        return prop
    props = getattr(error, "properties", None)
    if props:
        return sorted(props)[0]
    if "object type" in str(error):
        return "type"
    found = _FIELD.search(str(error))
    return next((g for g in found.groups() if g), None) if found else None


def _parse(obj: dict[str, Any]) -> None:
    """stix2's own check of the object. An indicator whose STIX 2.1 pattern is of the common shape has that
    pattern checked by the fast path, and the rest of it by stix2 told the pattern is another language (the one
    thing stix2 does with pattern_type "stix" is run stix2-patterns on the pattern): the same verdict, without
    the ANTLR parser, which is most of an indicator's cost."""
    pattern = obj.get("pattern")
    if (
        obj.get("type") == "indicator"
        and obj.get("pattern_type") == "stix"
        and obj.get("pattern_version", "2.1") == "2.1"
        and isinstance(pattern, str)
        and plainly_valid(pattern)
    ):
        obj = {**obj, "pattern_type": "pcre", "pattern_version": "2.1"}
    stix2.parse(obj, allow_custom=False, version="2.1")


def _pattern_refused(obj: dict[str, Any]) -> bool:
    pattern = obj.get("pattern")
    if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix" or not isinstance(pattern, str):
        return False
    try:
        return bool(run_validator(pattern, obj.get("pattern_version") or "2.1"))
    except Exception:  # RecursionError past about 975 comparisons, ValueError past 4,300 index digits
        return True


def _refusal(at: tuple[str | int, ...], obj: dict[str, Any], stix_id: str | None, error: Exception) -> Problem:
    """The library's refusal as a problem at the field it names. Errors from inside stix2-patterns (its parser
    out of stack on a very long pattern, an index too long for int()) name none: they are the pattern's."""
    field = _field_of(error)
    reason = str(error) or error.__class__.__name__
    if field is None and not isinstance(error, stix2.exceptions.STIXError) and _pattern_refused(obj):
        field = "pattern"
        if isinstance(error, RecursionError):
            reason = "too long or too deeply nested for the pattern checker: split it into several indicators"
    return Problem((*at, field) if field else at, stix_id, reason)


def check_object(
    at: tuple[str | int, ...], obj: Any, *, plain: bool | None = None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The object if it passes the `stix2` library's STIX 2.1 rules, has an id and carries a TLP marking; else why
    not. `plain`: whether plain.py already found it valid (then the library need not build it)."""
    if not isinstance(obj, dict):
        return None, [Problem(at, None, "a STIX object is a JSON object")]
    stix_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    if obj.get("spec_version", "2.1") != "2.1":
        return None, [Problem((*at, "spec_version"), stix_id, "only STIX 2.1 objects are accepted")]
    if "spec_version" not in obj and not (isinstance(obj.get("type"), str) and obj["type"] in _OBSERVABLE_TYPES):
        # STIX 2.1 §3.2: without spec_version an object is STIX 2.0 (a cyber-observable, new in 2.1, excepted)
        reason = 'without spec_version this object is STIX 2.0; only 2.1 is accepted: add "spec_version": "2.1"'
        return None, [Problem((*at, "spec_version"), stix_id, reason)]
    if not isinstance(obj.get("id"), str):  # the library makes one up for null or []; a shared object keeps its own
        return None, [Problem((*at, "id"), None, "every object needs its id, as text: <type>--<UUID>")]
    if not (plainly_valid_object(obj) if plain is None else plain):
        try:
            _parse(obj)
        except Exception as error:  # the library's refusal, whatever it raises (some surface as AttributeError)
            return None, [_refusal(at, obj, stix_id, error)]
        loose = converted(obj)  # the fast path takes no such value
        if loose is not None:
            where, need = loose
            field = ".".join(str(step) for step in where)
            reason = f"{field} {need}: stix2 would convert or drop this value, and objects are served as sent"
            return None, [Problem((*at, *where), stix_id, reason)]
    if obj.get("type") == "marking-definition" and obj.get("id") in LEVEL_OF_ID:
        return None, [
            Problem(
                (*at, "id"),
                stix_id,
                "TLP marking definitions are fixed by the standard: leave them out and refer to them by id",
            )
        ]
    if obj.get("type") != "marking-definition" and tlp_of(obj) is None:
        return None, [
            Problem(
                (*at, "object_marking_refs"),
                stix_id,
                "no TLP marking: add a TLP 2.0 marking-definition id (e.g. TLP:GREEN "
                "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb) to object_marking_refs",
            )
        ]
    return obj, []


def _position(prefix: tuple[str | int, ...], index: int) -> tuple[str | int, ...]:
    """Where object `index` sits in the request body (a lone object sits at its root)."""
    return (*prefix, index) if prefix else ("stix",)


def position_in(body: Any, index: int) -> tuple[str | int, ...]:
    """Where object `index` of a submission sits in its request body."""
    return _position(objects_of(body)[1], index)


def _check_some(prefix: tuple[str | int, ...], some: list[tuple[int, Any]]) -> list[list[Problem]]:
    """The problems of each of some objects, by the library (run in a worker process for large submissions)."""
    return [check_object(_position(prefix, index), obj, plain=False)[1] for index, obj in some]


# Many objects the fast path cannot read are checked on every core: the stix2 library builds each, in pure Python.
PARALLEL_FROM = 200
_pool: ProcessPoolExecutor | None = None
_pool_owner: int | None = None
_pool_lock = threading.Lock()


def _worker_start(parent: int) -> None:
    """In each checker: load the library's classes now, and leave when the server does (however it ends)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="fusioncell-parent-watch", daemon=True).start()
    stix2.parse({"type": "ipv4-addr", "value": "192.0.2.1"}, allow_custom=False, version="2.1")


def checking_pool(workers: int) -> ProcessPoolExecutor:
    """This process's pool of checkers (spawned, not forked: the server has threads), made on first use."""
    global _pool, _pool_owner
    with _pool_lock:
        if _pool is None or _pool_owner != os.getpid():
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),)
            )
            _pool_owner = os.getpid()
            atexit.register(close_pool)
        return _pool


def _ready() -> None:
    """Nothing: a task that makes the pool start a worker."""


def warm_pool(workers: int) -> None:
    """Start the checkers now (a server at start-up), so the first large submission does not wait for them."""
    if workers > 1:
        pool = checking_pool(workers)
        for _ in range(workers):
            pool.submit(_ready)


def close_pool() -> None:
    """Stop this process's checkers (the server's shutdown; also at exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool_owner == os.getpid():
            _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def _problems_by_object(prefix: tuple[str | int, ...], objects: list[Any], workers: int) -> list[list[Problem]]:
    """Each object's problems. Objects of the common shape are read here (plain.py); the library builds the rest,
    in `workers` processes when there are many."""
    found: list[list[Problem]] = []
    rest: list[tuple[int, Any]] = []
    for index, obj in enumerate(objects):
        if plainly_valid_object(obj):
            found.append(check_object(_position(prefix, index), obj, plain=True)[1])
        else:
            found.append([])
            rest.append((index, obj))
    if workers <= 1 or len(rest) < PARALLEL_FROM:
        checked = _check_some(prefix, rest)
    else:
        size = -(-len(rest) // workers)
        pool = checking_pool(workers)
        parts = [pool.submit(_check_some, prefix, rest[start : start + size]) for start in range(0, len(rest), size)]
        checked = [problems for part in parts for problems in part.result()]
    for (index, _), problems in zip(rest, checked, strict=True):
        found[index] = problems
    return found


def check_submission(body: Any, *, workers: int = 1) -> tuple[Checked | None, list[Problem]]:
    """The checked objects and their marking, or every problem found (then nothing may be stored). With more than
    one worker, a large submission is checked in that many processes."""
    objects, prefix = objects_of(body)
    if not objects:
        return None, [Problem(("stix",), None, "no STIX object: send a bundle with objects, or a list of objects")]
    if len(objects) > MAX_OBJECTS:
        return None, [Problem(("stix",), None, f"at most {MAX_OBJECTS} objects per submission")]
    problems: list[Problem] = []
    good: list[tuple[int, dict[str, Any]]] = []
    for index, (obj, found) in enumerate(zip(objects, _problems_by_object(prefix, objects, workers), strict=True)):
        problems += found
        if not found:
            good.append((index, obj))
    if problems:
        return None, problems
    checked_objects = [o for _, o in good]
    versions = [version_of(o) for o in checked_objects]
    seen: set[tuple[str, str | None]] = set()
    for index, (obj, version) in enumerate(zip(checked_objects, versions, strict=True)):
        if (obj["id"], version) in seen:  # "…00Z" and "…00.000Z" are the same version
            problem = "this object version is already in the submission"
            return None, [Problem((*prefix, index, "id"), obj["id"], problem)]
        seen.add((obj["id"], version))
    text = encode(checked_objects)
    if _may_break_text_rule(text):  # one look at the whole text; object by object only to say where
        found = [p for i, o in enumerate(checked_objects) for p in text_problems(_position(prefix, i), o)]
        if found:
            return None, found
    try:
        digest = sha256(text)
    except UnicodeEncodeError:  # checked once on the whole text, object by object only to say which
        return None, [
            Problem((*prefix, i) if prefix else ("stix",), o.get("id"), LONE_SURROGATE)
            for i, o in enumerate(checked_objects)
            if not encodable(o)
        ]
    levels = [level for level in (tlp_of(o) for o in checked_objects) if level is not None]
    return Checked(checked_objects, max(levels, default=Tlp.CLEAR), versions, text, digest), []


LONE_SURROGATE = "a text holds a lone UTF-16 surrogate, which is not a character"


# ---- the text rule (fusioncell.text) in STIX content ---------------------------------------------------------------

# In the stored JSON (json.dumps escapes C0 controls and writes every other character as it is): an escape other
# than \" \\ \/ (a control, or a tab or newline, which a value may hold and a name may not), or a character the
# rule refuses or checks the place of. Only text holding one, or not in NFC, is looked at string by string.
_ESCAPE = re.compile(r'\\[^"\\/]')
_CHECKED = re.compile(f"[{text_rule.checked_characters()}]")


def _may_break_text_rule(text: str) -> bool:
    if text.isascii():  # the common case, at memory speed
        return ("\\" in text and _ESCAPE.search(text) is not None) or "\x7f" in text
    return bool(_ESCAPE.search(text) or _CHECKED.search(text)) or not unicodedata.is_normalized("NFC", text)


def text_problems(at: tuple[str | int, ...], obj: Any) -> list[Problem]:
    """Every string in an object, property names and dictionary keys included, held to the text rule: a value may
    hold lines, a name is one line; and each already in NFC. STIX content is refused, never normalised, unlike the
    other text a client sends: objects are served byte for byte as submitted, under ids and versions that other
    systems hold and hash too, so a normalised text would be another object under the same version."""
    stix_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
    found: list[tuple[tuple[str | int, ...], str]] = []
    _refusals(obj, at, found)
    return [Problem(where, stix_id, reason) for where, reason in found]


def _refusals(value: Any, at: tuple[str | int, ...], found: list[tuple[tuple[str | int, ...], str]]) -> None:
    # printable ASCII needs no closer look (most of it): the path to a string is built only for one that does
    if isinstance(value, str):
        if (reason := _text_refusal(value, lines=True)) is not None:
            found.append((at, reason))
        return
    items: Iterable[tuple[str | int, Any]] = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, each in items:
        if isinstance(key, str) and (reason := _text_refusal(key, lines=False)) is not None:
            found.append(((*at, key), f"the name {reason}"))
        if isinstance(each, str):
            if (reason := _text_refusal(each, lines=True)) is not None:
                found.append(((*at, key), reason))
        elif isinstance(each, dict | list):
            _refusals(each, (*at, key), found)


def _text_refusal(value: str, *, lines: bool) -> str | None:
    if value.isascii() and value.isprintable():
        return None
    found = text_rule.refusal(value, lines=lines)
    if found is not None:
        return str(found)
    position = text_rule.not_nfc_at(value)
    if position is not None:
        return (
            f"not in Unicode normalisation form C from position {position}: send it in NFC (objects are served as "
            "sent, so the cell does not normalise them)"
        )
    return None


def encodable(obj: Any) -> bool:
    """Whether the value can be written as UTF-8 (a lone surrogate, valid in JSON escapes, cannot)."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def summary(objects: list[dict[str, Any]]) -> str:
    counts = Counter(o["type"] for o in objects)
    parts = [t if n == 1 else f"{t} ×{n}" for t, n in counts.most_common()]
    text = ", ".join(parts)
    return text if len(text) <= 200 else text[:199] + "…"


def encode(objects: list[dict[str, Any]]) -> str:
    return json.dumps(objects, ensure_ascii=False, separators=(",", ":"))


def with_objects(fields: dict[str, Any], stored: Iterable[str]) -> str:
    """A JSON object of `fields` and `objects`, the stored objects' JSON spliced in: a page of objects is never
    decoded and encoded again on its way out (REST and TAXII alike)."""
    head = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[:-1]
    return head + ("," if fields else "") + '"objects":[' + ",".join(stored) + "]}"

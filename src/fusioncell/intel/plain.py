"""A fast path for STIX 2.1 objects of the common shape: it only ever accepts, and stix2 decides everything else.

The stix2 library checks an object by building it: a Python instance, each property cleaned through a chain of
mappings, each timestamp through strptime. That is most of an ingest's cost. An object this module accepts is one
stix2 would accept, read straight from its JSON:

- its type is one listed here, whose constraints between properties (first_seen before last_seen, valid_from
  before valid_until, a malware family's name, an indicator's pattern) are written out below;
- every property is one the type defines (the library's own table), of a kind read here, in its plain JSON form:
  text, vocabularies and enumerations, identifiers and references (the reference's type judged by the library
  itself, once per type), timestamps, booleans, integers, lists of those, kill-chain phases and external
  references;
- every property the type requires is there, and its id.

Anything else (other types, unknown or custom properties, extensions, granular markings, hashes, dictionaries,
null or empty values, empty text, values stix2 would coerce, such as a number where text is due) is not refused
here: it goes to stix2, which gives the verdict and the error. tests/intel/test_plain.py holds this module to
the library's verdict over generated and mutated objects, and checks that the library's constraints are still
the ones written here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stix2 import properties as p
from stix2.registry import STIX2_OBJ_MAPS, class_for_type
from stix2.v21.common import ExternalReference, KillChainPhase

from fusioncell.intel.patterns import plainly_valid

Check = Callable[[Any], bool]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"  # RFC 4122 variant, as stix2 asks
_UUID_PART = re.compile(_UUID)
_REFERENCE = re.compile(rf"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)--{_UUID}")
# STIX's own spelling of a timestamp, as stix2's strptime reads it (one to six fraction digits), ASCII digits only
TIMESTAMP = re.compile(r"(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2}))(?:\.([0-9]{1,6}))?Z")
_SAMPLE_UUID = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"


def moment(text: str) -> datetime | None:
    """The timestamp stix2 reads from the text (its strptime formats, fractions of one to six digits), for the
    plain spelling; None for any other, which is then left to the library. Not cached: a cache shared by every
    submission would answer faster for a timestamp another delegation sent, and at 0.5 us this needs none."""
    if TIMESTAMP.fullmatch(text) is None:
        return None
    try:  # the spelling is checked: Python's ISO reader, without the Z, reads it as stix2's strptime does
        return datetime.fromisoformat(text[:-1])
    except ValueError:  # the 30th of February, hour 24, second 60: strptime refuses them too
        return None


def _is_text(value: Any) -> bool:
    """Text, not empty: the library drops an empty relationship_type or sighting_of_ref (its constructors read
    them as positional arguments, falsy as missing); empty text anywhere is left to it."""
    return type(value) is str and value != ""


def _is_timestamp(value: Any) -> bool:
    return type(value) is str and moment(value) is not None


def _is_boolean(value: Any) -> bool:
    return value is True or value is False


def _type_allowed(prop: p.ReferenceProperty, stix_type: str) -> bool:
    """Whether the library takes a reference to this type here (valid and invalid types, SDO or SCO classes,
    custom types refused): asked of the library itself, with an identifier of that type."""
    try:
        prop.clean(f"{stix_type}--{_SAMPLE_UUID}", False)
    except Exception:  # the library's refusal, whatever it raises
        return False
    return True


# The types the library knows: a reference property's verdict on each is asked once, when the property's check is
# made, not remembered as submissions bring them (that would keep a trace of what others sent).
_KNOWN_TYPES = frozenset(STIX2_OBJ_MAPS["2.1"]["objects"]) | frozenset(STIX2_OBJ_MAPS["2.1"]["observables"])


def _kind(prop: p.Property) -> Check | None:
    """How a value of this property is checked; None for a kind left to the library."""
    if hasattr(prop, "_fixed_value"):  # type, spec_version
        fixed = prop._fixed_value
        return lambda value: type(value) is str and value == fixed
    kind = type(prop)
    if kind in (p.StringProperty, p.OpenVocabProperty, p.PatternProperty):
        return _is_text
    if kind is p.EnumProperty:
        allowed = frozenset(prop.allowed)
        return lambda value: type(value) is str and value in allowed
    if kind is p.IDProperty:
        prefix = prop.required_prefix
        start = len(prefix)
        return lambda value: (
            type(value) is str and value.startswith(prefix) and _UUID_PART.fullmatch(value, start) is not None
        )
    if kind is p.ReferenceProperty:
        allowed = frozenset(t for t in _KNOWN_TYPES if _type_allowed(prop, t))

        def reference(value: Any) -> bool:
            if type(value) is not str:
                return False
            found = _REFERENCE.fullmatch(value)
            if found is None:
                return False
            stix_type = found.group(1)
            return stix_type in allowed if stix_type in _KNOWN_TYPES else _type_allowed(prop, stix_type)

        return reference
    if kind is p.TimestampProperty:
        return _is_timestamp
    if kind is p.BooleanProperty:
        return _is_boolean
    if kind is p.IntegerProperty:
        low, high = prop.min, prop.max
        return lambda value: type(value) is int and (low is None or value >= low) and (high is None or value <= high)
    if kind is p.ListProperty:
        contained = prop.contained
        if isinstance(contained, p.Property):
            each = _kind(contained)
        elif contained is KillChainPhase:
            each = _kill_chain_phase
        elif contained is ExternalReference:
            each = _external_reference
        else:
            return None
        if each is None:
            return None
        check = each
        return lambda value: type(value) is list and len(value) > 0 and all(check(v) for v in value)
    return None


def _kill_chain_phase(value: Any) -> bool:
    return (
        type(value) is dict
        and len(value) == 2
        and _is_text(value.get("kill_chain_name"))
        and _is_text(value.get("phase_name"))
    )


_REFERENCE_KEYS = frozenset({"source_name", "description", "url", "external_id"})  # hashes: left to the library


def _external_reference(value: Any) -> bool:
    """source_name, and at least one of description, url and external_id, all text."""
    return (
        type(value) is dict
        and value.keys() <= _REFERENCE_KEYS
        and "source_name" in value
        and len(value) >= 2
        and all(_is_text(v) for v in value.values())
    )


# -- each type's constraints between properties, as the library's classes write them ---------------------------


def _ordered(obj: dict[str, Any], first: str, last: str, *, strictly: bool) -> bool:
    if first not in obj or last not in obj:
        return True
    start, end = moment(obj[first]), moment(obj[last])
    assert start is not None and end is not None  # both passed _is_timestamp
    return end > start if strictly else end >= start


def _seen(obj: dict[str, Any]) -> bool:
    return _ordered(obj, "first_seen", "last_seen", strictly=False)


def _indicator(obj: dict[str, Any]) -> bool:
    """valid_until after valid_from (which the library sets to the present when it is missing: that case is left
    to it); a STIX pattern of the common shape (patterns.py), in pattern language 2.1."""
    if "valid_until" in obj and "valid_from" not in obj:
        return False
    if not _ordered(obj, "valid_from", "valid_until", strictly=True):
        return False
    if obj["pattern_type"] != "stix":
        return True  # the library reads no other pattern language
    return obj.get("pattern_version", "2.1") == "2.1" and plainly_valid(obj["pattern"]) is True


def _malware(obj: dict[str, Any]) -> bool:
    return _seen(obj) and (obj["is_family"] is False or "name" in obj)


def _relationship(obj: dict[str, Any]) -> bool:
    return _ordered(obj, "start_time", "stop_time", strictly=True)


def _none(obj: dict[str, Any]) -> bool:
    return True


CONSTRAINTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "indicator": _indicator,
    "malware": _malware,
    "relationship": _relationship,
    "sighting": _seen,
    "campaign": _seen,
    "infrastructure": _seen,
    "intrusion-set": _seen,
    "threat-actor": _seen,
    # types whose classes add no constraint of their own
    **dict.fromkeys(
        [
            "attack-pattern", "course-of-action", "grouping", "identity", "incident", "note", "opinion", "report",
            "tool", "vulnerability", "autonomous-system", "directory", "domain-name", "email-addr", "ipv4-addr",
            "ipv6-addr", "mac-addr", "mutex", "software", "url", "user-account", "windows-registry-key",
        ],
        _none,
    ),
}  # fmt: skip


class _Shape:
    """A type's properties as read here: how each is checked (None: left to the library), which are required."""

    def __init__(self, stix_type: str) -> None:
        cls = class_for_type(stix_type, "2.1", "objects") or class_for_type(stix_type, "2.1", "observables")
        self.cls = cls
        self.checks: dict[str, Check | None] = {name: _kind(prop) for name, prop in cls._properties.items()}
        # and the id, which the library would make up (hashing an observable's properties, which can fail)
        self.required = frozenset(name for name, prop in cls._properties.items() if prop.required) | {"id"}
        self.constraint = CONSTRAINTS[stix_type]


SHAPES = {stix_type: _Shape(stix_type) for stix_type in CONSTRAINTS}


def plainly_valid_object(obj: Any) -> bool:
    """True if stix2 accepts this STIX 2.1 object (allow_custom=False) and it is of the shape read here; False says
    only that the library must decide."""
    if type(obj) is not dict:
        return False
    stix_type = obj.get("type")
    shape = SHAPES.get(stix_type) if type(stix_type) is str else None
    if shape is None or not shape.required <= obj.keys():
        return False
    checks = shape.checks
    for name, value in obj.items():
        check = checks.get(name)
        if check is None or not check(value):
            return False
    return shape.constraint(obj)


# -- values the library would convert ---------------------------------------------------------------------------

_TEXT_KINDS = (p.StringProperty, p.OpenVocabProperty, p.EnumProperty, p.PatternProperty, p.TypeProperty)
_ANY_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IDENTIFIER = re.compile(rf"[a-z][a-z0-9-]*--{_ANY_UUID}")  # not {…}, urn:uuid:… or unhyphenated, which stix2 reads
Path = tuple[str | int, ...]


def _json_kind(prop: p.Property, value: Any) -> tuple[Path, str] | None:
    """Where, below the value, and what is wrong with it as JSON, if the library would take it only by converting
    or dropping it; None if it is as the library takes it (or of a kind not looked at here: dictionaries,
    hashes, extensions, embedded objects)."""
    if value is None or value == []:
        return (), "has no value (null or an empty list): leave it out"
    kind = type(prop)
    if issubclass(kind, _TEXT_KINDS):
        return None if type(value) is str else ((), "must be text")
    if kind in (p.IDProperty, p.ReferenceProperty):
        plain = type(value) is str and _IDENTIFIER.fullmatch(value)
        return None if plain else ((), "must be an identifier written <type>--<UUID>, the UUID hyphenated")
    if kind is p.TimestampProperty:
        plain = type(value) is str and moment(value) is not None
        return None if plain else ((), "must be a timestamp written YYYY-MM-DDTHH:mm:ss[.ssssss]Z")
    if kind is p.BooleanProperty:
        return None if type(value) is bool else ((), "must be true or false")
    if kind is p.IntegerProperty:  # 50.0 is an integer to JSON Schema, as the STIX schemas read it
        whole = type(value) is int or (type(value) is float and value.is_integer())
        return None if whole else ((), "must be an integer")
    if kind is p.FloatProperty:
        return None if type(value) in (int, float) else ((), "must be a number")
    if kind is p.ListProperty:
        if type(value) is not list:
            return (), "must be a list"
        for index, item in enumerate(value):
            found = _item_kind(prop.contained, item)
            if found:
                return (index, *found[0]), found[1]
    return None


def _item_kind(contained: Any, value: Any) -> tuple[Path, str] | None:
    if isinstance(contained, p.Property):
        return _json_kind(contained, value)
    if isinstance(contained, type) and hasattr(contained, "_properties"):  # kill-chain phases, references, …
        if type(value) is not dict:
            return (), "must be an object"
        return _members_kind(contained, value)
    return None


def _members_kind(cls: Any, obj: dict[str, Any]) -> tuple[Path, str] | None:
    for name, value in obj.items():
        prop = cls._properties.get(name)
        found = None if prop is None else _json_kind(prop, value)
        if found:
            return (name, *found[0]), found[1]
    return None


def converted(obj: dict[str, Any]) -> tuple[Path, str] | None:
    """Where (a path into the object) and what is wrong with the first value stix2 accepts only by converting it
    (a number where text is due, "true" for a boolean, one string for a list, a loosely written timestamp or
    identifier) or by ignoring it (null, an empty list). Stored and served as sent, such a value would reach
    readers as something STIX does not allow. None if there is none. Dictionaries, hashes, extensions and
    embedded objects are not looked into."""
    stix_type = obj.get("type")
    if type(stix_type) is not str:
        return None
    cls = class_for_type(stix_type, "2.1", "objects") or class_for_type(stix_type, "2.1", "observables")
    return None if cls is None else _members_kind(cls, obj)

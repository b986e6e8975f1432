"""Checking STIX content (pure): TLP markings both versions, and the parallel check agreeing with the plain one."""

from __future__ import annotations

import pytest
import stix2
import stix2.v21

from fusioncell.intel import stix
from fusioncell.intel.markings import TLP1_IDS, TLP2_IDS, Tlp, tlp_of, with_tlp
from tests.intel.stixdata import indicator


def test_tlp_levels_and_their_marking_ids() -> None:
    assert [Tlp.parse(t) for t in ("clear", "WHITE", "tlp:green", "Amber", "amber+strict", "TLP:RED")] == [
        Tlp.CLEAR, Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        Tlp.parse("purple")
    # TLP 1.0 ids as the stix2 library defines them
    assert TLP1_IDS[Tlp.CLEAR] == stix2.v21.TLP_WHITE.id and TLP1_IDS[Tlp.RED] == stix2.v21.TLP_RED.id
    assert TLP1_IDS[Tlp.GREEN] == stix2.v21.TLP_GREEN.id and TLP1_IDS[Tlp.AMBER] == stix2.v21.TLP_AMBER.id
    assert len(set(TLP2_IDS.values()) | set(TLP1_IDS.values())) == 9
    obj = indicator(object_marking_refs=[TLP1_IDS[Tlp.GREEN], TLP2_IDS[Tlp.AMBER], "marking-definition--x"])
    assert tlp_of(obj) is Tlp.AMBER
    raised = with_tlp(obj, Tlp.RED)
    assert raised["object_marking_refs"] == ["marking-definition--x", TLP2_IDS[Tlp.RED]]
    granular = indicator(
        object_marking_refs=None, granular_markings=[{"marking_ref": TLP2_IDS[Tlp.RED], "selectors": ["name"]}]
    )
    assert tlp_of(granular) is Tlp.RED


def test_large_submissions_are_checked_in_parallel_with_the_same_answers() -> None:
    """Objects the fast path leaves to the library (here, an external reference with hashes) go to the pool."""
    source = [{"source_name": "sy-desk", "url": "https://example.org/17", "hashes": {"SHA-256": "ab" * 32}}]
    objects = [indicator(name=f"n{i}", external_references=source) for i in range(stix.PARALLEL_FROM + 50)]
    objects[7] = indicator(pattern="[ipv4-addr:value = ")
    objects[-1] = indicator(object_marking_refs=None, external_references=source)
    plain = stix.check_submission(objects, workers=1)
    try:
        parallel = stix.check_submission(objects, workers=2)
        assert stix._pool is not None  # the library's checks ran in the workers
    finally:
        stix.close_pool()
    assert plain[0] is None and parallel[0] is None
    assert [p.as_error() for p in plain[1]] == [p.as_error() for p in parallel[1]]
    assert [p.at for p in plain[1]] == [("stix", 7, "pattern"), ("stix", len(objects) - 1, "object_marking_refs")]


@pytest.mark.parametrize(
    "stamp",
    ["2026-03-02T05:00:00Z", "2026-03-02T05:00:00.1Z", "2026-03-02T05:00:00.123Z", "2026-03-02T05:00:00.123456Z",
     "2026-03-02t05:00:00.000z", "0999-01-01T00:00:00Z"],
)  # fmt: skip
def test_versions_are_one_spelling_whatever_the_precision(stamp: str) -> None:
    from datetime import UTC, datetime

    from fusioncell.intel.service import _version
    from fusioncell.intel.stix import stix_time, version_text

    assert _version({"modified": stamp}, datetime.now(UTC)) == version_text(stix_time(stamp))
    assert len(_version({"created": stamp}, datetime.now(UTC))) == len("2026-03-02T05:00:00.000000Z")
    # text order is time order, whatever the year
    assert _version({"modified": "0999-01-01T00:00:00Z"}, datetime.now(UTC)) < _version(
        {"modified": stamp}, datetime.now(UTC)
    ) or stamp.startswith("0999")


@pytest.mark.parametrize(
    ("extra", "where", "need"),
    [
        ({"labels": [1]}, ("labels", 0), "must be text"),
        ({"labels": ["launch", None]}, ("labels", 1), "has no value"),
        ({"name": 7}, ("name",), "must be text"),
        ({"revoked": "true"}, ("revoked",), "must be true or false"),
        ({"confidence": "50"}, ("confidence",), "must be an integer"),
        ({"confidence": True}, ("confidence",), "must be an integer"),
        ({"labels": "launch"}, ("labels",), "must be a list"),
        ({"labels": []}, ("labels",), "has no value"),
        ({"description": None}, ("description",), "has no value"),
        ({"valid_from": "2026-3-2T5:00:00Z"}, ("valid_from",), "must be a timestamp"),
        ({"valid_from": "2026-03-02t05:00:00z"}, ("valid_from",), "must be a timestamp"),
        ({"created_by_ref": "identity--{6ba7b810-9dad-41d1-80b4-00c04fd430c8}"}, ("created_by_ref",), "identifier"),
        ({"created_by_ref": "identity--urn:uuid:6ba7b810-9dad-41d1-80b4-00c04fd430c8"}, ("created_by_ref",),
         "identifier"),
        ({"kill_chain_phases": [{"kill_chain_name": "lm", "phase_name": 3}]}, ("kill_chain_phases", 0, "phase_name"),
         "must be text"),
        ({"external_references": [{"source_name": "x", "url": 17}]}, ("external_references", 0, "url"), "must be text"),
    ],
)  # fmt: skip
def test_values_the_library_would_convert_are_refused(extra: dict, where: tuple, need: str) -> None:
    """stix2 accepts these by converting them (str(7), "true" as True, one string as a list, a loose timestamp or
    identifier) or by ignoring them (null, []); stored and served as sent, they would reach readers as what STIX
    does not allow. The problem points at the very value."""
    obj = {**indicator(), **extra}
    assert stix2.parse(obj, allow_custom=False, version="2.1")  # the library takes it
    _, problems = stix.check_object(("stix", 0), obj)
    assert [p.at for p in problems] == [("stix", 0, *where)], problems
    assert need in problems[0].reason and "served as sent" in problems[0].reason


def test_what_json_and_stix_allow_is_taken_as_sent() -> None:
    """A whole number written 50.0 is an integer to JSON Schema; a UUID in capitals is an RFC 4122 UUID."""
    for extra in ({"confidence": 50.0}, {"created_by_ref": "identity--6BA7B810-9DAD-41D1-80B4-00C04FD430C8"}):
        obj = {**indicator(), **extra}
        assert stix.check_object(("stix", 0), obj) == (obj, []), extra


def test_a_new_version_follows_whatever_is_stored() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, 6, 0, 0, 123456, tzinfo=UTC)
    assert stix.next_modified({"modified": "2026-03-01T00:00:00Z"}, now) == "2026-03-02T06:00:00.123Z"
    assert stix.next_modified({"modified": "2026-03-02T06:00:00.123400Z"}, now) == "2026-03-02T06:00:00.124Z"
    assert stix.next_modified({"modified": "9000-01-01T00:00:00Z"}, now) == "9000-01-01T00:00:00.001Z"
    # the last millisecond STIX writes moves to its last microsecond; nothing follows that one
    assert stix.next_modified({"modified": "9999-12-31T23:59:59.999Z"}, now) == "9999-12-31T23:59:59.999999Z"
    assert stix.next_modified({"modified": "9999-12-31T23:59:59.999999Z"}, now) is None


def test_what_a_new_version_changes() -> None:
    before = {"id": "x", "name": "a", "labels": ["p"], "description": "d"}
    after = {"id": "x", "name": "b", "labels": ["p"], "confidence": 40}
    assert [(c.name, c.kind, c.before, c.after) for c in stix.differences(before, after)] == [
        ("name", "changed", "a", "b"), ("confidence", "added", None, 40), ("description", "removed", "d", None),
    ]  # fmt: skip
    assert stix.differences(before, dict(before)) == []


def test_the_timestamp_checks_keep_no_trace_of_what_was_submitted() -> None:
    """Every type's timestamp properties are read at import: checking an object of any type adds nothing to the
    caches, so how long a check takes never tells whether another party's submission held that type before."""
    from datetime import UTC, datetime

    from fusioncell.intel import stix

    before = stix._time_shape.cache_info().currsize, stix._time_properties.cache_info().currsize
    certificate = {"type": "x509-certificate", "spec_version": "2.1", "id": "x509-certificate--" + "1" * 8 + "-1111-"
                   "4111-8111-" + "1" * 12, "validity_not_after": "9999-12-31T23:59:59Z",
                   "x509_v3_extensions": {"private_key_usage_period_not_before": "2026-01-01T00:00:00Z"}}  # fmt: skip
    process = {"type": "process", "spec_version": "2.1", "id": "process--" + "2" * 8 + "-2222-4222-8222-" + "2" * 12,
               "created_time": "2026-01-01T00:00:00Z"}  # fmt: skip
    now = datetime(2026, 3, 2, tzinfo=UTC)
    for obj in (certificate, process):
        assert stix.out_of_range(("stix", 0), obj, now) == []
    assert (stix._time_shape.cache_info().currsize, stix._time_properties.cache_info().currsize) == before


def test_every_type_is_read_before_any_submission() -> None:
    """In a fresh process, before anything is checked, every type the library knows is already read."""
    import subprocess
    import sys

    code = ("import stix2.registry as r, fusioncell.intel.stix as s; m = r.STIX2_OBJ_MAPS['2.1']; "
            "known = {c for k in ('objects', 'observables', 'extensions') for c in m[k].values()}; "
            "print(s._time_shape.cache_info().currsize, len(known))")  # fmt: skip
    cached, known = map(int, subprocess.check_output([sys.executable, "-c", code], text=True).split())
    assert cached == known > 40

"""The charter loader: the example loads; a broken charter is refused with file, field path and problem."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fusioncell.charter import Charter, CharterError, Precedence, load_charter, parse_charter
from fusioncell.charter.model import count_words
from fusioncell.policy import DelegationKind

EXAMPLE = Path(__file__).parents[2] / "charters" / "paris-2026.yaml"
SOURCE = "broken.yaml"


@pytest.fixture(scope="module")
def example_data() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def charter() -> Charter:
    return load_charter(EXAMPLE)


def broken(example_data: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> CharterError:
    """Mutate a copy of the example, parse it, and return the CharterError it must raise."""
    data = copy.deepcopy(example_data)
    mutate(data)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with pytest.raises(CharterError) as excinfo:
        parse_charter(text, SOURCE)
    return excinfo.value


def assert_reported(error: CharterError, *fragments: str, source: str = SOURCE) -> str:
    """Every line names the source; one line carries all the fragments (field path and problem)."""
    message = str(error)
    lines = message.splitlines()
    assert lines, "a CharterError must say something"
    for line in lines:
        assert line.startswith(f"{source}: "), line
    assert error.source == source
    assert error.problems
    matching = [line for line in lines if all(f in line for f in fragments)]
    assert matching, f"no line of the error contains all of {fragments!r}:\n{message}"
    return matching[0]


# ---------------------------------------------------------------------------------------------------------
# The shipped example
# ---------------------------------------------------------------------------------------------------------


def test_example_delegations(charter: Charter) -> None:
    kinds = {d.code: d.kind for d in charter.delegations}
    assert kinds == {
        "SY": DelegationKind.PARTY,
        "IL": DelegationKind.PARTY,
        "US": DelegationKind.MEDIATOR,
        "UNDOF": DelegationKind.OBSERVER,
    }
    assert charter.mediator_code == "US"
    undof = charter.delegation("UNDOF")
    assert undof is not None and undof.joint_reader
    assert charter.delegation("ZZ") is None
    for d in charter.delegations:
        assert set(d.names) == {"en", "ar", "he"}, d.code


def test_example_roster(charter: Charter) -> None:
    roster = charter.roster
    assert roster.codes(DelegationKind.PARTY) == {"SY", "IL"}
    assert roster.codes(DelegationKind.MEDIATOR) == {"US"}
    assert roster.codes(DelegationKind.OBSERVER) == {"UNDOF"}
    assert roster.delegations["UNDOF"].joint_reader


def test_example_languages(charter: Charter) -> None:
    assert charter.languages.supported == ["en", "ar", "he"]
    assert charter.languages.authoritative == "en"
    assert set(charter.mechanism.name) == {"en", "ar", "he"}


def test_example_tracks(charter: Charter) -> None:
    assert charter.track_ids == {"intelligence", "de-escalation", "diplomatic", "commercial", "humanitarian"}
    assert len(charter.tracks) == 5
    for t in charter.tracks:
        assert set(t.names) == {"en", "ar", "he"}, t.id


def test_example_precedence(charter: Charter) -> None:
    assert charter.handling_time(Precedence.FLASH) == timedelta(minutes=10)
    assert charter.handling_time(Precedence.IMMEDIATE) == timedelta(minutes=30)
    assert charter.handling_time(Precedence.PRIORITY) == timedelta(hours=3)
    assert charter.handling_time(Precedence.ROUTINE) == timedelta(hours=6)
    assert charter.word_limit(Precedence.FLASH) == 200
    assert charter.word_limit(Precedence.IMMEDIATE) == 200
    assert charter.word_limit(Precedence.PRIORITY) is None
    assert charter.word_limit(Precedence.ROUTINE) is None
    assert charter.renotify_interval == timedelta(minutes=5)


def test_example_escalation(charter: Charter) -> None:
    default = [(s.after, s.notify.value) for s in charter.escalation_chain("diplomatic")]
    assert default == [(timedelta(0), "duty_officer"), (timedelta(minutes=30), "mediator")]
    de_esc = [(s.after, s.notify.value) for s in charter.escalation_chain("de-escalation")]
    assert de_esc == [(timedelta(0), "duty_officer"), (timedelta(minutes=10), "mediator")]


def test_example_glossary(charter: Charter) -> None:
    assert len(charter.glossary) >= 20
    for term, wordings in charter.glossary.items():
        assert set(wordings) == {"en", "ar", "he"}, term
        assert all(w.strip() for w in wordings.values()), term
    for term in ("buffer-zone", "withdrawal", "ceasefire", "de-escalation", "area-of-separation"):
        assert term in charter.glossary, term
    assert charter.glossary["ceasefire"]["ar"] == "وقف إطلاق النار"


def test_example_parses_from_text_too(example_data: dict[str, Any]) -> None:
    # the dump/parse round trip the broken-charter tests rely on yields a valid charter when unchanged
    text = yaml.safe_dump(example_data, allow_unicode=True, sort_keys=False)
    assert parse_charter(text, SOURCE).mediator_code == "US"


# ---------------------------------------------------------------------------------------------------------
# Broken charters
# ---------------------------------------------------------------------------------------------------------


def _index(data: dict[str, Any], code: str) -> int:
    return next(i for i, d in enumerate(data["delegations"]) if d["code"] == code)


def test_missing_mediator(example_data: dict[str, Any]) -> None:
    err = broken(example_data, lambda d: d["delegations"].pop(_index(d, "US")))
    assert_reported(err, "delegations", "mediator")


def test_two_mediators(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["delegations"][_index(d, "UNDOF")]["kind"] = "mediator"
        d["delegations"][_index(d, "UNDOF")].pop("joint_reader")

    assert_reported(broken(example_data, mutate), "delegations", "mediator")


def test_missing_party(example_data: dict[str, Any]) -> None:
    err = broken(example_data, lambda d: d["delegations"].pop(_index(d, "IL")))
    assert_reported(err, "delegations", "party")


def test_duplicate_delegation_code(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["delegations"][_index(d, "UNDOF")]["code"] = "SY"

    assert_reported(broken(example_data, mutate), "delegations", "'SY'", "twice")


def test_delegation_missing_kind(example_data: dict[str, Any]) -> None:
    idx = 1

    def mutate(d: dict[str, Any]) -> None:
        del d["delegations"][idx]["kind"]

    assert_reported(broken(example_data, mutate), f"delegations[{idx}].kind")


def test_delegation_bad_kind(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["delegations"][0]["kind"] = "belligerent"

    assert_reported(broken(example_data, mutate), "delegations[0].kind")


def test_unknown_track_in_escalation(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["escalation"]["tracks"]["naval"] = [{"after": "PT0S", "notify": "duty_officer"}]

    err = broken(example_data, mutate)
    line = assert_reported(err, "escalation.tracks.naval", "unknown track")
    # one problem, on one line with its path, naming the tracks the charter does have
    assert len(err.problems) == 1, err.problems
    assert "de-escalation" in line


def test_glossary_term_missing_language(example_data: dict[str, Any]) -> None:
    err = broken(example_data, lambda d: d["glossary"]["buffer-zone"].pop("he"))
    assert_reported(err, "glossary.buffer-zone", "he")


def test_glossary_term_extra_language(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["glossary"]["withdrawal"]["fr"] = "retrait"

    assert_reported(broken(example_data, mutate), "glossary.withdrawal", "fr")


def test_track_name_missing_language(example_data: dict[str, Any]) -> None:
    err = broken(example_data, lambda d: d["tracks"][2]["names"].pop("ar"))
    assert_reported(err, "tracks[2].names", "ar")


def test_bad_yaml() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("supported: [en, ar, he]", "supported: [en, ar, he")
    assert text != EXAMPLE.read_text(encoding="utf-8")
    with pytest.raises(CharterError) as excinfo:
        parse_charter(text, SOURCE)
    line = assert_reported(excinfo.value, "line", "invalid YAML")
    assert re.search(r"line \d+, column \d+", line), line


def test_bad_yaml_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.yaml"
    path.write_text("charter_version: 1\nlanguages:\n  supported: [en, ar\n  authoritative: en\n", encoding="utf-8")
    with pytest.raises(CharterError) as excinfo:
        load_charter(path)
    assert_reported(excinfo.value, "line", "invalid YAML", source=str(path))
    assert "unclosed.yaml" in str(excinfo.value)


def test_unknown_top_level_key(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["tracs"] = d.pop("tracks")

    err = broken(example_data, mutate)
    line = assert_reported(err, "tracs")
    assert line.startswith(f"{SOURCE}: tracs: "), line
    # the real key it replaced is reported missing as well
    assert_reported(err, "tracks", "required")


def test_unknown_nested_key(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["precedence"]["FLASH"]["max_word"] = 100

    assert_reported(broken(example_data, mutate), "precedence.FLASH.max_word")


def test_precedence_missing_routine(example_data: dict[str, Any]) -> None:
    err = broken(example_data, lambda d: d["precedence"].pop("ROUTINE"))
    assert_reported(err, "precedence", "ROUTINE")


def test_precedence_non_positive_handling_time(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["precedence"]["PRIORITY"]["handling_time"] = "PT0S"

    assert_reported(broken(example_data, mutate), "precedence.PRIORITY.handling_time", "positive")


def test_escalation_out_of_order(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["escalation"]["default"].reverse()

    assert_reported(broken(example_data, mutate), "escalation.default", "order")


def test_authoritative_language_not_supported(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["languages"]["authoritative"] = "fr"

    assert_reported(broken(example_data, mutate), "languages", "authoritative", "'fr'", "supported")


def test_joint_reader_on_a_party(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["delegations"][0]["joint_reader"] = True

    assert_reported(broken(example_data, mutate), "delegations[0]", "joint_reader")


def test_several_problems_are_all_reported(example_data: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["delegations"].pop(_index(d, "US"))
        d["precedence"].pop("ROUTINE")
        d["glossary"]["buffer-zone"].pop("he")

    err = broken(example_data, mutate)
    assert_reported(err, "delegations", "mediator")
    assert_reported(err, "precedence", "ROUTINE")
    assert_reported(err, "glossary.buffer-zone", "he")
    # the example timeline's last phase is verified by the mediator it no longer has
    assert_reported(err, "agreements.timelines[0].milestones[3].verifier", "US")
    assert len(err.problems) == 4


def test_not_a_mapping() -> None:
    with pytest.raises(CharterError) as excinfo:
        parse_charter("- just\n- a list\n", SOURCE)
    assert_reported(excinfo.value, "mapping")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(CharterError) as excinfo:
        load_charter(path)
    assert_reported(excinfo.value, "file not found", source=str(path))
    assert "nowhere.yaml" in str(excinfo.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("charter_version: 1\n# café\n".encode("latin-1"))
    with pytest.raises(CharterError) as excinfo:
        load_charter(path)
    assert_reported(excinfo.value, "UTF-8", source=str(path))


# ---------------------------------------------------------------------------------------------------------
# Word counting (precedence word limits apply in every script)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("وقف إطلاق النار", 3),
        ("المنطقة العازلة", 2),
        ("הפסקת אש", 2),
        ("אזור חיץ", 2),
        ("de-escalation", 1),
        ("pre-notification of the de-escalation", 4),
        ("co-operation, de-confliction; read-back.", 3),
        ("buffer zone", 2),
        ("", 0),
        ("   \n\t ", 0),
        ("— , . ; !", 0),
        ("FLASH: 3 UAVs at 0430Z", 5),
        ("وقف إطلاق النار، فوراً.", 4),
        ("ceasefire / وقف إطلاق النار / הפסקת אש", 6),
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("وَقْفُ إِطْلَاقِ النَّارِ", 3),  # Arabic with harakat and shadda
        ("الْمِنْطَقَةُ الْعَازِلَةُ", 2),
        ("הַפְסָקַת אֵשׁ", 2),  # Hebrew with niqqud
    ],
)
def test_count_words_with_vowel_marks(text: str, words: int) -> None:
    # Diacritics are combining marks inside a word; they must not split it.
    assert count_words(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("כוח משקיפי האו״ם", 3),  # gershayim (U+05F4) inside an acronym
        ('כוח משקיפי האו"ם', 3),  # the ASCII form, as written in the shipped charter
        ("צה״ל", 1),
    ],
)
def test_count_words_hebrew_acronyms(text: str, words: int) -> None:
    assert count_words(text) == words

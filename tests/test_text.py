"""The text rule (fusioncell.text) on its own: what it refuses and keeps, that its JSON Schema pattern says exactly
that, NFC, and how text is cut into plain strings and marks for display. No database."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusioncell import text
from fusioncell.text import Mark, accepted, not_nfc_at, pattern, refusal, segments

# Characters the rule has an opinion on, mixed into arbitrary text so that examples hit them often.
SPECIAL = (
    "\t\n\r\x00\x1b\x7f\x85\x9b \u00ad\u034f\u0301\u061c\u0627\u05d0\u05b4\u200b\u200c\u200d\u200e\u200f\u2028\u2029"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\u206a\u180b\u180e\ufe0f\ufe00\ufeff\ufff9e"
    "\U0001f600\U000e0041\U000e007f\U000e0100\U000e01f0\U0001d173\ud800"
)
characters = st.one_of(st.sampled_from(SPECIAL), st.characters())
texts = st.text(characters, max_size=40)


def matches(value: str, *, lines: bool) -> bool:
    """The pattern as JSON Schema reads it (ECMA-262: `$` is the end of the text, not before a final newline)."""
    return re.fullmatch(pattern(lines=lines).removeprefix("^").removesuffix("$"), value) is not None


@settings(max_examples=3000, deadline=None)
@given(texts, st.booleans())
def test_the_pattern_accepts_exactly_what_the_rule_accepts(value: str, lines: bool) -> None:
    found = refusal(value, lines=lines)
    if found is not None and "surrogate" in found.why:  # refused, but no pattern of every dialect names them
        return
    assert matches(value, lines=lines) == (found is None), found


def test_the_pattern_is_a_regex_of_every_dialect_a_client_validates_with() -> None:
    import jsonschema_rs  # Rust's regex, as schemathesis and many validators read a pattern

    for lines in (False, True):
        valid = jsonschema_rs.validator_for({"type": "string", "pattern": pattern(lines=lines)}).is_valid
        assert valid("الخط \u20661800\u2069 \u200f") and valid("one\ntwo") is lines
        assert not any(valid(bad) for bad in ("\x8b", "a\u202eb", "\U000e0041", "x\u2067y", "\ufe0f"))


@settings(max_examples=1000, deadline=None)
@given(texts, st.booleans())
def test_accepted_text_is_stored_in_nfc_and_stays_accepted(value: str, lines: bool) -> None:
    if refusal(value, lines=lines) is not None:
        with pytest.raises(text.TextRefused):
            accepted(value, lines=lines)
        return
    stored = accepted(value, lines=lines)
    assert stored == unicodedata.normalize("NFC", value)
    assert accepted(stored, lines=lines) == stored and not_nfc_at(stored) is None


@pytest.mark.parametrize(
    ("value", "lines", "message"),
    [
        ("withdraw to line \u202e0081\u202c", True, "U+202E RIGHT-TO-LEFT OVERRIDE at position 17"),
        ("Convoy\x1b[2K\rFLASH #10 US", False, "U+001B ESCAPE at position 6: control characters are refused"),
        ("a\rb", True, "U+000D CARRIAGE RETURN at position 1"),
        ("one\ntwo", False, "U+000A LINE FEED at position 3: this text is one line"),
        ("\x9b2J", True, "U+009B CONTROL SEQUENCE INTRODUCER at position 0"),
        ("ok\u2028forged", True, "U+2028 LINE SEPARATOR at position 2: separate lines with a newline"),
        ("hidden\U000e0068\U000e0069", True, "U+E0068 TAG LATIN SMALL LETTER H at position 6: tag characters"),
        ("x\U000e0100\U000e0101", True, "U+E0101 VARIATION SELECTOR-18 at position 2: a variation selector"),
        ("\ufe0fstart", True, "U+FE0F VARIATION SELECTOR-16 at position 0"),
        ("word\u2060joiner", True, "U+2060 WORD JOINER at position 4: an invisible character"),
        ("\u3164", False, "U+3164 HANGUL FILLER at position 0"),
        ("open \u2067 never closed", True, "U+2067 RIGHT-TO-LEFT ISOLATE at position 5: an isolate must be closed"),
        ("\u2067across\nlines\u2069", True, "U+2067 RIGHT-TO-LEFT ISOLATE at position 0"),
        ("closes \u2069 nothing", True, "U+2069 POP DIRECTIONAL ISOLATE at position 7: it closes no isolate"),
        ("\u2066\u2067\u2068\u2066deep\u2069\u2069\u2069\u2069", True, "at position 3: isolates nest at most 3 deep"),
        ("lone \ud800", True, "U+D800 (a lone surrogate) at position 5"),
        ("\x00", True, "U+0000 NULL at position 0"),
    ],
)
def test_a_refusal_names_the_character_and_where_it_is(value: str, lines: bool, message: str) -> None:
    found = refusal(value, lines=lines)
    assert found is not None and message in str(found), found
    with pytest.raises(text.TextRefused, match=re.escape(message)):
        accepted(value, lines=lines)


@pytest.mark.parametrize(
    "value",
    [
        "الانسحاب إلى الخط \u20661800\u2069 قبل 0600Z",  # an LTR number isolated in Arabic
        "קו \u2066A-7\u2069 \u200fעד 06:00",  # Hebrew with an isolate and an RLM
        "See \u2067\u0627\u0644\u062e\u0637 \u0661\u0668\u0660\u0660\u2069 in the annex",
        "\u061c\u0661\u0662 ALM before Arabic-Indic digits",
        "nested \u2067outer \u2066inner \u2068three\u2069\u2069\u2069 ok",
        "emoji \U0001f441\ufe0f\u200d\U0001f5e8\ufe0f and keycap 1\ufe0f\u20e3",
        "zero\u200bwidth and soft\u00adhyphen are kept (and marked when shown)",
        "می\u200cخواهم",  # ZWNJ in Persian
    ],
)
def test_what_arabic_and_hebrew_text_needs_is_kept(value: str) -> None:
    assert refusal(value, lines=False) is None
    assert accepted(value, lines=False) == value


def test_lines_hold_tabs_and_newlines_and_text_is_normalised() -> None:
    assert accepted("first line\n\tindented", lines=True) == "first line\n\tindented"
    assert accepted("e\u0301t\u00e9", lines=False) == "\u00e9t\u00e9"  # NFC: é composed
    assert accepted("\ufb2c", lines=False) == "\u05e9\u05bc\u05c1"  # a Hebrew presentation form, decomposed by NFC
    assert not_nfc_at("caf\u0065\u0301 noir") == 3 and not_nfc_at("café") is None


def test_control_characters_have_their_unicode_names() -> None:
    for cp in [*range(0x20), *range(0x7F, 0xA0)]:
        name = text.name_of(chr(cp)).split(" ", 1)[1]
        assert unicodedata.lookup(name) == chr(cp), name


def _emitted(value: str, *, lines: bool) -> str:
    return "".join(p if isinstance(p, str) else p.chars if p.keep else "" for p in segments(value, lines=lines))


@settings(max_examples=2000, deadline=None)
@given(texts, st.booleans())
def test_segments_keep_every_character_and_emit_none_that_acts(value: str, lines: bool) -> None:
    pieces = list(segments(value, lines=lines))
    assert "".join(p if isinstance(p, str) else p.chars for p in pieces) == value  # nothing lost, nothing added
    shown = _emitted(value, lines=lines)
    refused = refusal(shown, lines=lines)
    # what is emitted holds no control, override, separator, tag or unpaired isolate (the rest of the rule is about
    # what may be sent, not what can act on a screen: a run of variation selectors is plain text here)
    assert refused is None or "variation selector" in refused.why, refused
    assert all(p.label for p in pieces if isinstance(p, Mark))


def test_marks_say_what_a_reader_could_not_see() -> None:
    pieces = list(segments("خط \u20671800\u2069 x\u200f \u202eevil\u202c \U000e0068\U000e0069 a\x1bb", lines=False))
    marks = [(p.kind, p.label) for p in pieces if isinstance(p, Mark)]
    assert marks == [
        ("open", "RLI"),
        ("close", "PDI"),
        ("direction", "RLM"),
        ("escaped", "RLO"),
        ("escaped", "PDF"),
        ("tags", "hi"),
        ("escaped", "\\x1b"),
    ]
    assert [p.code for p in pieces if isinstance(p, Mark)][-2:] == ["\\U000e0068\\U000e0069", "\\x1b"]
    # tag characters that spell nothing (unassigned U+E0000, LANGUAGE TAG, CANCEL TAG) are shown by their code
    assert [p.label for p in segments("a\U000e0000b\U000e0001\U000e007f", lines=False) if isinstance(p, Mark)] == [
        "\\U000e0000",
        "\\U000e0001\\U000e007f",
    ]
    assert [p for p in segments("a\nb\tc", lines=True)] == ["a\nb\tc"]
    assert [p.code for p in segments("a\nb\tc", lines=False) if isinstance(p, Mark)] == ["\\n", "\\t"]

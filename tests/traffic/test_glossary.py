"""Glossary terms recognised in message text in every language, with offsets into the original text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusioncell.charter import load_charter
from fusioncell.traffic.glossary import GlossaryMatcher, TermMatch

EXAMPLE = Path(__file__).parents[2] / "charters" / "paris-2026.yaml"
GLOSSARY = load_charter(EXAMPLE).glossary
MATCHER = GlossaryMatcher(GLOSSARY)

FATHA = "\u064e"
KASRA = "\u0650"
SHADDA = "\u0651"
QAMATS = "\u05b8"
PATAH = "\u05b7"
DAGESH = "\u05bc"
RLM = "\u200f"


def found(text: str, matcher: GlossaryMatcher = MATCHER) -> list[tuple[str, str, str]]:
    """(term, lang, span) of every match, checking that each span is the original text at its offsets."""
    matches = matcher.find(text)
    for m in matches:
        assert text[m.start : m.end] == m.text
    return [(m.term, m.lang, m.text) for m in matches]


def terms(text: str, matcher: GlossaryMatcher = MATCHER) -> list[str]:
    return [term for term, _, _ in found(text, matcher)]


# -- the example charter ---------------------------------------------------------------------------------------


def test_example_glossary_has_no_problems() -> None:
    assert MATCHER.problems == ()


@pytest.mark.parametrize(
    ("term", "lang", "wording"),
    [(term, lang, wording) for term, wordings in GLOSSARY.items() for lang, wording in wordings.items()],
)
def test_every_wording_of_the_example_matches_itself(term: str, lang: str, wording: str) -> None:
    text = f"« {wording} »"
    [m] = MATCHER.find(text)
    assert (m.term, m.lang, m.text, m.start, m.end) == (term, lang, wording, 2, 2 + len(wording))
    assert dict(m.wordings) == GLOSSARY[term]


def test_empty_text_and_text_without_terms() -> None:
    assert MATCHER.find("") == []
    assert MATCHER.find("   \n") == []
    assert MATCHER.find("Nothing to report from the northern sector today.") == []
    assert GlossaryMatcher({}).find("buffer zone") == []


def test_term_match_is_frozen_and_hashable() -> None:
    [m] = MATCHER.find("buffer zone")
    assert isinstance(m, TermMatch)
    with pytest.raises(AttributeError):
        m.term = "x"  # type: ignore[misc]
    assert hash(m) == hash(MATCHER.find("buffer zone")[0])
    with pytest.raises(TypeError):
        m.wordings["en"] = "x"  # type: ignore[index]


# -- English and other Latin-script wordings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("BUFFER ZONE", "BUFFER ZONE"),
        ("Buffer Zone", "Buffer Zone"),
        ("two buffer zones.", "buffer zones"),
        ("buffer\nzone", "buffer\nzone"),
        ("buffer \r\n\t zone", "buffer \r\n\t zone"),
        ("buffer-zone", "buffer-zone"),
        ("buffer\u00a0zone", "buffer\u00a0zone"),
        (f"buffer{RLM} zone", f"buffer{RLM} zone"),
        ("(buffer zone)", "buffer zone"),
        ("the buffer zone's edge", "buffer zone"),
    ],
)
def test_english_case_plural_whitespace(text: str, span: str) -> None:
    assert found(text) == [("buffer-zone", "en", span)]


@pytest.mark.parametrize(
    ("text", "term", "span"),
    [
        ("De-Escalation", "de-escalation", "De-Escalation"),
        ("de escalation", "de-escalation", "de escalation"),
        ("de-\nescalation", "de-escalation", "de-\nescalation"),
        ("de \u2011 escalation", "de-escalation", "de \u2011 escalation"),
        ("read back", "read-back", "read back"),
        ("Read-Backs", "read-back", "Read-Backs"),
        ("ceasefires", "ceasefire", "ceasefires"),
        ("two airstrikes", "airstrike", "airstrikes"),
        ("patrol clarifications", "clarification", "clarifications"),
        ("sovereignties", "sovereignty", "sovereignties"),
        ("suspensions of military activities", None, None),
        ("suspension of military activities", "suspension-of-military-activity", "suspension of military activities"),
    ],
)
def test_english_hyphen_space_and_inflection(text: str, term: str | None, span: str | None) -> None:
    assert found(text) == ([] if term is None else [(term, "en", span)])


@pytest.mark.parametrize(
    "text",
    [
        "deescalation",
        "ceasefireless",
        "preincident",
        "incidentally",
        "mediatorship",
        "withdrawals2",
        "dispute_id",
        "Xdispute",
        "buffer",
        "zone",
        "bufferzone",
    ],
)
def test_english_not_inside_longer_words(text: str) -> None:
    assert MATCHER.find(text) == []


def test_latin_wording_of_another_language_reports_that_language() -> None:
    matcher = GlossaryMatcher({"ceasefire": {"fr": "cessez-le-feu", "en": "ceasefire"}})
    assert found("Le Cessez le feu tient; the ceasefire holds.", matcher) == [
        ("ceasefire", "fr", "Cessez le feu"),
        ("ceasefire", "en", "ceasefire"),
    ]


# -- Arabic ----------------------------------------------------------------------------------------------------


def test_arabic_diacritics_are_ignored_and_offsets_point_at_the_original() -> None:
    text = f"تم {'ا' + SHADDA}لانسِحابُ من المنطقةِ العازلةِ اليوم"
    matches = MATCHER.find(text)
    assert [(m.term, m.lang) for m in matches] == [("withdrawal", "ar"), ("buffer-zone", "ar")]
    withdrawal, zone = matches
    assert withdrawal.text == f"{'ا' + SHADDA}لانسِحابُ" and withdrawal.start == 3
    assert zone.text == "المنطقةِ العازلةِ"  # the span ends after the last letter's kasra
    assert zone.start == text.index("المنطقة") and zone.end == text.index(" اليوم")


def test_arabic_tatweel_and_bidi_marks() -> None:
    text = f"{RLM}انســـحاب{RLM}"
    assert found(text) == [("withdrawal", "ar", "انســـحاب")]


@pytest.mark.parametrize(
    ("text", "term", "span"),
    [
        ("اعادة القراءة", "read-back", "اعادة القراءة"),  # إ written as bare alef
        ("أعادة القراءة", "read-back", "أعادة القراءة"),
        ("آعادة القراءه", "read-back", "آعادة القراءه"),  # ة written as ه
        ("وقف اطلاق النار", "ceasefire", "وقف اطلاق النار"),
        ("خط الفا", "alpha-line", "خط الفا"),
        ("إنسحاب", "withdrawal", "إنسحاب"),
        ("غاره جويه", "airstrike", "غاره جويه"),
        ("اخطار مسبق", "pre-notification", "اخطار مسبق"),
        ("إخطار مسبق", "pre-notification", "إخطار مسبق"),
    ],
)
def test_arabic_alef_and_ta_marbuta_variants(text: str, term: str, span: str) -> None:
    assert found(text) == [(term, "ar", span)]


def test_arabic_alef_maqsura_and_ya() -> None:
    matcher = GlossaryMatcher({"hospital": {"ar": "مستشفى", "en": "hospital"}})
    assert found("مستشفي", matcher) == [("hospital", "ar", "مستشفي")]
    matcher = GlossaryMatcher({"hospital": {"ar": "مستشفي", "en": "hospital"}})
    assert found("المستشفى", matcher) == [("hospital", "ar", "المستشفى")]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("انسحاب", "انسحاب"),
        ("وانسحاب", "انسحاب"),
        ("بانسحاب", "انسحاب"),
        ("لانسحاب", "انسحاب"),
        ("الانسحاب", "الانسحاب"),
        ("والانسحاب", "الانسحاب"),
        ("بالانسحاب", "الانسحاب"),
        ("فبالانسحاب", "الانسحاب"),
        ("كالانسحاب", "الانسحاب"),
        ("للانسحاب", "لانسحاب"),  # ل + ال: the article's alef is not written; the span starts at its lam
        ("وللانسحاب", "لانسحاب"),
        ("انسحابات", "انسحابات"),
    ],
)
def test_arabic_prefixes_before_a_wording_without_article(text: str, span: str) -> None:
    assert found(f"تم {text} اليوم") == [("withdrawal", "ar", span)]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("المنطقة العازلة", "المنطقة العازلة"),
        ("والمنطقة العازلة", "المنطقة العازلة"),
        ("بالمنطقة العازلة", "المنطقة العازلة"),
        ("وبالمنطقة العازلة", "المنطقة العازلة"),
        ("فالمنطقة العازلة", "المنطقة العازلة"),
        ("للمنطقة العازلة", "لمنطقة العازلة"),
        ("منطقة عازلة", "منطقة عازلة"),  # the indefinite form of the agreed wording
        ("بمنطقة عازلة", "منطقة عازلة"),
    ],
)
def test_arabic_prefixes_before_a_wording_with_article(text: str, span: str) -> None:
    text = f"دخلت الدورية {text} صباحا"
    [m] = MATCHER.find(text)
    assert (m.term, m.lang, m.text) == ("buffer-zone", "ar", span)
    assert m.end == text.index(" صباحا") and text[m.start : m.end] == span


def test_arabic_article_on_inner_words() -> None:
    assert found("الجدول الزمني والبيان المشترك والممر الإنساني") == [
        ("timeline", "ar", "الجدول الزمني"),
        ("joint-statement", "ar", "البيان المشترك"),
        ("humanitarian-corridor", "ar", "الممر الإنساني"),
    ]


def test_arabic_suffixes() -> None:
    assert found("انتهاكات ونزاعات") == [("violation", "ar", "انتهاكات"), ("dispute", "ar", "نزاعات")]
    assert found("الوسيطان") == [("mediator", "ar", "الوسيطان")]
    matcher = GlossaryMatcher({"raid": {"ar": "غارة", "en": "raid"}})
    assert found("غارات وغارتان والغارة", matcher) == [
        ("raid", "ar", "غارات"),
        ("raid", "ar", "غارتان"),
        ("raid", "ar", "الغارة"),
    ]


@pytest.mark.parametrize("text", ["انسحابهم", "الانسحابية", "استانسحاب", "منسحاب", "وسيطهم", "وبالانسحابي"])
def test_arabic_not_inside_longer_words(text: str) -> None:
    assert MATCHER.find(text) == []


# -- Hebrew ----------------------------------------------------------------------------------------------------


def test_hebrew_niqqud_is_ignored_and_offsets_point_at_the_original() -> None:
    pointed = f"נְ{QAMATS}סִיגָה"  # נסיגה with niqqud (and a stray extra qamats)
    text = f"דווח על {pointed} היום"
    [m] = MATCHER.find(text)
    assert (m.term, m.lang, m.text) == ("withdrawal", "he", pointed)
    assert (m.start, m.end) == (8, 8 + len(pointed))


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("הפרה", "הפרה"),
        ("ההפרה", "ההפרה"),
        ("וההפרה", "ההפרה"),
        ("בהפרה", "הפרה"),
        ("שהפרה", "הפרה"),
        ("מההפרה", "ההפרה"),
        ("ושבהפרה", "הפרה"),
        ("הפרות", "הפרות"),
        ("וההפרות", "ההפרות"),
    ],
)
def test_hebrew_prefixes_and_plural(text: str, span: str) -> None:
    assert found(f"דווח על {text} אתמול") == [("violation", "he", span)]


def test_hebrew_prefixes_on_multiword_terms() -> None:
    assert found("וה" + "אזור המפורז") == [("demilitarized-zone", "he", "האזור המפורז")]
    assert found("באזור חיץ") == [("buffer-zone", "he", "אזור חיץ")]
    assert found("שבאזור ההפרדה") == [("area-of-separation", "he", "אזור ההפרדה")]
    assert found("לקצין הקישור") == [("liaison-officer", "he", "קצין הקישור")]


def test_hebrew_final_letters_and_feminine_plurals() -> None:
    assert found("המתווכים") == [("mediator", "he", "המתווכים")]
    assert found("מחלוקות ותקריות") == [("dispute", "he", "מחלוקות"), ("incident", "he", "תקריות")]


def test_hebrew_niqqud_with_prefix_and_dagesh() -> None:
    text = f"וְהַ{DAGESH}הֲפָרָה"
    assert found(text) == [("violation", "he", f"הַ{DAGESH}הֲפָרָה")]


@pytest.mark.parametrize("text", ["הפרהו", "נסיגתו", "מתווכת", "אאבן דרך", "תקריתון"])
def test_hebrew_not_inside_longer_words(text: str) -> None:
    assert terms(text) == []


@pytest.mark.parametrize("wording", ['צה"ל', "צה״ל", "צה”ל"])
@pytest.mark.parametrize(
    ("text", "span"),
    [('צה"ל', 'צה"ל'), ("צה״ל", "צה״ל"), ("בצה״ל", "צה״ל"), ('וצה"ל', 'צה"ל'), ("צה”ל", "צה”ל")],
)
def test_hebrew_gershayim_and_ascii_quote_are_the_same(wording: str, text: str, span: str) -> None:
    matcher = GlossaryMatcher({"idf": {"he": wording, "en": "IDF"}})
    assert found(f"דובר {text} אמר", matcher) == [("idf", "he", span)]


def test_hebrew_geresh_and_apostrophe_are_the_same() -> None:
    matcher = GlossaryMatcher({"km": {"he": "ק״מ", "en": "km"}, "gimel": {"he": "ג׳", "en": "gimel"}})
    assert found("ג' ק\"מ", matcher) == [("gimel", "he", "ג'"), ("km", "he", 'ק"מ')]


def test_hebrew_maqaf_is_a_hyphen() -> None:
    assert found("קו\u05beהמגע") == [("line-of-contact", "he", "קו\u05beהמגע")]


# -- overlaps --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term", "span"),
    [
        ("انتهاك المجال الجوي", "airspace-violation", "انتهاك المجال الجوي"),
        ("وانتهاكُ المجالِ الجويِّ", "airspace-violation", "انتهاكُ المجالِ الجويِّ"),
        ("airspace violation", "airspace-violation", "airspace violation"),
        ("ceasefire line", "ceasefire-line", "ceasefire line"),
        ("خط وقف إطلاق النار", "ceasefire-line", "خط وقف إطلاق النار"),
        ("קו הפסקת האש", "ceasefire-line", "קו הפסקת האש"),
        ("disengagement agreements", "disengagement-agreement", "disengagement agreements"),
        ("اتفاق فض الاشتباك", "disengagement-agreement", "اتفاق فض الاشتباك"),
    ],
)
def test_longest_match_wins(text: str, term: str, span: str) -> None:
    assert found(text) == [(term, text_lang(span), span)]


def text_lang(span: str) -> str:
    return "en" if span.isascii() else ("he" if any("\u05d0" <= c <= "\u05ea" for c in span) else "ar")


def test_longest_match_wins_and_the_rest_is_still_matched() -> None:
    # "ceasefire line" and "line of contact" overlap on "line": the longer is kept, then "ceasefire" alone.
    assert found("ceasefire line of contact") == [
        ("ceasefire", "en", "ceasefire"),
        ("line-of-contact", "en", "line of contact"),
    ]
    matcher = GlossaryMatcher({"ab": {"en": "alpha bravo"}, "a": {"en": "alpha"}, "bcd": {"en": "bravo charlie delta"}})
    assert found("alpha bravo charlie delta, alpha bravo", matcher) == [
        ("a", "en", "alpha"),
        ("bcd", "en", "bravo charlie delta"),
        ("ab", "en", "alpha bravo"),
    ]


def test_matches_never_overlap_and_are_sorted() -> None:
    text = "ceasefire line of contact ceasefire lines airspace violations violation انتهاك المجال الجوي انتهاك"
    matches = MATCHER.find(text)
    assert [m.start for m in matches] == sorted(m.start for m in matches)
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:], strict=False))
    assert [m.term for m in matches] == [
        "ceasefire",
        "line-of-contact",
        "ceasefire-line",
        "airspace-violation",
        "violation",
        "airspace-violation",
        "violation",
    ]


# -- mixed languages and glossary problems --------------------------------------------------------------------


def test_mixed_language_text_gives_each_wording_its_language() -> None:
    text = "Re the buffer zone / بخصوص المنطقة العازلة / בעניין אזור החיץ: hold."
    matches = MATCHER.find(text)
    assert [(m.term, m.lang, m.text) for m in matches] == [
        ("buffer-zone", "en", "buffer zone"),
        ("buffer-zone", "ar", "المنطقة العازلة"),
        ("buffer-zone", "he", "אזור החיץ"),
    ]
    for m in matches:
        assert text[m.start : m.end] == m.text
        assert dict(m.wordings) == {"en": "buffer zone", "ar": "المنطقة العازلة", "he": "אזור חיץ"}


def test_a_term_in_another_language_than_the_message() -> None:
    assert found("The IL liaison reports a הפרה near the alpha line.") == [
        ("violation", "he", "הפרה"),
        ("alpha-line", "en", "alpha line"),
    ]


def test_wordings_that_cannot_be_told_apart_are_reported_not_raised() -> None:
    matcher = GlossaryMatcher(
        {
            "first": {"en": "Buffer-Zone", "ar": "انسحاب"},
            "second": {"en": "buffer zone", "ar": "الانسحاب"},
            "empty": {"en": "empty", "ar": FATHA + KASRA},
        }
    )
    assert len(matcher.problems) == 3
    assert "glossary.second.en" in matcher.problems[0] and "glossary.first.en" in matcher.problems[0]
    assert "glossary.empty.ar" in matcher.problems[2]
    assert terms("buffer zone الانسحاب empty", matcher) == ["first", "first", "empty"]


# -- property: wordings joined with filler words are each found where they were put -----------------------------

ITEMS = [(term, lang, wording) for term, wordings in GLOSSARY.items() for lang, wording in wordings.items()]
FILLERS = [
    "the",
    "at",
    "report",
    "north",
    "sector",
    "today",
    "confirmed",
    "near",
    "في",
    "على",
    "اليوم",
    "تم",
    "شمال",
    "قطاع",
    "היום",
    "נמסר",
    "על",
    "צפון",
    "גזרה",
    "אתמול",
]
SEPARATORS = [" ", "  ", "\n", " \n "]


def decorate(wording: str, style: int) -> str:
    """The wording as someone might type it: as agreed, upper-cased, or with diacritics on every letter."""
    if style == 1:
        return wording.upper()
    if style == 2:
        out = []
        for ch in wording:
            out.append(ch)
            if "\u0620" <= ch <= "\u064a":
                out.append(FATHA)
            elif "\u05d0" <= ch <= "\u05ea":
                out.append(QAMATS)
        return "".join(out)
    return wording


def test_fillers_are_not_terms() -> None:
    assert MATCHER.find(" ".join(FILLERS)) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(FILLERS), min_size=1, max_size=3),
            st.sampled_from(SEPARATORS),
            st.sampled_from(ITEMS),
            st.integers(min_value=0, max_value=2),
        ),
        max_size=8,
    ),
    st.lists(st.sampled_from(FILLERS), min_size=0, max_size=2),
)
def test_every_inserted_wording_is_found_where_it_was_put(
    pieces: list[tuple[list[str], str, tuple[str, str, str], int]], tail: list[str]
) -> None:
    text = ""
    expected = []
    for fillers, sep, (term, lang, wording), style in pieces:
        text += sep.join(fillers) + sep
        span = decorate(wording, style)
        expected.append((term, lang, len(text), len(text) + len(span), span))
        text += span + sep
    text += " ".join(tail)
    matches = MATCHER.find(text)
    assert [(m.term, m.lang, m.start, m.end, m.text) for m in matches] == expected
    for m in matches:
        assert m.wordings == GLOSSARY[m.term]


_WORDINGS = [wording for wordings in GLOSSARY.values() for wording in wordings.values()]
_PIECES = [
    *_WORDINGS,
    *(w for wording in _WORDINGS for w in wording.split()),
    "the",
    "ال",
    "ה",
    "İstanbul",
    "ſ",
    "\u212a",
    "x",
]


# built once (a matcher takes ~10 ms to build, 400 examples): every wording tried everywhere, the matcher's
# fallback and its definition
EVERYWHERE = GlossaryMatcher(GLOSSARY)
EVERYWHERE._dispatch = lambda _ch: EVERYWHERE._every  # type: ignore[method-assign]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=30),
    st.sampled_from([" ", ", ", "-", " ال", "ו", " ב", "_"]),
    st.booleans(),
)
def test_dispatch_by_first_character_finds_what_trying_every_wording_finds(pieces, sep, shout) -> None:
    """`find` tries at each position only the wordings that can begin with its character; trying every wording
    everywhere (the matcher's fallback, and its definition) must find exactly the same."""
    text = sep.join(p.upper() if shout and i % 2 else p for i, p in enumerate(pieces))
    assert MATCHER.find(text) == EVERYWHERE.find(text)


# -- no cache keeps a trace of one audience's text for another (issue 13.8) -------------------------------------


def test_the_dispatch_table_is_made_once_and_no_text_changes_it() -> None:
    """Which wordings a character can begin was decided as characters were met: the first text with a character
    cost a compilation, so the time of a request told whether any earlier text, of any audience, had held it."""
    matcher = GlossaryMatcher(GLOSSARY)
    table = dict(matcher._by_char)
    assert {"b", "B", "\u017f", "\u0627", "\u05d4"} <= set(table)  # the long s pairs with s
    stops = {chr(c) for c in range(0x20000) if matcher._scanner.match(chr(c))}  # type: ignore[union-attr]
    assert stops <= set(table)
    for text in ("ſtrange \u212aelvin buffer zone", "المنطقة العازلة", "האזור המפורז", "İstanbul ıs"):
        MATCHER.find(text)
        matcher.find(text)
    assert matcher._by_char == table


def test_glossary_terms_are_cached_apart_per_audience(client, cell, crew, monkeypatch) -> None:
    """A cache keyed by the text alone answered SY's guess at IL's mediated message faster when the guess was
    right. Kept apart per audience, a text is only ever found among its own audience's."""
    from fusioncell.traffic import views
    from tests.traffic.helpers import draft

    words = {"subject": "Withdrawal line for the buffer zone", "body": "We will withdraw to line 0081 by 0600Z."}
    sent = client.post("/api/v1/messages", json=draft(audience="mediated:IL", **words), headers=crew["il"].headers)
    assert sent.status_code == 201, sent.text
    found = []
    real = views._find_terms
    monkeypatch.setattr(views, "_find_terms", lambda matcher, **text: found.append(text) or real(matcher, **text))
    guess = client.post("/api/v1/messages", json=draft(audience="joint", **words), headers=crew["sy"].headers)
    assert guess.status_code == 201, guess.text
    assert found == [words]  # SY's text was matched afresh: IL's was not there to be hit
    assert guess.json()["glossary"] == sent.json()["glossary"]
    client.get(f"/api/v1/messages/{sent.json()['id']}", headers=crew["us"].headers)  # the mediator reads IL's
    assert found == [words]  # from its audience's cache
    cache, key = views.term_cache(cell), (words["subject"], words["body"])
    assert cache.get("mediated:IL", key) == cache.get("joint", key) is not None  # the same terms, held twice


def test_one_audience_filling_the_cache_pushes_out_nothing_of_another() -> None:
    from fusioncell.traffic.views import TermCache

    cache = TermCache(2)
    cache.put("mediated:IL", ("s", "b"), [])
    for i in range(5):
        cache.put("joint", (f"s{i}", "b"), [])
    assert cache.get("mediated:IL", ("s", "b")) == [] and cache.get("joint", ("s0", "b")) is None

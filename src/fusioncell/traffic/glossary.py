"""Glossary terms of the charter recognised in message text, in every language.

The charter's glossary maps a term id to its agreed wording per language. `GlossaryMatcher` is built once per
charter and finds those wordings in any text (a message may mix languages), so every reader is shown the agreed
wording in their own language. Pure: no I/O, no database.

Matching happens on a *folded* copy of the text; offsets are mapped back so `text[start:end]` of the ORIGINAL text
is the matched span. Folding (same for text and wordings, every character maps to at most one character):

- dropped: Arabic harakat and other marks (U+0610-U+061A, U+064B-U+065F, U+0670, Quranic U+06D6-U+06ED), tatweel
  U+0640, Hebrew niqqud and cantillation (the combining marks in U+0591-U+05C7; paseq and sof pasuq are
  punctuation and kept), invisible format characters (soft hyphen, ZWNJ/ZWJ, LRM/RLM/ALM and the bidi embeddings
  and isolates, BOM). A span still ends after the diacritics of its last letter.
- mapped: hamza and madda are ignored (أ إ آ ٱ → ا, ؤ → و, ئ → ي); ى and Persian ی → ي; Persian ک → ك; ة → ه
  (ى and ة only occur word-final, so this is the "at word end" equivalence); Hebrew maqaf and Unicode hyphens
  U+2010/U+2011 → "-"; geresh ׳ and ‘ ’ → '; gershayim ״ and “ ” → ".

Rules on the folded text (tests/traffic/test_glossary.py checks each):

- Every wording is whole words: no letter, digit or underscore (regex \\w) right before its first letter (before
  any prefix) nor right after its last letter (after any suffix). Matching is case-insensitive.
- Between the words of a wording: any run of whitespace, or a hyphen with optional whitespace around it; a hyphen in
  a wording is the same separator (so "de-escalation" matches "de escalation", "De-\\nescalation", but not
  "deescalation"; "buffer zone" matches "buffer-zone" and "buffer\\nzone").
- Latin script: a wording ending in a Latin letter may take "s" or "es" ("buffer zones"), and a final
  consonant + "y" may become "ies" ("sovereignties"); only the last word inflects. No prefixes.
- Arabic script: the first word may carry the attached conjunction و/ف, then one preposition ب/ك/ل, then the
  article ال (ل + ال is written لل: "للمنطقة"). The article is optional on every word, whether or not the agreed
  wording has it ("المنطقة العازلة" also matches "منطقة عازلة", and "جدول زمني" matches "الجدول الزمني"); a word
  counts as carrying the article only when it is written ال + at least two letters. The last word may end in
  ات, ين or ان; a last word that ends in ة may instead end in ات, تان or تين (غارة → غارات). Broken plurals are
  not recognised.
- Hebrew script: the first word may carry ו, then ש, then one of ב/כ/ל/מ (in that order, each optional), and every
  word may carry the article ה ("וההפרה", "שבאזור", "קצין הקישור"). The last word may end in ים or ות; a final
  letter ך ם ן ף ץ turns into its medial form before them (מתווך → מתווכים); a last word ending in ה or ת may
  instead end in ות (הפרה → הפרות, מחלוקת → מחלוקות). Construct-state changes (אזור → אזורי) are not recognised.
- Reported span: the conjunction and the prepositions are outside it; the article, the suffix and the wording are
  inside ("بالانسحاب" → "الانسحاب", "וההפרות" → "ההפרות"). With the fused ل + ال the span starts at the
  article's lam: in "للمنطقة العازلة" it is "لمنطقة العازلة".
- Longest match wins: among candidate matches (at each position the longest wording that matches there), the
  longest span (in folded characters; then the earlier one) is kept first, then the next longest that does not
  overlap what is kept, and so on; a candidate that overlaps is replaced by the next shorter wording matching at
  its position, if any. Results never overlap and are sorted by position.
- A wording may match whatever the message's language: the match reports the language whose wording matched.
  When two languages of one term have the same folded wording, the first language in the glossary is reported.

A glossary whose wordings cannot be told apart (two terms with the same folded wording) or a wording that folds to
nothing is not an error at match time: the first term in glossary order wins, and `GlossaryMatcher.problems` says
what was found, so a charter check can refuse it.
"""

from __future__ import annotations

import array
import heapq
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["GlossaryMatcher", "TermMatch"]

_MARKS = (
    "\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
)
_INVISIBLE = "\u00ad\u061c\u200c-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_DROP = re.compile(f"[{_MARKS}{_INVISIBLE}]+")
_MARK_RUN = re.compile(f"[{_MARKS}]*")

_FOLD = str.maketrans(
    {
        "\u0622": "\u0627",  # آ
        "\u0623": "\u0627",  # أ
        "\u0625": "\u0627",  # إ
        "\u0671": "\u0627",  # ٱ
        "\u0624": "\u0648",  # ؤ → و
        "\u0626": "\u064a",  # ئ → ي
        "\u0649": "\u064a",  # ى → ي
        "\u06cc": "\u064a",  # Persian ی → ي
        "\u06a9": "\u0643",  # Persian ک → ك
        "\u0629": "\u0647",  # ة → ه
        "\u05be": "-",  # maqaf
        "\u2010": "-",
        "\u2011": "-",
        "\u05f3": "'",  # geresh
        "\u2018": "'",
        "\u2019": "'",
        "\u05f4": '"',  # gershayim
        "\u201c": '"',
        "\u201d": '"',
    }
)

# Separators inside a wording (before folding, so the maqaf counts) and the pattern they become.
_WORDING_SEP = re.compile("[\\s\\-\u05be\u2010\u2011]+")
_SEP = r"(?:\s+(?:-\s*)?|-\s*)"
_WORD_CHAR = re.compile(r"\w")

_AR_ARTICLE = "\u0627\u0644"  # ال
_AR_LAM = "\u0644"
_AR_TA_MARBUTA = "\u0629"
_AR_PREFIX = "(?:[\u0648\u0641]?[\u0628\u0643\u0644]?)"  # [وف]? [بكل]?
_AR_FIRST_ARTICLE = "(?:\u0627\u0644|(?<=\u0644)\u0644)?"  # ال, or the article's lam after the preposition ل
_AR_FIRSTS = "\u0648\u0641\u0628\u0643\u0644\u0627"  # a prefix or the article: و ف ب ك ل ا
_AR_ARTICLE_OPT = "(?:\u0627\u0644)?"
_AR_SUFFIX = "(?:\u0627\u062a|\u064a\u0646|\u0627\u0646)?"  # ات ين ان
_AR_TA_ENDING = "(?:\u0647|\u0627\u062a|\u062a\u0627\u0646|\u062a\u064a\u0646)"  # ه (ة) | ات | تان | تين

_HE_PREFIX = "(?:\u05d5?\u05e9?[\u05d1\u05db\u05dc\u05de]?)"  # ו? ש? [בכלמ]?
_HE_FIRSTS = "\u05d5\u05e9\u05d1\u05db\u05dc\u05de\u05d4"  # a prefix or the article: ו ש ב כ ל מ ה
_HE_ARTICLE = "\u05d4?"  # ה?
_HE_SUFFIX = "(?:\u05d9\u05dd|\u05d5\u05ea)"  # ים | ות
_HE_FINALS = {"\u05da": "\u05db", "\u05dd": "\u05de", "\u05df": "\u05e0", "\u05e3": "\u05e4", "\u05e5": "\u05e6"}
_HE_FEMININE = {"\u05d4", "\u05ea"}  # ה ת


def _case_partners(chars: set[str]) -> set[str]:
    """The characters and every other character the regex engine matches to one of them when it ignores case.
    Characters with case are all in Unicode's first two planes: one elsewhere matches only itself."""
    members = re.compile(f"[{''.join(re.escape(ch) for ch in sorted(chars))}]", re.IGNORECASE)
    first_planes = array.array("I", range(0x20000)).tobytes().decode("utf-32-le", "surrogatepass")
    return chars | set(members.findall(first_planes))


@dataclass(frozen=True)
class TermMatch:
    """One glossary term found in a text."""

    term: str  # term id, e.g. "buffer-zone"
    lang: str  # the language whose wording matched
    start: int  # offsets into the original text: text[start:end] is the matched span
    end: int
    text: str  # the matched span as it appears
    wordings: Mapping[str, str] = field(hash=False)  # the agreed wording in every language, including lang


@dataclass(frozen=True)
class _Alternative:
    term: str
    lang: str
    source: str  # regex on folded text with exactly one capturing group: the reported span
    firsts: str  # every folded character a match can begin with
    length: int  # folded wording length, for the longest-first order
    order: int  # position in the glossary, for ties


def _fold(text: str) -> tuple[str, list[int] | None]:
    """The folded text and, for each of its characters, its index in `text` (None: the identity)."""
    folded = text.translate(_FOLD)  # one character to one character: offsets unchanged
    if _DROP.search(folded) is None:
        return folded, None
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for m in _DROP.finditer(folded):
        if m.start() > pos:
            parts.append(folded[pos : m.start()])
            index.extend(range(pos, m.start()))
        pos = m.end()
    parts.append(folded[pos:])
    index.extend(range(pos, len(folded)))
    return "".join(parts), index


def _script(ch: str) -> str:
    if "\u05d0" <= ch <= "\u05ea" or "\ufb1d" <= ch <= "\ufb4f":
        return "he"
    if (
        "\u0620" <= ch <= "\u06ff"
        or "\u0750" <= ch <= "\u077f"
        or "\u08a0" <= ch <= "\u08ff"
        or "\ufb50" <= ch <= "\ufdff"
        or "\ufe70" <= ch <= "\ufeff"
    ):
        return "ar"
    if unicodedata.name(ch, "").startswith("LATIN"):
        return "latin"
    return "other"


def _stem(original: str, folded: str) -> str:
    """The folded word without the Arabic article, when it is written ال + at least two letters."""
    if _script(folded[0]) == "ar" and original.startswith(_AR_ARTICLE) and len(folded) >= 4:
        return folded[2:]
    return folded


def _word_pattern(original: str, folded: str, *, first: bool, last: bool) -> tuple[str, str]:
    """(article pattern, word pattern) for one word of a wording; the suffix rules apply to the last word."""
    script = _script(folded[0])
    article = ""
    stem = _stem(original, folded)
    if script == "ar":
        article = _AR_FIRST_ARTICLE if first else _AR_ARTICLE_OPT
    elif script == "he":
        article = _HE_ARTICLE

    if not last:
        return article, re.escape(stem)
    end_script = _script(stem[-1])
    body, final = stem[:-1], stem[-1]
    if end_script == "latin":
        if final.lower() == "y" and body and body[-1].lower() not in "aeiou":
            tail = "(?:ies|ys?)"
        else:
            tail = re.escape(final) + "(?:s|es)?"
    elif end_script == "ar":
        tail = _AR_TA_ENDING if original.endswith(_AR_TA_MARBUTA) else re.escape(final) + _AR_SUFFIX
    elif end_script == "he":
        if final in _HE_FINALS:
            tail = f"(?:{final}|{_HE_FINALS[final]}{_HE_SUFFIX})"
        elif final in _HE_FEMININE:
            tail = f"(?:{final}|\u05d5\u05ea)"
        else:
            tail = f"{final}{_HE_SUFFIX}?"
    else:
        tail = re.escape(final)
    return article, re.escape(body) + tail


def _compile_wording(wording: str) -> tuple[str, str, str] | None:
    """(regex source with one group, first characters, collision key) for one wording; None: nothing to match."""
    stripped = _DROP.sub("", wording)
    originals = [w for w in _WORDING_SEP.split(stripped) if w]
    if not originals:
        return None
    folded = [w.translate(_FOLD) for w in originals]
    words = []
    key = []
    for i, (orig, fold) in enumerate(zip(originals, folded, strict=True)):
        article, pattern = _word_pattern(orig, fold, first=i == 0, last=i == len(folded) - 1)
        words.append(article + pattern)
        key.append(_stem(orig, fold).casefold())
    first_script = _script(folded[0][0])
    prefix = {"ar": _AR_PREFIX, "he": _HE_PREFIX}.get(first_script, "")
    firsts = _stem(originals[0], folded[0])[0] + {"ar": _AR_FIRSTS, "he": _HE_FIRSTS}.get(first_script, "")
    left = r"(?<!\w)" if _WORD_CHAR.match(folded[0][0]) else ""
    right = r"(?!\w)" if _WORD_CHAR.match(folded[-1][-1]) else ""
    return f"{left}{prefix}({_SEP.join(words)}){right}", firsts, " ".join(key)


class GlossaryMatcher:
    """Finds a charter's glossary terms in text. Build once per charter; `find` is one regex pass per text."""

    def __init__(self, glossary: Mapping[str, Mapping[str, str]]) -> None:
        problems: list[str] = []
        alternatives: list[_Alternative] = []
        seen: dict[str, tuple[str, str]] = {}
        self._wordings: dict[str, Mapping[str, str]] = {}
        for term, wordings in glossary.items():
            self._wordings[term] = MappingProxyType(dict(wordings))
            for lang, wording in wordings.items():
                compiled = _compile_wording(wording)
                if compiled is None:
                    problems.append(f"glossary.{term}.{lang}: wording {wording!r} has nothing to match")
                    continue
                source, firsts, key = compiled
                if key in seen:
                    other_term, other_lang = seen[key]
                    if other_term != term:
                        problems.append(
                            f"glossary.{term}.{lang}: wording {wording!r} cannot be told apart from "
                            f"glossary.{other_term}.{other_lang}; {other_term!r} is reported"
                        )
                    continue
                seen[key] = (term, lang)
                alternatives.append(_Alternative(term, lang, source, firsts, len(key), len(alternatives)))
        alternatives.sort(key=lambda a: (-a.length, a.order))
        self.problems: tuple[str, ...] = tuple(problems)
        self._alternatives = alternatives
        self._patterns = [re.compile(a.source, re.IGNORECASE) for a in alternatives]
        # Candidate positions: not inside a word, at a character some wording can begin with. At each, only the
        # wordings that can begin with that character are tried, longest first, in one lookahead whose group
        # j+1 is the j-th of them (a hundred-branch alternation tried at every word start cost a millisecond a
        # message). Which wordings a character can begin is decided by the regex engine's own case-insensitive
        # matching (which pairs more than str.lower() does: K and the Kelvin sign, s and long s), for every
        # character the scanner can stop at, here and now: a table filled in as texts came would keep a trace of
        # what every text held, which the time of a character's first use would tell anyone who sends one.
        self._scanner: re.Pattern[str] | None = None
        self._by_char: dict[str, tuple[re.Pattern[str], tuple[int, ...]]] = {}
        if alternatives:
            firsts = {ch for a in alternatives for ch in a.firsts}
            chars = "".join(re.escape(ch) for ch in sorted(firsts))
            self._scanner = re.compile(rf"(?!(?<=\w)\w)(?=[{chars}])", re.IGNORECASE)
            every = "|".join(a.source for a in alternatives)
            self._every = (re.compile(rf"(?=(?:{every}))", re.IGNORECASE), tuple(range(len(alternatives))))
            starts = [re.compile(f"[{''.join(re.escape(c) for c in a.firsts)}]", re.IGNORECASE) for a in alternatives]
            shared: dict[tuple[int, ...], re.Pattern[str]] = {}
            for ch in _case_partners(firsts):
                ks = tuple(k for k, start in enumerate(starts) if start.match(ch))
                if ks not in shared:
                    branches = "|".join(alternatives[k].source for k in ks)
                    shared[ks] = re.compile(rf"(?=(?:{branches}))", re.IGNORECASE)
                self._by_char[ch] = (shared[ks], ks)

    def _dispatch(self, ch: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
        """The wordings that can begin with `ch`, as one pattern, and their indices (every wording, for a
        character the table does not hold, which the scanner does not stop at)."""
        return self._by_char.get(ch, self._every)

    def find(self, text: str) -> list[TermMatch]:
        """The glossary terms in `text`: sorted by start, non-overlapping, longest match first."""
        if not text or self._scanner is None:
            return []
        folded, index = _fold(text)
        # (-span length, extent start, alternative, span start, span end); the extent includes the prefix.
        heap: list[tuple[int, int, int, int, int]] = []
        for candidate in self._scanner.finditer(folded):
            at = candidate.start()
            pattern, ks = self._dispatch(folded[at])
            m = pattern.match(folded, at)
            if m is None:
                continue
            j = m.lastindex
            assert j is not None
            start, end = m.span(j)
            heap.append((start - end, at, ks[j - 1], start, end))
        heapq.heapify(heap)

        taken = bytearray(len(folded))
        kept: list[tuple[int, int, int]] = []
        while heap:
            _, at, alt, start, end = heapq.heappop(heap)
            if taken.find(1, at, end) == -1:
                taken[at:end] = b"\x01" * (end - at)
                kept.append((start, end, alt))
                continue
            if taken[at]:
                continue  # every shorter wording here overlaps too
            for j in range(alt + 1, len(self._patterns)):  # the next longest wording at this position, if any
                m = self._patterns[j].match(folded, at)
                if m is not None:
                    heapq.heappush(heap, (m.start(1) - m.end(1), at, j, m.start(1), m.end(1)))
                    break

        kept.sort()
        found = []
        for start, end, alt in kept:
            if index is None:
                o_start, o_end = start, end
            else:
                o_start = index[start]
                o_end = _MARK_RUN.match(text, index[end - 1] + 1).end()  # with its last letter's diacritics
            a = self._alternatives[alt]
            found.append(TermMatch(a.term, a.lang, o_start, o_end, text[o_start:o_end], self._wordings[a.term]))
        return found

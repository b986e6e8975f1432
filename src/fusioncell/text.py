"""The one rule for text a client sends, and how text is shown so that its reader sees what the ledger holds.

The rule, for every text a client sends (messages and their translations, read-backs, notes, reasons, account
fields, intelligence and every string inside it, and whatever is added later):

1. Refused, wherever it stands: control characters (C0 U+0000-U+001F, DEL, C1 U+0080-U+009F), except tab and
   newline in a text of several lines; the line and paragraph separators U+2028 and U+2029; the bidirectional
   embeddings and overrides LRE, RLE, PDF, LRO and RLO (U+202A-U+202E), which make text display in an order other
   than the one it is stored in; an isolate (LRI, RLI or FSI) not closed by a PDI on its own line, a PDI that
   closes none, isolates nested more than three deep; tag characters and the rest of their invisible block
   (U+E0000-U+E00FF, U+E01F0-U+E0FFF); the other invisible characters no script of the cell needs (listed in
   INVISIBLE_REFUSED); a variation selector that does not follow a visible character (so at most one after
   each: a run of them can carry a hidden text as tags can); lone surrogates.
2. Kept: the direction marks LRM, RLM and ALM and balanced isolates, which Arabic and Hebrew text with Latin
   words and numbers needs; the joiners ZWJ and ZWNJ; one variation selector after a character (emoji).
3. Normalised to NFC. (STIX content is checked against 1 and refused unless already in NFC: objects are served
   as sent, under ids and versions that other systems hold, so the cell never changes their bytes.)
4. Shown: what a reader cannot see in the text itself is marked (`segments`): each direction mark and isolate,
   the zero-width space and the soft hyphen; and text stored before this rule shows any refused character as
   its code (\\x1b, \\u202e), never acting on it.

Pure functions; `schemas.InputModel`, `deps` and `intel.stix` apply the rule, the web pages and the terminal
client show text through `segments`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

MAX_ISOLATE_DEPTH = 3

# Names of the control characters (Unicode gives them aliases, not names).
# fmt: off
_CONTROL_NAMES = (
    "NULL", "START OF HEADING", "START OF TEXT", "END OF TEXT", "END OF TRANSMISSION", "ENQUIRY", "ACKNOWLEDGE",
    "ALERT", "BACKSPACE", "CHARACTER TABULATION", "LINE FEED", "LINE TABULATION", "FORM FEED", "CARRIAGE RETURN",
    "SHIFT OUT", "SHIFT IN", "DATA LINK ESCAPE", "DEVICE CONTROL ONE", "DEVICE CONTROL TWO", "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR", "NEGATIVE ACKNOWLEDGE", "SYNCHRONOUS IDLE", "END OF TRANSMISSION BLOCK", "CANCEL",
    "END OF MEDIUM", "SUBSTITUTE", "ESCAPE", "INFORMATION SEPARATOR FOUR", "INFORMATION SEPARATOR THREE",
    "INFORMATION SEPARATOR TWO", "INFORMATION SEPARATOR ONE",
)
_C1_NAMES = (
    "PADDING CHARACTER", "HIGH OCTET PRESET", "BREAK PERMITTED HERE", "NO BREAK HERE", "INDEX", "NEXT LINE",
    "START OF SELECTED AREA", "END OF SELECTED AREA", "CHARACTER TABULATION SET",
    "CHARACTER TABULATION WITH JUSTIFICATION", "LINE TABULATION SET", "PARTIAL LINE FORWARD", "PARTIAL LINE BACKWARD",
    "REVERSE LINE FEED", "SINGLE SHIFT TWO", "SINGLE SHIFT THREE", "DEVICE CONTROL STRING", "PRIVATE USE ONE",
    "PRIVATE USE TWO", "SET TRANSMIT STATE", "CANCEL CHARACTER", "MESSAGE WAITING", "START OF GUARDED AREA",
    "END OF GUARDED AREA", "START OF STRING", "SINGLE GRAPHIC CHARACTER INTRODUCER", "SINGLE CHARACTER INTRODUCER",
    "CONTROL SEQUENCE INTRODUCER", "STRING TERMINATOR", "OPERATING SYSTEM COMMAND", "PRIVACY MESSAGE",
    "APPLICATION PROGRAM COMMAND",
)
# fmt: on

# Code point ranges, inclusive.
Ranges = tuple[tuple[int, int], ...]
LINE_BREAKS: Ranges = ((0x09, 0x0A),)  # tab and newline: allowed where a text has lines
CONTROLS: Ranges = ((0x00, 0x1F), (0x7F, 0x9F))
SEPARATORS: Ranges = ((0x2028, 0x2029),)
EMBEDDINGS: Ranges = ((0x202A, 0x202E),)  # LRE RLE PDF LRO RLO
TAGS: Ranges = ((0xE0000, 0xE007F),)
INVISIBLE_REFUSED: Ranges = (
    (0x115F, 0x1160),  # Hangul fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x2060, 0x2065),  # word joiner, invisible operators, unassigned
    (0x206A, 0x206F),  # deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # zero width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical formatting
    (0xE0000, 0xE00FF),  # tags, and the invisible block around them
    (0xE01F0, 0xE0FFF),
)
SURROGATES: Ranges = ((0xD800, 0xDFFF),)
ISOLATE_OPENERS: Ranges = ((0x2066, 0x2068),)  # LRI RLI FSI
PDI = "\u2069"
_PDI: Ranges = ((0x2069, 0x2069),)
DIRECTION_MARKS: Ranges = ((0x061C, 0x061C), (0x200E, 0x200F))  # ALM, LRM RLM
VARIATION_SELECTORS: Ranges = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
INVISIBLE_SHOWN: Ranges = ((0x00AD, 0x00AD), (0x200B, 0x200B))  # soft hyphen, zero width space

ABBREVIATIONS = {
    0x061C: "ALM", 0x200E: "LRM", 0x200F: "RLM", 0x202A: "LRE", 0x202B: "RLE", 0x202C: "PDF", 0x202D: "LRO",
    0x202E: "RLO", 0x2066: "LRI", 0x2067: "RLI", 0x2068: "FSI", 0x2069: "PDI", 0x200B: "ZWSP", 0x00AD: "SHY",
}  # fmt: skip


def _class(*groups: Ranges, without: str = "") -> str:
    """The ranges as the inside of a regular expression character class, less the characters `without`, written
    so that Python and ECMAScript read it alike (BMP code points as \\uXXXX, others as themselves)."""
    points = sorted({r for group in groups for r in group})
    for cp in map(ord, without):
        points = [
            p for low, high in points for p in ((low, min(high, cp - 1)), (max(low, cp + 1), high)) if p[0] <= p[1]
        ]
    merged: list[tuple[int, int]] = []
    for low, high in points:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return "".join(_char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in merged)


def _char(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else chr(cp)


def _in(cp: int, *groups: Ranges) -> bool:
    return any(low <= cp <= high for group in groups for low, high in group)


_REFUSED_ALWAYS = (SEPARATORS, EMBEDDINGS, INVISIBLE_REFUSED, SURROGATES)
_TAB_NEWLINE = "\t\n"
_REFUSED = {lines: re.compile(f"[{_class(CONTROLS, *_REFUSED_ALWAYS, without=_TAB_NEWLINE if lines else '')}]")
            for lines in (False, True)}  # fmt: skip
# what the check looks at beyond the refused: isolates (with newlines, which end them) and variation selectors
_STRUCTURE = re.compile(f"[\\n{_class(ISOLATE_OPENERS, VARIATION_SELECTORS)}{PDI}]")
_ASCII_REFUSED = {False: re.compile(r"[\x00-\x1f\x7f]"), True: re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")}


def name_of(char: str) -> str:
    """'U+202E RIGHT-TO-LEFT OVERRIDE', 'U+001B ESCAPE', 'U+DC00 (a lone surrogate)'."""
    cp = ord(char)
    if cp < 0x20:
        name = _CONTROL_NAMES[cp]
    elif cp == 0x7F:
        name = "DELETE"
    elif 0x80 <= cp <= 0x9F:
        name = _C1_NAMES[cp - 0x80]
    elif 0xD800 <= cp <= 0xDFFF:
        name = "(a lone surrogate)"
    else:
        name = unicodedata.name(char, "(unassigned)")
    return f"U+{cp:04X} {name}"


@dataclass(frozen=True)
class Refusal:
    position: int  # of the character, counted in characters from 0, in the text as sent
    char: str
    why: str

    def __str__(self) -> str:
        return f"{name_of(self.char)} at position {self.position}: {self.why}"


class TextRefused(ValueError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def _why(cp: int, lines: bool) -> str:
    if cp in (0x09, 0x0A):
        return "this text is one line"
    if _in(cp, CONTROLS):
        return "control characters are refused" + ("" if lines else " (this text is one line)")
    if _in(cp, SEPARATORS):
        return "separate lines with a newline" if lines else "this text is one line"
    if _in(cp, EMBEDDINGS):
        return (
            "embeddings and overrides make text display in another order than it is stored; "
            "use an isolate (LRI, RLI or FSI, closed by PDI) or a mark (LRM, RLM, ALM)"
        )
    if _in(cp, TAGS):
        return "tag characters are invisible"
    if _in(cp, SURROGATES):
        return "a lone surrogate is not a character"
    return "an invisible character no text here needs"


def _visible_base(char: str) -> bool:
    """Whether a variation selector may follow this character."""
    cp = ord(char)
    return not (
        _in(cp, CONTROLS, *_REFUSED_ALWAYS, ISOLATE_OPENERS, DIRECTION_MARKS, VARIATION_SELECTORS) or char == PDI
    )


def refusal(text: str, *, lines: bool) -> Refusal | None:
    """The first thing the rule refuses in this text, or None. `lines`: the text may hold tabs and newlines."""
    if text.isascii():
        found = _ASCII_REFUSED[lines].search(text)
        return Refusal(found.start(), found.group(), _why(ord(found.group()), lines)) if found else None
    found = _REFUSED[lines].search(text)
    if found:
        return Refusal(found.start(), found.group(), _why(ord(found.group()), lines))
    open_at: list[int] = []
    for hit in _STRUCTURE.finditer(text):
        char, at = hit.group(), hit.start()
        if char == "\n":
            if open_at:
                break
        elif char == PDI:
            if not open_at:
                return Refusal(at, char, "it closes no isolate")
            open_at.pop()
        elif _in(ord(char), ISOLATE_OPENERS):
            if len(open_at) == MAX_ISOLATE_DEPTH:
                return Refusal(at, char, f"isolates nest at most {MAX_ISOLATE_DEPTH} deep")
            open_at.append(at)
        elif at == 0 or not _visible_base(text[at - 1]):
            return Refusal(at, char, "a variation selector must follow a visible character, once")
    if open_at:
        return Refusal(open_at[-1], text[open_at[-1]], "an isolate must be closed by PDI (U+2069) on its own line")
    return None


def accepted(text: str, *, lines: bool) -> str:
    """The text as stored: NFC. TextRefused if the rule refuses it (positions are in the text as sent)."""
    found = refusal(text, lines=lines)
    if found is not None:
        raise TextRefused(found)
    return text if text.isascii() or unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def not_nfc_at(text: str) -> int | None:
    """Where this text first differs from its NFC form, or None if it is in NFC."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return None
    normal = unicodedata.normalize("NFC", text)
    return next((i for i, (a, b) in enumerate(zip(text, normal, strict=False)) if a != b), min(len(text), len(normal)))


def checked_characters() -> str:
    """The inside of a regular expression character class of every character the rule refuses or checks the place
    of: text without any of them, and in NFC, is accepted as it is (a fast first look at much text at once)."""
    return _class(CONTROLS, *_REFUSED_ALWAYS, TAGS, ISOLATE_OPENERS, _PDI, VARIATION_SELECTORS)


def pattern(*, lines: bool) -> str:
    """A regular expression (JSON Schema's `pattern`, ECMA-262: `$` is the end of the text) that a text matches
    exactly when the rule accepts it: no refused character; a variation selector only after a visible character;
    isolates balanced on their line and at most MAX_ISOLATE_DEPTH deep. Lone surrogates, refused too, are left
    out: no class can name them in every validator's dialect (Rust's regex refuses a surrogate range)."""
    selectors, openers = _class(VARIATION_SELECTORS), _class(ISOLATE_OPENERS)
    named = (SEPARATORS, EMBEDDINGS, INVISIBLE_REFUSED)
    visible = f"[^{_class(CONTROLS, *named, ISOLATE_OPENERS, _PDI, DIRECTION_MARKS, VARIATION_SELECTORS)}]"
    marks = ("\\t" if lines else "") + _class(DIRECTION_MARKS)
    unit = f"{visible}[{selectors}]?|[{marks}]"
    inside = f"(?:{unit})*"
    for _ in range(MAX_ISOLATE_DEPTH - 1):
        inside = f"(?:{unit}|[{openers}]{inside}\\u2069)*"
    newline = "|\\n" if lines else ""
    return f"^(?:{unit}|[{openers}]{inside}\\u2069{newline})*$"


# ---- showing text --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """A character (or, for tags, a run of them) that a reader would not see in the text itself.

    kind: 'open' / 'close' (a balanced isolate: the character is kept, its extent can be shown), 'direction' (a
    mark, kept), 'invisible' (kept), 'escaped' (a character the rule refuses, or a tab or newline in a one-line
    display: never emitted, shown by its code or abbreviation), 'tags' (never emitted: the text they spell is
    shown)."""

    chars: str
    kind: str

    @property
    def keep(self) -> bool:
        return self.kind in ("open", "close", "direction", "invisible")

    @property
    def code(self) -> str:
        """As an escape: \\x1b, \\u202e, \\U000e0041."""
        return "".join(_ESCAPES.get(c) or _escape(ord(c)) for c in self.chars)

    @property
    def label(self) -> str:
        """What a page shows in the mark: LRI, RLM, ZWSP; a refused character's abbreviation or code; the text tags
        spell."""
        if self.kind == "tags":
            # the text they spell; a run that spells nothing (LANGUAGE TAG, CANCEL TAG, unassigned U+E0000) by code
            spelled = "".join(chr(ord(c) - 0xE0000) if 0xE0020 <= ord(c) <= 0xE007E else "" for c in self.chars)
            return spelled or self.code
        return ABBREVIATIONS.get(ord(self.chars[0]), self.code)

    @property
    def title(self) -> str:
        if self.kind == "tags":
            return f"{len(self.chars)} tag characters (invisible), U+E0000-U+E007F"
        return name_of(self.chars[0])


_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


_SHOWN_ALWAYS = _class(*_REFUSED_ALWAYS, TAGS, ISOLATE_OPENERS, DIRECTION_MARKS, INVISIBLE_SHOWN) + "\\u2069"
_SHOWN = {lines: re.compile(f"[{_class(CONTROLS, without=_TAB_NEWLINE if lines else '')}{_SHOWN_ALWAYS}]+")
          for lines in (False, True)}  # fmt: skip


def segments(text: str, *, lines: bool = True) -> Iterator[str | Mark]:
    """The text as plain strings and marks, in order. Isolates are 'open'/'close' only where balanced on their line
    (else 'escaped', as text stored before the rule may hold). `lines`: tabs and newlines are plain text; without
    it they are marked (a one-line display, the terminal's `watch`)."""
    pairs = _balanced_isolates(text)
    last = 0
    for hit in _SHOWN[lines].finditer(text):
        if hit.start() > last:
            yield text[last : hit.start()]
        last = hit.end()
        run, start = hit.group(), hit.start()
        i = 0
        while i < len(run):
            char, cp = run[i], ord(run[i])
            if _in(cp, TAGS):
                j = i
                while j < len(run) and _in(ord(run[j]), TAGS):
                    j += 1
                yield Mark(run[i:j], "tags")
                i = j
                continue
            if _in(cp, ISOLATE_OPENERS) or char == PDI:
                kind = ("open" if char != PDI else "close") if start + i in pairs else "escaped"
            elif _in(cp, DIRECTION_MARKS):
                kind = "direction"
            elif _in(cp, INVISIBLE_SHOWN):
                kind = "invisible"
            else:
                kind = "escaped"
            yield Mark(char, kind)
            i += 1
    if last < len(text):
        yield text[last:]


def _balanced_isolates(text: str) -> set[int]:
    """Positions of the isolate openers and PDIs that pair up within their line."""
    paired: set[int] = set()
    if text.isascii():
        return paired
    for line_start, line in _lines(text):
        stack: list[int] = []
        for i, char in enumerate(line):
            if _in(ord(char), ISOLATE_OPENERS):
                stack.append(line_start + i)
            elif char == PDI and stack:
                paired.update((stack.pop(), line_start + i))
    return paired


def _lines(text: str) -> Iterator[tuple[int, str]]:
    start = 0
    for line in text.split("\n"):
        yield start, line
        start += len(line) + 1

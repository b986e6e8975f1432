"""Text on the pages as the ledger holds it: the `visible` filter every template applies to text a client wrote.

A direction mark or an isolate is kept, so that Arabic and Hebrew read as their writer meant, and is shown by a
small mark beside it (LRM, RLI ... PDI), the isolated text underlined, so that a reader sees where the direction
changes; a zero-width space or soft hyphen is marked too. A character the text rule refuses (text stored before
the rule) is never emitted: its abbreviation or code stands in its place, and tag characters show the text they
spell. Each mark names its character in its title.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from fusioncell import text


def _mark(mark: text.Mark, kind: str) -> Markup:
    return Markup('<abbr class="textmark {}" title="{}">{}</abbr>').format(kind, mark.title, mark.label)


def visible(value: object) -> Markup:
    """The text, escaped, with what a reader could not see in it marked (see the module's docstring)."""
    if value is None:
        return Markup("")
    parts: list[Markup] = []
    for piece in text.segments(str(value), lines=True):
        if isinstance(piece, str):
            parts.append(escape(piece))
        elif piece.kind == "open":
            parts.append(_mark(piece, "direction") + Markup(piece.chars) + Markup('<span class="isolated">'))
        elif piece.kind == "close":
            parts.append(Markup("</span>") + Markup(piece.chars) + _mark(piece, "direction"))
        elif piece.kind in ("direction", "invisible"):
            parts.append(_mark(piece, piece.kind) + Markup(piece.chars))
        elif piece.kind == "tags":
            parts.append(
                Markup('<abbr class="textmark refused" title="{}">TAG “{}”</abbr>').format(piece.title, piece.label)
            )
        else:  # refused by the rule: never acted on, shown by what it is
            parts.append(_mark(piece, "refused"))
    return Markup("").join(parts)

"""The compliance report as a PDF: what the report computed from the ledger (`report.py`), on A4 landscape pages in
the report's language — the checkpoint it was computed at, the figures, the timeline as a Gantt chart (milestones
coloured by status, today marked, laid out by `gantt.py` as the agreement's page draws it) and a row a milestone.

reportlab lays out the pages and draws the chart as vector graphics (matplotlib took 6.8 s to draw the chart of
1,000 milestones on the reference machine; reportlab's graphics draw it in a fraction of a second). Arabic and Hebrew
are shaped and put in visual order (arabic-reshaper, python-bidi) and set in DejaVu Sans, which has their letters."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import arabic_reshaper
from bidi import get_display
from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from fusioncell.agreements import gantt
from fusioncell.errors import DomainError
from fusioncell.web import i18n
from fusioncell.web.pages import msg, vendor_root

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
PAGE = landscape(A4)
MARGIN = 14 * mm
WIDTH = PAGE[0] - 2 * MARGIN
ROWS_A_CHART = 28  # a chart's rows on one page; a longer timeline continues on the next
ROW, AXIS, LABELS = 14.0, 16.0, 210.0  # points: a row's height, the axis's, the milestones' names beside the chart
INK, RULE = colors.HexColor("#1d2430"), colors.HexColor("#c9ced8")

STATUS = {
    "pending": msg("pending"),
    "due": msg("due"),
    "verified": msg("verified"),
    "overdue": msg("overdue"),
    "disputed": msg("disputed"),
}
REPORT_OF = msg("Compliance report of agreement %(id)s")
COMPUTED = msg("Computed at %(at)s from the ledger's %(size)s entries below its checkpoint signed at %(signed)s.")
SIGNER = msg("The checkpoint's signer: %(origin)s; its root: %(root)s.")
BINDS = msg("Version %(version)s binds %(signatories)s since %(at)s.")
NOT_BINDING = msg("Not binding: no version is signed by every signatory (%(signatories)s).")
FOOTER = msg("fusioncell · agreement %(id)s · checkpoint %(size)s · page %(page)s")
TODAY = msg("Today")
COLUMNS = (
    ("key", msg("Milestone"), 0.09),
    ("title", msg("Title"), 0.22),
    ("obligor", msg("Obligor"), 0.06),
    ("verifier", msg("Verifier"), 0.09),
    ("due", msg("Due"), 0.12),
    ("status", msg("Status"), 0.08),
    ("verified_at", msg("Verified"), 0.12),
    ("days_overdue", msg("Days late"), 0.07),
    ("dispute", msg("Case"), 0.06),
    ("zone", msg("Zone"), 0.09),
)


class FontMissing(DomainError):
    status, slug, title = 503, "font-missing", "The PDF's font is not installed"


def _font_file(name: str) -> Path:
    """DejaVu Sans as package-lock.json pins it (`make install`), else the system's (Debian's fonts-dejavu-core)."""
    for folder in (vendor_root() / "dejavu-fonts-ttf" / "ttf", Path("/usr/share/fonts/truetype/dejavu")):
        if (folder / f"{name}.ttf").is_file():
            return folder / f"{name}.ttf"
    raise FontMissing(f"{name}.ttf was found neither in node_modules nor in the system's fonts: run make install")


@cache
def _fonts() -> None:
    for name in (FONT, BOLD):
        pdfmetrics.registerFont(TTFont(name, str(_font_file(name))))


@lru_cache(maxsize=4096)
def _visual(text: str, rtl: bool) -> str:
    """Text as the PDF draws it: left to right glyph by glyph, so Arabic's letters joined and right-to-left runs
    reversed (digits and Latin within them kept in order)."""
    if not text.isascii():
        return get_display(arabic_reshaper.reshape(text), base_dir="R" if rtl else "L")
    return text


def _fit(text: str, width: float, size: float, font: str = FONT) -> str:
    """Text cut to a width, with an ellipsis (the JSON, the CSV and the page keep it whole)."""
    if (text.isascii() and len(text) * size <= width) or pdfmetrics.stringWidth(text, font, size) <= width:
        return text  # no ASCII letter of DejaVu Sans is wider than an em
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[: max(1, int(len(text) * 0.9)) - 1] if len(text) > 40 else text[:-1]
    return text + "…"


def _day(value: str | None) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(data: dict[str, Any], now: datetime, reader: str | None = None) -> bytes:
    """The report `report.compute` made, as PDF bytes: its words in the reader's language (else the report's), the
    agreement's own text in the language the report chose."""
    _fonts()
    chosen = next((c for c in (reader, data["language"]) if c in i18n.LANGUAGES), i18n.SOURCE)
    lang = i18n.language(chosen)
    rtl = lang.direction == "rtl"
    _ = lang.gettext

    def v(text: str) -> str:
        return _visual(text, rtl)

    align = 2 if rtl else 0
    heading = ParagraphStyle("heading", fontName=BOLD, fontSize=15, leading=19, alignment=align, textColor=INK)
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11.5, alignment=align, textColor=INK)
    cp = data["checkpoint"]

    def para(text: str, style: ParagraphStyle) -> Paragraph:
        """A paragraph; right-to-left text broken into lines first and each line put in visual order (broken after
        reordering, its lines would come out last first)."""
        if text.isascii():
            return Paragraph(_esc(text), style)
        lines = simpleSplit(text, style.fontName, style.fontSize, WIDTH)
        return Paragraph("<br/>".join(_esc(v(line)) for line in lines), style)

    story: list[Any] = [
        para(data["title"], heading),
        para(_(REPORT_OF) % {"id": data["agreement"]}, body),
        Spacer(1, 4),
        para(_binding_line(data, _), body),
        para(
            _(COMPUTED) % {"at": _day(data["computed_at"]), "size": cp["size"], "signed": _day(cp["signed_at"])}, body
        ),  # fmt: skip
        para(_(SIGNER) % {"origin": cp["origin"], "root": cp["root"]}, body),
        Spacer(1, 6),
        _figures(data, _, v, rtl),
        Spacer(1, 8),
    ]
    milestones = data["milestones"]
    shown = gantt.layout(milestones, now, rtl=rtl)
    for first in range(0, len(shown.bars), ROWS_A_CHART):
        story += [_chart(shown, first, _, v, rtl), Spacer(1, 6)]
    story += [_legend(_, v, rtl), Spacer(1, 10), _table(milestones, _, v, rtl)]

    out = io.BytesIO()
    footer = _(FOOTER)

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.HexColor("#5b6473"))
        text = v(footer % {"id": data["agreement"], "size": cp["size"], "page": doc.page})  # filled, then ordered
        (canvas.drawString if rtl else canvas.drawRightString)(MARGIN if rtl else PAGE[0] - MARGIN, MARGIN / 2, text)
        canvas.restoreState()

    document = SimpleDocTemplate(
        out,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=data["title"],
        subject=f"Compliance report of agreement {data['agreement']} at checkpoint {cp['size']} {cp['root']}",
        creator="fusioncell",
        lang=lang.code,
    )
    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _binding_line(data: dict[str, Any], _: Any) -> str:
    signatories = ", ".join(data["signatories"])
    if data["binds"]:
        return _(BINDS) % {
            "version": data["in_force"], "signatories": signatories, "at": _day(data["bound_at"])}  # fmt: skip
    return _(NOT_BINDING) % {"signatories": signatories}


def _figures(data: dict[str, Any], _: Any, v: Any, rtl: bool) -> Table:
    f = data["figures"]
    share = "" if f["share_verified_on_time"] is None else f"{f['share_verified_on_time'] * 100:.1f} %"
    cells = [
        (_(msg("Milestones")), str(f["milestones"])),
        *((_(STATUS[s]), str(n)) for s, n in f["by_status"].items()),
        (_(msg("Verified on time")), str(f["verified_on_time"])),
        (_(msg("Verified late")), str(f["verified_late"])),
        (_(msg("Share verified on time")), share),
    ]
    if rtl:
        cells.reverse()
    rows = [[v(_fit(label, WIDTH / len(cells) - 4, 7.5)) for label, _n in cells], [n for _l, n in cells]]
    table = Table(rows, colWidths=[WIDTH / len(cells)] * len(cells), hAlign="CENTER")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), FONT, 7.5),
        ("FONT", (0, 1), (-1, 1), BOLD, 13),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("BOX", (0, 0), (-1, -1), 0.5, RULE),
        ("INNERGRID", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 1), (-1, 1), 5),
        ("BOTTOMPADDING", (0, 1), (-1, 1), 6),
    ]))  # fmt: skip
    return table


def _chart(shown: gantt.Layout, first: int, _: Any, v: Any, rtl: bool) -> Drawing:
    """Rows `first`.. of the chart: the milestones' names beside their bars, the axis's dates, today's line."""
    bars = shown.bars[first : first + ROWS_A_CHART]
    height = AXIS + ROW * len(bars) + 4
    chart_width = WIDTH - LABELS
    x0 = 0.0 if rtl else LABELS  # the chart's left edge; the names on its right for a right-to-left reader
    names_x = WIDTH - 4 if rtl else LABELS - 6
    d = Drawing(WIDTH, height)
    top = height - AXIS
    d.add(Rect(x0, 0, chart_width, top, fillColor=colors.HexColor("#f6f7f9"), strokeColor=RULE, strokeWidth=0.5))
    today = None if shown.today is None else x0 + shown.today * chart_width
    for tick in shown.ticks:
        x = x0 + tick.at * chart_width
        d.add(Line(x, 0, x, top, strokeColor=RULE, strokeWidth=0.4))
    for tick in shown.labelled(34 / chart_width):  # today's label in its place
        x = x0 + tick.at * chart_width
        d.add(String(x, top + 4, tick.label, fontName=FONT, fontSize=6.5, fillColor=INK, textAnchor="middle"))
    for i, bar in enumerate(bars):
        y = top - (i + 1) * ROW
        colour = colors.HexColor(bar.colour)
        left = x0 + bar.start * chart_width
        d.add(Rect(left, y + 3, max(1.5, (bar.end - bar.start) * chart_width), ROW - 6, fillColor=colour,
                   strokeColor=None))  # fmt: skip
        if bar.verified is not None:
            cx, cy = x0 + bar.verified * chart_width, y + ROW / 2
            d.add(Polygon([cx, cy + 4.5, cx + 4.5, cy, cx, cy - 4.5, cx - 4.5, cy], fillColor=colour,
                          strokeColor=colors.white, strokeWidth=0.6))  # fmt: skip
        name = v(_fit(f"{bar.key} · {bar.title}", LABELS - 10, 7))
        d.add(String(names_x, y + 4.5, name, fontName=FONT, fontSize=7, fillColor=INK, textAnchor="end"))
    if today is not None:
        x = today
        d.add(Line(x, 0, x, top + 2, strokeColor=colors.HexColor("#0b57d0"), strokeWidth=1.2))
        d.add(String(x, top + 4, v(_(TODAY)), fontName=BOLD, fontSize=6.5, fillColor=colors.HexColor("#0b57d0"),
                     textAnchor="middle"))  # fmt: skip
    return d


def _legend(_: Any, v: Any, rtl: bool) -> Drawing:
    d = Drawing(WIDTH, 12)
    x = WIDTH if rtl else 0.0
    for status, label in STATUS.items():
        text = v(_(label))
        width = pdfmetrics.stringWidth(text, FONT, 7.5) + 26
        left = x - width if rtl else x
        swatch, words = (left + width - 14, left + 6) if rtl else (left, left + 18)  # the colour first as one reads
        d.add(Rect(swatch, 2, 14, 8, fillColor=colors.HexColor(gantt.COLOURS[status]), strokeColor=None))
        d.add(String(words, 3, text, fontName=FONT, fontSize=7.5, fillColor=INK))
        x = left if rtl else x + width
    return d


def _table(milestones: list[dict[str, Any]], _: Any, v: Any, rtl: bool) -> Table:
    columns = list(reversed(COLUMNS)) if rtl else list(COLUMNS)
    widths = [WIDTH * share for _k, _l, share in columns]
    rows: list[list[str]] = [
        [v(_fit(_(label), w - 6, 7.5, BOLD)) for (_k, label, _s), w in zip(columns, widths, strict=True)]
    ]
    for m in milestones:
        cells = {
            "key": m["key"],
            "title": m["title"],
            "obligor": m["obligor"],
            "verifier": m["verifier"],
            "due": _day(m["due"]),
            "status": _(STATUS[m["status"]]),
            "verified_at": _day(m["verified_at"]),
            "days_overdue": f"{m['days_overdue']:g}" if m["days_overdue"] else "",
            "dispute": "" if m["dispute"] is None else str(m["dispute"]),
            "zone": m["zone"] or "",
        }
        rows.append([v(_fit(cells[k], w - 6, 7.5)) for (k, _l, _s), w in zip(columns, widths, strict=True)])
    status_column = [k for k, _l, _s in columns].index("status")
    style = [
        ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
        ("FONT", (0, 1), (-1, -1), FONT, 7.5),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("ALIGN", (0, 0), (-1, -1), "RIGHT" if rtl else "LEFT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for i, m in enumerate(milestones, start=1):
        style.append(("TEXTCOLOR", (status_column, i), (status_column, i), colors.HexColor(gantt.COLOURS[m["status"]])))
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    return table

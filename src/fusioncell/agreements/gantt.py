"""The timeline as a Gantt chart, laid out once and drawn twice: as SVG on the agreement's page and as vector graphics
in the compliance report's PDF, so the two never disagree. Pure: milestones and the clock in, positions out, each a
fraction of the chart's width (mirrored for a right-to-left reader, whose time runs leftwards).

A bar runs from a milestone's start to its due date in its status's colour; a verified milestone is marked where it
was verified (past its bar when late); today is a line across every row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# a status's colour: the pages' CSS (agreements.css) names the same five
COLOURS = {
    "pending": "#6b7585",
    "due": "#9a5b00",
    "verified": "#2e7d32",
    "overdue": "#c62828",
    "disputed": "#6a3d9a",
}


@dataclass(frozen=True)
class Bar:
    key: str
    title: str
    status: str
    start: float  # the bar's left edge, a fraction of the width
    end: float  # its right edge (start < end, whatever the direction)
    verified: float | None  # where it was verified, if it was

    @property
    def colour(self) -> str:
        return COLOURS[self.status]


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Layout:
    begin: datetime
    end: datetime
    bars: list[Bar]
    ticks: list[Tick]
    today: float | None  # None when today lies outside the chart

    def labelled(self, gap: float) -> list[Tick]:
        """The ticks whose date may be written: those not within `gap` (a fraction of the width) of today's label."""
        return [t for t in self.ticks if self.today is None or abs(t.at - self.today) > gap]


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ticks(begin: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Week starts for a span of up to two months, month starts up to three years (every n-th, a dozen at most),
    else year starts: dates in ISO digits, which read the same in every language."""
    days = (end - begin).days
    if days <= 62:
        first = (begin + timedelta(days=(7 - begin.weekday()) % 7)).replace(hour=0, minute=0, second=0, microsecond=0)
        return [(first + timedelta(weeks=i), (first + timedelta(weeks=i)).strftime("%Y-%m-%d"))
                for i in range(days // 7 + 2) if first + timedelta(weeks=i) <= end]  # fmt: skip
    if days <= 3 * 366:
        months = []
        year, month = begin.year, begin.month
        while True:
            month += 1
            year, month = (year + 1, 1) if month > 12 else (year, month)
            moment = datetime(year, month, 1, tzinfo=UTC)
            if moment > end:
                break
            months.append(moment)
        step = max(1, -(-len(months) // 12))
        return [(m, m.strftime("%Y-%m")) for m in months[::step]]
    years = [datetime(y, 1, 1, tzinfo=UTC) for y in range(begin.year + 1, end.year + 1)]
    step = max(1, -(-len(years) // 12))
    return [(y, str(y.year)) for y in years[::step]]


def layout(milestones: Iterable[Mapping[str, Any]], now: datetime, *, rtl: bool = False) -> Layout:
    """Milestones as the compliance report lists them (key, title, starts, due, status, verified_at), in order."""
    rows = list(milestones)
    moments = [_moment(m[k]) for m in rows for k in ("starts", "due")]
    moments += [_moment(m["verified_at"]) for m in rows if m.get("verified_at")]
    if not moments:
        moments = [now - timedelta(days=1), now + timedelta(days=1)]
    first, last = min(moments), max(moments)
    if first <= now <= last + (last - first) / 4:
        last = max(last, now)  # today on the chart when it is near
    margin = max((last - first) / 40, timedelta(hours=12))
    begin, end = first - margin, last + margin
    span = (end - begin).total_seconds()

    def at(moment: datetime) -> float:
        x = (moment - begin).total_seconds() / span
        return 1 - x if rtl else x

    bars = []
    for m in rows:
        a, b = at(_moment(m["starts"])), at(_moment(m["due"]))
        verified = at(_moment(m["verified_at"])) if m.get("verified_at") else None
        bars.append(Bar(m["key"], m["title"], m["status"], min(a, b), max(a, b), verified))
    today = at(now) if begin <= now <= end else None
    ticks = [Tick(at(t), label) for t, label in _ticks(begin, end) if begin <= t <= end]
    return Layout(begin, end, bars, ticks, today)

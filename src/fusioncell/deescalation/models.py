"""De-escalation tables: notified activities with every version, the conflicts found on each, and the zone versions
the mediator proposes (the charter's zones are version 1 of each, read from the charter)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from fusioncell.db import Base, UTCDateTime


class Activity(Base):
    """A party's pre-notified activity as it now stands (its latest version); earlier versions in ActivityVersion.
    Its state follows from the clock and from what the party did: planned before `start_at`, active until
    `live_until`, then ended; cancelled once cancelled."""

    __tablename__ = "activities"
    __table_args__ = (
        # the deconfliction check's candidates: one theatre, live during a window, near a box
        Index("ix_activities_theatre_live_until", "theatre", "live_until"),
        Index("ix_activities_ledger_index", "ledger_index"),
        # a notifier's own id for a notification names one (NULLs, notifications without one, never collide)
        Index("ix_activities_notified_by_client_txn_id", "notified_by", "client_txn_id", unique=True),
        # ... and, outside these declarations (migration 0014), the two-dimensional index on the grown box: GiST on
        # `box(point(min_x, min_y), point(max_x, max_y))` on PostgreSQL, the `activity_boxes` R*Tree on SQLite
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    theatre: Mapped[str] = mapped_column(String(64), nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    audience: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    activity_type: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, doc="GeoJSON, longitude/latitude")
    projected: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, doc="WKB in the theatre's projection")
    radius_m: Mapped[float] = mapped_column(Float, nullable=False)
    lower_m: Mapped[float] = mapped_column(Float, nullable=False)
    upper_m: Mapped[float] = mapped_column(Float, nullable=False)
    datum: Mapped[str] = mapped_column(String(8), nullable=False)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    live_until: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, doc="end_at, or when the party ended or cancelled it, if earlier"
    )
    forces: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False, default=dict)
    justification: Mapped[str | None] = mapped_column(Text)
    short_notice: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # the grown box in the theatre's projection (metres): a cheap first filter in SQL
    min_x: Mapped[float] = mapped_column(Float, nullable=False)
    min_y: Mapped[float] = mapped_column(Float, nullable=False)
    max_x: Mapped[float] = mapped_column(Float, nullable=False)
    max_y: Mapped[float] = mapped_column(Float, nullable=False)
    notified_by: Mapped[str] = mapped_column(String(64), nullable=False)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    amended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_reason: Mapped[str | None] = mapped_column(Text)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="its latest entry")
    client_txn_id: Mapped[str | None] = mapped_column(String(100), doc="the notifier's own id for the notification")
    request_digest: Mapped[str | None] = mapped_column(
        String(64), doc="SHA-256 of the notification as sent (a resend under the same id must match it)"
    )


# SQLite's R*Tree over the activities' grown boxes and live windows (migration 0014; its triggers keep it): read, never
# written here. Times are seconds since EPOCH.
ACTIVITY_BOXES = Table(
    "activity_boxes",
    MetaData(),  # not the models' metadata: it is a virtual table, created by its migration on SQLite only
    Column("id", Integer, primary_key=True),
    *(Column(name, Float) for name in ("min_x", "max_x", "min_y", "max_y", "min_t", "max_t")),
)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
BOX_TABLES = ("activity_boxes", "activity_boxes_node", "activity_boxes_parent", "activity_boxes_rowid")
BOX_INDEX = "ix_activities_box"


def live_near(
    dialect: str, theatre: str, box: tuple[float, float, float, float], start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    """The conditions for the activities of a theatre, not cancelled, live at some instant of [start, end), whose grown
    box overlaps `box` (edges touching count): the box looked up in the dialect's two-dimensional index."""
    x0, y0, x1, y1 = box
    live: list[ColumnElement[bool]] = [Activity.theatre == theatre, Activity.live_until > start]
    if dialect == "sqlite":
        b = ACTIVITY_BOXES.c
        # The R*Tree's 32-bit floats are rounded outwards, but julianday() keeps milliseconds only: a second's margin
        # on the window, and these inclusive bounds never lose an activity (the exact terms below decide).
        t0, t1 = (start - EPOCH).total_seconds() - 1.0, (end - EPOCH).total_seconds() + 1.0
        ids = select(b.id).where(
            b.min_x <= x1, b.max_x >= x0, b.min_y <= y1, b.max_y >= y0, b.min_t <= t1, b.max_t >= t0
        )
        box_term: ColumnElement[bool] = Activity.id.in_(ids)
        # SQLite keeps no statistics here: told nothing, it walks (theatre, live_until)'s B-tree — half the table with
        # every activity live — testing each row against the R*Tree's few ids. likelihood() says those terms hold for
        # most rows, and the plan starts from the R*Tree.
        live = [func.likelihood(term, literal_column("0.9")) for term in live]
    else:
        grown = func.box(func.point(Activity.min_x, Activity.min_y), func.point(Activity.max_x, Activity.max_y))
        box_term = grown.op("&&")(func.box(func.point(x0, y0), func.point(x1, y1)))
    return [box_term, *live, Activity.cancelled_at.is_(None), Activity.start_at < end]


class ActivityVersion(Base):
    """Each version of an activity exactly as notified (the ledger content of its entry)."""

    __tablename__ = "activity_versions"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ActivityConflict(Base):
    """A conflict found when a version of an activity was notified, and accepted by its notifier's
    acknowledgement (or, for short notice, justification). About the activity, and for an overlap also about the
    other activity: each party reads it from its own side, the other's details only if it may read that one."""

    __tablename__ = "activity_conflicts"
    __table_args__ = (
        Index("ix_activity_conflicts_activity", "activity_id", "version"),
        Index("ix_activity_conflicts_other", "other_activity_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    rule: Mapped[str] = mapped_column(String(16), nullable=False)
    ref: Mapped[str] = mapped_column(String(160), nullable=False)
    zone_id: Mapped[str | None] = mapped_column(String(64))
    zone_version: Mapped[int | None] = mapped_column(Integer)
    other_activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    other_version: Mapped[int | None] = mapped_column(Integer)
    other_delegation: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ZoneVersion(Base):
    """A version of a zone the mediator proposed through the API (a change to a charter zone, or a new zone). It
    enters into force when every party has accepted it; the version in force at an instant is the latest to have
    entered into force by then."""

    __tablename__ = "zone_versions"

    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, doc="the zone as in the charter")
    note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    accepted: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict, doc="party → when")
    in_force_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Incident(Base):
    """An alleged violation reported by a party or an observer: when, where, what, and the evidence."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_ledger_index", "ledger_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audience: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    reported_by: Mapped[str] = mapped_column(String(64), nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    theatre: Mapped[str] = mapped_column(String(64), nullable=False)
    place: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, doc="GeoJSON, longitude/latitude")
    description: Mapped[str] = mapped_column(Text, nullable=False)
    zone_id: Mapped[str | None] = mapped_column(String(64))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, nullable=False, default=list, doc="filename, content type, size and SHA-256 of each file"
    )
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class EvidenceFile(Base):
    """An evidence file's bytes, named by their SHA-256 (which the ledger content commits to)."""

    __tablename__ = "evidence_files"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

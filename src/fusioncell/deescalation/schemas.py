"""API shapes for zones, activities and their conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from fusioncell.schemas import LINES, InputModel

Slug = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), LINES]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), LINES]

GEOMETRY_DOC = (
    "A GeoJSON (RFC 7946) Point, LineString or Polygon, positions as [longitude, latitude] in WGS 84, at most "
    "2,000 positions, inside one of the charter's theatres."
)


class AltitudeBand(InputModel):
    lower_m: float = Field(ge=-1000, le=100_000, description="Bottom of the band, metres.", examples=[0])
    upper_m: float = Field(ge=-1000, le=100_000, description="Top of the band, metres.", examples=[4500])
    datum: Literal["MSL", "AGL", "WGS84"] = Field(
        default="MSL",
        description="What the heights are measured from: mean sea level, above ground level, or the WGS 84 "
        "ellipsoid. Bands on different datums are taken to overlap (the terrain is not known).",
    )


class ActivityCreate(InputModel):
    """A pre-notified activity: a volume in space and time, its type and what takes part."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="`joint` (the other party reads it), or `mediated:<your delegation>` (the mediator alone).",
        examples=["joint"],
    )
    activity_type: Slug = Field(description="One of the charter's activity types.", examples=["air-patrol"])
    geometry: dict[str, Any] = Field(description=GEOMETRY_DOC)
    radius_m: float = Field(
        ge=0, le=500_000, description="The volume reaches this far from the geometry, metres.", examples=[2000]
    )
    altitude: AltitudeBand
    start: AwareDatetime = Field(description="Start of the window [start, end), UTC.")
    end: AwareDatetime = Field(description="End of the window (exclusive), UTC.")
    forces: dict[Slug, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict,
        max_length=32,
        description="Counts per kind of equipment the charter names (troops, tanks, guns…).",
        examples=[{"aircraft": 2}],
    )
    description: Description = Field(default="", description="What and why, in a few lines.")
    justification: Description | None = Field(
        default=None,
        description="Why it is notified later than the notice period: required for a short notice, which is then "
        "accepted and flagged to the mediator.",
    )
    acknowledge: list[Annotated[str, StringConstraints(min_length=1, max_length=160)]] = Field(
        default_factory=list,
        max_length=200,
        description="The `ref` of each conflict a 409 listed, to notify the activity knowing of them (proof of "
        "awareness). A ref names the version it is about: a conflict with a since-amended activity must be "
        "acknowledged again.",
    )


class ActivityClose(InputModel):
    reason: Description = Field(default="", description="Why it was cancelled or ended early.")


class ConflictRead(BaseModel):
    kind: Literal["zone", "notice", "suspension", "activity", "withheld"]
    rule: str
    ref: str
    summary: str = Field(description="What the conflict is, in a sentence.")
    zone: str | None = None
    zone_version: int | None = None
    other_activity: int | None = None
    other_version: int | None = None
    other_delegation: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    activity: int | None = Field(default=None, description="The activity the conflict was found on")
    version: int | None = None
    found_at: datetime | None = None


class ActivityRead(BaseModel):
    id: int
    version: int
    theatre: str
    delegation: str
    audience: str
    state: Literal["planned", "active", "ended", "cancelled"]
    activity_type: str
    description: str
    geometry: dict[str, Any]
    radius_m: float
    altitude: dict[str, Any]
    start: datetime
    end: datetime
    live_until: datetime
    forces: dict[str, int]
    justification: str | None
    short_notice: bool
    notified_by: str
    notified_at: datetime
    amended_at: datetime | None
    ended_at: datetime | None
    cancelled_at: datetime | None
    close_reason: str | None
    ledger_index: int
    conflicts: list[ConflictRead] = Field(default_factory=list)


class ActivityPage(BaseModel):
    items: list[ActivityRead]


class ActivityVersionRead(BaseModel):
    version: int
    recorded_at: datetime
    ledger_index: int
    record: dict[str, Any]


class CheckResult(BaseModel):
    conflicts: list[ConflictRead]
    notice_required_s: int = Field(description="The notice period this activity owes, seconds.")


class ZoneRead(BaseModel):
    id: str
    version: int
    theatre: str
    kind: str
    names: dict[str, str]
    approximate: bool
    status: Literal["in-force", "proposed", "superseded", "withdrawn"]
    in_force_from: datetime | None
    controlled_by: str | None
    binds: list[str] | None
    valid_from: datetime
    valid_until: datetime | None
    altitude: dict[str, Any] | None
    rules: dict[str, Any]
    geometry: dict[str, Any]
    proposed_by: str | None = None
    accepted: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class ZonePage(BaseModel):
    items: list[ZoneRead]


class ZonePropose(InputModel):
    """A new zone, or a new version of one: the whole zone as the charter's `zones` section writes it."""

    zone: dict[str, Any] = Field(description="id, kind, names, valid_from, rules, geometry … as in the charter")
    note: Description = Field(default="", description="Why, for the parties who must accept it.")


INCIDENT_KINDS = (
    "airspace-violation",
    "ground-incursion",
    "fire",
    "shelling",
    "zone-violation",
    "unnotified-activity",
    "other",
)


class EvidenceUpload(InputModel):
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="What the file is: image/png, image/jpeg, image/gif, image/webp, application/pdf, video/mp4 or "
        "text/plain; its bytes must show the same."
    )
    content_base64: Annotated[str, StringConstraints(min_length=1, max_length=800_000)] = Field(
        description="The file, base64 (at most 512 KiB decoded; at most 5 files)."
    )


class IncidentCreate(InputModel):
    """An alleged violation: when, where, what, and the evidence."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="`joint`, or `mediated:<your delegation>` (the mediator alone).", examples=["joint"]
    )
    kind: Literal[
        "airspace-violation", "ground-incursion", "fire", "shelling", "zone-violation", "unnotified-activity", "other"
    ]
    occurred_at: AwareDatetime
    place: dict[str, Any] = Field(description=GEOMETRY_DOC)
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), LINES]
    zone: Slug | None = Field(default=None, description="The zone it concerns.")
    activity: int | None = Field(default=None, ge=1, le=2**31 - 1, description="The activity it concerns.")
    evidence: list[EvidenceUpload] = Field(default_factory=list, max_length=5)


class IncidentRead(BaseModel):
    id: int
    audience: str
    delegation: str
    reported_by: str
    reported_at: datetime
    occurred_at: datetime
    kind: str
    theatre: str
    place: dict[str, Any]
    description: str
    zone: str | None
    activity: int | None
    evidence: list[dict[str, Any]]
    ledger_index: int


class IncidentPage(BaseModel):
    items: list[IncidentRead]

"""API shapes for zones, activities and their conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from fusioncell.schemas import LINES, InputModel, TxnId

Slug = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), LINES]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), LINES]

GEOMETRY_DOC = (
    "A GeoJSON (RFC 7946) Point, LineString or Polygon, positions as [longitude, latitude] in WGS 84, at most "
    "2,000 positions, inside one of the charter's theatres."
)


class AltitudeBand(InputModel):
    """The heights an activity spans, closed at both ends, and what they are measured from."""

    lower_m: float = Field(ge=-1000, le=100_000, description="Bottom of the band, metres.", examples=[0])
    upper_m: float = Field(ge=-1000, le=100_000, description="Top of the band, metres.", examples=[4500])
    datum: Literal["MSL", "AGL", "WGS84"] = Field(
        default="MSL",
        description="What the heights are measured from: mean sea level, above ground level, or the WGS 84 "
        "ellipsoid. Bands on different datums are taken to overlap (the terrain is not known).",
        examples=["MSL"],
    )


class ActivityCreate(InputModel):
    """A pre-notified activity: a volume in space and time, its type and what takes part."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="`joint` (the other party reads it), or `mediated:<your delegation>` (the mediator alone).",
        examples=["joint"],
    )
    activity_type: Slug = Field(description="One of the charter's activity types.", examples=["air-patrol"])
    geometry: dict[str, Any] = Field(
        description=GEOMETRY_DOC, examples=[{"type": "LineString", "coordinates": [[36.05, 33.2], [36.1, 32.9]]}]
    )
    radius_m: float = Field(
        ge=0, le=500_000, description="The volume reaches this far from the geometry, metres.", examples=[2000]
    )
    altitude: AltitudeBand = Field(description="The altitude band, with its datum.")
    start: AwareDatetime = Field(
        description="Start of the window [start, end), UTC.", examples=["2026-03-06T06:00:00Z"]
    )
    end: AwareDatetime = Field(description="End of the window (exclusive), UTC.", examples=["2026-03-06T12:00:00Z"])
    forces: dict[Slug, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict,
        max_length=32,
        description="Counts per kind of equipment the charter names (troops, tanks, guns…).",
        examples=[{"aircraft": 2}],
    )
    description: Description = Field(
        default="", description="What and why, in a few lines.", examples=["Two-ship patrol along the limitation belt"]
    )
    justification: Description | None = Field(
        default=None,
        examples=["Rescheduled after the storm closed the range"],
        description="Why it is notified later than the notice period: required for a short notice, which is then "
        "accepted and flagged to the mediator.",
    )
    acknowledge: list[Annotated[str, StringConstraints(min_length=1, max_length=160)]] = Field(
        default_factory=list,
        max_length=200,
        description="The `ref` of each conflict a 409 listed, to notify the activity knowing of them (proof of "
        "awareness). A ref names the version it is about: a conflict with a since-amended activity must be "
        "acknowledged again.",
        examples=[["zone:area-of-separation@1:forbidden"]],
    )


class ActivityNotify(ActivityCreate):
    """A new activity, with the notifier's own id for it so that it can be sent again safely."""

    client_txn_id: TxnId | None = Field(
        default=None,
        description="Your own id for this notification, to send it again safely (a link that dropped before the "
        "answer): the same id from the same account returns the activity notified with it (200, "
        "`Idempotent-Replayed: true`) and writes nothing; other content under the same id is 409.",
        examples=["sy-night-2026-03-02-0415"],
    )


class ActivityClose(InputModel):
    """Cancelling or ending an activity early, saying why."""

    reason: Description = Field(
        default="", description="Why it was cancelled or ended early.", examples=["Weather: the range is closed"]
    )


def _f(description: str, example: Any, **default: Any) -> Any:
    """A response field's description and example (the docs show every field with both); `default=` for one a
    reader may not be given."""
    return Field(description=description, examples=[example], **default)


class ConflictRead(BaseModel):
    """A conflict as the reader may see it: one with an activity the reader may not read is only `withheld`."""

    kind: Literal["zone", "notice", "suspension", "activity", "withheld"] = _f("What it is with.", "zone")
    rule: str = _f("forbidden, cap, short-notice, suspended or overlap.", "forbidden")
    ref: str = _f(
        "Its name, for `acknowledge`: it names the version it is about.", "zone:area-of-separation@1:forbidden"
    )
    summary: str = _f("What the conflict is, in a sentence.", "Ground exercise is forbidden in the area of separation")
    zone: str | None = _f("The zone, for a zone rule.", "area-of-separation", default=None)
    zone_version: int | None = _f("The zone's version.", 1, default=None)
    other_activity: int | None = _f("The other activity, for an overlap you may read.", 1204587731, default=None)
    other_version: int | None = _f("Its version.", 2, default=None)
    other_delegation: str | None = _f("Whose it is.", "IL", default=None)
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="The figures: distance and separation needed, or the cap and the total, or the notice.",
        examples=[{"distance_m": 467.0, "separation_m": 2000.0}],
    )
    activity: int | None = _f("The activity the conflict was found on.", 1204587731, default=None)
    version: int | None = _f("That activity's version.", 1, default=None)
    found_at: datetime | None = _f(
        "When it was found (when that version was notified).", "2026-03-02T06:00:00Z", default=None
    )


class ActivityRead(BaseModel):
    """A notified activity as it now stands (its latest version)."""

    id: int = _f("The activity's id.", 1204587731)
    version: int = _f("Its version: 1, then one more for each amendment.", 1)
    theatre: str = _f("The charter's theatre it is in.", "golan")
    delegation: str = _f("The party that notified it.", "SY")
    audience: str = _f("Who reads it.", "joint")
    state: Literal["planned", "active", "ended", "cancelled"] = _f("From the clock and the party.", "planned")
    activity_type: str = _f("The charter's activity type.", "air-patrol")
    description: str = _f("What and why.", "Two-ship patrol along the limitation belt")
    geometry: dict[str, Any] = _f("GeoJSON, longitude/latitude.", {"type": "Point", "coordinates": [36.45, 33.05]})
    radius_m: float = _f("How far the volume reaches from the geometry, metres.", 3000.0)
    altitude: dict[str, Any] = _f("The band and its datum.", {"lower_m": 1500.0, "upper_m": 4500.0, "datum": "MSL"})
    start: datetime = _f("Start of the window, UTC.", "2026-03-06T06:00:00Z")
    end: datetime = _f("End of the window as notified (exclusive), UTC.", "2026-03-06T12:00:00Z")
    live_until: datetime = _f("When it ends: its end, or when the party ended or cancelled it.", "2026-03-06T12:00:00Z")
    forces: dict[str, int] = _f("Counts per kind of equipment.", {"aircraft": 2})
    justification: str | None = _f("Why it was notified at short notice.", "Rescheduled after the storm")
    short_notice: bool = _f("Notified later than its notice period.", False)
    notified_by: str = _f("Who notified it.", "sy.liaison")
    notified_at: datetime = _f("When it was first notified.", "2026-03-02T06:00:00Z")
    amended_at: datetime | None = _f("When it was last amended.", "2026-03-02T07:00:00Z")
    ended_at: datetime | None = _f("When the party ended it early.", "2026-03-06T10:00:00Z")
    cancelled_at: datetime | None = _f("When the party cancelled it.", "2026-03-03T06:00:00Z")
    close_reason: str | None = _f("Why it was ended early or cancelled.", "Weather: the range is closed")
    ledger_index: int = _f("Its latest ledger entry.", 42)
    conflicts: list[ConflictRead] = Field(default_factory=list, description="Its conflicts, from your side.")


class ActivityPage(BaseModel):
    """Activities, in the order notified."""

    items: list[ActivityRead] = Field(description="The activities.")


class ActivityVersionRead(BaseModel):
    """One version of an activity exactly as notified (its ledger entry's content)."""

    version: int = _f("The version.", 1)
    recorded_at: datetime = _f("When it was notified.", "2026-03-02T06:00:00Z")
    ledger_index: int = _f("Its ledger entry.", 42)
    record: dict[str, Any] = _f(
        "The activity as notified, with its conflicts as its audience sees them.",
        {"activity": 1204587731, "version": 1, "activity_type": "air-patrol"},
    )


class CheckResult(BaseModel):
    """What notifying the activity now would meet, from your side."""

    conflicts: list[ConflictRead] = Field(description="The conflicts (none withheld: see the README).")
    notice_required_s: int = _f("The notice period this activity owes, seconds.", 86400)


class ZoneRead(BaseModel):
    """A version of an agreed (or proposed) zone, with its rules."""

    id: str = _f("The zone's id.", "area-of-separation")
    version: int = _f("The version (the charter's is 1).", 1)
    theatre: str = _f("The theatre it lies in.", "golan")
    kind: str = _f(
        "area-of-separation, buffer-zone, area-of-limitation, demilitarized-zone, no-fly, control-area.",
        "area-of-separation",
    )
    names: dict[str, str] = _f("Its name in each language.", {"en": "Area of separation", "ar": "منطقة الفصل"})
    approximate: bool = _f("Drawn for demonstration, not the agreed line.", True)
    status: Literal["in-force", "proposed", "superseded", "withdrawn"] = _f("At the instant asked.", "in-force")
    in_force_from: datetime | None = _f(
        "When the last party accepted it (none: the charter's).", "2026-03-02T08:00:00Z"
    )
    controlled_by: str | None = _f("For a control area: whose.", "SY")
    binds: list[str] | None = _f("The parties its rules bind (none: every party).", ["SY"])
    valid_from: datetime = _f("When its rules start to apply.", "2026-01-06T00:00:00Z")
    valid_until: datetime | None = _f("When they stop (none: for ever).", "2027-01-06T00:00:00Z")
    altitude: dict[str, Any] | None = _f(
        "Its altitude band (none: every altitude).", {"lower": 0.0, "upper": 9000.0, "datum": "MSL"}
    )
    rules: dict[str, Any] = _f(
        "Forbidden types, caps, longer notice periods.",
        {"forbidden": ["ground-exercise"], "caps": {"tanks": 75}, "notice": {}},
    )
    geometry: dict[str, Any] = _f(
        "GeoJSON polygon or multipolygon, longitude/latitude.",
        {"type": "Polygon", "coordinates": [[[35.8, 33.1], [35.9, 33.1], [35.9, 33.2], [35.8, 33.1]]]},
    )
    proposed_by: str | None = _f("The mediator's officer who proposed it.", "us.mediator")
    accepted: dict[str, Any] = Field(
        default_factory=dict, description="Each party's acceptance, when.", examples=[{"SY": "2026-03-02T07:00:00Z"}]
    )
    note: str | None = _f("The mediator's note.", "Halve the tanks in the first belt")


class ZonePage(BaseModel):
    """Zones and their versions."""

    items: list[ZoneRead] = Field(description="The zone versions.")


class ZonePropose(InputModel):
    """A new zone, or a new version of one: the whole zone as the charter's `zones` section writes it."""

    zone: dict[str, Any] = Field(
        description="id, kind, names, valid_from, rules, geometry … as in the charter",
        examples=[{"id": "limitation-10km", "kind": "area-of-limitation"}],
    )
    note: Description = Field(
        default="", description="Why, for the parties who must accept it.", examples=["Halve the tanks"]
    )


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
    """An evidence file."""

    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="Its name, as the reporter has it.", examples=["observation-log.txt"]
    )
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="What the file is: image/png, image/jpeg, image/gif, image/webp, application/pdf, video/mp4 or "
        "text/plain; its bytes must show the same.",
        examples=["text/plain"],
    )
    content_base64: Annotated[str, StringConstraints(min_length=1, max_length=800_000)] = Field(
        description="The file, base64 (at most 512 KiB decoded; at most 5 files).",
        examples=["MDQxMlo6IGRyb25lIHNlZW4gYWJvdmUgUXVuZWl0cmEK"],
    )


class IncidentCreate(InputModel):
    """An alleged violation: when, where, what, and the evidence."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="`joint`, or `mediated:<your delegation>` (the mediator alone).", examples=["joint"]
    )
    kind: Literal[
        "airspace-violation", "ground-incursion", "fire", "shelling", "zone-violation", "unnotified-activity", "other"
    ] = Field(description="What is alleged.", examples=["airspace-violation"])
    occurred_at: AwareDatetime = Field(description="When it happened.", examples=["2026-03-02T04:12:00Z"])
    place: dict[str, Any] = Field(
        description=GEOMETRY_DOC, examples=[{"type": "LineString", "coordinates": [[35.8, 33.16], [35.85, 33.1]]}]
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), LINES] = Field(
        description="What was seen, by whom.", examples=["A drone crossed the area of separation"]
    )
    zone: Slug | None = Field(default=None, description="The zone it concerns.", examples=["area-of-separation"])
    activity: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The activity it concerns.", examples=[1204587731]
    )
    evidence: list[EvidenceUpload] = Field(default_factory=list, max_length=5, description="Up to five files.")


class IncidentRead(BaseModel):
    """A reported incident."""

    id: int = _f("The incident's id.", 1873520041)
    audience: str = _f("Who reads it.", "joint")
    delegation: str = _f("Who reported it.", "UNDOF")
    reported_by: str = _f("The person who reported it.", "undof.observer")
    reported_at: datetime = _f("When it was reported.", "2026-03-02T06:00:00Z")
    occurred_at: datetime = _f("When it happened.", "2026-03-02T04:12:00Z")
    kind: str = _f("What is alleged.", "airspace-violation")
    theatre: str = _f("The theatre it is in.", "golan")
    place: dict[str, Any] = _f("GeoJSON, longitude/latitude.", {"type": "Point", "coordinates": [35.82, 33.12]})
    description: str = _f("What was seen.", "A drone crossed the area of separation")
    zone: str | None = _f("The zone it concerns.", "area-of-separation")
    activity: int | None = _f("The activity it concerns.", 1204587731)
    evidence: list[dict[str, Any]] = _f(
        "Each file's name, type, size and SHA-256.", [{"filename": "observation-log.txt", "content_type": "text/plain"}]
    )
    ledger_index: int = _f("Its ledger entry.", 43)


class IncidentPage(BaseModel):
    """Incidents, in the order reported."""

    items: list[IncidentRead] = Field(description="The incidents.")

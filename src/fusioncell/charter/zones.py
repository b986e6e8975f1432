"""The charter's de-escalation sections: theatres and their metric projection, activity types with their notice
periods, counted equipment, suspension commitments (`deescalation`), and the agreed zones with their rules
(`zones`). Checked at load: geometry valid and inside its theatre, every name in every language, every reference
known."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from fusioncell.deescalation import geometry

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]
LangCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Names = dict[LangCode, NonEmpty]
MAX_NOTICE = timedelta(days=366)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneKind(StrEnum):
    AREA_OF_SEPARATION = "area-of-separation"
    BUFFER_ZONE = "buffer-zone"
    AREA_OF_LIMITATION = "area-of-limitation"
    DEMILITARIZED_ZONE = "demilitarized-zone"
    NO_FLY = "no-fly"
    CONTROL_AREA = "control-area"  # where a party's forces stand: what a suspension commitment is over
    OTHER = "other"


class Theatre(_Closed):
    id: Slug
    names: Names
    projection: NonEmpty = Field(
        description="the metric projection distances are measured in (a PROJ string or EPSG code), never Web "
        "Mercator; it must keep distances within 0.1 % everywhere inside the bounds"
    )
    bounds: tuple[float, float, float, float] = Field(description="west, south, east, north, in degrees")

    @model_validator(mode="after")
    def _measurable(self) -> Theatre:
        west, south, east, north = self.bounds
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError("bounds are [west, south, east, north] in degrees, west < east and south < north")
        problem = self.projection_.problem()
        if problem:
            raise ValueError(f"projection: {problem}")
        lons = [west, (west + east) / 2, east] * 3
        lats = [south] * 3 + [(south + north) / 2] * 3 + [north] * 3
        error = self.projection_.scale_error(lons, lats)
        if error > geometry.MAX_SCALE_ERROR:
            raise ValueError(
                f"projection: distances in it are off by up to {error:.3%} inside the bounds (at most "
                f"{geometry.MAX_SCALE_ERROR:.1%}): centre a transverse Mercator on the theatre"
            )
        return self

    @cached_property
    def projection_(self) -> geometry.Projection:
        return geometry.Projection(self.projection)

    @cached_property
    def area(self) -> Any:
        import shapely

        return shapely.box(*self.bounds)


class ActivityType(_Closed):
    id: Slug
    names: Names
    notice: timedelta = Field(description="how long before its start an activity of this type must be notified")
    airborne: bool = False

    @field_validator("notice")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= MAX_NOTICE:
            raise ValueError("a notice period runs from 0 to 366 days")
        return value


class Suspension(_Closed):
    """A party's commitment to suspend some activity over an area (say, strikes over the other's control area)."""

    id: Slug
    names: Names
    party: Code
    activity_types: list[Slug] = Field(min_length=1)
    zones: list[Slug] = Field(min_length=1, description="the zones (usually control areas) it is suspended over")
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None


class Deescalation(_Closed):
    theatres: list[Theatre] = Field(min_length=1)
    equipment: dict[Slug, Names] = Field(description="what activities count, e.g. troops, tanks, guns")
    activity_types: list[ActivityType] = Field(min_length=1)
    suspensions: list[Suspension] = Field(default_factory=list)


class ZoneRules(_Closed):
    forbidden: list[Slug] = Field(default_factory=list, description="activity types not allowed in the zone")
    caps: dict[Slug, Annotated[int, Field(ge=0, le=10_000_000)]] = Field(
        default_factory=dict,
        description="the most of each kind of equipment a bound party may have in the zone at any one time "
        "(0: none at all)",
    )
    notice: dict[Slug, timedelta] = Field(
        default_factory=dict, description="a longer notice period for an activity type inside the zone"
    )

    @field_validator("notice")
    @classmethod
    def _notice(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        if any(not timedelta(0) <= period <= MAX_NOTICE for period in value.values()):
            raise ValueError("a notice period runs from 0 to 366 days")
        return value


class AltitudeBand(_Closed):
    lower: float = Field(ge=-1000, le=100_000)
    upper: float = Field(ge=-1000, le=100_000)
    datum: str = Field(default="MSL", pattern=r"^(MSL|AGL|WGS84)$")

    @model_validator(mode="after")
    def _ordered(self) -> AltitudeBand:
        if self.upper < self.lower:
            raise ValueError("upper must not be below lower")
        return self


class Zone(_Closed):
    id: Slug
    kind: ZoneKind
    names: Names
    approximate: bool = Field(default=False, description="drawn for demonstration, not the agreed line")
    proposed: bool = Field(default=False, description="proposed, not agreed: shown, its rules not yet applied")
    controlled_by: Code | None = Field(default=None, description="for a control area: whose")
    binds: list[Code] | None = Field(default=None, description="the parties its rules bind (default: every party)")
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    altitude: AltitudeBand | None = Field(default=None, description="default: from the ground up, without limit")
    rules: ZoneRules = Field(default_factory=ZoneRules)
    geometry: dict[str, Any]

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            geometry.parse(value, allowed=geometry.ZONE_TYPES, max_vertices=geometry.MAX_ZONE_VERTICES)
        except geometry.GeometryError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _times(self) -> Zone:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must come after valid_from")
        return self

    @cached_property
    def shape(self) -> Any:
        return geometry.parse(self.geometry, allowed=geometry.ZONE_TYPES, max_vertices=geometry.MAX_ZONE_VERTICES)


def check_sections(
    deescalation: Deescalation | None,
    zones: list[Zone],
    *,
    party_codes: set[str],
    need_all: Any,
) -> list[str]:
    """The cross-references of the de-escalation sections, each problem as `path: message`."""
    problems: list[str] = []
    if deescalation is None:
        if zones:
            problems.append("zones: need a deescalation section (theatres, equipment, activity types)")
        return problems
    d = deescalation
    types = [t.id for t in d.activity_types]
    for dup in sorted({t for t in types if types.count(t) > 1}):
        problems.append(f"deescalation.activity_types: {dup!r} is listed twice")
    theatre_ids = [t.id for t in d.theatres]
    for dup in sorted({t for t in theatre_ids if theatre_ids.count(t) > 1}):
        problems.append(f"deescalation.theatres: {dup!r} is listed twice")
    for i, t in enumerate(d.theatres):
        need_all(f"deescalation.theatres[{i}].names", t.names)
    for kind, names in d.equipment.items():
        need_all(f"deescalation.equipment.{kind}", names)
    for i, at in enumerate(d.activity_types):
        need_all(f"deescalation.activity_types[{i}].names", at.names)

    zone_ids = [z.id for z in zones]
    for dup in sorted({z for z in zone_ids if zone_ids.count(z) > 1}):
        problems.append(f"zones: id {dup!r} is listed twice")

    def known_types(path: str, listed: list[str]) -> None:
        for t in listed:
            if t not in types:
                problems.append(f"{path}: unknown activity type {t!r}; the charter's are {', '.join(types)}")

    for i, s in enumerate(d.suspensions):
        path = f"deescalation.suspensions[{i}]"
        need_all(f"{path}.names", s.names)
        if s.party not in party_codes:
            problems.append(f"{path}.party: {s.party!r} is not a party of the charter")
        known_types(f"{path}.activity_types", s.activity_types)
        for z in s.zones:
            if z not in zone_ids:
                problems.append(f"{path}.zones: unknown zone {z!r}")
        if s.valid_until is not None and s.valid_until <= s.valid_from:
            problems.append(f"{path}: valid_until must come after valid_from")

    for i, z in enumerate(zones):
        path = f"zones[{i}]"
        need_all(f"{path}.names", z.names)
        known_types(f"{path}.rules.forbidden", z.rules.forbidden)
        known_types(f"{path}.rules.notice", list(z.rules.notice))
        for kind in z.rules.caps:
            if kind not in d.equipment:
                problems.append(
                    f"{path}.rules.caps: unknown equipment {kind!r}; the charter's are {', '.join(d.equipment)}"
                )
        for code in [*(z.binds or []), *([z.controlled_by] if z.controlled_by else [])]:
            if code not in party_codes:
                problems.append(f"{path}: {code!r} is not a party of the charter")
        if (z.kind is ZoneKind.CONTROL_AREA) != (z.controlled_by is not None):
            problems.append(f"{path}.controlled_by: a control area names whose it is, and only a control area does")
        if not any(t.area.covers(z.shape) for t in d.theatres):
            problems.append(f"{path}.geometry: not inside any theatre's bounds")
    return problems

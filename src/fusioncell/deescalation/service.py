"""De-escalation commands and queries: notify, amend, cancel and end activities, checked by the engine against the
zones in force, the notice periods, the suspension commitments and every other party's live activity, atomically
per theatre; and what each reader may see of them and of their conflicts.

A conflict with an activity the notifier may not read (another party's `mediated:XX` activity) is reported to the
notifier only as "conflicts with an activity notified to the mediator" — one such line, whatever the number, with
no time, place or detail — and the mediator is alerted with both."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError

from fusioncell.cell import Cell
from fusioncell.charter.zones import Theatre
from fusioncell.charter.zones import Zone as CharterZone
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.deescalation import engine, geometry
from fusioncell.deescalation.models import Activity, ActivityConflict, ActivityVersion, live_near
from fusioncell.deescalation.schemas import ActivityCreate, ActivityNotify
from fusioncell.errors import ConcurrentResend, Conflict, Forbidden, InvalidInput, NotFound
from fusioncell.policy import (
    MEDIATED_PREFIX,
    Audience,
    DelegationKind,
    Permission,
    Principal,
    audience_labels,
    authorize,
    can_read,
    readable_audiences,
    resolve_audience,
)
from fusioncell.traffic.models import Alert

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WITHHELD = "withheld"
WITHHELD_SUMMARY = "conflicts with an activity notified to the mediator"
MAX_WINDOW = timedelta(days=366)


def micros(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


# -- the charter, as the engine takes it ----------------------------------------------------------------------


def _deescalation(cell: Cell) -> Any:
    section = cell.charter.deescalation
    if section is None:
        raise NotFound("this charter has no de-escalation section: no theatres, zones or activity types")
    return section


def theatre_of(cell: Cell, shape: Any, field: str = "geometry") -> Theatre:
    """The theatre whose bounds hold the whole geometry, or a 422 that says where it is (and if swapped numbers
    would have been inside)."""
    theatres = _deescalation(cell).theatres
    for theatre in theatres:
        if theatre.area.covers(shape):
            return theatre
    swapped = shapely.transform(shape, lambda c: c[:, ::-1])
    names = ", ".join(f"{t.id} {list(t.bounds)}" for t in theatres)
    hint = (
        " — with each position's two numbers swapped it would be: RFC 7946 puts longitude first"
        if any(t.area.covers(swapped) for t in theatres)
        else ""
    )
    raise InvalidInput(f"not inside any theatre of the charter ({names}: west, south, east, north){hint}", field=field)


def notice_periods(cell: Cell) -> dict[str, int]:
    return cell.derived(
        "deescalation.notice",
        lambda: {t.id: t.notice // timedelta(microseconds=1) for t in _deescalation(cell).activity_types},
    )


def suspensions(cell: Cell) -> list[engine.Suspension]:
    def build() -> list[engine.Suspension]:
        return [
            engine.Suspension(
                id=s.id,
                party=s.party,
                activity_types=frozenset(s.activity_types),
                zones=tuple(s.zones),
                valid_from=micros(s.valid_from),
                valid_until=micros(s.valid_until) if s.valid_until else engine.FOREVER,
            )
            for s in _deescalation(cell).suspensions
        ]

    return cell.derived("deescalation.suspensions", build)


def engine_zone(zone: CharterZone, version: int, theatre: Theatre) -> engine.Zone:
    band = zone.altitude
    return engine.Zone(
        id=zone.id,
        version=version,
        geometry=theatre.projection_.project(zone.shape),
        valid_from=micros(zone.valid_from),
        valid_until=micros(zone.valid_until) if zone.valid_until else engine.FOREVER,
        lower=band.lower if band else float("-inf"),
        upper=band.upper if band else float("inf"),
        datum=band.datum if band else "MSL",
        forbidden=frozenset(zone.rules.forbidden),
        caps=dict(zone.rules.caps),
        notice={k: v // timedelta(microseconds=1) for k, v in zone.rules.notice.items()},
        binds=frozenset(zone.binds) if zone.binds is not None else None,
    )


@dataclass(frozen=True)
class ZoneState:
    """A version of a zone and where it stands."""

    zone: CharterZone
    version: int
    status: str  # in-force | proposed | superseded | withdrawn
    in_force_from: datetime | None
    theatre: str
    proposed_by: str | None = None
    accepted: dict[str, Any] | None = None
    note: str | None = None


def zone_states(cell: Cell, session: Any, *, at: datetime | None = None) -> list[ZoneState]:
    """Every zone's versions with their status at an instant (now by default): the charter's zones are version 1
    (in force from their `valid_from`, unless marked proposed), then the versions proposed through the API."""
    from fusioncell.deescalation import zones as zone_versions

    return zone_versions.states(cell, session, at=at or cell.clock.now())


def zone_set(cell: Cell, session: Any, theatre: Theatre, at: datetime) -> engine.ZoneSet:
    """The zones in force at an instant in one theatre, as the engine takes them."""
    in_force = [s for s in zone_states(cell, session, at=at) if s.status == "in-force" and s.theatre == theatre.id]
    cache: dict[tuple[str, int], engine.Zone] = cell.derived("deescalation.engine_zones", dict)
    zones = []
    for state in in_force:
        key = (state.zone.id, state.version)
        if key not in cache:
            cache[key] = engine_zone(state.zone, state.version, theatre)
        zones.append(cache[key])
    return engine.ZoneSet(zones)


# -- turning a request into a volume ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A checked request: everything the engine and the table need."""

    theatre: Theatre
    shape: Any  # longitude/latitude
    projected: Any
    audience: Audience
    body: ActivityCreate

    def volume(self) -> engine.Volume:
        b = self.body
        return engine.Volume(
            geometry=self.projected,
            radius=b.radius_m,
            lower=b.altitude.lower_m,
            upper=b.altitude.upper_m,
            datum=b.altitude.datum,
            start=micros(b.start),
            end=micros(b.end),
        )

    def engine_activity(self, activity_id: int, version: int, delegation: str) -> engine.Activity:
        return engine.Activity(
            id=activity_id,
            version=version,
            delegation=delegation,
            activity_type=self.body.activity_type,
            forces=dict(self.body.forces),
            volume=self.volume(),
        )


def _checked(cell: Cell, principal: Principal, body: ActivityCreate) -> Draft:
    """Who may notify, into which audience, and whether the request holds together; nothing read from storage."""
    roster = cell.charter.roster
    authorize(principal, Permission.NOTIFY_ACTIVITY, roster)
    if roster.kind(principal.delegation or "") is not DelegationKind.PARTY:
        raise Forbidden(f"{principal.username} may not notify activity: only the parties' liaison officers may")
    audience = resolve_audience(body.audience, roster)
    own = MEDIATED_PREFIX + (principal.delegation or "")
    if body.audience not in ("joint", own):
        raise InvalidInput(
            f"an activity is notified to 'joint' or to {own!r} (the mediator alone), not {body.audience!r}",
            field="audience",
        )
    authorize(principal, Permission.NOTIFY_ACTIVITY, roster, audience=audience)
    section = _deescalation(cell)
    types = [t.id for t in section.activity_types]
    if body.activity_type not in types:
        raise InvalidInput(
            f"unknown activity type {body.activity_type!r}; the charter's are {', '.join(types)}", field="activity_type"
        )
    unknown = sorted(set(body.forces) - set(section.equipment))
    if unknown:
        raise InvalidInput(
            f"unknown equipment {', '.join(unknown)}; the charter counts {', '.join(section.equipment)}",
            field="forces",
        )
    if body.altitude.upper_m < body.altitude.lower_m:
        raise InvalidInput("the altitude band's upper_m is below its lower_m", field="altitude.upper_m")
    if body.end <= body.start:
        raise InvalidInput("end must come after start: the window is [start, end)", field="end")
    if body.end - body.start > MAX_WINDOW:
        raise InvalidInput("a window is at most 366 days: notify a longer activity in parts", field="end")
    if body.end <= cell.clock.now():
        raise InvalidInput("the window has already ended: notify what is still to happen or under way", field="end")
    try:
        shape = geometry.parse(
            body.geometry, allowed=geometry.ACTIVITY_TYPES, max_vertices=geometry.MAX_ACTIVITY_VERTICES
        )
    except geometry.GeometryError as exc:
        where = "geometry" + ("." + exc.path if exc.path else "")
        raise InvalidInput(f"{where}: {exc.reason}", field=where) from None
    theatre = theatre_of(cell, shape)
    return Draft(theatre, shape, theatre.projection_.project(shape), audience, body)


# -- finding conflicts --------------------------------------------------------------------------------------------


def _engine_activity(row: Activity) -> engine.Activity:
    return engine.Activity(
        id=row.id,
        version=row.version,
        delegation=row.delegation,
        activity_type=row.activity_type,
        forces=dict(row.forces),
        volume=engine.Volume(
            geometry=shapely.from_wkb(row.projected),
            radius=row.radius_m,
            lower=row.lower_m,
            upper=row.upper_m,
            datum=row.datum,
            start=micros(row.start_at),
            end=micros(row.live_until),
        ),
    )


def _box(geom: Any, grow: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = shapely.bounds(geom)
    return x0 - grow, y0 - grow, x1 + grow, y1 + grow


def _candidates(
    session: Any, draft: Draft, delegation: str, zones: engine.ZoneSet, touched: Sequence[int], exclude: int | None
) -> tuple[engine.ActivitySet, dict[int, Activity]]:
    """The live activities that could conflict: in the theatre, live during the window, and either near the
    volume (any party) or, for the zones' caps, of the same party in a capped zone the volume is in."""
    b = draft.body
    dialect = session.get_bind().dialect.name
    theatre = draft.theatre.id
    queries = [select(Activity).where(*live_near(dialect, theatre, _box(draft.projected, b.radius_m), b.start, b.end))]
    capped = [zones.zones[i] for i in touched if zones.zones[i].caps]
    if capped:
        zone_box = _box(shapely.union_all([z.geometry for z in capped]), 0.0)
        where = live_near(dialect, theatre, zone_box, b.start, b.end)
        queries.append(select(Activity).where(*where, Activity.delegation == delegation))
    found = {row.id: row for query in queries for row in session.execute(query).scalars()}
    found.pop(exclude, None)
    rows = [found[i] for i in sorted(found)]
    return engine.ActivitySet([_engine_activity(r) for r in rows]), {r.id: r for r in rows}


@dataclass
class Checked:
    draft: Draft
    findings: list[engine.Finding]
    others: dict[int, Activity]
    required_notice: int


def _find(cell: Cell, session: Any, principal: Principal, draft: Draft, *, activity_id: int, version: int) -> Checked:
    now = cell.clock.now()
    zones = zone_set(cell, session, draft.theatre, now)
    delegation = principal.delegation or ""
    candidate = draft.engine_activity(activity_id, version, delegation)
    touched = zones.touched(candidate.volume)
    others, rows = _candidates(session, draft, delegation, zones, touched, activity_id)
    findings = engine.check(
        candidate,
        notified_at=micros(now),
        others=others,
        zones=zones,
        notice=notice_periods(cell),
        suspensions=suspensions(cell),
    )
    need = engine.required_notice(candidate, notice_periods(cell), zones, touched)
    return Checked(draft, findings, rows, need)


# -- what a reader sees of a conflict -------------------------------------------------------------------------


def _zone_name(cell: Cell, zone_id: str | None) -> str:
    zone = next((z for z in cell.charter.zones if z.id == zone_id), None)
    return zone.names.get("en", zone_id or "") if zone else (zone_id or "")


def _type_name(cell: Cell, activity_type: str) -> str:
    found = next((t for t in _deescalation(cell).activity_types if t.id == activity_type), None)
    return found.names.get("en", activity_type) if found else activity_type


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min"


def _summary(
    cell: Cell,
    kind: str,
    rule: str,
    detail: dict[str, Any],
    *,
    zone: str | None,
    activity_type: str,
    other: Activity | None,
    delegation: str,
) -> str:
    what = _type_name(cell, activity_type)
    if kind == "zone" and rule == engine.Rule.FORBIDDEN:
        return f"{what} is forbidden in {_zone_name(cell, zone)}"
    if kind == "zone":
        return (
            f"{detail['total']} {detail['equipment']} in {_zone_name(cell, zone)} at once, over its cap of "
            f"{detail['cap']}"
        )
    if kind == "notice":
        return (
            f"notified {_span(detail['given_us'] / 1e6)} before its start; {what} needs "
            f"{_span(detail['required_us'] / 1e6)}"
        )
    if kind == "suspension":
        over = ", ".join(_zone_name(cell, z) for z in detail["zones"])
        return f"{delegation}'s {what} is suspended over {over}"
    if other is not None:
        return (
            f"overlaps {other.delegation}'s {_type_name(cell, other.activity_type).lower()} ({other.id}, version "
            f"{other.version}): "
            f"{detail['distance_m']:.0f} m apart where {detail['separation_m']:.0f} m are needed, "
            f"{other.start_at:%Y-%m-%d %H:%M}–{other.live_until:%Y-%m-%d %H:%M} UTC"
        )
    return "overlaps another activity"


def _others_visible(cell: Cell, principal: Principal, other: Activity | None) -> bool:
    return other is not None and can_read(principal, resolve_audience(other.audience, cell.charter.roster))


def _shown(
    cell: Cell,
    principal: Principal,
    *,
    kind: str,
    rule: str,
    ref: str,
    zone: str | None,
    zone_version: int | None,
    other: Activity | None,
    detail: dict[str, Any],
    activity_type: str,
    delegation: str,
    activity: int | None = None,
    version: int | None = None,
    found_at: datetime | None = None,
) -> dict[str, Any]:
    """A conflict as this reader may see it: an overlap with an activity it may not read is only "withheld"."""
    if kind == "activity" and not _others_visible(cell, principal, other):
        return {
            "kind": WITHHELD,
            "rule": "overlap",
            "ref": WITHHELD,
            "summary": WITHHELD_SUMMARY,
            "activity": activity,
            "version": version,
            "found_at": found_at,
        }
    shown: dict[str, Any] = {
        "kind": kind,
        "rule": rule,
        "ref": ref,
        "zone": zone,
        "zone_version": zone_version,
        "detail": dict(detail),
        "summary": _summary(
            cell, kind, rule, detail, zone=zone, activity_type=activity_type, other=other, delegation=delegation
        ),
        "activity": activity,
        "version": version,
        "found_at": found_at,
    }
    if other is not None:
        shown |= {"other_activity": other.id, "other_version": other.version, "other_delegation": other.delegation}
    return shown


def _collapse(conflicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most one withheld line, and last: their number would tell how many plans are withheld, their place
    among the others (which follow the table's order) something of when, their version and time when they changed."""
    shown = [c for c in conflicts if c["kind"] != WITHHELD]
    withheld = [c for c in conflicts if c["kind"] == WITHHELD]
    if withheld:
        first = withheld[0]
        shown.append({"kind": WITHHELD, "rule": "overlap", "ref": WITHHELD, "summary": WITHHELD_SUMMARY,
                      "activity": first.get("activity"), "version": None, "found_at": None})  # fmt: skip
    return shown


def findings_for(
    cell: Cell, principal: Principal, checked: Checked, *, delegation: str, withheld: bool = True
) -> list[dict[str, Any]]:
    """The conflicts as this principal may see them. `withheld=False` (a check, a refusal: nothing on the record)
    leaves out those with activities it may not read: told only once its activity is notified, they could
    otherwise be probed for, check after check, until the withheld plan is found."""
    body = checked.draft.body
    view = _collapse(
        [
            _shown(
                cell,
                principal,
                kind=f.kind.value,
                rule=f.rule.value,
                ref=f.ref,
                zone=f.zone,
                zone_version=f.zone_version,
                other=checked.others.get(f.other_id) if f.other_id else None,
                detail=dict(f.detail),
                activity_type=body.activity_type,
                delegation=delegation,
            )
            for f in checked.findings
        ]
    )
    return view if withheld else [c for c in view if c["kind"] != WITHHELD]


# -- commands ---------------------------------------------------------------------------------------------------


def _lock_theatre(uow: UnitOfWork, theatre: str) -> None:
    """Check and insert as one: on PostgreSQL a transaction-scoped advisory lock per theatre (released at commit);
    SQLite has a single writer already (the unit of work began with BEGIN IMMEDIATE)."""
    if uow.db.is_postgres:
        key = int.from_bytes(hashlib.sha256(f"fusioncell.theatre:{theatre}".encode()).digest()[:8], "big", signed=True)
        uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _uncovered(principal_view: list[dict[str, Any]], checked: Checked, body: ActivityCreate) -> list[dict[str, Any]]:
    acknowledged = set(body.acknowledge)
    out = []
    for c in principal_view:
        if c["kind"] == WITHHELD:
            continue  # never blocks: the mediator, alerted with both, deconflicts
        if c["kind"] == "notice":
            if not (body.justification or "").strip():
                out.append(c)
        elif c["ref"] not in acknowledged:
            out.append(c)
    return out


def _refuse(conflicts: list[dict[str, Any]], uncovered: list[dict[str, Any]]) -> Conflict:
    needs_reason = any(c["kind"] == "notice" for c in uncovered)
    acks = [c["ref"] for c in uncovered if c["kind"] != "notice"]
    parts = []
    if acks:
        parts.append("acknowledge each by its ref in `acknowledge` to notify it knowing of them")
    if needs_reason:
        parts.append("a short notice needs a `justification`")
    return Conflict(
        f"{len(conflicts)} conflict(s) found: " + "; ".join(parts),
        conflicts=[as_wire(c) for c in conflicts],
        unacknowledged=acks,
    )


def as_wire(c: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in c.items() if v is not None}


def _record_of(activity: Activity, conflicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The ledger content of a version: the activity as notified and its conflicts as its audience may see them."""
    return {
        "activity": activity.id,
        "version": activity.version,
        "theatre": activity.theatre,
        "delegation": activity.delegation,
        "audience": activity.audience,
        "activity_type": activity.activity_type,
        "description": activity.description,
        "geometry": activity.geometry,
        "radius_m": activity.radius_m,
        "altitude": {"lower_m": activity.lower_m, "upper_m": activity.upper_m, "datum": activity.datum},
        "start": activity.start_at,
        "end": activity.end_at,
        "forces": activity.forces,
        "justification": activity.justification,
        "short_notice": activity.short_notice,
        "conflicts": [{k: c[k] for k in ("kind", "rule", "ref", "summary") if k in c} for c in conflicts],
    }


def _audience_view(cell: Cell, activity: Activity, checked: Checked) -> list[dict[str, Any]]:
    """The conflicts as every member of the activity's audience may see them: an overlap's detail only if each of
    them may read the other activity."""
    roster = cell.charter.roster
    members = resolve_audience(activity.audience, roster).members
    out = []
    for f in checked.findings:
        other = checked.others.get(f.other_id) if f.other_id else None
        visible = other is not None and members <= resolve_audience(other.audience, roster).members
        if f.kind is engine.Kind.ACTIVITY and not visible:
            out.append({"kind": WITHHELD, "rule": "overlap", "ref": WITHHELD, "summary": WITHHELD_SUMMARY})
            continue
        out.append(
            _shown(
                cell,
                Principal.system("ledger"),
                kind=f.kind.value,
                rule=f.rule.value,
                ref=f.ref,
                zone=f.zone,
                zone_version=f.zone_version,
                other=other,
                detail=dict(f.detail),
                activity_type=activity.activity_type,
                delegation=activity.delegation,
            )
        )
    return _collapse(out)


def _store_conflicts(uow: UnitOfWork, activity: Activity, checked: Checked, now: datetime, index: int) -> None:
    for f in checked.findings:
        uow.session.add(
            ActivityConflict(
                id=fresh_id(uow.session, ActivityConflict),
                activity_id=activity.id,
                version=activity.version,
                kind=f.kind.value,
                rule=f.rule.value,
                ref=f.ref,
                zone_id=f.zone,
                zone_version=f.zone_version,
                other_activity_id=f.other_id,
                other_version=f.other_version,
                other_delegation=f.other_delegation,
                detail=dict(f.detail),
                found_at=now,
                ledger_index=index,
            )
        )


def _alerts(cell: Cell, uow: UnitOfWork, activity: Activity, checked: Checked, now: datetime, index: int) -> list[str]:
    """Accepted conflicts alert the mediator (with both activities) and each other party that may read the
    activity (with what it may read). The delegations alerted whom every reader of the entry may know of."""
    if not checked.findings:
        return []
    roster = cell.charter.roster
    members = resolve_audience(activity.audience, roster).members
    mediator = cell.charter.mediator_code
    overlaps = [checked.others[f.other_id] for f in checked.findings if f.other_id in checked.others]
    everyone_reads_all = all(members <= resolve_audience(o.audience, roster).members for o in overlaps)
    plans: list[tuple[str, str, str]] = []  # target, role, audience
    plans.append((mediator, "mediator", activity.audience if everyone_reads_all else "mediator"))
    for party in sorted(roster.codes(DelegationKind.PARTY) - {activity.delegation}):
        if party in members:
            plans.append((party, "duty_officer", MEDIATED_PREFIX + party))
    told = []
    for target, role, audience in plans:
        reader = Principal(username=f"alert:{target}", delegation=target, roles=frozenset({_reader_role(target, cell)}))
        # what this reader may see; a party is told nothing of a plan withheld from it (only the mediator is)
        view = findings_for(cell, reader, checked, delegation=activity.delegation, withheld=target == mediator)
        if not view:
            continue
        lines = "; ".join(c["summary"] for c in view)
        uow.session.add(
            Alert(
                id=fresh_id(uow.session, Alert),
                kind="activity_conflict",
                target=target,
                role=role,
                audience=audience,
                subject=f"activity:{activity.id}",
                message_id=None,
                summary=f"{activity.delegation} notified {activity.activity_type} ({activity.id}, version "
                f"{activity.version}) knowing of {len(view)} conflict(s): {lines}",
                created_at=now,
                ledger_index=index,
            )
        )
        if target == mediator or audience == activity.audience or target in members:
            told.append(target)
    return told if everyone_reads_all else [mediator]


def _reader_role(code: str, cell: Cell) -> Any:
    from fusioncell.policy import Role

    return Role.MEDIATOR if code == cell.charter.mediator_code else Role.LIAISON


def _fill(activity: Activity, draft: Draft, checked: Checked, now: datetime) -> None:
    b = draft.body
    activity.theatre = draft.theatre.id
    activity.activity_type = b.activity_type
    activity.description = b.description
    activity.geometry = geometry.to_geojson(draft.shape)
    activity.projected = shapely.to_wkb(draft.projected)
    activity.radius_m = b.radius_m
    activity.lower_m, activity.upper_m, activity.datum = b.altitude.lower_m, b.altitude.upper_m, b.altitude.datum
    start, end = b.start.astimezone(UTC), b.end.astimezone(UTC)
    activity.start_at, activity.end_at, activity.live_until = start, end, end
    activity.forces = {k: v for k, v in sorted(b.forces.items()) if v}
    activity.justification = (b.justification or "").strip() or None
    activity.short_notice = any(f.kind is engine.Kind.NOTICE for f in checked.findings)
    activity.min_x, activity.min_y, activity.max_x, activity.max_y = _box(draft.projected, b.radius_m)


def _write(
    cell: Cell, uow: UnitOfWork, principal: Principal, body: ActivityCreate, *, existing: Activity | None
) -> tuple[Activity, list[dict[str, Any]]]:
    draft = _checked(cell, principal, body)
    _lock_theatre(uow, draft.theatre.id)
    txn = body.client_txn_id if existing is None and isinstance(body, ActivityNotify) else None
    if (
        txn is not None
        and uow.session.execute(
            select(Activity.id).where(Activity.notified_by == principal.username, Activity.client_txn_id == txn)
        ).first()
    ):
        # the same notification, committed while this one waited for the theatre: answered as a resend, before
        # its own copy could be checked against it (and refused for a cap the two would break together)
        raise ConcurrentResend(txn)
    now = cell.clock.now()
    activity_id = existing.id if existing else fresh_id(uow.session, Activity)
    version = existing.version + 1 if existing else 1
    checked = _find(cell, uow.session, principal, draft, activity_id=activity_id, version=version)
    delegation = principal.delegation or ""
    view = findings_for(cell, principal, checked, delegation=delegation)
    uncovered = _uncovered(view, checked, body)
    if uncovered:
        raise _refuse([c for c in view if c["kind"] != WITHHELD], uncovered)

    index = uow.next_ledger_index()
    if existing is None:
        activity = Activity(
            id=activity_id,
            delegation=delegation,
            audience=body.audience,
            version=1,
            notified_by=principal.username,
            notified_at=now,
            ledger_index=index,
        )
        if txn is not None:
            activity.client_txn_id, activity.request_digest = txn, request_digest(body)
        _fill(activity, draft, checked, now)
        uow.session.add(activity)
        try:
            uow.session.flush()
        except IntegrityError:
            if txn is None:
                raise
            # the same id from another theatre's notification, committed meanwhile (each theatre has its own lock)
            raise ConcurrentResend(txn) from None
    else:
        activity = existing
        activity.version, activity.amended_at, activity.ledger_index = version, now, index
        _fill(activity, draft, checked, now)
    uow.session.flush()
    _store_conflicts(uow, activity, checked, now, index)
    alerted = _alerts(cell, uow, activity, checked, now, index)
    record = _record_of(activity, _audience_view(cell, activity, checked))
    record["alerted"] = alerted
    uow.session.add(
        ActivityVersion(
            activity_id=activity.id, version=version, record=_jsonable(record), recorded_at=now, ledger_index=index
        )
    )
    uow.record(
        action="activity.notified" if existing is None else "activity.amended",
        actor=principal,
        audience=draft.audience,
        subject=f"activity:{activity.id}",
        content=record,
    )
    return activity, view


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def request_digest(body: ActivityCreate) -> str:
    """What a resend under the same client_txn_id must match: the notification as sent, its acknowledgements aside
    (the same notification sent again may know of more conflicts)."""
    same = body.model_copy(update={"start": body.start.astimezone(UTC), "end": body.end.astimezone(UTC)})
    sent = same.model_dump(mode="json", exclude={"client_txn_id", "acknowledge"})
    return hashlib.sha256(json.dumps(sent, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def find_replay(cell: Cell, principal: Principal, body: ActivityCreate) -> Activity | None:
    """The activity already notified under this client_txn_id by this account, or None; 409 if it was other content."""
    txn = body.client_txn_id if isinstance(body, ActivityNotify) else None
    if txn is None:
        return None
    with cell.reading() as session:
        existing = session.execute(
            select(Activity).where(Activity.notified_by == principal.username, Activity.client_txn_id == txn)
        ).scalar_one_or_none()
    if existing is not None and existing.request_digest != request_digest(body):
        raise Conflict(
            f"client_txn_id {txn!r} was already used for a different notification "
            f"(activity {existing.id}): use a new id for a new notification",
            activity=existing.id,
        )
    return existing


def notify(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, body: ActivityCreate
) -> tuple[Activity, list[dict[str, Any]]]:
    """A new activity, checked and inserted under the theatre's lock; 409 listing the conflicts the notifier has
    not acknowledged (nothing written). One already notified under its client_txn_id: ConcurrentResend."""
    if find_replay(cell, principal, body) is not None:
        raise ConcurrentResend(body.client_txn_id)  # type: ignore[attr-defined]
    return _write(cell, uow, principal, body, existing=None)


@dataclass(frozen=True)
class Notified:
    activity: Activity
    conflicts: list[dict[str, Any]]  # as the notifier sees them (for a replay: read again from the record)
    replayed: bool = False


def submit(*, cell: Cell, principal: Principal, body: ActivityCreate) -> Notified:
    """`notify` in a unit of work of its own, as the API and the map call it: sent again under its client_txn_id,
    even while the first is still being recorded, it answers with the first (409 if the content differs)."""
    try:
        with cell.command() as uow:
            return Notified(*notify(cell=cell, uow=uow, principal=principal, body=body))
    except ConcurrentResend:
        again = find_replay(cell, principal, body)
        if again is None:  # pragma: no cover - the unique index said it is there
            raise
        shown = conflicts(cell=cell, principal=principal, activity_id=again.id, current_only=True)
        return Notified(again, shown, replayed=True)


def _may_change(cell: Cell, principal: Principal, activity: Activity, body: ActivityCreate | None = None) -> None:
    """Only its own party changes an activity, only while it is planned or active; an amendment keeps its audience."""
    if activity.delegation != principal.delegation:
        raise Forbidden(f"activity {activity.id} is {activity.delegation}'s: only its own party may change it")
    state = state_of(activity, cell.clock.now())
    if state in ("ended", "cancelled"):
        raise Conflict(f"activity {activity.id} is {state}: it can no longer change", state=state)
    if body is not None and body.audience != activity.audience:
        raise InvalidInput(
            f"an amendment keeps the activity's audience ({activity.audience!r}): cancel it and notify anew",
            field="audience",
        )


def _own_open(
    cell: Cell, uow: UnitOfWork, principal: Principal, activity_id: int, body: ActivityCreate | None = None
) -> Activity:
    activity = _readable(cell, uow.session, principal, activity_id)
    authorize(principal, Permission.NOTIFY_ACTIVITY, cell.charter.roster)
    _may_change(cell, principal, activity, body)
    # decided again on the row as it is once no other change to it (or its theatre) can be under way
    _lock_theatre(uow, activity.theatre)
    uow.session.refresh(activity, with_for_update=True)
    _may_change(cell, principal, activity, body)
    return activity


def amend(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, activity_id: int, body: ActivityCreate
) -> tuple[Activity, list[dict[str, Any]]]:
    """A new version of a planned or active activity, checked anew (its own earlier version aside)."""
    existing = _own_open(cell, uow, principal, activity_id, body)
    return _write(cell, uow, principal, body, existing=existing)


def close(*, cell: Cell, uow: UnitOfWork, principal: Principal, activity_id: int, how: str, reason: str) -> Activity:
    """Cancel a planned or active activity, or end an active one now."""
    activity = _own_open(cell, uow, principal, activity_id)
    now = cell.clock.now()
    if how == "end" and state_of(activity, now) != "active":
        raise Conflict(
            f"activity {activity_id} has not started: cancel it instead of ending it", state=state_of(activity, now)
        )
    if how == "cancel":
        activity.cancelled_at = now
    else:
        activity.ended_at = now
    activity.live_until = min(activity.live_until, now)
    activity.closed_by, activity.close_reason = principal.username, reason.strip() or None
    entry = uow.record(
        action="activity.cancelled" if how == "cancel" else "activity.ended",
        actor=principal,
        audience=resolve_audience(activity.audience, cell.charter.roster),
        subject=f"activity:{activity.id}",
        content={"activity": activity.id, "version": activity.version, "at": now, "reason": activity.close_reason},
    )
    activity.ledger_index = entry.index
    return activity


# -- queries ------------------------------------------------------------------------------------------------------


def state_of(activity: Activity, now: datetime) -> str:
    if activity.cancelled_at is not None:
        return "cancelled"
    if now < activity.start_at:
        return "planned"
    return "active" if now < activity.live_until else "ended"


def _readable(cell: Cell, session: Any, principal: Principal, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or not can_read(principal, resolve_audience(activity.audience, cell.charter.roster)):
        raise NotFound(f"no activity {activity_id} that you may read")
    return activity


def get_activity(*, cell: Cell, principal: Principal, activity_id: int) -> Activity:
    with cell.reading() as session:
        return _readable(cell, session, principal, activity_id)


STATES = ("planned", "active", "ended", "cancelled")


def list_activities(
    *,
    cell: Cell,
    principal: Principal,
    state: str | None = None,
    after: int | None = None,
    limit: int = 100,
    delegation: str | None = None,
) -> list[Activity]:
    """The activities the principal may read, in the order notified (after a ledger index)."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    now = cell.clock.now()
    query = select(Activity).where(Activity.audience.in_(audiences))
    if delegation:
        query = query.where(Activity.delegation == delegation)
    if state == "cancelled":
        query = query.where(Activity.cancelled_at.is_not(None))
    elif state == "planned":
        query = query.where(Activity.cancelled_at.is_(None), Activity.start_at > now)
    elif state == "active":
        query = query.where(Activity.cancelled_at.is_(None), Activity.start_at <= now, Activity.live_until > now)
    elif state == "ended":
        query = query.where(Activity.cancelled_at.is_(None), Activity.live_until <= now)
    if after is not None:
        query = query.where(Activity.ledger_index > after)
    with cell.reading() as session:
        return list(session.execute(query.order_by(Activity.ledger_index).limit(limit)).scalars())


def versions(*, cell: Cell, principal: Principal, activity_id: int) -> list[ActivityVersion]:
    with cell.reading() as session:
        _readable(cell, session, principal, activity_id)
        return list(
            session.execute(
                select(ActivityVersion)
                .where(ActivityVersion.activity_id == activity_id)
                .order_by(ActivityVersion.version)
            ).scalars()
        )


def conflicts(
    *, cell: Cell, principal: Principal, activity_id: int, current_only: bool = False
) -> list[dict[str, Any]]:
    """The conflicts found on this activity, and those found on others with it, each from the reader's side: the
    other activity's details only if the reader may read it."""
    with cell.reading() as session:
        activity = _readable(cell, session, principal, activity_id)
        rows = (
            session.execute(
                select(ActivityConflict)
                .where(
                    or_(ActivityConflict.activity_id == activity_id, ActivityConflict.other_activity_id == activity_id)
                )
                .order_by(ActivityConflict.ledger_index, ActivityConflict.id)
            )
            .scalars()
            .all()
        )
        ids = {r.activity_id for r in rows} | {r.other_activity_id for r in rows if r.other_activity_id}
        acts = {a.id: a for a in session.execute(select(Activity).where(Activity.id.in_(ids))).scalars()}
    out = []
    for r in rows:
        if current_only and r.activity_id == activity_id and r.version != activity.version:
            continue
        own_side = r.activity_id == activity_id
        subject = acts[r.activity_id]
        other = acts.get(r.other_activity_id) if own_side else subject
        if not own_side and current_only and r.other_version != activity.version:
            continue
        if not own_side and not _others_visible(cell, principal, subject):
            continue  # found on a plan withheld from this reader, who was never told of it: nothing of it here
        detail = dict(r.detail)
        out.append(
            _shown(
                cell,
                principal,
                kind=r.kind,
                rule=r.rule,
                ref=r.ref if own_side else engine.activity_ref(r.activity_id, r.version),
                zone=r.zone_id,
                zone_version=r.zone_version,
                other=other,
                detail=detail,
                activity_type=subject.activity_type,
                delegation=subject.delegation,
                activity=r.activity_id if own_side else None,
                version=r.version,
                found_at=r.found_at,
            )
        )
    return _collapse(out)


def check_only(*, cell: Cell, principal: Principal, body: ActivityCreate, activity_id: int | None = None) -> Checked:
    """The conflicts a notification would meet now, writing nothing (for the map, before submitting)."""
    draft = _checked(cell, principal, body)
    with cell.reading() as session:
        version = 1
        if activity_id is not None:  # as amending would: one's own activity, in its own audience
            existing = _readable(cell, session, principal, activity_id)
            _may_change(cell, principal, existing, body)
            version = existing.version + 1
        return _find(cell, session, principal, draft, activity_id=activity_id or 0, version=version)


def all_labels(cell: Cell) -> list[str]:
    return audience_labels(cell.charter.roster)

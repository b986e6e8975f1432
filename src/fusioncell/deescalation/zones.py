"""Zones and their versions: the charter's zones are version 1 of each; the mediator proposes a change or a new
zone through the API, and the version enters into force when the last party accepts it. Which version was in
force at any instant is answered from the record: the latest to have entered into force by then.

Every delegation that reads the joint audience reads the zones (they are the charter's, shared by all)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from fusioncell.cell import Cell
from fusioncell.charter.zones import Zone as CharterZone
from fusioncell.db import UnitOfWork
from fusioncell.deescalation.models import ZoneVersion
from fusioncell.deescalation.service import EPOCH, ZoneState, _deescalation
from fusioncell.deescalation.service import _lock_theatre as lock_theatre
from fusioncell.errors import Conflict, Forbidden, InvalidInput, NotFound
from fusioncell.policy import JOINT, DelegationKind, Permission, Principal, authorize, can_read, resolve_audience


def _theatre_id(cell: Cell, zone: CharterZone) -> str:
    for theatre in _deescalation(cell).theatres:
        if theatre.area.covers(zone.shape):
            return theatre.id
    return ""


def _placed(cell: Cell, key: tuple[str, int], definition: Any) -> tuple[CharterZone, str]:
    """A zone version's definition read and placed in its theatre once: a version, once proposed, never changes
    (only its acceptances and dates, which are read from its row each time). `definition`: the charter's zone, or a
    proposed version's stored definition."""
    cache: dict[tuple[str, int], tuple[CharterZone, str]] = cell.derived("deescalation.zone_versions", dict)
    if key not in cache:
        zone = definition if isinstance(definition, CharterZone) else CharterZone.model_validate(definition)
        cache[key] = zone, _theatre_id(cell, zone)
    return cache[key]


def _proposed(cell: Cell, session: Any) -> list[ZoneVersion]:
    return list(session.execute(select(ZoneVersion).order_by(ZoneVersion.zone_id, ZoneVersion.version)).scalars())


def states(cell: Cell, session: Any, *, at: datetime) -> list[ZoneState]:
    """Every version of every zone and its status at `at`."""
    versions: dict[str, list[ZoneState]] = {}
    for chartered in cell.charter.zones:
        # agreed in the charter: in force since the charter was (its rules apply from its own valid_from)
        zone, theatre = _placed(cell, (chartered.id, 1), chartered)
        versions.setdefault(zone.id, []).append(
            ZoneState(zone, 1, "proposed" if zone.proposed else "chartered", None, theatre)
        )
    for row in _proposed(cell, session):
        zone, theatre = _placed(cell, (row.zone_id, row.version), row.definition)
        versions.setdefault(row.zone_id, []).append(
            ZoneState(
                zone,
                row.version,
                "withdrawn" if row.withdrawn_at and row.withdrawn_at <= at else "proposed",
                row.in_force_from,
                theatre,
                row.proposed_by,
                dict(row.accepted),
                row.note,
            )
        )
    out: list[ZoneState] = []
    for chain in versions.values():

        def began(s: ZoneState) -> bool:
            if s.status == "chartered":
                return True
            return s.status != "withdrawn" and s.in_force_from is not None and s.in_force_from <= at

        started = [s for s in chain if began(s)]
        current = max(started, key=lambda s: (s.in_force_from or EPOCH, s.version), default=None)
        for s in chain:
            if current is not None and s is current:
                status = "in-force"
            elif s.status == "withdrawn":
                status = "withdrawn"
            elif began(s):
                status = "superseded"
            else:
                status = "proposed"
            out.append(
                ZoneState(s.zone, s.version, status, s.in_force_from, s.theatre, s.proposed_by, s.accepted, s.note)
            )
    return out


def _may_read(cell: Cell, principal: Principal) -> None:
    if not can_read(principal, resolve_audience(JOINT, cell.charter.roster)):
        raise NotFound("no zones you may read")


def list_zones(*, cell: Cell, principal: Principal, at: datetime | None, every_version: bool) -> list[ZoneState]:
    """The zones in force at an instant (now by default) and those proposed; every version, if asked."""
    if not can_read(principal, resolve_audience(JOINT, cell.charter.roster)):
        return []
    with cell.reading() as session:
        found = states(cell, session, at=at or cell.clock.now())
    if every_version:
        return found
    return [s for s in found if s.status in ("in-force", "proposed")]


def get_zone(*, cell: Cell, principal: Principal, zone_id: str, at: datetime | None) -> list[ZoneState]:
    _may_read(cell, principal)
    with cell.reading() as session:
        found = [s for s in states(cell, session, at=at or cell.clock.now()) if s.zone.id == zone_id]
    if not found:
        raise NotFound(f"no zone {zone_id!r}")
    return found


def _validate(cell: Cell, definition: dict[str, Any]) -> CharterZone:
    try:
        zone = CharterZone.model_validate(definition)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(
            f"zone.{where}: {err['msg'].removeprefix('Value error, ')}", field=f"zone.{where}" if where else "zone"
        ) from None
    section = _deescalation(cell)
    types = {t.id for t in section.activity_types}
    parties = cell.charter.roster.codes(DelegationKind.PARTY)
    langs = set(cell.charter.languages.supported)
    problems = []
    if set(zone.names) != langs:
        problems.append(("zone.names", f"names in exactly the charter's languages: {', '.join(sorted(langs))}"))
    for t in [*zone.rules.forbidden, *zone.rules.notice]:
        if t not in types:
            problems.append(("zone.rules", f"unknown activity type {t!r}"))
    for kind in zone.rules.caps:
        if kind not in section.equipment:
            problems.append(("zone.rules.caps", f"unknown equipment {kind!r}"))
    for code in [*(zone.binds or []), *([zone.controlled_by] if zone.controlled_by else [])]:
        if code not in parties:
            problems.append(("zone", f"{code!r} is not a party of the charter"))
    if not _theatre_id(cell, zone):
        problems.append(("zone.geometry", "not inside any theatre's bounds"))
    if problems:
        field, reason = problems[0]
        raise InvalidInput(f"{field}: {reason}", field=field)
    return zone


def propose(*, cell: Cell, uow: UnitOfWork, principal: Principal, definition: dict[str, Any], note: str) -> ZoneVersion:
    """A new version of a zone (or a new zone), proposed by the mediator: in force once every party accepts it."""
    authorize(principal, Permission.PROPOSE_ZONE, cell.charter.roster)
    zone = _validate(cell, definition)
    if zone.proposed:
        raise InvalidInput("a proposal is proposed already: leave `proposed` out", field="zone.proposed")
    charter_ids = {z.id for z in cell.charter.zones}
    lock_theatre(uow, "zones")  # two proposals at once would take the same version number
    latest = uow.session.execute(select(func.max(ZoneVersion.version)).where(ZoneVersion.zone_id == zone.id)).scalar()
    version = (latest or (1 if zone.id in charter_ids else 0)) + 1
    now = cell.clock.now()
    index = uow.next_ledger_index()
    row = ZoneVersion(
        zone_id=zone.id,
        version=version,
        definition=zone.model_dump(mode="json", exclude_none=True),
        note=note.strip() or None,
        proposed_by=principal.username,
        proposed_at=now,
        accepted={},
        ledger_index=index,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.record(
        action="zone.proposed",
        actor=principal,
        audience=resolve_audience(JOINT, cell.charter.roster),
        subject=f"zone:{zone.id}@{version}",
        content={"zone": row.definition, "version": version, "note": row.note},
    )
    return row


def accept(*, cell: Cell, uow: UnitOfWork, principal: Principal, zone_id: str, version: int) -> ZoneVersion:
    """A party's acceptance (by its signatory); the last party's puts the version in force."""
    authorize(principal, Permission.ACCEPT_ZONE, cell.charter.roster)
    parties = cell.charter.roster.codes(DelegationKind.PARTY)
    if principal.delegation not in parties:
        raise Forbidden(f"{principal.username} may not accept a zone: only the parties' signatories may")
    row = uow.session.get(ZoneVersion, (zone_id, version), with_for_update=True)  # two parties at once: both count
    if row is None:
        raise NotFound(f"no proposed version {version} of zone {zone_id!r}")
    if row.withdrawn_at is not None:
        raise Conflict(f"version {version} of zone {zone_id!r} was withdrawn", state="withdrawn")
    if principal.delegation in row.accepted:
        raise Conflict(
            f"{principal.delegation} accepted version {version} of zone {zone_id!r} already", state="accepted"
        )
    now = cell.clock.now()
    row.accepted = {**row.accepted, principal.delegation: now.isoformat()}
    if set(row.accepted) >= parties:
        row.in_force_from = now
    uow.record(
        action="zone.accepted",
        actor=principal,
        audience=resolve_audience(JOINT, cell.charter.roster),
        subject=f"zone:{zone_id}@{version}",
        content={"zone": zone_id, "version": version, "in_force_from": row.in_force_from},
    )
    return row

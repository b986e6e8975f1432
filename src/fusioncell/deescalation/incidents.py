"""Incidents: alleged violations reported by a party or an observer, each a ledger entry in its audience with the
SHA-256 of every evidence file in its content; the files themselves for the audience only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.deescalation import evidence, geometry
from fusioncell.deescalation.models import Activity, EvidenceFile, Incident
from fusioncell.deescalation.schemas import IncidentCreate
from fusioncell.deescalation.service import theatre_of, zone_states
from fusioncell.errors import InvalidInput, NotFound
from fusioncell.policy import (
    MEDIATED_PREFIX,
    Permission,
    Principal,
    authorize,
    can_read,
    readable_audiences,
    resolve_audience,
)

INCIDENT_TYPES = (*geometry.ACTIVITY_TYPES, "MultiPoint", "MultiLineString", "MultiPolygon")


def report(*, cell: Cell, uow: UnitOfWork, principal: Principal, body: IncidentCreate) -> Incident:
    roster = cell.charter.roster
    authorize(principal, Permission.REPORT_INCIDENT, roster)
    audience = resolve_audience(body.audience, roster)
    own = MEDIATED_PREFIX + (principal.delegation or "")
    if body.audience not in ("joint", own):
        raise InvalidInput(
            f"an incident is reported to 'joint' or to {own!r} (the mediator alone), not {body.audience!r}",
            field="audience",
        )
    authorize(principal, Permission.REPORT_INCIDENT, roster, audience=audience)
    now = cell.clock.now()
    if body.occurred_at > now:
        raise InvalidInput("occurred_at is in the future: report what has happened", field="occurred_at")
    try:
        shape = geometry.parse(body.place, allowed=INCIDENT_TYPES, max_vertices=geometry.MAX_ACTIVITY_VERTICES)
    except geometry.GeometryError as exc:
        where = "place" + ("." + exc.path if exc.path else "")
        raise InvalidInput(f"{where}: {exc.reason}", field=where) from None
    theatre = theatre_of(cell, shape, field="place")
    if body.zone is not None and body.zone not in {s.zone.id for s in zone_states(cell, uow.session, at=now)}:
        raise InvalidInput(f"no zone {body.zone!r}: the charter's, or one the mediator proposed", field="zone")
    if body.activity is not None:
        related = uow.session.get(Activity, body.activity)
        if related is None or not can_read(principal, resolve_audience(related.audience, roster)):
            raise InvalidInput(f"no activity {body.activity} that you may read", field="activity")
        if not audience.members <= resolve_audience(related.audience, roster).members:
            raise InvalidInput(
                f"activity {body.activity} is {related.audience}: an incident about it goes to that audience, or a "
                "narrower one",
                field="activity",
            )
    files = evidence.decode(body.evidence)
    index = uow.next_ledger_index()
    incident = Incident(
        id=fresh_id(uow.session, Incident),
        audience=body.audience,
        delegation=principal.delegation or "",
        reported_by=principal.username,
        reported_at=now,
        occurred_at=body.occurred_at,
        kind=body.kind,
        theatre=theatre.id,
        place=geometry.to_geojson(shape),
        description=body.description,
        zone_id=body.zone,
        activity_id=body.activity,
        evidence=[f.record() for f in files],
        ledger_index=index,
    )
    uow.session.add(incident)
    uow.session.flush()
    for f in files:
        uow.session.add(
            EvidenceFile(incident_id=incident.id, sha256=f.sha256, content_type=f.content_type, data=f.data)
        )
    uow.record(
        action="incident.reported",
        actor=principal,
        audience=audience,
        subject=f"incident:{incident.id}",
        content={
            "incident": incident.id,
            "kind": incident.kind,
            "occurred_at": incident.occurred_at,
            "theatre": incident.theatre,
            "place": incident.place,
            "description": incident.description,
            "zone": incident.zone_id,
            "activity": incident.activity_id,
            "evidence": incident.evidence,
        },
    )
    return incident


def _readable(cell: Cell, session: Any, principal: Principal, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or not can_read(principal, resolve_audience(incident.audience, cell.charter.roster)):
        raise NotFound(f"no incident {incident_id} that you may read")
    return incident


def get_incident(*, cell: Cell, principal: Principal, incident_id: int) -> Incident:
    with cell.reading() as session:
        return _readable(cell, session, principal, incident_id)


def list_incidents(*, cell: Cell, principal: Principal, after: int | None = None, limit: int = 100) -> list[Incident]:
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    query = select(Incident).where(Incident.audience.in_(audiences))
    if after is not None:
        query = query.where(Incident.ledger_index > after)
    with cell.reading() as session:
        return list(session.execute(query.order_by(Incident.ledger_index).limit(limit)).scalars())


def evidence_file(*, cell: Cell, principal: Principal, incident_id: int, sha256: str) -> EvidenceFile:
    with cell.reading() as session:
        _readable(cell, session, principal, incident_id)
        found = session.get(EvidenceFile, (incident_id, sha256))
        if found is None:
            raise NotFound(f"incident {incident_id} has no evidence file {sha256}")
        return found

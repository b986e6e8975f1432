"""Thin HTTP for de-escalation: the zones and their versions, activities notified, amended, cancelled and ended,
their versions and conflicts, and a check that writes nothing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import AwareDatetime

from fusioncell.deescalation import exports, incidents, service, zones
from fusioncell.deescalation.models import Activity, Incident
from fusioncell.deescalation.schemas import (
    ActivityClose,
    ActivityCreate,
    ActivityNotify,
    ActivityPage,
    ActivityRead,
    ActivityVersionRead,
    CheckResult,
    ConflictRead,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    ZonePage,
    ZonePropose,
    ZoneRead,
)
from fusioncell.deescalation.service import ZoneState
from fusioncell.deps import CellDep, CurrentUser
from fusioncell.policy import Principal
from fusioncell.schemas import RowId

router = APIRouter(prefix="/api/v1", tags=["de-escalation"])

ActivityId = Annotated[RowId, Path(description="An activity id")]
IncidentId = Annotated[RowId, Path(description="An incident id")]
ZoneId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*$", description="A zone id")]
At = Annotated[
    AwareDatetime | None, Query(description="The instant to answer for (default: now), ISO 8601 with its offset.")
]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such item you may read"},
    422: {"description": "Invalid input, the field and the reason (for geometry, shapely's)"},
}
NOTIFY_ERRORS = {
    **ERRORS,
    409: {
        "description": "Conflicts not acknowledged (each listed in `conflicts` with its `ref`; a conflict with an "
        "activity you may not read is listed once, as `withheld`), or a short notice without a justification"
    },
}

NOTIFY_EXAMPLES = {
    "patrol": {
        "summary": "An air patrol east of the Bravo line, 36 hours ahead (sy.liaison)",
        "value": {
            "audience": "joint",
            "activity_type": "air-patrol",
            "geometry": {"type": "LineString", "coordinates": [[36.05, 33.20], [36.10, 32.90]]},
            "radius_m": 3000,
            "altitude": {"lower_m": 1500, "upper_m": 4500, "datum": "MSL"},
            "start": "2026-12-03T18:00:00Z",
            "end": "2026-12-03T20:00:00Z",
            "forces": {"aircraft": 2},
            "description": "Two-ship patrol along the limitation belt",
        },
    },
}


def zone_read(state: ZoneState) -> ZoneRead:
    z = state.zone
    return ZoneRead(
        id=z.id,
        version=state.version,
        theatre=state.theatre,
        kind=z.kind.value,
        names=dict(z.names),
        approximate=z.approximate,
        status=state.status,  # type: ignore[arg-type]
        in_force_from=state.in_force_from,
        controlled_by=z.controlled_by,
        binds=list(z.binds) if z.binds is not None else None,
        valid_from=z.valid_from,
        valid_until=z.valid_until,
        altitude=z.altitude.model_dump() if z.altitude else None,
        rules=z.rules.model_dump(mode="json"),
        geometry=z.geometry,
        proposed_by=state.proposed_by,
        accepted=state.accepted or {},
        note=state.note,
    )


def activity_read(
    cell: Any, principal: Principal, activity: Activity, conflicts: list[dict[str, Any]] | None = None
) -> ActivityRead:
    return ActivityRead(
        id=activity.id,
        version=activity.version,
        theatre=activity.theatre,
        delegation=activity.delegation,
        audience=activity.audience,
        state=service.state_of(activity, cell.clock.now()),  # type: ignore[arg-type]
        activity_type=activity.activity_type,
        description=activity.description,
        geometry=activity.geometry,
        radius_m=activity.radius_m,
        altitude={"lower_m": activity.lower_m, "upper_m": activity.upper_m, "datum": activity.datum},
        start=activity.start_at,
        end=activity.end_at,
        live_until=activity.live_until,
        forces=dict(activity.forces),
        justification=activity.justification,
        short_notice=activity.short_notice,
        notified_by=activity.notified_by,
        notified_at=activity.notified_at,
        amended_at=activity.amended_at,
        ended_at=activity.ended_at,
        cancelled_at=activity.cancelled_at,
        close_reason=activity.close_reason,
        ledger_index=activity.ledger_index,
        conflicts=[ConflictRead(**c) for c in conflicts or []],
    )


# -- zones ------------------------------------------------------------------------------------------------------


@router.get(
    "/zones",
    name="zones_list",
    summary="The agreed zones in force (and those proposed), with their rules, as GeoJSON geometry",
    response_model=ZonePage,
    responses={401: ERRORS[401]},
)
def list_zones(
    cell: CellDep,
    principal: CurrentUser,
    at: At = None,
    every_version: Annotated[bool, Query(description="Every version, superseded and withdrawn too.")] = False,
) -> ZonePage:
    """The charter's zones and those the parties accepted since, as in force at `at` (default now), and the
    versions proposed and not yet in force. Every delegation that reads joint traffic reads them."""
    return ZonePage(
        items=[
            zone_read(s) for s in zones.list_zones(cell=cell, principal=principal, at=at, every_version=every_version)
        ]
    )


@router.get(
    "/zones/{zone_id}",
    name="zone_versions",
    summary="One zone's versions, and which was in force at an instant",
    response_model=ZonePage,
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def get_zone(zone_id: ZoneId, cell: CellDep, principal: CurrentUser, at: At = None) -> ZonePage:
    """Every version of the zone with its status at `at` (default now): exactly one is `in-force` once any is."""
    return ZonePage(
        items=[zone_read(s) for s in zones.get_zone(cell=cell, principal=principal, zone_id=zone_id, at=at)]
    )


@router.post(
    "/zones",
    name="zone_propose",
    summary="Propose a new zone or a new version of one (the mediator)",
    status_code=status.HTTP_201_CREATED,
    response_model=ZoneRead,
    responses=ERRORS,
)
def propose_zone(body: ZonePropose, cell: CellDep, principal: CurrentUser) -> ZoneRead:
    """The whole zone as the charter writes it. It enters into force when every party's signatory has accepted
    it; until then the version in force stays so."""
    with cell.command() as uow:
        row = zones.propose(cell=cell, uow=uow, principal=principal, definition=body.zone, note=body.note)
    found = zones.get_zone(cell=cell, principal=principal, zone_id=row.zone_id, at=None)
    return zone_read(next(s for s in found if s.version == row.version))


@router.post(
    "/zones/{zone_id}/versions/{version}/accept",
    name="zone_accept",
    summary="Accept a proposed zone version for your party (its signatories)",
    response_model=ZoneRead,
    responses={**ERRORS, 409: {"description": "Accepted already, or withdrawn"}},
)
def accept_zone(
    zone_id: ZoneId,
    version: Annotated[int, Path(ge=1, le=1_000_000, description="The version to accept")],
    cell: CellDep,
    principal: CurrentUser,
) -> ZoneRead:
    """Your party's acceptance; the last party's puts the version in force from that moment."""
    with cell.command() as uow:
        zones.accept(cell=cell, uow=uow, principal=principal, zone_id=zone_id, version=version)
    found = zones.get_zone(cell=cell, principal=principal, zone_id=zone_id, at=None)
    return zone_read(next(s for s in found if s.version == version))


# -- activities -------------------------------------------------------------------------------------------------


@router.post(
    "/activities",
    name="activity_notify",
    summary="Pre-notify an activity as a 4D volume; checked at once against zones, notice, suspensions and every "
    "other party's activity",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivityRead,
    responses=NOTIFY_ERRORS,
)
def notify(
    body: Annotated[ActivityNotify, Body(openapi_examples=NOTIFY_EXAMPLES)],
    response: Response,
    cell: CellDep,
    principal: CurrentUser,
) -> ActivityRead:
    """Your party's liaison officers. A conflict answers 409 listing each with its `ref` and nothing is stored;
    send again with those refs in `acknowledge` (and a `justification` for a short notice) to notify it knowing
    of them: the mediator and the other party (where it reads the activity) are alerted. With a `client_txn_id`,
    sending it again returns the activity notified with it (200, `Idempotent-Replayed: true`) and writes nothing;
    other content under the same id is 409."""
    notified = service.submit(cell=cell, principal=principal, body=body)
    if notified.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return activity_read(cell, principal, notified.activity, notified.conflicts)


@router.post(
    "/activities/check",
    name="activity_check",
    summary="The conflicts an activity would meet if notified now (nothing written)",
    response_model=CheckResult,
    responses=ERRORS,
)
def check(
    body: Annotated[ActivityCreate, Body(openapi_examples=NOTIFY_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
    amends: Annotated[RowId | None, Query(description="The activity this would amend.")] = None,
) -> CheckResult:
    """As notifying would find them, from your side (a conflict with an activity you may not read: `withheld`)."""
    checked = service.check_only(cell=cell, principal=principal, body=body, activity_id=amends)
    conflicts = service.findings_for(cell, principal, checked, delegation=principal.delegation or "", withheld=False)
    return CheckResult(
        conflicts=[ConflictRead(**c) for c in conflicts], notice_required_s=checked.required_notice // 1_000_000
    )


@router.get(
    "/activities",
    name="activities_list",
    summary="The activities you may read, in the order notified",
    response_model=ActivityPage,
    responses={401: ERRORS[401]},
)
def list_activities(
    cell: CellDep,
    principal: CurrentUser,
    state: Annotated[
        Literal["planned", "active", "ended", "cancelled"] | None,
        Query(description="Only activities in this state, as the clock now makes it."),
    ] = None,
    delegation: Annotated[str | None, Query(max_length=16, description="Only this party's.")] = None,
    after: Annotated[int | None, Query(ge=-1, le=2**62, description="After this ledger index (paging).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> ActivityPage:
    """Every activity whose audience you read (a party's `mediated` ones are its own and the mediator's), in the
    order notified; pass the last one's `ledger_index` as `after` for the next page."""
    items = service.list_activities(
        cell=cell, principal=principal, state=state, after=after, limit=limit, delegation=delegation
    )
    return ActivityPage(items=[activity_read(cell, principal, a) for a in items])


@router.get(
    "/activities/{activity_id}",
    name="activity_read",
    summary="One activity with the conflicts of its current version, from your side",
    response_model=ActivityRead,
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def get_activity(activity_id: ActivityId, cell: CellDep, principal: CurrentUser) -> ActivityRead:
    """The activity as it now stands, with the conflicts of its current version from your side. 404 for one you
    may not read, as for one that does not exist."""
    activity = service.get_activity(cell=cell, principal=principal, activity_id=activity_id)
    conflicts = service.conflicts(cell=cell, principal=principal, activity_id=activity_id, current_only=True)
    return activity_read(cell, principal, activity, conflicts)


@router.put(
    "/activities/{activity_id}",
    name="activity_amend",
    summary="Amend a planned or active activity: a new version, checked anew",
    response_model=ActivityRead,
    responses=NOTIFY_ERRORS,
)
def amend(
    activity_id: ActivityId,
    body: Annotated[ActivityCreate, Body(openapi_examples=NOTIFY_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> ActivityRead:
    """The whole activity as it now stands (same audience). Conflicts as on notifying; other activities'
    conflicts acknowledged against its earlier version must be acknowledged again."""
    with cell.command() as uow:
        activity, conflicts = service.amend(cell=cell, uow=uow, principal=principal, activity_id=activity_id, body=body)
    return activity_read(cell, principal, activity, conflicts)


@router.post(
    "/activities/{activity_id}/cancel",
    name="activity_cancel",
    summary="Cancel a planned or active activity",
    response_model=ActivityRead,
    responses={**ERRORS, 409: {"description": "Already ended or cancelled"}},
)
def cancel(activity_id: ActivityId, body: ActivityClose, cell: CellDep, principal: CurrentUser) -> ActivityRead:
    """Your party's liaison officers cancel one of its planned or active activities; it conflicts with nothing
    from then on. 409 once it has ended or been cancelled."""
    with cell.command() as uow:
        activity = service.close(
            cell=cell, uow=uow, principal=principal, activity_id=activity_id, how="cancel", reason=body.reason
        )
    return activity_read(cell, principal, activity)


@router.post(
    "/activities/{activity_id}/end",
    name="activity_end",
    summary="End an active activity now",
    response_model=ActivityRead,
    responses={**ERRORS, 409: {"description": "Not started (cancel it), already ended or cancelled"}},
)
def end(activity_id: ActivityId, body: ActivityClose, cell: CellDep, principal: CurrentUser) -> ActivityRead:
    """Your party's liaison officers end one of its active activities now (its window closes at this moment).
    A planned one is cancelled instead (409)."""
    with cell.command() as uow:
        activity = service.close(
            cell=cell, uow=uow, principal=principal, activity_id=activity_id, how="end", reason=body.reason
        )
    return activity_read(cell, principal, activity)


@router.get(
    "/activities/{activity_id}/versions",
    name="activity_versions",
    summary="Every version of an activity as notified",
    response_model=list[ActivityVersionRead],
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def list_versions(activity_id: ActivityId, cell: CellDep, principal: CurrentUser) -> list[ActivityVersionRead]:
    """Each version exactly as notified, with its conflicts as the activity's audience may see them (the content
    of its ledger entry), for whoever reads the activity."""
    rows = service.versions(cell=cell, principal=principal, activity_id=activity_id)
    return [
        ActivityVersionRead(version=r.version, recorded_at=r.recorded_at, ledger_index=r.ledger_index, record=r.record)
        for r in rows
    ]


@router.get(
    "/activities/{activity_id}/conflicts",
    name="activity_conflicts",
    summary="Every conflict found on this activity or with it, each from your side",
    response_model=list[ConflictRead],
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def list_conflicts(activity_id: ActivityId, cell: CellDep, principal: CurrentUser) -> list[ConflictRead]:
    """Every conflict found on this activity (each version) or on another with it, from your side: another
    activity's details only if you may read it, and nothing of one found on a plan withheld from you."""
    return [ConflictRead(**c) for c in service.conflicts(cell=cell, principal=principal, activity_id=activity_id)]


# -- incidents --------------------------------------------------------------------------------------------------


def incident_read(incident: Incident) -> IncidentRead:
    return IncidentRead(
        id=incident.id,
        audience=incident.audience,
        delegation=incident.delegation,
        reported_by=incident.reported_by,
        reported_at=incident.reported_at,
        occurred_at=incident.occurred_at,
        kind=incident.kind,
        theatre=incident.theatre,
        place=incident.place,
        description=incident.description,
        zone=incident.zone_id,
        activity=incident.activity_id,
        evidence=list(incident.evidence),
        ledger_index=incident.ledger_index,
    )


@router.post(
    "/incidents",
    name="incident_report",
    summary="Report an alleged violation with its evidence (a party's liaison officers, observers)",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentRead,
    responses=ERRORS,
)
def report_incident(body: IncidentCreate, cell: CellDep, principal: CurrentUser) -> IncidentRead:
    """When, where (GeoJSON), what, the zone or activity it concerns, and up to five evidence files (base64, at
    most 512 KiB each, their kind checked by their bytes). The ledger entry holds each file's SHA-256."""
    with cell.command() as uow:
        incident = incidents.report(cell=cell, uow=uow, principal=principal, body=body)
    return incident_read(incident)


@router.get(
    "/incidents",
    name="incidents_list",
    summary="The incidents you may read, in the order reported",
    response_model=IncidentPage,
    responses={401: ERRORS[401]},
)
def list_incidents(
    cell: CellDep,
    principal: CurrentUser,
    after: Annotated[int | None, Query(ge=-1, le=2**62, description="After this ledger index (paging).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> IncidentPage:
    """Every incident whose audience you read, in the order reported; pass the last one's `ledger_index` as
    `after` for the next page."""
    items = incidents.list_incidents(cell=cell, principal=principal, after=after, limit=limit)
    return IncidentPage(items=[incident_read(i) for i in items])


@router.get(
    "/incidents/{incident_id}",
    name="incident_read",
    summary="One incident",
    response_model=IncidentRead,
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def get_incident(incident_id: IncidentId, cell: CellDep, principal: CurrentUser) -> IncidentRead:
    """One incident with its evidence files' names, kinds, sizes and SHA-256, for its audience (404 otherwise,
    as for one that does not exist)."""
    return incident_read(incidents.get_incident(cell=cell, principal=principal, incident_id=incident_id))


@router.get(
    "/incidents/{incident_id}/evidence/{sha256}",
    name="incident_evidence",
    summary="An evidence file, by its SHA-256",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 401: ERRORS[401], 404: ERRORS[404]},
)
def get_evidence(
    incident_id: IncidentId,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The file's SHA-256, hex")],
    cell: CellDep,
    principal: CurrentUser,
) -> Response:
    """The bytes as reported, for the incident's audience; downloaded, never shown in place."""
    found = incidents.evidence_file(cell=cell, principal=principal, incident_id=incident_id, sha256=sha256)
    return evidence_download(found.data, found.content_type, sha256)


def evidence_download(data: bytes, content_type: str, sha256: str) -> Response:
    """An evidence file as an attachment named by its hash: downloaded, never shown in place, never sniffed."""
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


# -- exports ----------------------------------------------------------------------------------------------------

EXPORT_TYPES = {"geojson": "application/geo+json", "kml": "application/vnd.google-earth.kml+xml"}


@router.get(
    "/map/export",
    name="map_export",
    summary="The map as GeoJSON or KML: zones, activities, conflicts and incidents you may see",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in EXPORT_TYPES.values()}},
        401: ERRORS[401],
        422: ERRORS[422],
    },
)
def export_map(
    cell: CellDep,
    principal: CurrentUser,
    format: Annotated[Literal["geojson", "kml"], Query(description="geojson (RFC 7946) or kml (Google Earth)")] = (
        "geojson"
    ),
    at: Annotated[
        AwareDatetime | None,
        Query(
            description="The zones as they were in force at this instant (default: now), ISO 8601 with its offset. "
            "Activities and incidents are all exported, each with its window or time (KML TimeSpans, for Google "
            "Earth's time slider)."
        ),
    ] = None,
) -> Response:
    """Exactly what you may read, for a GIS or Google Earth: each feature carries its layer (zones, activities,
    conflicts, incidents); a conflict with an activity you may not read is placed on your own activity."""
    if format == "kml":
        body = exports.kml(cell, principal, at=at)
    else:
        import json

        body = json.dumps(exports.geojson(cell, principal, at=at), ensure_ascii=False).encode()
    stamp = cell.clock.now().strftime("%Y%m%dT%H%MZ")
    return Response(
        body,
        media_type=EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="fusioncell-map-{stamp}.{format}"'},
    )

"""The map page: the agreed zones with their rules, the activities with their time windows (and a time slider),
their conflicts, the incidents — all as the reader may see them, from the same exports as the API — on an offline
basemap (Natural Earth borders from the world-atlas package, a coordinate graticule: nothing from the internet).
A liaison officer draws an activity, sees its conflicts before sending, and notifies it, acknowledging each."""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from fusioncell.cell import Cell
from fusioncell.deescalation import exports, service
from fusioncell.deescalation.schemas import ActivityCreate, ActivityNotify
from fusioncell.deps import CellDep
from fusioncell.errors import DomainError
from fusioncell.policy import (
    JOINT,
    MEDIATED_PREFIX,
    DelegationKind,
    Permission,
    Principal,
    can_read,
    has_permission,
    resolve_audience,
)
from fusioncell.web.pages import NavItem, add_nav, add_templates, display_name, msg, reader_language, render
from fusioncell.web.session import SignedIn, check_csrf

HERE = FilePath(__file__).parent
STATIC = {"map.js": "text/javascript", "map.css": "text/css"}

router = APIRouter(include_in_schema=False)
add_templates(HERE / "templates")


def _reads_map(cell: Cell, principal: Principal) -> bool:
    return cell.charter.deescalation is not None and can_read(principal, resolve_audience(JOINT, cell.charter.roster))


add_nav(NavItem(msg("Map"), "/map", order=40, shown=_reads_map))

# what the page's script shows, translated here (the script holds no words of its own)
SCRIPT_STRINGS = {
    "zones": msg("Zones"),
    "activities": msg("Activities"),
    "conflicts": msg("Conflicts"),
    "incidents": msg("Incidents"),
    "in_force": msg("in force"),
    "proposed": msg("proposed"),
    "approximate": msg("approximate"),
    "forbidden": msg("Forbidden"),
    "caps": msg("Caps"),
    "notice": msg("Longer notice"),
    "window": msg("Window"),
    "altitude": msg("Altitude"),
    "radius": msg("Radius"),
    "forces": msg("Forces"),
    "state": msg("State"),
    "no_conflicts": msg("No conflicts: it may be notified as it is."),
    "acknowledge": msg("I know of this conflict"),
    "notified": msg("Notified."),
    "draw_first": msg("Draw the activity on the map first: a point, a line or an area."),
    "checking": msg("Checking…"),
    "occurred": msg("Occurred"),
    "evidence": msg("Evidence files"),
    "failed": msg("The cell did not answer. Check the connection and try again."),
    "shown_at": msg("Shown at"),
    "planned": msg("planned"),
    "active": msg("active"),
    "ended": msg("ended"),
    "cancelled": msg("cancelled"),
    "withheld": msg("Conflicts with an activity notified to the mediator"),
}


def _notifies(cell: Cell, principal: Principal) -> bool:
    return (
        has_permission(principal, Permission.NOTIFY_ACTIVITY, cell.charter.roster)
        and cell.charter.roster.kind(principal.delegation or "") is DelegationKind.PARTY
    )


@router.get("/map", name="web_map")
def map_page(request: Request, cell: CellDep, session: SignedIn) -> Response:
    lang, _ = reader_language(request, session)
    section = cell.charter.deescalation
    principal = session.principal
    if section is None or not _reads_map(cell, principal):
        return render(request, "map.html", cell=cell, session=session, config="{}", notifies=False, types=[],
                      equipment=[], audiences=[], available=False)  # fmt: skip
    config = {
        "strings": {key: lang.gettext(text) for key, text in SCRIPT_STRINGS.items()},
        "lang": lang.code,
        "bounds": list(section.theatres[0].bounds),
        "now": cell.clock.now().isoformat(),
        "types": {t.id: display_name(t.names, cell, lang) for t in section.activity_types},
        "equipment": {k: display_name(v, cell, lang) for k, v in section.equipment.items()},
        "delegation": principal.delegation,
        "username": principal.username,  # whose drawing the page keeps across signing in again
    }
    audiences = []
    if _notifies(cell, principal):
        audiences = [(JOINT, lang.gettext("Joint: every party and the mediator")),
                     (MEDIATED_PREFIX + (principal.delegation or ""), lang.gettext("The mediator alone"))]  # fmt: skip
    return render(
        request,
        "map.html",
        cell=cell,
        session=session,
        config=json.dumps(config, ensure_ascii=False),
        notifies=bool(audiences),
        types=list(config["types"].items()),
        equipment=list(config["equipment"].items()),
        audiences=audiences,
        available=True,
    )


@router.get("/map/features.json", name="web_map_features")
def features(cell: CellDep, session: SignedIn) -> JSONResponse:
    """What the map shows, exactly as the export gives it to this person."""
    return JSONResponse(exports.geojson(cell, session.principal), headers={"Cache-Control": "no-store"})


@router.get("/map/static/{name}", name="web_map_static")
def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


async def _activity(request: Request, session: Any, model: type[ActivityCreate] = ActivityCreate) -> ActivityCreate:
    check_csrf(request, request.headers.get("x-csrf-token"), session.csrf)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _Refused(422, {"detail": "the request is not a JSON object"})
    try:
        return model.model_validate(body)
    except ValidationError as invalid:
        first = invalid.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _Refused(422, {"detail": f"{where}: {first['msg']}", "field": where}) from None


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def _answer(refused: DomainError) -> JSONResponse:
    return JSONResponse({"detail": refused.detail, **refused.extensions}, status_code=refused.status)


@router.post("/map/check", name="web_map_check")
async def check(request: Request, cell: CellDep, session: SignedIn) -> JSONResponse:
    """The conflicts the drawn activity would meet, from the reader's side; nothing written."""
    try:
        body = await _activity(request, session)
        checked = await run_in_threadpool(service.check_only, cell=cell, principal=session.principal, body=body)
    except _Refused as refused:
        return JSONResponse(refused.body, status_code=refused.status)
    except DomainError as refused:
        return _answer(refused)
    conflicts = await run_in_threadpool(
        service.findings_for, cell, session.principal, checked, delegation=session.principal.delegation or "",
        withheld=False,
    )  # fmt: skip
    return JSONResponse({"conflicts": [service.as_wire(c) for c in conflicts],
                         "notice_required_s": checked.required_notice // 1_000_000})  # fmt: skip


@router.post("/map/activities", name="web_map_notify")
async def notify(request: Request, cell: CellDep, session: SignedIn) -> JSONResponse:
    """Notify the drawn activity (acknowledging the conflicts ticked); a 409 lists what is still unacknowledged. The
    page sends one client_txn_id per drawing: a second press, or a resend after a dropped answer, notifies once."""
    try:
        body = await _activity(request, session, ActivityNotify)
        # off the event loop: it may wait for the theatre's lock while another notification is checked
        notified = await run_in_threadpool(service.submit, cell=cell, principal=session.principal, body=body)
    except _Refused as refused:
        return JSONResponse(refused.body, status_code=refused.status)
    except DomainError as refused:
        return _answer(refused)
    activity = notified.activity
    return JSONResponse({"id": activity.id, "version": activity.version}, status_code=200 if notified.replayed else 201)

"""The intelligence review pages: the mediator's queue (release, release with redactions, decline) and a party's
own submissions with their status. The same services as the API, as the signed-in person."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fusioncell.cell import Cell
from fusioncell.deps import CellDep
from fusioncell.errors import DomainError, NotFound
from fusioncell.intel import service
from fusioncell.intel.markings import Tlp, tlp_of
from fusioncell.intel.models import IntelItem
from fusioncell.intel.schemas import IntelDecline
from fusioncell.policy import Permission, audience_labels, has_permission
from fusioncell.schemas import RowId
from fusioncell.web.pages import NavItem, add_nav, msg, render, translate
from fusioncell.web.session import SignedIn, check_csrf

router = APIRouter(include_in_schema=False)
add_nav(NavItem(msg("Intelligence"), "/intel", order=50))

STATES = ("draft", "submitted", "released", "redacted", "declined", "revoked", "discarded")
ItemId = Annotated[RowId, Path()]


def _object_row(obj: dict[str, Any]) -> dict[str, Any]:
    """What an officer needs to judge an object at a glance."""
    level = tlp_of(obj)
    return {
        "id": obj.get("id", ""),
        "type": obj.get("type", ""),
        "label": obj.get("name") or obj.get("value") or obj.get("relationship_type") or "",
        "detail": obj.get("pattern") or obj.get("description") or "",
        "tlp": level.label if level else "",
        "properties": sorted(k for k in obj if k not in service.UNREDACTABLE),
        "json": json.dumps(obj, indent=1, ensure_ascii=False),
    }


def _supersession(found: service.Supersession) -> dict[str, Any]:
    """A new version of an object submitted before, as the review shows it: each property's change, as JSON."""

    def shown(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False)

    return {
        "stix_id": found.stix_id,
        "order": found.order,
        "owner": found.owner,
        "base_item": found.base_item,
        "base_version": found.base_version,
        "base_state": found.base_state,
        "partial": found.partial,
        "rivals": found.rivals,
        "not_theirs": found.not_theirs,
        "changes": [
            {"name": c.name, "kind": c.kind, "before": shown(c.before), "after": shown(c.after)} for c in found.changes
        ],
    }


def _not_found(request: Request, cell: Cell, session: SignedIn) -> Response:
    return render(request, "error.html", cell=cell, session=session, status=404,
                  message=translate(request, "No such item that you may read."))  # fmt: skip


def _may_decide(cell: Cell, session: SignedIn) -> bool:
    return has_permission(session.principal, Permission.RELEASE_INTEL, cell.charter.roster)


@router.get("/intel", name="web_intel")
def queue(request: Request, cell: CellDep, session: SignedIn, state: Annotated[str | None, Query()] = None) -> Response:
    chosen = state if state in STATES else None
    items = service.list_items(cell=cell, principal=session.principal, state=chosen, limit=200)
    return render(
        request,
        "intel_queue.html",
        cell=cell,
        session=session,
        items=items,
        # drafts are a delegation's own: the mediator's queue never holds another's
        states=[s for s in STATES if s not in service.DRAFT_STATES] if _may_decide(cell, session) else STATES,
        state=chosen,
        deciding=_may_decide(cell, session),
        tlp_label=lambda value: Tlp(value).label,
    )


def _item_page(
    request: Request, cell: Cell, session: SignedIn, item: IntelItem, *, status: int = 200, error: str | None = None
) -> Response:
    submitted = Tlp(item.tlp)
    superseded = [_supersession(s) for s in service.supersessions(cell=cell, principal=session.principal, item=item)]
    return render(
        request,
        "intel_item.html",
        cell=cell,
        session=session,
        status=status,
        item=item,
        error=error,
        objects=[_object_row(o) for o in json.loads(item.objects)],
        superseded=superseded,
        # another delegation's object in it: the release would be refused, so it is not offered
        releasable=not any(s["not_theirs"] for s in superseded),
        deciding=_may_decide(cell, session) and item.state == "submitted",
        audiences=audience_labels(cell.charter.roster),
        levels=[level for level in Tlp if level >= submitted],
        tlp_label=lambda value: Tlp(value).label,
    )


@router.get("/intel/{item_id}", name="web_intel_item")
def item_page(request: Request, cell: CellDep, session: SignedIn, item_id: ItemId) -> Response:
    try:
        item = service.get_item(cell=cell, principal=session.principal, item_id=item_id)
    except NotFound:
        return _not_found(request, cell, session)
    return _item_page(request, cell, session, item)


@router.post("/intel/{item_id}/release", name="web_intel_release")
async def release(request: Request, cell: CellDep, session: SignedIn, item_id: ItemId) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")), session.csrf)
    withheld: dict[str, list[str]] = {}  # "withhold:<stix id>" = a property, one box each
    for key, value in form.multi_items():
        if key.startswith("withhold:") and isinstance(value, str) and value.strip():
            withheld.setdefault(key.removeprefix("withhold:"), []).append(value)
    tlp_text = str(form.get("tlp", ""))
    return _decide(
        request,
        cell,
        session,
        item_id,
        lambda uow: service.release(
            cell=cell,
            uow=uow,
            principal=session.principal,
            item_id=item_id,
            audience=str(form.get("audience", "")),
            tlp=Tlp.parse(tlp_text) if tlp_text else None,
            redactions=[(k, service.Redaction(remove=tuple(v))) for k, v in withheld.items()] or None,
        ),
    )


@router.post("/intel/{item_id}/decline", name="web_intel_decline")
def decline(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    item_id: ItemId,
    csrf: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    if not reason.strip():
        return _refused(
            request, cell, session, item_id, 422, translate(request, "Give the reason the submitter will read.")
        )
    try:  # the text rule, as the API's body applies it (fusioncell.text): the reason as stored, or why not
        reason = IntelDecline(reason=reason.strip()).reason
    except ValidationError as invalid:
        return _refused(request, cell, session, item_id, 422, invalid.errors()[0]["msg"])
    return _decide(
        request,
        cell,
        session,
        item_id,
        lambda uow: service.decline(
            cell=cell, uow=uow, principal=session.principal, item_id=item_id, reason=reason.strip()
        ),
    )


def _decide(request: Request, cell: Cell, session: SignedIn, item_id: int, act) -> Response:  # type: ignore[no-untyped-def]
    try:
        with cell.command() as uow:
            act(uow)
    except (DomainError, ValueError) as refused:
        status = refused.status if isinstance(refused, DomainError) else 422
        detail = refused.detail if isinstance(refused, DomainError) else str(refused)
        return _refused(request, cell, session, item_id, status, detail)
    return RedirectResponse(f"/intel/{item_id}", status_code=303)


def _refused(request: Request, cell: Cell, session: SignedIn, item_id: int, status: int, message: str) -> Response:
    try:
        item = service.get_item(cell=cell, principal=session.principal, item_id=item_id)
    except NotFound:
        return _not_found(request, cell, session)
    return _item_page(request, cell, session, item, status=status, error=message)

"""Thin HTTP for intelligence: submit, the review queue, release or decline, and the released objects."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from fusioncell.deps import CellDep, CurrentUser
from fusioncell.intel import service, stix
from fusioncell.intel.markings import Tlp
from fusioncell.intel.models import IntelItem
from fusioncell.intel.schemas import (
    IntelDecline,
    IntelDraftRevise,
    IntelItemPage,
    IntelItemRead,
    IntelObjectPage,
    IntelRelease,
    IntelRevoke,
    IntelSubmit,
    SightingCreate,
)
from fusioncell.schemas import RowId

router = APIRouter(prefix="/api/v1/intel", tags=["intel"])

ItemId = Annotated[RowId, Path(description="An intelligence item id")]
ERRORS = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such item you may read"},
    422: {"description": "Invalid input: for STIX content, every problem by object and field"},
}


def item_read(item: IntelItem, *, with_objects: bool = False) -> IntelItemRead:
    return IntelItemRead(
        id=item.id,
        kind=item.kind,
        state=item.state,
        delegation=item.delegation,
        submitted_by=item.submitted_by,
        submitted_at=item.submitted_at,
        share_identity=item.share_identity,
        tlp=Tlp(item.tlp).label,
        summary=item.summary,
        object_count=item.object_count,
        ledger_index=item.ledger_index,
        audience=item.audience,
        released_tlp=Tlp(item.released_tlp).label if item.released_tlp is not None else None,
        release_id=item.release_id,
        decided_at=item.decided_at,
        reason=item.reason,
        objects=json.loads(item.objects) if with_objects else None,
    )


@router.post(
    "/items",
    name="intel_submit",
    summary="Submit STIX 2.1 content for the mediator's review (nothing reaches another party before release), "
    "or keep it as a draft",
    status_code=status.HTTP_201_CREATED,
    response_model=IntelItemRead,
    responses={
        **ERRORS,
        200: {"description": "Exactly this content was submitted before: that item"},
        409: {
            "description": "A version of an object released to you that another delegation first submitted (each "
            "named in errors); a draft of content already submitted"
        },
    },
)
def submit(body: IntelSubmit, cell: CellDep, principal: CurrentUser, response: Response) -> IntelItemRead:
    with cell.command() as uow:
        submission = service.submit(
            cell=cell,
            uow=uow,
            principal=principal,
            body=body.stix,
            share_identity=body.share_identity,
            draft=body.draft,
        )
    item = submission.item
    if not submission.created:  # the same content again: the item it made, nothing new
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return item_read(item)


@router.get(
    "/items",
    name="intel_items",
    summary="The review queue (mediator) or your delegation's submissions with their status, newest first",
    response_model=IntelItemPage,
    responses=ERRORS,
)
def list_items(
    cell: CellDep,
    principal: CurrentUser,
    state: Literal["draft", "submitted", "released", "redacted", "declined", "revoked", "discarded"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> IntelItemPage:
    items = service.list_items(cell=cell, principal=principal, state=state, limit=limit)
    return IntelItemPage(items=[item_read(i) for i in items])


@router.get(
    "/items/{item_id}",
    name="intel_item",
    summary="One item with its objects as submitted (the mediator, or the submitting delegation)",
    response_model=IntelItemRead,
    responses=ERRORS,
)
def get_item(item_id: ItemId, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    return item_read(service.get_item(cell=cell, principal=principal, item_id=item_id), with_objects=True)


@router.put(
    "/items/{item_id}",
    name="intel_revise_draft",
    summary="Replace a draft's content (your delegation's analysts)",
    response_model=IntelItemRead,
    responses={
        **ERRORS,
        409: {
            "description": "Not a draft, or a version of an object released to you that another delegation first "
            "submitted"
        },
    },
)
def revise_draft(item_id: ItemId, body: IntelDraftRevise, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    with cell.command() as uow:
        item = service.revise_draft(
            cell=cell, uow=uow, principal=principal, item_id=item_id, body=body.stix, share_identity=body.share_identity
        )
    return item_read(item)


@router.post(
    "/items/{item_id}/submit",
    name="intel_submit_draft",
    summary="Put a draft before the mediator",
    response_model=IntelItemRead,
    responses={
        **ERRORS,
        409: {
            "description": "Not a draft, exactly its content is already submitted, or it holds a version of an "
            "object released to you that another delegation first submitted"
        },
    },
)
def submit_draft(item_id: ItemId, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    with cell.command() as uow:
        item = service.submit_draft(cell=cell, uow=uow, principal=principal, item_id=item_id)
    return item_read(item)


@router.post(
    "/items/{item_id}/discard",
    name="intel_discard_draft",
    summary="Discard a draft (kept on the record, out of every list of work)",
    response_model=IntelItemRead,
    responses={**ERRORS, 409: {"description": "Not a draft"}},
)
def discard_draft(item_id: ItemId, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    with cell.command() as uow:
        item = service.discard_draft(cell=cell, uow=uow, principal=principal, item_id=item_id)
    return item_read(item)


@router.post(
    "/items/{item_id}/release",
    name="intel_release",
    summary="Release an item to an audience, keeping or raising its marking (mediator)",
    response_model=IntelItemRead,
    responses={
        **ERRORS,
        409: {
            "description": "Already decided, a lowered marking, TLP:RED to a wide audience, or new versions of "
            "objects another delegation first submitted (each named with that delegation in objects)"
        },
    },
)
def release(item_id: ItemId, body: IntelRelease, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    tlp = Tlp.parse(body.tlp) if body.tlp else None
    redactions = [(r.id, service.Redaction(tuple(r.remove), r.replace)) for r in body.redactions]
    with cell.command() as uow:
        item = service.release(
            cell=cell,
            uow=uow,
            principal=principal,
            item_id=item_id,
            audience=body.audience,
            tlp=tlp,
            redactions=redactions,
        )
    return item_read(item)


@router.post(
    "/items/{item_id}/revoke",
    name="intel_revoke",
    summary="Recall a released item from every recipient: a new version of each object with revoked: true",
    response_model=IntelItemRead,
    responses={**ERRORS, 409: {"description": "Not released"}},
)
def revoke(item_id: ItemId, body: IntelRevoke, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    with cell.command() as uow:
        item = service.revoke(cell=cell, uow=uow, principal=principal, item_id=item_id, reason=body.reason)
    return item_read(item)


@router.post(
    "/sightings",
    name="intel_report_sighting",
    summary="Report a sighting of a released object for the mediator's review; released, it reaches the object's "
    "audience as the mediator's, dated at its release, without your identity",
    status_code=status.HTTP_201_CREATED,
    response_model=IntelItemRead,
    responses=ERRORS,
)
def report_sighting(body: SightingCreate, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    with cell.command() as uow:
        item = service.report_sighting(
            cell=cell,
            uow=uow,
            principal=principal,
            sighting_of=body.sighting_of,
            count=body.count,
            first_seen=body.first_seen,
            last_seen=body.last_seen,
            description=body.description,
        )
    return item_read(item, with_objects=True)


@router.post(
    "/items/{item_id}/decline",
    name="intel_decline",
    summary="Decline an item, with the reason the submitting delegation reads (mediator)",
    response_model=IntelItemRead,
    responses={**ERRORS, 409: {"description": "Already decided"}},
)
def decline(item_id: ItemId, body: IntelDecline, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    with cell.command() as uow:
        item = service.decline(cell=cell, uow=uow, principal=principal, item_id=item_id, reason=body.reason)
    return item_read(item)


@router.get(
    "/objects",
    name="intel_objects",
    summary="Released STIX objects in the audiences you read, in the order they were added",
    response_model=IntelObjectPage,
    responses={**ERRORS, 400: {"description": "A page token that is not yours, was altered, or is not a token"}},
)
async def objects(
    cell: CellDep,
    principal: CurrentUser,
    after: Annotated[
        str | None,
        Query(
            max_length=100,  # a token is 50 characters
            description="The previous page's next_after, an opaque token only you can use; leave it out (or send 0) "
            "for the first page",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    page = await run_in_threadpool(service.released_objects, cell=cell, principal=principal, after=after, limit=limit)
    return Response(
        stix.with_objects({"next_after": page.next_after}, (r.raw for r in page.rows)), media_type="application/json"
    )

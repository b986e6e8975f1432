"""Thin HTTP for intelligence: submit, the review queue, release or decline, and the released objects."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from fusioncell import examples as ex
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

SUBMIT_EXAMPLES = {
    "indicator": {
        "summary": "An indicator for the mediator's review (sy.analyst)",
        "description": "The drones' control uplink seen by Syria's observation post OP-7, marked TLP:GREEN, as a "
        "bundle. Sent again exactly, it returns the item already made (200).",
        "value": {"stix": ex.BUNDLE, "share_identity": False},
    },
}
REVISE_EXAMPLES = {
    "one-object": {
        "summary": "Replace a draft's content with one object (sy.analyst)",
        "value": {"stix": ex.RELAY_INDICATOR, "share_identity": False},
    },
}
RELEASE_EXAMPLES = {
    "whole": {
        "summary": "Release whole to the joint audience, marking kept (us.mediator)",
        "value": {"audience": "joint"},
    },
    "redacted": {
        "summary": "Release without the source, raised to TLP:AMBER (us.mediator)",
        "description": "The indicator goes out as a new STIX version without its description (which names the "
        "observation post) and under a name that does not; the item must hold the object named.",
        "value": {"audience": "joint", "tlp": "TLP:AMBER", "redactions": [ex.REDACTION]},
    },
}
DECLINE_EXAMPLES = {"reason": {"summary": "Decline, saying why (us.mediator)", "value": {"reason": ex.DECLINE_REASON}}}
REVOKE_EXAMPLES = {"reason": {"summary": "Recall, saying why (us.mediator)", "value": {"reason": ex.REVOKE_REASON}}}
SIGHTING_EXAMPLES = {
    "sighting": {
        "summary": "Israel saw the released uplink too (il.analyst)",
        "description": "Of an object released to your delegation; the mediator reviews it like any submission.",
        "value": ex.SIGHTING,
    },
}
ERRORS = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such item you may read"},
    422: {"description": "Invalid input: for STIX content, every problem by object and field"},
}

LIST_ERRORS = {401: ERRORS[401]}  # what you may read, or nothing
READ_ERRORS = {401: ERRORS[401], 404: ERRORS[404]}


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
def submit(
    body: Annotated[IntelSubmit, Body(openapi_examples=SUBMIT_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
    response: Response,
) -> IntelItemRead:
    """Put STIX 2.1 content (a bundle, a list of objects or one object) before the mediator, who alone decides
    whether, how and to whom it is released; until then no other party sees it. Your delegation's analysts only
    (403 otherwise). Every object must be valid STIX 2.1 and TLP-marked; a 422 lists every problem by object and
    property, and nothing is stored. Exactly the same content again returns the item it made (200,
    `Idempotent-Replayed: true`). With `draft`, it stays your delegation's until you submit it."""
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
    responses=LIST_ERRORS,
)
def list_items(
    cell: CellDep,
    principal: CurrentUser,
    state: Annotated[
        Literal["draft", "submitted", "released", "redacted", "declined", "revoked", "discarded"] | None,
        Query(description="Only items in this state.", examples=["submitted"]),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many items.", examples=[100])] = 100,
) -> IntelItemPage:
    """For the mediator, the review queue: every delegation's submitted items (and what was decided); for a
    party's analyst, your own delegation's items with their status. Newest first. Others get an empty list."""
    items = service.list_items(cell=cell, principal=principal, state=state, limit=limit)
    return IntelItemPage(items=[item_read(i) for i in items])


@router.get(
    "/items/{item_id}",
    name="intel_item",
    summary="One item with its objects as submitted (the mediator, or the submitting delegation)",
    response_model=IntelItemRead,
    responses=READ_ERRORS,
)
def get_item(item_id: ItemId, cell: CellDep, principal: CurrentUser) -> IntelItemRead:
    """One item with its STIX objects as submitted, for the mediator or the submitting delegation; a draft for its
    delegation only. 404 for anyone else, as for an item that does not exist."""
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
def revise_draft(
    item_id: ItemId,
    body: Annotated[IntelDraftRevise, Body(openapi_examples=REVISE_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> IntelItemRead:
    """Replace the whole content of one of your delegation's drafts (its analysts only), checked as on
    submission. 404 for an item that is not your delegation's; 409 once it is no longer a draft."""
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
    """Put one of your delegation's drafts before the mediator, as if submitted now (its analysts only). 409 once
    it is no longer a draft, or if exactly its content was submitted already."""
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
    """Drop one of your delegation's drafts (its analysts only): it stays on the record, out of every list of work.
    409 once it is no longer a draft."""
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
def release(
    item_id: ItemId,
    body: Annotated[IntelRelease, Body(openapi_examples=RELEASE_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> IntelItemRead:
    """The mediator only (403 otherwise): release a submitted item to an audience, whole or with redactions, keeping
    or raising its marking. Recipients receive it at once, over REST, TAXII and the stream, with the mediator's
    identity as source unless the submitter shared its own. 409 when it was decided already, for a lowered
    marking, for TLP:RED to more than one party, or when it holds new versions of another delegation's objects; a
    redaction that would leave invalid STIX, or names an object not in the item, is 422."""
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
def revoke(
    item_id: ItemId,
    body: Annotated[IntelRevoke, Body(openapi_examples=REVOKE_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> IntelItemRead:
    """The mediator only: recall a released item from every recipient, with the reason. Each of its objects gets a
    new version with `revoked: true` (its cyber-observables stop being served). 409 if it is not released."""
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
def report_sighting(
    body: Annotated[SightingCreate, Body(openapi_examples=SIGHTING_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> IntelItemRead:
    """A party's analyst reports that it saw a released object: the cell makes a STIX sighting of it and puts it
    before the mediator like any submission. Released, it reaches only those who were given the object, as the
    mediator's and dated at its release, so nothing in it tells who reported it or when. 404 for an object not
    released to your delegation."""
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
def decline(
    item_id: ItemId,
    body: Annotated[IntelDecline, Body(openapi_examples=DECLINE_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> IntelItemRead:
    """The mediator only: decline a submitted item with the reason the submitting delegation reads; it reaches no
    one. 409 when it was decided already."""
    with cell.command() as uow:
        item = service.decline(cell=cell, uow=uow, principal=principal, item_id=item_id, reason=body.reason)
    return item_read(item)


@router.get(
    "/objects",
    name="intel_objects",
    summary="Released STIX objects in the audiences you read, in the order they were added",
    response_model=IntelObjectPage,
    responses={**LIST_ERRORS, 400: {"description": "A page token that is not yours, was altered, or is not a token"}},
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
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many objects.", examples=[100])] = 100,
) -> Response:
    """The STIX objects released to audiences your delegation reads, each version in the order it was added (a
    redaction or a recall adds a version). Page with `next_after`, an opaque token only you can use; a token that
    is not yours, or altered, is 400. The same objects are served over TAXII 2.1 at /taxii2/."""
    page = await run_in_threadpool(service.released_objects, cell=cell, principal=principal, after=after, limit=limit)
    return Response(
        stix.with_objects({"next_after": page.next_after}, (r.raw for r in page.rows)), media_type="application/json"
    )

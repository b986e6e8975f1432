"""Thin HTTP for traffic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from fusioncell.deps import CellDep, CurrentUser, MessageId
from fusioncell.schemas import LedgerAfter
from fusioncell.traffic import service
from fusioncell.traffic.schemas import (
    AckCreate,
    AlertPage,
    AlertRead,
    MessageCreate,
    MessagePage,
    MessageRead,
    VerdictCreate,
)
from fusioncell.traffic.views import message_read

router = APIRouter(prefix="/api/v1", tags=["traffic"])

ERRORS = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such message, or not yours to see"},
    409: {"description": "Conflict with the message's state"},
}
PageLimit = Annotated[int, Query(ge=1, le=500, description="At most this many items.")]


@router.post(
    "/messages",
    name="messages_send",
    summary="Send a message to an audience on a track",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageRead,
    responses={**ERRORS, 200: {"description": "A resend with a known client_txn_id: the original message"}},
)
async def send_message(body: MessageCreate, cell: CellDep, principal: CurrentUser, response: Response) -> MessageRead:
    try:
        # group commit: sends that arrive together share one transaction; the 201 comes after it commits
        message = await cell.group_commit.run(
            lambda uow: service.send(cell=cell, uow=uow, sender=principal, draft=body)
        )
    except service.ConcurrentResend:
        # this client_txn_id is taken (a resend, or the same resend racing us): the original, or 409 if it differs
        message = await run_in_threadpool(service.find_replay, cell, principal, body)
        if message is None:  # pragma: no cover - the unique index said it is there
            raise
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return message_read(cell, message, principal)


@router.get(
    "/messages",
    name="messages_list",
    summary="Messages you may read, in the order recorded, by track and after a ledger index",
    response_model=MessagePage,
    responses=ERRORS,
)
def list_messages(
    cell: CellDep,
    principal: CurrentUser,
    track: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[
        LedgerAfter | None,
        Query(description="Only messages recorded after this ledger index: the last page's `next_after`."),
    ] = None,
    limit: PageLimit = 100,
) -> MessagePage:
    messages = service.list_messages(cell=cell, principal=principal, track=track, after=after, limit=limit)
    messages = service.received(cell=cell, principal=principal, messages=messages)
    items = [message_read(cell, m, principal) for m in messages]
    return MessagePage(items=items, next_after=items[-1].ledger_index if len(items) == limit else None)


@router.get(
    "/inbox",
    name="messages_inbox",
    summary="Messages awaiting your delegation's acknowledgement or read-back, most urgent first",
    response_model=list[MessageRead],
    responses=ERRORS,
)
def inbox(cell: CellDep, principal: CurrentUser) -> list[MessageRead]:
    messages = service.inbox(cell=cell, principal=principal)
    return [
        message_read(cell, m, principal) for m in service.received(cell=cell, principal=principal, messages=messages)
    ]


@router.get(
    "/messages/{message_id}",
    name="messages_read",
    summary="One message with its per-delegation delivery state",
    response_model=MessageRead,
    responses=ERRORS,
)
def get_message(message_id: MessageId, cell: CellDep, principal: CurrentUser) -> MessageRead:
    message = service.get_message(cell=cell, principal=principal, message_id=message_id)
    [message] = service.received(cell=cell, principal=principal, messages=[message])
    return message_read(cell, message, principal)


@router.post(
    "/messages/{message_id}/ack",
    name="messages_acknowledge",
    summary="Acknowledge a message for your delegation, optionally reading it back",
    response_model=MessageRead,
    responses={**ERRORS, 422: {"description": "A read-back is required"}},
)
def acknowledge(message_id: MessageId, body: AckCreate, cell: CellDep, principal: CurrentUser) -> MessageRead:
    with cell.command() as uow:
        service.acknowledge(cell=cell, uow=uow, principal=principal, message_id=message_id, readback=body.readback)
    return message_read(cell, service.get_message(cell=cell, principal=principal, message_id=message_id), principal)


@router.post(
    "/messages/{message_id}/readback-verdict",
    name="messages_readback_verdict",
    summary="Confirm or reject a read-back of your delegation's message",
    response_model=MessageRead,
    responses=ERRORS,
)
def readback_verdict(message_id: MessageId, body: VerdictCreate, cell: CellDep, principal: CurrentUser) -> MessageRead:
    with cell.command() as uow:
        service.judge_readback(
            cell=cell,
            uow=uow,
            principal=principal,
            message_id=message_id,
            verdict=body.verdict,
            note=body.note,
            delegation=body.delegation,
        )
    return message_read(cell, service.get_message(cell=cell, principal=principal, message_id=message_id), principal)


@router.get(
    "/alerts",
    name="alerts_list",
    summary="Alerts you may read (escalations, rejected read-backs), in the order recorded",
    response_model=AlertPage,
    responses=ERRORS,
)
def list_alerts(
    cell: CellDep,
    principal: CurrentUser,
    target: Annotated[str | None, Query(max_length=16, description="Only alerts to this delegation.")] = None,
    after: Annotated[
        LedgerAfter | None,
        Query(description="Only alerts recorded after this ledger index: the last page's `next_after`."),
    ] = None,
    limit: PageLimit = 100,
) -> AlertPage:
    alerts = service.list_alerts(cell=cell, principal=principal, target=target, after=after, limit=limit)
    items = [AlertRead.model_validate(a) for a in alerts]
    return AlertPage(items=items, next_after=items[-1].ledger_index if len(items) == limit else None)

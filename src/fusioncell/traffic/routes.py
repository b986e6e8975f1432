"""Thin HTTP for traffic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from fusioncell import examples as ex
from fusioncell.deps import CellDep, CurrentUser, MessageId
from fusioncell.schemas import LedgerAfter, RowId
from fusioncell.traffic import alerts, service, watch
from fusioncell.traffic.schemas import (
    AckCreate,
    AlertHandle,
    AlertPage,
    AlertRead,
    MessageCreate,
    MessagePage,
    MessageRead,
    VerdictCreate,
    WatchHandOver,
    WatchRead,
    WatchShiftPage,
    WatchShiftRead,
    WatchTake,
)
from fusioncell.traffic.views import message_read

router = APIRouter(prefix="/api/v1", tags=["traffic"])

ERRORS = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such message, or not yours to see"},
    409: {"description": "Conflict with the message's state"},
}
LIST_ERRORS = {401: ERRORS[401]}  # a list holds what you may read: nothing to forbid, nothing missing
READ_ERRORS = {401: ERRORS[401], 404: ERRORS[404]}
SEND_ERRORS = {
    401: ERRORS[401],
    403: {"description": "Not an audience of yours, or INSTRUCTION from a party"},
    409: {"description": "The client_txn_id was used for another message"},
}
PageLimit = Annotated[int, Query(ge=1, le=500, description="At most this many items.", examples=[100])]
AfterIndex = Annotated[
    LedgerAfter | None,
    Query(
        description="Only what was recorded after this ledger index: the last page's `next_after`; -1 or nothing "
        "for the first page.",
        examples=[-1],
    ),
]

SEND_EXAMPLES = {
    "flash-warning": {
        "summary": "FLASH warning to the joint audience, read-back required (sy.liaison)",
        "description": "Syria warns that four vehicles will cross the buffer zone at 0600Z, in English with an "
        "Arabic translation. Sent again with the same `client_txn_id`, it returns the message already sent.",
        "value": ex.SEND_FLASH_WARNING,
    },
    "mediated-request": {
        "summary": "ROUTINE request to the mediator alone (sy.liaison)",
        "description": "Proximity talks: `mediated:SY` is read by Syria and the mediator only.",
        "value": ex.SEND_MEDIATED_REQUEST,
    },
}
ACK_EXAMPLES = {
    "read-back": {
        "summary": "Acknowledge and read back (il.liaison)",
        "description": "Required when the message says `readback_required`; send it again after a negative verdict.",
        "value": {"readback": ex.READBACK},
    },
    "acknowledge": {
        "summary": "Acknowledge only",
        "description": "For a message that needs no read-back.",
        "value": {},
    },
}
VERDICT_EXAMPLES = {
    "negative": {
        "summary": "Reject IL's read-back, saying what was wrong (sy.liaison)",
        "description": "A negative verdict needs its note. It opens a clarification and alerts the mediator; the "
        "receiver reads back again.",
        "value": {"verdict": "negative", "note": ex.NOTE, "delegation": "IL"},
    },
    "confirmed": {
        "summary": "Confirm the read-back (sy.liaison)",
        "description": "Closes the loop, and any clarification open on it.",
        "value": {"verdict": "confirmed"},
    },
}


@router.post(
    "/messages",
    name="messages_send",
    summary="Send a message to an audience on a track",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageRead,
    responses={**SEND_ERRORS, 200: {"description": "A resend with a known client_txn_id: the original message"}},
)
async def send_message(
    body: Annotated[MessageCreate, Body(openapi_examples=SEND_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
    response: Response,
) -> MessageRead:
    """Send a message to an audience on one of the charter's tracks (a liaison officer or the mediator). It is
    recorded in the ledger and streamed at once to everyone in the audience; `ack_due_at` is stamped from its
    precedence, and each addressed delegation (those named in `addressed`; by default the other parties in the
    audience, or the mediator where there is none) must acknowledge it by then, or is reminded and the matter
    escalated.

    Refused: an audience your delegation is not in, or the INSTRUCTION marker from a party (403); an unknown track
    or language, a FLASH or IMMEDIATE body over 200 words, `addressed` naming your own delegation, an observer or
    one outside the audience, a `reply_to` you cannot read or whose audience is narrower than this one's (422).
    With a `client_txn_id`, a resend returns the original message (200, `Idempotent-Replayed: true`) and writes
    nothing; other content under the same id is 409. Sends that arrive together are committed together (group
    commit): the 201 comes once the message is on disk."""
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
    responses=LIST_ERRORS,
)
def list_messages(
    cell: CellDep,
    principal: CurrentUser,
    track: Annotated[
        str | None, Query(max_length=64, description="Only this track's messages.", examples=["de-escalation"])
    ] = None,
    after: AfterIndex = None,
    limit: PageLimit = 100,
) -> MessagePage:
    """Every message you may read, oldest first: the audiences your delegation is in, whoever sent them. Reading
    them here counts as their delivery to your delegation. Page with `next_after`: pass it as `after` until it is
    null. An unknown track is 422."""
    messages = service.list_messages(cell=cell, principal=principal, track=track, after=after, limit=limit)
    messages = service.received(cell=cell, principal=principal, messages=messages)
    items = [message_read(cell, m, principal) for m in messages]
    return MessagePage(items=items, next_after=items[-1].ledger_index if len(items) == limit else None)


@router.get(
    "/inbox",
    name="messages_inbox",
    summary="Messages awaiting your delegation's acknowledgement or read-back, most urgent first",
    response_model=list[MessageRead],
    responses=LIST_ERRORS,
)
def inbox(cell: CellDep, principal: CurrentUser) -> list[MessageRead]:
    """What your delegation still owes: messages addressed to it that are not yet acknowledged, or whose read-back
    the sender rejected, earliest deadline first (`ack_due_at`; a FLASH falls due before a ROUTINE sent earlier).
    Reading them here counts as their delivery to your delegation. An observer's or an admin's inbox is empty."""
    messages = service.inbox(cell=cell, principal=principal)
    return [
        message_read(cell, m, principal) for m in service.received(cell=cell, principal=principal, messages=messages)
    ]


@router.get(
    "/messages/{message_id}",
    name="messages_read",
    summary="One message with its per-delegation delivery state",
    response_model=MessageRead,
    responses=READ_ERRORS,
)
def get_message(message_id: MessageId, cell: CellDep, principal: CurrentUser) -> MessageRead:
    """One message with each addressed delegation's state (delivered, acknowledged, read back, the verdict) and
    its clarifications. 404 whether it does not exist or is not yours to see: the answer tells nothing of other
    audiences' traffic."""
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
def acknowledge(
    message_id: MessageId,
    body: Annotated[AckCreate, Body(openapi_examples=ACK_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> MessageRead:
    """Acknowledge a message for your delegation, which stops its reminders and escalation; with `readback`, your
    restatement for the sender to confirm (required when the message says `readback_required`). After a negative
    verdict, send the read-back again. Refused: a message not addressed to your delegation, or an observer (403);
    a required read-back missing (422); acknowledging twice without a read-back (409)."""
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
def readback_verdict(
    message_id: MessageId,
    body: Annotated[VerdictCreate, Body(openapi_examples=VERDICT_EXAMPLES)],
    cell: CellDep,
    principal: CurrentUser,
) -> MessageRead:
    """The sending delegation's answer to a read-back: `confirmed` closes the loop; `negative`, with a note saying
    what was wrong, opens a clarification (for sender, receiver and mediator) and alerts the mediator, and the
    receiver reads back again. Only the sending delegation may judge (403); a negative verdict without a note is
    422, and so is a verdict without `delegation` when several read-backs await one; no read-back awaiting a
    verdict is 409."""
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
    responses=LIST_ERRORS,
)
def list_alerts(
    cell: CellDep,
    principal: CurrentUser,
    target: Annotated[
        str | None, Query(max_length=16, description="Only alerts to this delegation.", examples=["US"])
    ] = None,
    for_me: Annotated[
        bool,
        Query(
            description="Only the alerts for you: the mediator's, if you are one of its officers; your delegation's "
            "duty officer's, if you hold its watch (or no one does and you are a liaison officer).",
            examples=[True],
        ),
    ] = False,
    open_only: Annotated[bool, Query(description="Only alerts not yet marked handled.", examples=[True])] = False,
    after: AfterIndex = None,
    limit: PageLimit = 100,
) -> AlertPage:
    """Escalations of overdue acknowledgements and rejected read-backs, oldest first. An alert is read by the
    audience of the message it is about, so a party sees the alerts on traffic it reads; `target` narrows them to
    those raised for one delegation, `for_me` to those you must act on (your duty screen), `open_only` to those
    not yet handled. Paged like messages."""
    if for_me:
        found = alerts.alerts_for(cell=cell, principal=principal, open_only=open_only, after=after, limit=limit)
        if target is not None:
            found = [a for a in found if a.target == target]
    else:
        found = alerts.list_alerts(
            cell=cell, principal=principal, target=target, open_only=open_only, after=after, limit=limit
        )
    items = [alert_read(cell, a, principal) for a in found]
    return AlertPage(items=items, next_after=items[-1].ledger_index if len(found) == limit else None)


def alert_read(cell: CellDep, alert: Any, viewer: Any) -> AlertRead:
    """An alert as the viewer may read it: whether it was handled, and by whom and how only for the target
    delegation and the mediator."""
    read = AlertRead.model_validate(alert)
    if not alerts.handling_visible(cell, viewer, alert):
        read = read.model_copy(update={"handled_by": None, "handled_note": None})
    return read


AlertId = Annotated[RowId, Path(description="An alert id")]


@router.post(
    "/alerts/{alert_id}/handle",
    name="alerts_handle",
    summary="Mark an alert for you handled",
    response_model=AlertRead,
    responses={
        401: ERRORS[401],
        403: {"description": "The alert is for others (the mediator's officers, another duty officer)"},
        404: {"description": "No such alert, or not yours to see"},
        409: {"description": "Marked handled already"},
    },
)
def handle_alert(alert_id: AlertId, body: AlertHandle, cell: CellDep, principal: CurrentUser) -> AlertRead:
    """Mark an alert handled, with a note of what was done: recorded in the ledger for your delegation and the
    mediator (the other party reads only that it was handled), and gone from the open alerts and the count on
    every page of those it is for. Only those it is for may: the
    mediator's officers for the mediator's, the duty officer (who holds the watch; with no one on it, any liaison
    officer of the delegation) for a delegation's (403 for anyone else). Handled already: 409 naming who did."""
    with cell.command() as uow:
        alert = alerts.handle(cell=cell, uow=uow, principal=principal, alert_id=alert_id, note=body.note)
        read = alert_read(cell, alert, principal)
    return read


# -- the watch roster -----------------------------------------------------------------------------------------

WATCH_ERRORS = {
    401: ERRORS[401],
    403: {"description": "Not a liaison officer or the mediator's officer"},
    409: {"description": "The watch is not as the request assumes (you hold it already; you do not hold it)"},
}


@router.get(
    "/watch",
    name="watch_board",
    summary="Who holds the watch in each delegation you may know of",
    response_model=list[WatchRead],
    responses=LIST_ERRORS,
)
def watch_board(cell: CellDep, principal: CurrentUser) -> list[WatchRead]:
    """Who holds the watch now, in your delegation (the mediator's officers: in every delegation). The holder is
    the charter's "duty officer": escalations go to them; with no one on watch, to every liaison officer of the
    delegation."""
    return [
        WatchRead(delegation=w.delegation, shift=WatchShiftRead.model_validate(w.shift) if w.shift else None)
        for w in watch.board(cell=cell, principal=principal)
    ]


@router.post(
    "/watch/take",
    name="watch_take",
    summary="Take your delegation's watch",
    response_model=WatchShiftRead,
    status_code=status.HTTP_201_CREATED,
    responses=WATCH_ERRORS,
)
def take_watch(body: WatchTake, cell: CellDep, principal: CurrentUser) -> WatchShiftRead:
    """Take your delegation's watch (a liaison officer, or the mediator's officer for the mediator): from now on
    the escalations addressed to its duty officer are yours. Whoever held it is relieved, recorded in the same
    ledger entry (read by your delegation and the mediator). Holding it already: 409."""
    with cell.command() as uow:
        shift = watch.take_watch(cell=cell, uow=uow, principal=principal, note=body.note)
        read = WatchShiftRead.model_validate(shift)
    return read


@router.post(
    "/watch/hand-over",
    name="watch_hand_over",
    summary="Hand your watch over, with a note",
    response_model=WatchRead,
    responses={**WATCH_ERRORS, 422: {"description": "The successor is no active liaison officer of yours"}},
)
def hand_over_watch(body: WatchHandOver, cell: CellDep, principal: CurrentUser) -> WatchRead:
    """End your watch with a handover note, to a named colleague of your delegation (who holds it from now) or to
    no one. One ledger entry, read by your delegation and the mediator. Not holding the watch: 409."""
    with cell.command() as uow:
        following = watch.hand_over(cell=cell, uow=uow, principal=principal, note=body.note, successor=body.to)
        read = WatchRead(
            delegation=principal.delegation or "",
            shift=WatchShiftRead.model_validate(following) if following else None,
        )
    return read


@router.get(
    "/watch/{delegation}/shifts",
    name="watch_shifts",
    summary="A delegation's shift log, newest first",
    response_model=WatchShiftPage,
    responses={401: ERRORS[401], 404: {"description": "Not a delegation whose watch you may know of"}},
)
def watch_shifts(
    delegation: Annotated[str, Path(max_length=16, description="The delegation.", examples=["SY"])],
    cell: CellDep,
    principal: CurrentUser,
    before: Annotated[
        LedgerAfter | None,
        Query(
            description="Only shifts begun before this ledger index: the last page's `next_before`.", examples=[None]
        ),  # fmt: skip
    ] = None,
    limit: PageLimit = 100,
) -> WatchShiftPage:
    """Who kept the watch, when, and the notes they took it and handed it over with, newest first: your own
    delegation's (the mediator's officers: any delegation's). Another party's: 404."""
    shifts = watch.shift_log(cell=cell, principal=principal, delegation=delegation, before=before, limit=limit)
    items = [WatchShiftRead.model_validate(s) for s in shifts]
    return WatchShiftPage(items=items, next_before=items[-1].ledger_index if len(items) == limit else None)

"""Traffic commands and queries: send, deliver, acknowledge and read back, judge read-backs, escalate.

Every command runs in the caller's unit of work and records exactly one ledger entry; every query filters by
the audiences `policy` says the reader may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, raiseload

from fusioncell.cell import Cell
from fusioncell.charter.model import Precedence, count_words
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.errors import ConcurrentResend, Conflict, Forbidden, InvalidInput, NotFound
from fusioncell.policy import (
    Audience,
    DelegationKind,
    Permission,
    Principal,
    authorize,
    can_read,
    readable_audiences,
    resolve_audience,
)
from fusioncell.scheduler.models import Job
from fusioncell.scheduler.service import schedule, schedule_many
from fusioncell.schemas import random_row_id
from fusioncell.traffic.models import Alert, Clarification, Delivery, Message
from fusioncell.traffic.schemas import MessageCreate, Verdict

ACK_OVERDUE = "traffic.ack_overdue"


OPEN_STATES = ("pending", "delivered")
OWING_STATES = (*OPEN_STATES, "negative")  # a rejected read-back is owed again


def owes(delivery: Delivery) -> bool:
    """Whether the delegation still owes something by `due_at`: its acknowledgement, or a corrected read-back."""
    return delivery.state in OWING_STATES


def addressed_delegations(
    cell: Cell, audience: Audience, sender_delegation: str, named: Sequence[str] | None = None
) -> list[str]:
    """Who must acknowledge: the delegations the sender names, or by default the other parties in the audience
    (a party's `joint` message is for the other parties; the mediator's, for every party), and the mediator only
    where no other party is (proximity talks: `mediated:SY` from SY). Observers read; they never owe."""
    roster = cell.charter.roster
    others = audience.members - {sender_delegation}
    if named is None:
        parties = {c for c in others if roster.kind(c) is DelegationKind.PARTY}
        return sorted(parties or {c for c in others if roster.kind(c) is DelegationKind.MEDIATOR})
    seen: set[str] = set()
    for i, code in enumerate(named):
        where = f"addressed.{i}"
        if code in seen:
            raise InvalidInput(f"addressed names {code} twice", field=where)
        if code == sender_delegation:
            raise InvalidInput(f"{code} is your own delegation: it does not acknowledge its own message", field=where)
        if code not in audience.members:
            raise InvalidInput(
                f"{code} is not in the audience {audience.label!r}: it cannot read the message, so it cannot owe an "
                f"acknowledgement (the audience holds {', '.join(sorted(audience.members))})",
                field=where,
            )
        if roster.kind(code) is DelegationKind.OBSERVER:
            raise InvalidInput(
                f"{code} is an observer: observers read joint traffic and owe no acknowledgement; address parties "
                "or the mediator",
                field=where,
            )
        seen.add(code)
    return sorted(seen)


def message_content(message: Message, addressed: Sequence[str]) -> dict[str, Any]:
    """What the ledger commits to for a sent message (revealed to its audience only)."""
    return {
        "message": {
            "id": message.id,
            "track": message.track,
            "precedence": message.precedence,
            "marker": message.marker,
            "subject": message.subject,
            "body": message.body,
            "lang": message.lang,
            "translations": message.translations,
            "reply_to": message.reply_to_id,
            "readback_required": message.readback_required,
            "sender_delegation": message.sender_delegation,
            "sent_at": message.sent_at,
            "ack_due_at": message.ack_due_at,
            "addressed": list(addressed),
        }
    }


def _draft_signature(cell: Cell, sender: Principal, draft: MessageCreate) -> dict[str, Any]:
    audience = resolve_audience(draft.audience, cell.charter.roster)
    signature = draft.model_dump(mode="json", exclude={"client_txn_id", "addressed"})
    return signature | {"addressed": addressed_delegations(cell, audience, sender.delegation or "", draft.addressed)}


def _stored_signature(message: Message) -> dict[str, Any]:
    return {
        "track": message.track,
        "audience": message.audience,
        "precedence": message.precedence,
        "marker": message.marker,
        "subject": message.subject,
        "body": message.body,
        "lang": message.lang,
        "translations": message.translations,
        "readback_required": message.readback_required,
        "reply_to": message.reply_to_id,
        "addressed": sorted(d.delegation for d in message.deliveries),
    }


def _validate(cell: Cell, sender: Principal, draft: MessageCreate) -> tuple[Audience, list[str]]:
    charter = cell.charter
    if draft.track not in charter.track_ids:
        raise InvalidInput(
            f"unknown track {draft.track!r}; the charter's tracks are {', '.join(t.id for t in charter.tracks)}",
            field="track",
        )
    audience = resolve_audience(draft.audience, charter.roster)
    authorize(sender, Permission.SEND_MESSAGE, charter.roster, audience=audience)
    if draft.marker == "INSTRUCTION":
        authorize(sender, Permission.SEND_INSTRUCTION, charter.roster)
    languages = charter.languages.supported
    if draft.lang not in languages:
        raise InvalidInput(f"language {draft.lang!r} is not one of the charter's: {', '.join(languages)}", field="lang")
    for lang in draft.translations:
        if lang not in languages or lang == draft.lang:
            raise InvalidInput(
                f"translation language {lang!r} must be another of the charter's languages ({', '.join(languages)})",
                field=f"translations.{lang}",
            )
    limit = charter.word_limit(draft.precedence)
    if limit is not None:
        for where, text in [("body", draft.body)] + [
            (f"translations.{lang}.body", t.body) for lang, t in draft.translations.items()
        ]:
            words = count_words(text)
            if words > limit:
                raise InvalidInput(
                    f"{draft.precedence.value} traffic is limited to {limit} words; {where} has {words}",
                    field=where,
                    words=words,
                    limit=limit,
                )
    return audience, addressed_delegations(cell, audience, sender.delegation or "", draft.addressed)


def _existing(session: Session, sender: Principal, client_txn_id: str) -> Message | None:
    return session.execute(
        select(Message).where(Message.sender == sender.username, Message.client_txn_id == client_txn_id)
    ).scalar_one_or_none()


def find_replay(cell: Cell, sender: Principal, draft: MessageCreate) -> Message | None:
    """A resend of an already-sent message (same client_txn_id): the original, or 409 if the content differs."""
    if draft.client_txn_id is None:
        return None
    with cell.reading() as session:
        existing = _existing(session, sender, draft.client_txn_id)
    if existing is None:
        return None
    if _stored_signature(existing) != _draft_signature(cell, sender, draft):
        raise Conflict(
            f"client_txn_id {draft.client_txn_id!r} was already used for a different message (id {existing.id})",
            message_id=existing.id,
        )
    return existing


def send(*, cell: Cell, uow: UnitOfWork, sender: Principal, draft: MessageCreate) -> Message:
    audience, addressed = _validate(cell, sender, draft)
    session = uow.session
    if draft.reply_to is not None:
        original = session.get(Message, draft.reply_to)
        original_audience = resolve_audience(original.audience, cell.charter.roster) if original else None
        if original_audience is None or not can_read(sender, original_audience):
            raise InvalidInput(f"reply_to {draft.reply_to} names no message you can read", field="reply_to")
        if not audience.members <= original_audience.members:
            # the link itself would tell the wider audience that a message it may not read exists
            raise InvalidInput(
                f"a reply to a message for {original_audience.label!r} cannot go to the wider audience "
                f"{audience.label!r}: quote what may be shared in a new message instead",
                field="reply_to",
            )
    now = cell.clock.now()
    fields: dict[str, Any] = {
        "track": draft.track,
        "audience": audience.label,
        "precedence": draft.precedence.value,
        "marker": draft.marker.value,
        "subject": draft.subject,
        "body": draft.body,
        "lang": draft.lang,
        "translations": {k: v.model_dump() for k, v in draft.translations.items()},
        "reply_to_id": draft.reply_to,
        "readback_required": draft.readback_required,
        "client_txn_id": draft.client_txn_id,
        "sender": sender.username,
        "sender_delegation": sender.delegation or "",
        "sent_at": now,
        "ack_due_at": now + cell.charter.handling_time(draft.precedence),
        "ledger_index": uow.next_ledger_index(),  # the entry recorded below names it; no update afterwards
    }
    # The hot path of the cell: plain inserts, no unit-of-work bookkeeping. (The unit of work still sees them as
    # shared-state writes and insists on the entry.) The id is random, as every row id others may read: the gaps in
    # a sequence would count the messages sent meanwhile to audiences the reader may not read. One taken already
    # inserts nothing, and another is drawn; a client_txn_id taken already is a concurrent resend.
    insert_message = _INSERT_MESSAGE[session.get_bind().dialect.name]
    message_id = None
    while message_id is None:
        fields["id"] = random_row_id()
        try:
            message_id = session.execute(insert_message, fields).scalar_one_or_none()
        except IntegrityError:
            raise ConcurrentResend(draft.client_txn_id) from None
    deliveries = [
        {
            "message_id": message_id,
            "delegation": code,
            "state": "pending",
            "due_at": fields["ack_due_at"],
            "rejections": 0,
            "renotified": 0,
            "escalation_level": 0,
        }
        for code in addressed
    ]
    if deliveries:
        session.execute(insert(Delivery.__table__), deliveries)
    # the committed message answers the sender as it stands, without reading it back
    message = Message(**fields)
    message.deliveries = [Delivery(**row) for row in deliveries]
    message.clarifications = []
    entry = uow.record(
        action="message.sent",
        actor=sender,
        audience=audience,
        subject=f"message:{message_id}",
        content=message_content(message, addressed),
    )
    if entry.index != message.ledger_index:  # pragma: no cover - one command, one entry, the index it named
        raise RuntimeError(f"message {message_id} named ledger index {message.ledger_index}, got {entry.index}")
    schedule_many(
        uow,
        [
            Job.new(
                kind=ACK_OVERDUE,
                key=_overdue_key(message_id, code, 0),
                subject=_delivery_subject(message_id, code),
                due_at=message.ack_due_at,
                payload={"message_id": message_id, "delegation": code},
                created_at=now,
            )
            for code in addressed
        ],
    )
    return message


def _overdue_key(message_id: int, delegation: str, n: int, rejections: int = 0) -> str:
    # each rejected read-back starts a new round of reminders and escalation, with keys of its own
    return f"ack:{message_id}:{delegation}:{n}" + (f":r{rejections}" if rejections else "")


def schedule_overdue(uow: UnitOfWork, message: Message, delivery: Delivery, due_at: datetime, n: int) -> None:
    schedule(
        uow,
        kind=ACK_OVERDUE,
        key=_overdue_key(message.id, delivery.delegation, n, delivery.rejections),
        subject=_delivery_subject(message.id, delivery.delegation),
        due_at=due_at,
        payload={"message_id": message.id, "delegation": delivery.delegation, "rejections": delivery.rejections},
    )


def _delivery_subject(message_id: int, delegation: str) -> str:
    return f"delivery:{message_id}:{delegation}"


# -- reading -------------------------------------------------------------------------------------------


def _visible(cell: Cell, principal: Principal, message: Message | None) -> Message:
    if message is None or not can_read(principal, resolve_audience(message.audience, cell.charter.roster)):
        raise NotFound("no such message")  # the same answer whether it does not exist or is not yours to see
    return message


def get_message(*, cell: Cell, principal: Principal, message_id: int) -> Message:
    with cell.reading() as session:
        return _visible(cell, principal, session.get(Message, message_id))


def list_messages(
    *, cell: Cell, principal: Principal, track: str | None, after: int | None, limit: int
) -> list[Message]:
    if track is not None and track not in cell.charter.track_ids:
        raise InvalidInput(f"unknown track {track!r}", field="track")
    conditions = [Message.track == track] if track is not None else []
    return visible_page(cell, principal, Message, conditions, after=after, limit=limit)


def inbox(*, cell: Cell, principal: Principal, limit: int = 200, clarifications: bool = True) -> list[Message]:
    """Messages addressed to the principal's delegation still awaiting its acknowledgement or read-back (with their
    clarifications, unless a list that shows none asks without)."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences or principal.delegation is None:
        return []
    with cell.reading() as session:
        return list(
            session.execute(
                select(Message)
                .options(*(() if clarifications else (raiseload(Message.clarifications),)))
                .join(Delivery, Delivery.message_id == Message.id)
                .where(
                    Message.audience.in_(audiences),
                    Delivery.delegation == principal.delegation,
                    Delivery.state.in_(OWING_STATES),
                )
                .order_by(Delivery.due_at, Message.ledger_index)
                .limit(limit)
            ).scalars()
        )


def pending_receipts(*, cell: Cell, principal: Principal, messages: Sequence[Message]) -> list[Receipt]:
    """The receipts a member's client owes for these messages, now: one for each whose delivery to its delegation
    is still pending (the API's reads, the stream and the pages all count a message received this way)."""
    now = cell.clock.now()
    return [
        Receipt(message_id=m.id, audience=m.audience, principal=principal, at=now)
        for m in messages
        if any(d.delegation == principal.delegation and d.state == "pending" for d in m.deliveries)
    ]


def received(*, cell: Cell, principal: Principal, messages: Sequence[Message]) -> list[Message]:
    """A member's client has received these messages: mark each pending delivery to its delegation delivered,
    and return the messages as they now stand (re-read in one query, only if anything changed)."""
    receipts = pending_receipts(cell=cell, principal=principal, messages=messages)
    changed = set(record_receipts(cell=cell, receipts=receipts))
    if not changed:
        return list(messages)
    with cell.reading() as session:
        fresh = {m.id: m for m in session.execute(select(Message).where(Message.id.in_(changed))).scalars()}
    return [fresh.get(m.id, m) for m in messages]


# -- the closed loop -----------------------------------------------------------------------------------


def delivery_for_update(uow: UnitOfWork, message_id: int, delegation: str) -> Delivery | None:
    # populate_existing: the row as it is now, under the lock, not as the message's loaded deliveries had it
    return uow.session.execute(
        select(Delivery)
        .where(Delivery.message_id == message_id, Delivery.delegation == delegation)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Receipt:
    """A member's client received a message (from the stream, or a REST read) at a moment."""

    message_id: int
    audience: str
    principal: Principal
    at: datetime

    @property
    def key(self) -> tuple[int, str]:
        return (self.message_id, self.principal.delegation or "")


def receipt_groups(receipts: Sequence[Receipt]) -> list[list[Receipt]]:
    """Receipts by (audience, receiving delegation): what one delivery command covers."""
    groups: dict[tuple[str, str], list[Receipt]] = {}
    for receipt in receipts:
        if receipt.principal.delegation is not None:
            groups.setdefault((receipt.audience, receipt.principal.delegation), []).append(receipt)
    return list(groups.values())


def submit_receipts(*, cell: Cell, receipts: Sequence[Receipt]) -> list[tuple[list[Receipt], Future[Delivered]]]:
    """Queue one delivery command per (audience, receiving delegation) for the next group commit; each group with
    the future of what its command did. A burst of receipts (every subscriber of a delegation receives the same
    message) costs one ledger entry per group, not one per message and subscriber."""
    return [
        (group, cell.group_commit.submit(lambda uow, group=group: deliver(cell=cell, uow=uow, receipts=group)))
        for group in receipt_groups(receipts)
    ]


def record_receipts(*, cell: Cell, receipts: Sequence[Receipt]) -> list[int]:
    """Write receipts and wait for the commit; the messages whose delivery state changed."""
    return [m for _group, future in submit_receipts(cell=cell, receipts=receipts) for m in future.result().changed]


@dataclass(frozen=True)
class Delivered:
    """What a delivery command did: the messages it marked delivered, and those it had to leave because another
    transaction held their delivery row (still pending: worth another try)."""

    changed: list[int]
    busy: list[int]


# built once: the statements of the hot path
# by dialect: an id that is taken inserts nothing (and returns no id); any other conflict is an error
_INSERT_MESSAGE = {
    dialect.dialect.name: dialect.insert(Message.__table__)
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(Message.__table__.c.id)
    for dialect in (postgresql, sqlite)
}
_STILL_PENDING = (
    select(Delivery.message_id)
    .join(Message, Message.id == Delivery.message_id)
    .where(
        Delivery.message_id.in_(bindparam("ids", expanding=True)),
        Delivery.delegation == bindparam("delegation"),
        Delivery.state == "pending",
        Message.audience == bindparam("audience"),
    )
    .order_by(Message.ledger_index)  # the order they were sent (ids are random)
)
# SKIP LOCKED: waiting for a row here, inside a group commit that already holds the ledger head, could deadlock
# against the transaction holding the row (an acknowledgement, a verdict, an escalation) waiting for the head.
# What is skipped and still pending afterwards is reported back as busy, for another try.
_PENDING_DELIVERIES = _STILL_PENDING.with_for_update(of=Delivery, skip_locked=True)
_deliveries = Delivery.__table__.c
_MARK_DELIVERED = (
    update(Delivery.__table__)
    .where(_deliveries.message_id == bindparam("id"), _deliveries.delegation == bindparam("code"))
    .values(state="delivered", delivered_at=bindparam("at"), delivered_to=bindparam("to"))
)


def deliver(*, cell: Cell, uow: UnitOfWork, receipts: Sequence[Receipt]) -> Delivered:
    """Mark the receiving delegation's pending deliveries of these messages (all of one audience) delivered, under
    the row locks, and record one `message.delivered` entry for those that changed; none if nothing did."""
    if not receipts:
        return Delivered([], [])
    first = receipts[0]
    delegation = first.principal.delegation
    audience = resolve_audience(first.audience, cell.charter.roster)
    if delegation is None:
        return Delivered([], [])
    if any(r.audience != first.audience or r.principal.delegation != delegation for r in receipts):
        raise ValueError("one delivery command covers one audience and one receiving delegation")
    readers = {r.principal for r in receipts if can_read(r.principal, audience)}
    earliest: dict[int, Receipt] = {}
    for r in sorted(receipts, key=lambda r: r.at):
        if r.principal in readers:
            earliest.setdefault(r.message_id, r)
    if not earliest:
        return Delivered([], [])
    # locked, then written by primary key: the state is decided on the rows as they are now, under the lock
    params = {"ids": sorted(earliest), "delegation": delegation, "audience": audience.label}
    pending = list(uow.session.execute(_PENDING_DELIVERIES, params).scalars())
    busy: list[int] = []
    if len(pending) < len(earliest):  # delivered already, or held by another transaction right now
        rest = sorted(set(earliest) - set(pending))
        busy = list(uow.session.execute(_STILL_PENDING, {**params, "ids": rest}).scalars())
    done = [
        {
            "message_id": message_id,
            "delivered_to": earliest[message_id].principal.username,
            "delivered_at": earliest[message_id].at,
        }
        for message_id in pending
    ]
    if not done:
        return Delivered([], busy)
    uow.session.execute(
        _MARK_DELIVERED,
        [{"id": d["message_id"], "code": delegation, "at": d["delivered_at"], "to": d["delivered_to"]} for d in done],
    )
    actor = earliest[done[0]["message_id"]].principal
    uow.record(
        action="message.delivered",
        actor=actor,
        audience=audience,
        subject=f"message:{done[0]['message_id']}" if len(done) == 1 else f"deliveries:{delegation}",
        content={"delegation": delegation, "deliveries": done},
    )
    return Delivered([d["message_id"] for d in done], busy)


def acknowledge(*, cell: Cell, uow: UnitOfWork, principal: Principal, message_id: int, readback: str | None) -> Message:
    roster = cell.charter.roster
    message = _visible(cell, principal, uow.session.get(Message, message_id))
    audience = resolve_audience(message.audience, roster)
    authorize(principal, Permission.ACKNOWLEDGE, roster, audience=audience)
    delivery = delivery_for_update(uow, message_id, principal.delegation or "")
    if delivery is None:
        raise Forbidden(f"this message is not addressed to delegation {principal.delegation}; nothing to acknowledge")
    now = cell.clock.now()
    if delivery.state in OPEN_STATES:
        if message.readback_required and not readback:
            raise InvalidInput("this message requires a read-back: restate it in 'readback'", field="readback")
        if delivery.delivered_at is None:
            delivery.delivered_at, delivery.delivered_to = now, principal.username
        delivery.acknowledged_at, delivery.acknowledged_by = now, principal.username
        delivery.state = "acknowledged"
        action = "message.acknowledged"
    elif delivery.state in ("acknowledged", "negative") and readback:
        action = "message.read_back"  # a read-back after the acknowledgement, or a corrected one
    else:
        raise Conflict(
            f"delegation {delivery.delegation} already acknowledged this message at "
            f"{delivery.acknowledged_at.isoformat() if delivery.acknowledged_at else '?'} (state {delivery.state})",
            state=delivery.state,
        )
    if readback:
        delivery.readback, delivery.readback_at, delivery.readback_by = readback, now, principal.username
        delivery.verdict = delivery.verdict_note = delivery.verdict_at = delivery.verdict_by = None
        delivery.state = "read_back"
    # The pending overdue job is left alone: it finds the delivery closed and records nothing. Cancelling it
    # here would lock job rows after the delivery row, the reverse of the scheduler's order: a deadlock.
    uow.record(
        action=action,
        actor=principal,
        audience=audience,
        subject=f"message:{message.id}",
        content={
            "message_id": message.id,
            "delegation": delivery.delegation,
            "precedence": message.precedence,
            "sent_at": message.sent_at,
            "acknowledged_at": delivery.acknowledged_at,
            "readback": readback,
        },
    )
    return message


def judge_readback(
    *,
    cell: Cell,
    uow: UnitOfWork,
    principal: Principal,
    message_id: int,
    verdict: Verdict,
    note: str | None,
    delegation: str | None,
) -> Message:
    roster = cell.charter.roster
    message = _visible(cell, principal, uow.session.get(Message, message_id))
    audience = resolve_audience(message.audience, roster)
    authorize(principal, Permission.SEND_MESSAGE, roster, audience=audience)
    if principal.delegation != message.sender_delegation:
        raise Forbidden("only the sending delegation judges the read-back of its message")
    if verdict is Verdict.NEGATIVE and not note:
        raise InvalidInput(
            "a negative verdict needs a note saying what the read-back got wrong, so that the receiver can read it "
            "back right: send it in 'note'",
            field="note",
        )
    locked = [delivery_for_update(uow, message.id, d.delegation) for d in message.deliveries]
    awaiting = [d for d in locked if d is not None and d.state == "read_back"]
    if delegation is not None:
        chosen = [d for d in awaiting if d.delegation == delegation]
        if not chosen:
            raise Conflict(f"no read-back from {delegation} awaits a verdict on message {message.id}")
    elif len(awaiting) > 1:
        names = ", ".join(d.delegation for d in awaiting)
        raise InvalidInput(f"read-backs from {names} await a verdict: name one in 'delegation'", field="delegation")
    elif not awaiting:
        raise Conflict(f"no read-back awaits a verdict on message {message.id}")
    else:
        chosen = awaiting
    delivery = chosen[0]
    now = cell.clock.now()
    delivery.verdict, delivery.verdict_note, delivery.verdict_at, delivery.verdict_by = (
        verdict.value,
        note,
        now,
        principal.username,
    )
    content: dict[str, Any] = {
        "message_id": message.id,
        "delegation": delivery.delegation,
        "verdict": verdict.value,
        "note": note,
        "readback": delivery.readback,
    }
    open_clarification = uow.session.execute(
        select(Clarification)
        .where(
            Clarification.message_id == message.id,
            Clarification.delegation == delivery.delegation,
            Clarification.closed_at.is_(None),
        )
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()

    if verdict is Verdict.CONFIRMED:
        delivery.state = "confirmed"
        if open_clarification is not None:
            open_clarification.closed_at = now
        uow.record(
            action="message.readback_confirmed",
            actor=principal,
            audience=audience,
            subject=f"message:{message.id}",
            content=content,
        )
        return message
    delivery.state = "negative"
    # the corrected read-back is owed within the message's own handling time, reminded and escalated as before
    delivery.rejections += 1
    delivery.due_at = now + cell.charter.handling_time(Precedence(message.precedence))
    delivery.renotified = delivery.escalation_level = 0
    delivery.escalated_to = None
    schedule_overdue(uow, message, delivery, delivery.due_at, 0)
    if open_clarification is None:
        clarification = Clarification(
            id=fresh_id(uow.session, Clarification),
            message_id=message.id,
            delegation=delivery.delegation,
            readback=delivery.readback or "",
            note=note,
            opened_at=now,
            opened_by=principal.username,
        )
        uow.session.add(clarification)
        uow.session.flush()
    else:
        clarification = open_clarification
    alert = Alert(
        id=fresh_id(uow.session, Alert),
        kind="readback_negative",
        target=cell.charter.mediator_code,
        role="mediator",
        audience=audience.label,
        subject=f"message:{message.id}",
        message_id=message.id,
        summary=f"{message.sender_delegation} rejected {delivery.delegation}'s read-back of "
        f"{message.precedence} '{message.subject}'" + (f": {note}" if note else ""),
        created_at=now,
        ledger_index=-1,
    )
    uow.session.add(alert)
    uow.session.flush()
    content |= {
        "clarification_id": clarification.id,
        "alert_id": alert.id,
        "alerted": cell.charter.mediator_code,
        "readback_due_at": delivery.due_at,
    }
    entry = uow.record(
        action="message.readback_negative",
        actor=principal,
        audience=audience,
        subject=f"message:{message.id}",
        content=content,
    )
    alert.ledger_index = entry.index
    return message


def visible_page(
    cell: Cell,
    principal: Principal,
    model: type[Message] | type[Alert],
    conditions: list[Any],
    *,
    after: int | None,
    limit: int,
) -> list[Any]:
    """One page, in the order recorded, of the items whose audience `policy` lets the principal read, after a
    ledger index (public: ids are random, and a sequence would count what others were sent)."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    query = select(model).where(model.audience.in_(audiences), *conditions).order_by(model.ledger_index).limit(limit)
    if after is not None:
        query = query.where(model.ledger_index > after)
    with cell.reading() as session:
        return list(session.execute(query).scalars())

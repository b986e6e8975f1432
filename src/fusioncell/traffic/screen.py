"""What the watch screen shows, as queries: what my delegation owes (most urgent first), the loops my delegation
opened that are not closed, and the traffic it may read, newest first. Each filters through `policy` as the API's
lists do; the pages only arrange what these return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import raiseload

from fusioncell.cell import Cell
from fusioncell.charter.model import Precedence
from fusioncell.policy import Principal, readable_audiences
from fusioncell.traffic import service
from fusioncell.traffic.models import Delivery, Message

PRECEDENCE_RANK = {p.value: rank for rank, p in enumerate(Precedence)}  # FLASH first
URGENT = frozenset({Precedence.FLASH.value, Precedence.IMMEDIATE.value})  # they sound the alarm
OPEN_LOOP_STATES = ("pending", "delivered", "read_back", "negative")  # not delivered, not acknowledged, or judged
TRAFFIC_PAGE = 50
OPEN_LOOPS_SHOWN = 50
LIST_LOADING = raiseload(Message.clarifications)  # a list shows each loop's state, never its clarifications


@dataclass(frozen=True)
class Owed:
    """A message my delegation owes something on: its acknowledgement, or a corrected read-back."""

    message: Message
    delivery: Delivery
    overdue: bool


def owed(*, cell: Cell, principal: Principal) -> list[Owed]:
    """What awaits my delegation: overdue first, then by precedence (FLASH first), then by deadline."""
    now = cell.clock.now()
    found = []
    for message in service.inbox(cell=cell, principal=principal, clarifications=False):
        delivery = next(d for d in message.deliveries if d.delegation == principal.delegation)
        found.append(Owed(message, delivery, now >= delivery.due_at))
    found.sort(key=lambda o: (not o.overdue, PRECEDENCE_RANK[o.message.precedence], o.delivery.due_at))
    return found


def open_loops(*, cell: Cell, principal: Principal, limit: int = OPEN_LOOPS_SHOWN) -> list[Message]:
    """My delegation's sent messages whose loop is still open (not delivered, not acknowledged, a read-back
    awaiting our verdict, or a corrected one awaited), newest first."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences or principal.delegation is None:
        return []
    # from the open deliveries (few, by their state's index), not from every message the delegation ever sent
    still_open = select(Delivery.message_id).where(Delivery.state.in_(OPEN_LOOP_STATES))
    with cell.reading() as session:
        return list(
            session.execute(
                select(Message)
                .options(LIST_LOADING)
                .where(
                    Message.id.in_(still_open),
                    Message.sender_delegation == principal.delegation,
                    Message.audience.in_(audiences),
                )
                .order_by(Message.ledger_index.desc())
                .limit(limit)
            ).scalars()
        )


def traffic(*, cell: Cell, principal: Principal, before: int | None, limit: int = TRAFFIC_PAGE) -> list[Message]:
    """The traffic the principal may read, newest first, before a ledger index."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    query = select(Message).options(LIST_LOADING).where(Message.audience.in_(audiences))
    if before is not None:
        query = query.where(Message.ledger_index < before)
    with cell.reading() as session:
        return list(session.execute(query.order_by(Message.ledger_index.desc()).limit(limit)).scalars())


def replies(*, cell: Cell, principal: Principal, message_id: int) -> list[Message]:
    """The readable replies to a message, in the order sent."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    with cell.reading() as session:
        return list(
            session.execute(
                select(Message)
                .where(Message.reply_to_id == message_id, Message.audience.in_(audiences))
                .order_by(Message.ledger_index)
            ).scalars()
        )


def remaining(due_at: datetime, now: datetime) -> int:
    """Seconds to a deadline (negative past it)."""
    return int((due_at - now).total_seconds())

"""Turning stored messages into what a reader receives: delivery loop, clarifications, glossary terms."""

from __future__ import annotations

import threading
from collections import OrderedDict

from fusioncell.cell import Cell
from fusioncell.policy import Principal
from fusioncell.traffic.glossary import GlossaryMatcher
from fusioncell.traffic.models import Message
from fusioncell.traffic.schemas import (
    ClarificationRead,
    DeliveryRead,
    GlossaryMatchRead,
    MessageRead,
    Translation,
)


def glossary_matcher(cell: Cell) -> GlossaryMatcher:
    return cell.derived("traffic.glossary", lambda: GlossaryMatcher(cell.charter.glossary))


class _TermCache:
    """The glossary terms of recently read texts: a message is read by every member, its text never changes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], list[GlossaryMatchRead]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> list[GlossaryMatchRead] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: list[GlossaryMatchRead]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def glossary_terms(cell: Cell, *, subject: str, body: str) -> list[GlossaryMatchRead]:
    cache = cell.derived("traffic.glossary_terms", lambda: _TermCache(4096))
    cached = cache.get((subject, body))
    if cached is None:
        cached = _find_terms(glossary_matcher(cell), subject=subject, body=body)
        cache.put((subject, body), cached)
    return list(cached)


def _find_terms(matcher: GlossaryMatcher, *, subject: str, body: str) -> list[GlossaryMatchRead]:
    found = []
    for field, text in (("subject", subject), ("body", body)):
        for m in matcher.find(text):
            found.append(
                GlossaryMatchRead(
                    term=m.term,
                    lang=m.lang,
                    field=field,
                    start=m.start,
                    end=m.end,
                    text=m.text,
                    wordings=dict(m.wordings),
                )
            )
    return found


def message_read(cell: Cell, message: Message, viewer: Principal) -> MessageRead:
    now = cell.clock.now()
    deliveries = [DeliveryRead.model_validate(d) for d in message.deliveries]
    return MessageRead(
        id=message.id,
        ledger_index=message.ledger_index,
        track=message.track,
        audience=message.audience,
        precedence=message.precedence,
        marker=message.marker,
        subject=message.subject,
        body=message.body,
        lang=message.lang,
        translations={k: Translation.model_validate(v) for k, v in message.translations.items()},
        readback_required=message.readback_required,
        reply_to=message.reply_to_id,
        client_txn_id=message.client_txn_id if viewer.username == message.sender else None,  # the sender's own
        sender=message.sender,
        sender_delegation=message.sender_delegation,
        sent_at=message.sent_at,
        ack_due_at=message.ack_due_at,
        overdue=now >= message.ack_due_at and any(d.state in ("pending", "delivered") for d in deliveries),
        deliveries=deliveries,
        clarifications=[ClarificationRead.model_validate(c) for c in message.clarifications],
        glossary=glossary_terms(cell, subject=message.subject, body=message.body),
    )

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
from fusioncell.traffic.service import OWING_STATES


def glossary_matcher(cell: Cell) -> GlossaryMatcher:
    return cell.derived("traffic.glossary", lambda: GlossaryMatcher(cell.charter.glossary))


class TermCache:
    """The glossary terms of recently read texts (a message is read by every member, its text never changes;
    finding the terms again costs ~25 us for a short message, ~0.23 ms for 200 words, ~1 ms for 1,000, so a page
    of a hundred would spend tens of milliseconds on it), kept apart per audience, each audience with its own
    room. A cache shared by the audiences would answer a text faster if another audience had it: a timing oracle
    that confirms a guess at another audience's message. Apart, a text is found only among those of the audience
    it is read in, whose members may read them all, and what one audience reads cannot push another's out."""

    def __init__(self, size: int) -> None:
        self.size = size  # per audience (a message's audience is one of the charter's few)
        self._audiences: dict[str, OrderedDict[tuple[str, str], list[GlossaryMatchRead]]] = {}
        self._lock = threading.Lock()

    def get(self, audience: str, key: tuple[str, str]) -> list[GlossaryMatchRead] | None:
        with self._lock:
            items = self._audiences.get(audience)
            if items is None:
                return None
            found = items.get(key)
            if found is not None:
                items.move_to_end(key)
            return found

    def put(self, audience: str, key: tuple[str, str], value: list[GlossaryMatchRead]) -> None:
        with self._lock:
            items = self._audiences.setdefault(audience, OrderedDict())
            items[key] = value
            while len(items) > self.size:
                items.popitem(last=False)


def term_cache(cell: Cell) -> TermCache:
    return cell.derived("traffic.glossary_terms", lambda: TermCache(2048))


def glossary_terms(cell: Cell, *, audience: str, subject: str, body: str) -> list[GlossaryMatchRead]:
    """The glossary terms of a message's text, for a reader of its audience."""
    cache = term_cache(cell)
    cached = cache.get(audience, (subject, body))
    if cached is None:
        cached = _find_terms(glossary_matcher(cell), subject=subject, body=body)
        cache.put(audience, (subject, body), cached)
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
        overdue=any(d.state in OWING_STATES and now >= d.due_at for d in deliveries),
        deliveries=deliveries,
        clarifications=[ClarificationRead.model_validate(c) for c in message.clarifications],
        glossary=glossary_terms(cell, audience=message.audience, subject=message.subject, body=message.body),
    )

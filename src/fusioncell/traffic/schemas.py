"""API shapes of traffic."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fusioncell.charter.model import Precedence
from fusioncell.schemas import LINES, InputModel, RowId

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=20_000), LINES]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
TxnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,100}$")]
Readback = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), LINES]


class Marker(StrEnum):
    INSTRUCTION = "INSTRUCTION"
    ADVICE = "ADVICE"
    WARNING = "WARNING"
    INFORMATION = "INFORMATION"
    QUESTION = "QUESTION"
    ANSWER = "ANSWER"
    REQUEST = "REQUEST"
    INTENTION = "INTENTION"


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    NEGATIVE = "negative"


class Translation(InputModel):
    subject: Text200
    body: Body


class MessageCreate(InputModel):
    track: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="joint | mediator | mediated:<delegation>"
    )
    precedence: Precedence
    marker: Marker
    subject: Text200
    body: Body
    lang: Lang
    translations: dict[Lang, Translation] = Field(default_factory=dict, max_length=8)
    readback_required: bool = False
    reply_to: RowId | None = Field(default=None, description="The id of a message this one answers")
    client_txn_id: TxnId | None = Field(
        default=None, description="Idempotency key: a resend with the same id returns the same message."
    )


class AckCreate(InputModel):
    readback: Readback | None = Field(
        default=None, description="The receiver's restatement of the message, for the sender to confirm."
    )


class VerdictCreate(InputModel):
    verdict: Verdict
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000), LINES] | None = None
    delegation: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = Field(
        default=None, description="Whose read-back this judges; needed only when several are awaiting a verdict."
    )


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    delegation: str
    state: Literal["pending", "delivered", "acknowledged", "read_back", "confirmed", "negative"]
    delivered_at: datetime | None
    delivered_to: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    readback: str | None
    readback_at: datetime | None
    verdict: str | None
    verdict_note: str | None
    verdict_at: datetime | None
    renotified: int
    escalation_level: int
    escalated_to: str | None


class ClarificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    delegation: str
    readback: str
    note: str | None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None


class GlossaryMatchRead(BaseModel):
    term: str
    lang: str
    field: Literal["subject", "body"]
    start: int
    end: int
    text: str
    wordings: dict[str, str]


class MessageRead(BaseModel):
    id: int
    ledger_index: int
    track: str
    audience: str
    precedence: Precedence
    marker: Marker
    subject: str
    body: str
    lang: str
    translations: dict[str, Translation]
    readback_required: bool
    reply_to: int | None
    client_txn_id: str | None
    sender: str
    sender_delegation: str
    sent_at: datetime
    ack_due_at: datetime
    overdue: bool
    deliveries: list[DeliveryRead]
    clarifications: list[ClarificationRead]
    glossary: list[GlossaryMatchRead]


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_after: int | None = Field(
        description="The last item's ledger index: pass it as `after` for the next page; null when this page is the "
        "last."
    )


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    target: str
    role: str
    audience: str
    subject: str
    message_id: int | None
    summary: str
    created_at: datetime
    ledger_index: int


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_after: int | None = Field(
        description="The last item's ledger index: pass it as `after` for the next page; null when this page is the "
        "last."
    )

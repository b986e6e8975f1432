"""API shapes of traffic."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from fusioncell import examples as ex
from fusioncell.charter.model import Precedence
from fusioncell.schemas import LINES, InputModel, RowId, TxnId

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=20_000), LINES]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
DelegationCode = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Readback = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), LINES]


class Marker(StrEnum):
    """What a message is: INSTRUCTION (the mediator only), ADVICE, WARNING, INFORMATION, QUESTION, ANSWER, REQUEST
    or INTENTION."""

    INSTRUCTION = "INSTRUCTION"
    ADVICE = "ADVICE"
    WARNING = "WARNING"
    INFORMATION = "INFORMATION"
    QUESTION = "QUESTION"
    ANSWER = "ANSWER"
    REQUEST = "REQUEST"
    INTENTION = "INTENTION"


class Verdict(StrEnum):
    """The sender's answer to a read-back: `confirmed` closes the loop, `negative` opens a clarification."""

    CONFIRMED = "confirmed"
    NEGATIVE = "negative"


UTC_DOC = " (UTC)"
PRECEDENCE_DOC = (
    "ACP 121 precedence, which sets the time to acknowledge: FLASH 10 min, IMMEDIATE 30 min, PRIORITY 3 h, "
    "ROUTINE 6 h (as the charter says); FLASH and IMMEDIATE bodies hold at most 200 words."
)
MARKER_DOC = "What the message is. INSTRUCTION is the mediator's alone; a party's is refused (403)."
AUDIENCE_DOC = (
    "Who reads it: `joint` (both parties, the mediator and UNDOF as observer), `mediated:SY` or `mediated:IL` (that "
    "party and the mediator: proximity talks), `mediator` (the mediator alone)."
)


class Translation(InputModel):
    """The message in another of the charter's languages."""

    subject: Text200 = Field(description="The subject in this language; one line.", examples=[ex.SUBJECT_AR])
    body: Body = Field(
        description="The body in this language; the precedence's word limit applies to it too.", examples=[ex.BODY_AR]
    )


class MessageCreate(InputModel):
    """A message to send: the charter's tracks, audiences and languages are listed as enums."""

    track: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The charter's track: intelligence, de-escalation, diplomatic, commercial or humanitarian.",
        examples=["de-escalation"],
    )
    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description=AUDIENCE_DOC + " You may send only to an audience your delegation is in.", examples=["joint"]
    )
    precedence: Precedence = Field(description=PRECEDENCE_DOC, examples=["FLASH"])
    marker: Marker = Field(description=MARKER_DOC, examples=["WARNING"])
    subject: Text200 = Field(description="One line, at most 200 characters.", examples=[ex.SUBJECT])
    body: Body = Field(
        description='The message; several lines allowed. Glossary terms of the charter ("buffer zone") are found '
        "in it and returned with their agreed wording in every language.",
        examples=[ex.BODY],
    )
    lang: Lang = Field(
        description="The language of subject and body: one of the charter's (en, ar, he).", examples=["en"]
    )
    translations: dict[Lang, Translation] = Field(
        default_factory=dict,
        max_length=8,
        description="The same message in the charter's other languages, by language code.",
        examples=[{"ar": {"subject": ex.SUBJECT_AR, "body": ex.BODY_AR}}],
    )
    addressed: list[DelegationCode] | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="The delegations that must acknowledge, each in the audience. Left out: the other parties in the "
        "audience (a party's `joint` message is for the other parties, the mediator's for every party), or the "
        "mediator where no other party is (`mediated:SY` from SY). The mediator owes an acknowledgement of a party's "
        "`joint` message only when named here; observers read and never owe one.",
        examples=[["IL", "US"]],
    )
    readback_required: bool = Field(
        default=False,
        description="Whether each addressed delegation must restate the message when it acknowledges.",
        examples=[True],
    )
    reply_to: RowId | None = Field(
        default=None,
        description="The id of the message this one answers: one you can read, whose audience holds this one's.",
        examples=[ex.MESSAGE_ID],
    )
    client_txn_id: TxnId | None = Field(
        default=None,
        description="Your own id for this send, to resend it safely: the same id from the same account returns the "
        "original message (200, `Idempotent-Replayed: true`); with other content it is 409.",
        examples=[ex.CLIENT_TXN_ID],
    )


class AckCreate(InputModel):
    """An acknowledgement for your delegation, with or without a read-back."""

    readback: Readback | None = Field(
        default=None,
        description="Your restatement of the message, for the sender to confirm; required when the message says "
        "`readback_required`. Send it again after a negative verdict.",
        examples=[ex.READBACK],
    )


class VerdictCreate(InputModel):
    """The sending delegation's verdict on a read-back."""

    verdict: Verdict = Field(description="`confirmed` or `negative`.", examples=["negative"])
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000), LINES] | None = (
        Field(
            default=None,
            description="What the read-back got wrong, for the receiver to read back right: required with `negative`.",
            examples=[ex.NOTE],
        )
    )
    delegation: DelegationCode | None = Field(
        default=None,
        description="Whose read-back this judges; needed only when several await a verdict.",
        examples=["IL"],
    )


class DeliveryRead(BaseModel):
    """Where one addressed delegation stands with the message."""

    model_config = ConfigDict(from_attributes=True)

    delegation: str = Field(description="The addressed delegation.", examples=["IL"])
    state: Literal["pending", "delivered", "acknowledged", "read_back", "confirmed", "negative"] = Field(
        description="pending → delivered (a member's client received it) → acknowledged → read_back → confirmed "
        "or negative (the sender's verdict).",
        examples=["negative"],
    )
    delivered_at: datetime | None = Field(
        description="When a member's client first received it" + UTC_DOC, examples=[ex.DELIVERED_AT]
    )
    delivered_to: str | None = Field(description="The member it was first delivered to.", examples=[ex.IL_LIAISON])
    acknowledged_at: datetime | None = Field(
        description="When a member acknowledged it" + UTC_DOC, examples=[ex.ACKNOWLEDGED_AT]
    )
    acknowledged_by: str | None = Field(description="The member who acknowledged it.", examples=[ex.IL_LIAISON])
    readback: str | None = Field(description="The latest read-back.", examples=[ex.WRONG_READBACK])
    readback_at: datetime | None = Field(description="When it was read back" + UTC_DOC, examples=[ex.ACKNOWLEDGED_AT])
    verdict: str | None = Field(description="The sender's verdict on the latest read-back.", examples=["negative"])
    verdict_note: str | None = Field(description="The sender's note with a negative verdict.", examples=[ex.NOTE])
    verdict_at: datetime | None = Field(description="When the verdict was given" + UTC_DOC, examples=[ex.VERDICT_AT])
    due_at: datetime = Field(
        description="When what the delegation owes is due" + UTC_DOC + ": its acknowledgement (the message's "
        "`ack_due_at`) or, after a rejected read-back, the corrected one (the verdict plus the precedence's "
        "handling time).",
        examples=[ex.ACK_DUE_AT],
    )
    rejections: int = Field(description="How many of the delegation's read-backs the sender rejected.", examples=[0])
    renotified: int = Field(
        description="How often the delegation was reminded after its deadline (in this round: a rejected read-back "
        "starts a new one).",
        examples=[0],
    )
    escalation_level: int = Field(
        description="How far along the charter's escalation chain the delivery went (0: not escalated).", examples=[0]
    )
    escalated_to: str | None = Field(
        description="The last step reached: duty_officer or mediator.", examples=["duty_officer"]
    )


class ClarificationRead(BaseModel):
    """Opened by a negative verdict, for sender, receiver and mediator; closed when a read-back is confirmed."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The clarification's id.", examples=[ex.CLARIFICATION_ID])
    delegation: str = Field(description="The delegation whose read-back was rejected.", examples=["IL"])
    readback: str = Field(description="The rejected read-back.", examples=[ex.WRONG_READBACK])
    note: str | None = Field(description="The sender's note: what was wrong.", examples=[ex.NOTE])
    opened_at: datetime = Field(description="When the verdict opened it" + UTC_DOC, examples=[ex.VERDICT_AT])
    opened_by: str = Field(description="Who gave the negative verdict.", examples=[ex.SY_LIAISON])
    closed_at: datetime | None = Field(
        description="When a confirmed read-back closed it" + UTC_DOC + "; null while open.", examples=[None]
    )


class GlossaryMatchRead(BaseModel):
    """A charter glossary term found in the message, with its agreed wording in every language."""

    term: str = Field(description="The glossary term's id in the charter.", examples=["buffer-zone"])
    lang: str = Field(description="The language it was found in.", examples=["en"])
    field: Literal["subject", "body"] = Field(description="Where it was found.", examples=["subject"])
    start: int = Field(description="Where it starts, in characters from 0.", examples=[27])
    end: int = Field(description="Where it ends (exclusive), in characters.", examples=[38])
    text: str = Field(description="The text as written in the message.", examples=["buffer zone"])
    wordings: dict[str, str] = Field(
        description="The agreed wording, by language.",
        examples=[{"en": "buffer zone", "ar": "المنطقة العازلة", "he": "אזור חיץ"}],
    )


class MessageRead(BaseModel):
    """A message as you may read it, with where each addressed delegation stands."""

    id: int = Field(description="The message id (random, not a count).", examples=[ex.MESSAGE_ID])
    ledger_index: int = Field(description="The index of its `message.sent` ledger entry.", examples=[ex.MESSAGE_INDEX])
    track: str = Field(description="The charter's track.", examples=["de-escalation"])
    audience: str = Field(description=AUDIENCE_DOC, examples=["joint"])
    precedence: Precedence = Field(description=PRECEDENCE_DOC, examples=["FLASH"])
    marker: Marker = Field(description="What the message is.", examples=["WARNING"])
    subject: str = Field(description="One line.", examples=[ex.SUBJECT])
    body: str = Field(description="The message.", examples=[ex.BODY])
    lang: str = Field(description="The language of subject and body.", examples=["en"])
    translations: dict[str, Translation] = Field(
        description="The message in other languages, by language code.",
        examples=[{"ar": {"subject": ex.SUBJECT_AR, "body": ex.BODY_AR}}],
    )
    readback_required: bool = Field(description="Whether receivers must read it back.", examples=[True])
    reply_to: int | None = Field(description="The id of the message this one answers.", examples=[None])
    client_txn_id: str | None = Field(
        description="The sender's own id for the send; shown to the sending account only.", examples=[ex.CLIENT_TXN_ID]
    )
    sender: str = Field(description="Who sent it.", examples=[ex.SY_LIAISON])
    sender_delegation: str = Field(description="The sender's delegation.", examples=["SY"])
    sent_at: datetime = Field(description="When it was recorded" + UTC_DOC, examples=[ex.SENT_AT])
    ack_due_at: datetime = Field(
        description="When acknowledgement is due, from the precedence" + UTC_DOC + "; past it, the delegation is "
        "reminded and the matter escalated.",
        examples=[ex.ACK_DUE_AT],
    )
    overdue: bool = Field(
        description="Whether a delegation still owes its acknowledgement, or a corrected read-back, past its `due_at`.",
        examples=[False],
    )
    deliveries: list[DeliveryRead] = Field(description="One per addressed delegation (observers read, never owe).")
    clarifications: list[ClarificationRead] = Field(description="Opened by negative verdicts, newest last.")
    glossary: list[GlossaryMatchRead] = Field(description="Charter glossary terms found in subject and body.")


NEXT_AFTER_DOC = "The last item's ledger index: pass it as `after` for the next page; null when this page is the last."


class MessagePage(BaseModel):
    """A page of messages, in the order recorded."""

    items: list[MessageRead] = Field(description="Messages you may read, oldest first.")
    next_after: int | None = Field(description=NEXT_AFTER_DOC, examples=[ex.MESSAGE_INDEX])


class AlertRead(BaseModel):
    """Something the mediator or a duty officer must act on: an escalation or a rejected read-back."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The alert's id.", examples=[ex.ALERT_ID])
    kind: str = Field(
        description="readback_negative (a read-back was rejected: a clarification is open) or ack_overdue (a step "
        "of the escalation of an overdue acknowledgement).",
        examples=["readback_negative"],
    )
    target: str = Field(description="The delegation alerted.", examples=["US"])
    role: str = Field(description="Who in that delegation must act: mediator or duty_officer.", examples=["mediator"])
    audience: str = Field(description="Who may read the alert: the message's audience.", examples=["joint"])
    subject: str = Field(description="What it is about.", examples=[ex.MESSAGE_SUBJECT])
    message_id: int | None = Field(description="The message it is about.", examples=[ex.MESSAGE_ID])
    summary: str = Field(description="One line for the duty screen.", examples=[ex.ALERT_SUMMARY])
    created_at: datetime = Field(description="When it was raised" + UTC_DOC, examples=[ex.VERDICT_AT])
    ledger_index: int = Field(description="The ledger entry that raised it.", examples=[ex.ALERT_INDEX])
    handled_at: datetime | None = Field(
        default=None,
        description="When one of those it is for marked it handled" + UTC_DOC + "; null while open.",
        examples=[None],
    )
    handled_by: str | None = Field(
        default=None,
        description="Who marked it handled: shown to the alerted delegation and the mediator only.",
        examples=[None],
    )
    handled_note: str | None = Field(
        default=None,
        description="What they did about it: shown to the alerted delegation and the mediator only.",
        examples=[None],
    )


class AlertPage(BaseModel):
    """A page of alerts, in the order recorded."""

    items: list[AlertRead] = Field(description="Alerts you may read, oldest first.")
    next_after: int | None = Field(description=NEXT_AFTER_DOC, examples=[None])


# A note holds something besides white space (said in the schema, so a client can tell), kept without the white
# space around it.
Note = Annotated[
    str, StringConstraints(min_length=1, max_length=5_000, pattern=r"\S"), LINES, AfterValidator(str.strip)
]


class AlertHandle(InputModel):
    """Marking an alert handled."""

    note: Note | None = Field(
        default=None,
        description="What was done about it, for the record: read by your delegation and the mediator only (the "
        "ledger entry's audience); the other party sees only that the alert was handled.",
        examples=["Called IL's duty officer by phone; the read-back follows within ten minutes."],
    )


class WatchTake(InputModel):
    """Taking your delegation's watch."""

    note: Note | None = Field(
        default=None,
        description="A line for the shift log (who relieved whom, anything the mediator should know).",
        examples=["Taking the night watch; two FLASH items open from the day shift."],
    )


class WatchHandOver(InputModel):
    """Handing your watch over, with a note of what is open."""

    note: Note = Field(
        description="The handover note: what is open, what is due, what to watch for.",
        examples=["FLASH 0600Z convoy: IL's read-back rejected, corrected one due 0612Z. Nothing else open."],
    )
    to: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The colleague who holds the watch from now (a liaison officer of your delegation); left out, "
        "no one holds it and every liaison officer of the delegation is its duty officer until one takes it.",
        examples=["sy.liaison"],
    )


class WatchShiftRead(BaseModel):
    """One person's watch: taken, then handed over or relieved."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The shift's id.", examples=[ex.SHIFT_ID])
    delegation: str = Field(description="Whose watch.", examples=["SY"])
    holder: str = Field(description="Who held it.", examples=[ex.SY_LIAISON])
    taken_at: datetime = Field(description="When it was taken" + UTC_DOC, examples=[ex.SENT_AT])
    taken_note: str | None = Field(description="The note it was taken with.", examples=[None])
    ended_at: datetime | None = Field(description="When it ended" + UTC_DOC + "; null while held.", examples=[None])
    ended_by: str | None = Field(
        description="Who ended it: the holder (a handover) or the colleague who took over.", examples=[None]
    )
    handover_note: str | None = Field(description="The holder's handover note.", examples=[None])
    ledger_index: int = Field(description="The ledger entry that began it.", examples=[ex.MESSAGE_INDEX])


class WatchRead(BaseModel):
    """Who holds a delegation's watch now."""

    delegation: str = Field(description="The delegation.", examples=["SY"])
    shift: WatchShiftRead | None = Field(
        description="The open shift; null when no one holds the watch (every liaison officer of the delegation is "
        "then its duty officer)."
    )


class WatchShiftPage(BaseModel):
    """A page of a delegation's shift log, newest first."""

    items: list[WatchShiftRead] = Field(description="Shifts, newest first.")
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null when this page is the last.", examples=[None]
    )

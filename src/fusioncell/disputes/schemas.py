"""API shapes for disputes: opening a case, the acts on it, statements and their evidence, the case as read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from fusioncell.deescalation.schemas import EvidenceUpload
from fusioncell.schemas import LINES, InputModel, RowId

AudienceLabel = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), LINES]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), LINES]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), LINES]
Evidence = Annotated[list[EvidenceUpload], Field(max_length=5, description="Up to five files.")]

LANG_DOC = "The language it is written in: one of the charter's (default: the charter's authoritative language)."


def _f(description: str, example: Any, **default: Any) -> Any:
    return Field(description=description, examples=[example], **default)


class DisputeCreate(InputModel):
    """A new case: against which party, about what, and the complaint that opens its record."""

    audience: AudienceLabel = Field(
        description="`joint` (every party and the mediator; observers the charter names), or `mediated:<party>` "
        "(that party and the mediator alone).",
        examples=["joint"],
    )
    respondent: Code = Field(
        description="The party the case is brought against: a party of the audience, not your own.", examples=["IL"]
    )
    title: Title = Field(description="What the dispute is about, in one line.", examples=["Drone over Quneitra"])
    complaint: Statement = Field(
        description="The complaint: what happened and what is asked. The first statement of the case's record.",
        examples=["At 0412Z a drone crossed the area of separation over Quneitra; we ask for its flight record."],
    )
    lang: Lang | None = Field(default=None, description=LANG_DOC, examples=["en"])
    incident: RowId | None = Field(default=None, description="The incident it arises from.", examples=[1873520041])
    clarification: RowId | None = Field(
        default=None, description="The clarification (a rejected read-back) it arises from.", examples=[1638204417]
    )
    evidence: Evidence = Field(default_factory=list)


class StatementCreate(InputModel):
    """A statement for the case's record, with its evidence."""

    text: Statement = Field(
        description="What you put on the record.", examples=["The flight record shows no crossing."]
    )
    lang: Lang | None = Field(default=None, description=LANG_DOC, examples=["en"])
    audience: AudienceLabel | None = Field(
        default=None,
        description="Who reads it: the case's audience (default), or a narrower one you read, such as "
        "`mediated:<your party>` for the mediator alone.",
        examples=["joint"],
    )
    reply_to: RowId | None = Field(
        default=None, description="The mediator's request for information this answers.", examples=[1529318275]
    )
    evidence: Evidence = Field(default_factory=list)


class ResponseCreate(InputModel):
    """The respondent's answer to the complaint."""

    text: Statement = Field(
        description="Your party's response.", examples=["No aircraft of ours flew there; the track shows a kite."]
    )
    lang: Lang | None = Field(default=None, description=LANG_DOC, examples=["en"])
    evidence: Evidence = Field(default_factory=list)


class InformationRequest(InputModel):
    """The mediator asks a delegation for information; it answers with a statement in reply."""

    addressed_to: Code = Field(description="The delegation asked: one that reads the case.", examples=["IL"])
    text: Statement = Field(description="What is asked.", examples=["Send the radar track for 0400Z-0430Z."])
    lang: Lang | None = Field(default=None, description=LANG_DOC, examples=["en"])
    audience: AudienceLabel | None = Field(
        default=None,
        description="Who reads the request: the case's audience (default), or `mediated:<the delegation asked>`.",
        examples=["joint"],
    )


class FindingCreate(InputModel):
    """The mediator's finding, which resolves the case."""

    finding: Literal["substantiated", "not-substantiated", "inconclusive"] = Field(
        description="Whether the complaint is borne out.", examples=["substantiated"]
    )
    reasons: Reason = Field(
        description="Why: what the record shows.", examples=["The radar track and the observer's log agree."]
    )
    remedy: Reason | None = Field(
        default=None,
        description="What the respondent is to do (required when substantiated).",
        examples=["No flights within 5 km of the area of separation for 30 days."],
    )


class DisputeNote(InputModel):
    """An optional note to go with the act."""

    note: Note | None = Field(default=None, description="A note for the record.", examples=["Received; reviewing."])


class DisputeReason(InputModel):
    """Why the case is escalated or withdrawn."""

    reason: Reason = Field(description="Why, for the record.", examples=["The sides' accounts cannot be reconciled."])


class StatementRead(BaseModel):
    """A statement on a case's record."""

    id: int = _f("The statement's id.", 1529318275)
    dispute: int = _f("Its case.", 1938204711)
    audience: str = _f("Who reads it.", "joint")
    kind: str = _f("complaint, response, statement, request (for information), information (an answer).", "response")
    delegation: str = _f("The delegation that made it.", "IL")
    author: str = _f("The person.", "il.liaison")
    made_at: datetime = _f("When.", "2026-03-02T09:00:00Z")
    lang: str = _f("Its language.", "en")
    text: str = _f("What was said.", "No aircraft of ours flew there.")
    reply_to: int | None = _f("The request it answers.", None)
    addressed_to: str | None = _f("A request: the delegation asked.", None)
    due_at: datetime | None = _f("A request: when the answer is due.", None)
    evidence: list[dict[str, Any]] = _f(
        "Each file's name, type, size and SHA-256.", [{"filename": "track.pdf", "content_type": "application/pdf"}]
    )
    ledger_index: int = _f("Its ledger entry.", 57)


class DisputeRead(BaseModel):
    """A case as it stands: its stage and when the stage is due; with its record when read alone."""

    id: int = _f("The case's id.", 1938204711)
    audience: str = _f("Who reads it.", "joint")
    title: str = _f("What it is about.", "Drone over Quneitra")
    complainant: str = _f("The delegation that brought it.", "SY")
    respondent: str = _f("The party it is brought against.", "IL")
    opened_by: str = _f("Who opened it.", "sy.liaison")
    opened_at: datetime = _f("When.", "2026-03-02T06:30:00Z")
    state: str = _f(
        "open, acknowledged, responded, under-review, resolved, escalated (to the diplomatic track), withdrawn.", "open"
    )
    stage: str | None = _f(
        "The deadline running: acknowledge, respond, review or decide (none once closed).", "respond"
    )
    stage_due_at: datetime | None = _f("When the stage is due.", "2026-03-05T07:00:00Z")
    owed_by: str | None = _f("The delegation whose act the stage awaits.", "IL")
    overdue_stage: str | None = _f("The stage whose deadline passed, which escalated the case.", None)
    source: dict[str, Any] | None = _f("What it arose from: {kind, id}.", {"kind": "incident", "id": 1873520041})
    acknowledged_at: datetime | None = _f("When the respondent acknowledged it.", "2026-03-02T07:00:00Z")
    responded_at: datetime | None = _f("When the respondent answered.", None)
    review_started_at: datetime | None = _f("When the mediator took it up.", None)
    closed_at: datetime | None = _f("When it was resolved, escalated or withdrawn.", None)
    closed_by: str | None = _f("By whom (the scheduler for an overdue stage).", None)
    finding: str | None = _f("substantiated, not-substantiated or inconclusive.", None)
    reasons: str | None = _f("The finding's reasons, or why it was escalated or withdrawn.", None)
    remedy: str | None = _f("What the respondent is to do.", None)
    acts: list[str] = _f("The acts you may take on it now.", ["statement"])
    ledger_index: int = _f("Its latest ledger entry.", 61)
    statements: list[StatementRead] | None = _f("Its record as you may read it, oldest first (read alone).", None)


class DisputePage(BaseModel):
    """Cases, in the order of their latest entry."""

    items: list[DisputeRead] = Field(description="The cases.")


class DisputeMetrics(BaseModel):
    """How swiftly the cases you read are settled."""

    open: int = _f("Cases not yet closed.", 3)
    closed: dict[str, int] = _f("Closed cases by outcome.", {"resolved": 4, "escalated": 1, "withdrawn": 0})
    time_to_acknowledge_s: dict[str, float | None] = _f(
        "Seconds from opening to acknowledgement: median, 90th percentile, count.",
        {"median": 5400.0, "p90": 21600.0, "count": 6},
    )
    time_to_resolve_s: dict[str, float | None] = _f(
        "Seconds from opening to the finding: median, 90th percentile, count.",
        {"median": 604800.0, "p90": 950400.0, "count": 4},
    )
    open_by_age: dict[str, int] = _f(
        "Open cases by age: under a day, 1-3 days, 3-7 days, over a week.",
        {"<1d": 1, "1-3d": 1, "3-7d": 0, ">7d": 1},
    )
    overdue: int = _f("Open cases whose stage is past due.", 0)
    at: datetime = _f("The instant they were computed at.", "2026-03-02T12:00:00Z")

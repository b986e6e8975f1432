"""Dispute tables: one shared case per dispute, the statements every side adds to it, and their evidence files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime


class Dispute(Base):
    """One case: who brought it against which party, what it is about, where it stands and by when its stage is due.
    Its record is the statements (DisputeStatement) every side adds; the mediator's finding closes it."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_ledger_index", "ledger_index"),
        Index("ix_disputes_source", "source_kind", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audience: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    complainant: Mapped[str] = mapped_column(String(16), nullable=False, doc="the delegation that brought the case")
    respondent: Mapped[str] = mapped_column(String(16), nullable=False, doc="the party the case is brought against")
    opened_by: Mapped[str] = mapped_column(String(64), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    stage_due_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="when the current stage is due (none once the case is closed)"
    )
    round: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, doc="moves with each change of stage deadline: names the deadline's job"
    )
    source_kind: Mapped[str | None] = mapped_column(String(16), doc="incident | clarification | milestone")
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    about: Mapped[str | None] = mapped_column(
        String(160),
        doc="the ledger subject it arose from (incident:…, message:…, agreement:…): its entries are about it too",
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    finding: Mapped[str | None] = mapped_column(String(24), doc="substantiated | not-substantiated | inconclusive")
    reasons: Mapped[str | None] = mapped_column(Text, doc="the mediator's reasons, or why escalated or withdrawn")
    remedy: Mapped[str | None] = mapped_column(Text)
    overdue_stage: Mapped[str | None] = mapped_column(String(16), doc="the stage whose deadline passed, if one did")
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="its latest entry")


class DisputeStatement(Base):
    """What one side put on the record of a case: the complaint, the response, a statement, the mediator's request
    for information and its answer. Its audience is the case's or narrower (a side's word to the mediator alone)."""

    __tablename__ = "dispute_statements"
    __table_args__ = (Index("ix_dispute_statements_dispute", "dispute_id", "ledger_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False)
    audience: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lang: Mapped[str] = mapped_column(String(16), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    reply_to: Mapped[int | None] = mapped_column(Integer, doc="the request for information this answers")
    addressed_to: Mapped[str | None] = mapped_column(String(16), doc="a request's delegation")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="a request's deadline")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, nullable=False, default=list, doc="filename, content type, size and SHA-256 of each file"
    )
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class DisputeEvidence(Base):
    """A statement's evidence file, named by its SHA-256 (which the statement's ledger content commits to)."""

    __tablename__ = "dispute_evidence"

    statement_id: Mapped[int] = mapped_column(ForeignKey("dispute_statements.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

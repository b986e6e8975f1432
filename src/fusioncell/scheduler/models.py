"""The job table: every deadline the cell must act on, stored as data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime


class Job(Base):
    __tablename__ = "jobs"
    __ledger_exempt__ = True  # bookkeeping; what a job does to shared state records its own entry
    __table_args__ = (Index("ix_jobs_status_due_at", "status", "due_at"), Index("ix_jobs_subject", "subject"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(
        String(200), unique=True, nullable=False, doc="Idempotency key: scheduling the same deadline twice is one job"
    )
    subject: Mapped[str] = mapped_column(String(160), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")  # pending|done|failed|cancelled
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    @staticmethod
    def new(
        *, kind: str, key: str, subject: str, due_at: datetime, payload: dict[str, Any], created_at: datetime
    ) -> dict[str, Any]:
        """The row of a new pending job, for a multi-row insert."""
        return {
            "kind": kind,
            "key": key,
            "subject": subject,
            "payload": payload,
            "due_at": due_at,
            "status": "pending",
            "attempts": 0,
            "created_at": created_at,
        }

"""Traffic tables: messages, their per-delegation delivery loop, clarifications and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fusioncell.db import Base, UTCDateTime


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("sender", "client_txn_id", name="uq_messages_sender_client_txn_id"),
        # lists page in the order recorded (ids are random): by ledger index, on one track or all
        Index("ix_messages_track_ledger_index", "track", "ledger_index"),
        Index("ix_messages_ledger_index", "ledger_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track: Mapped[str] = mapped_column(String(64), nullable=False)
    audience: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    precedence: Mapped[str] = mapped_column(String(16), nullable=False)
    marker: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    lang: Mapped[str] = mapped_column(String(16), nullable=False)
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    readback_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    client_txn_id: Mapped[str | None] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(64), nullable=False)
    sender_delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="message", order_by="Delivery.delegation", lazy="selectin"
    )
    clarifications: Mapped[list[Clarification]] = relationship(
        back_populates="message", order_by="(Clarification.opened_at, Clarification.id)", lazy="selectin"
    )


class Delivery(Base):
    """The closed loop for one addressed delegation: delivered → acknowledged → read back → verdict."""

    __tablename__ = "message_deliveries"
    # the loops still open are few among all ever sent: the watch finds them by state
    __table_args__ = (Index("ix_message_deliveries_state", "state"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    delegation: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(24), nullable=False, default="pending")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_to: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    readback: Mapped[str | None] = mapped_column(Text)
    readback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    readback_by: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str | None] = mapped_column(String(16))
    verdict_note: Mapped[str | None] = mapped_column(Text)
    verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verdict_by: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(
        UTCDateTime,
        nullable=False,
        doc="When what the delegation owes is due: the acknowledgement (the message's "
        "ack_due_at), or after a rejected read-back the corrected one (the verdict plus the handling time)",
    )
    rejections: Mapped[int] = mapped_column(Integer, nullable=False, default=0, doc="Read-backs rejected so far")
    renotified: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    escalated_to: Mapped[str | None] = mapped_column(String(32))

    message: Mapped[Message] = relationship(back_populates="deliveries")


class Clarification(Base):
    """Opened by a negative read-back verdict; visible to the message's audience (sender, receiver, mediator)."""

    __tablename__ = "clarifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    readback: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    opened_by: Mapped[str] = mapped_column(String(64), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[Message] = relationship(back_populates="clarifications")


class Alert(Base):
    """A notice to a delegation's duty officer or the mediator; readable by the audience of what it is about."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_target_ledger_index", "target", "ledger_index"),
        Index("ix_alerts_ledger_index", "ledger_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str] = mapped_column(String(16), nullable=False, doc="Delegation whose officers are alerted")
    role: Mapped[str] = mapped_column(String(16), nullable=False, doc="duty_officer | mediator")
    audience: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(160), nullable=False)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    handled_note: Mapped[str | None] = mapped_column(Text)


class WatchShift(Base):
    """One person's watch for their delegation, from taking it to handing it over (or being relieved). At most one
    shift of a delegation is open: its holder is the charter's "duty officer"."""

    __tablename__ = "watch_shifts"
    __table_args__ = (
        Index(
            "uq_watch_shifts_open",
            "delegation",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_watch_shifts_delegation_ledger_index", "delegation", "ledger_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    holder: Mapped[str] = mapped_column(String(64), nullable=False)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    taken_note: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(64))
    handover_note: Mapped[str | None] = mapped_column(Text)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)

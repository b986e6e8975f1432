"""A signatory's public key as the cell holds it: whose, since when approved, from when revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime


class SigningKey(Base):
    """The public half of a signatory's Ed25519 key (its private half never leaves the signatory's machine). It
    signs once the mediator has approved it, until the time it is revoked from."""

    __tablename__ = "signing_keys"
    __table_args__ = (Index("ix_signing_keys_username", "username"),)

    key_id: Mapped[str] = mapped_column(String(200), primary_key=True, doc="<name>+<8 hex digits>, as in the key")
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    verifier: Mapped[str] = mapped_column(Text, nullable=False, doc="<name>+<key ID>+<base64(0x01 ‖ public key)>")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    revoked_from: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="signatures from this instant on are void")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="when the revocation was recorded")
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="its latest entry")

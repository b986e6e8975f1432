"""Agreement tables: each agreement, every version exactly as proposed (the document signatories sign), the
signatures uploaded, its milestones and the verifier's attestations with their evidence files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime


class Agreement(Base):
    """An agreement: its audience, its current title, and how many versions it has. Whether it binds, and which
    version is in force, follows from the signatures alone (agreements/binding.py), never from a stored flag."""

    __tablename__ = "agreements"
    __table_args__ = (Index("ix_agreements_ledger_index", "ledger_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audience: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False, doc="in the authoritative language")
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="its latest entry")


class AgreementVersion(Base):
    """A version exactly as proposed: the document whose RFC 8785 canonical form's SHA-256 the signatories sign."""

    __tablename__ = "agreement_versions"

    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    proposed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AgreementSignature(Base):
    """A signature uploaded for a delegation over one version, with the key that made it. Counted or not by the
    binding rule, which looks at the key's state at `signed_at`."""

    __tablename__ = "agreement_signatures"
    __table_args__ = (Index("ix_agreement_signatures_version", "agreement_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    key_id: Mapped[str] = mapped_column(String(200), nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    signature: Mapped[str] = mapped_column(String(100), nullable=False, doc="base64 Ed25519 signature")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Milestone(Base):
    """A milestone of an agreement, by its key across versions (its terms are the version in force's)."""

    __tablename__ = "agreement_milestones"
    __table_args__ = (Index("ix_agreement_milestones_key", "agreement_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False)


class Attestation(Base):
    """The verifier's word on a milestone: verified or not, with a note and evidence. The latest one counts."""

    __tablename__ = "milestone_attestations"
    __table_args__ = (Index("ix_milestone_attestations_milestone", "milestone_id", "ledger_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("agreement_milestones.id", ondelete="CASCADE"), nullable=False)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, doc="the version in force, whose terms it attests")
    verdict: Mapped[str] = mapped_column(String(16), nullable=False, doc="verified | not-verified")
    note: Mapped[str] = mapped_column(Text, nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    attested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AttestationEvidence(Base):
    """An attestation's evidence file, by its SHA-256 (which the attestation's ledger content commits to)."""

    __tablename__ = "attestation_evidence"

    attestation_id: Mapped[int] = mapped_column(
        ForeignKey("milestone_attestations.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

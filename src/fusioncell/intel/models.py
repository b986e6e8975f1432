"""Intelligence tables: the items parties submit for the mediator's review, and the STIX objects released from
them, as every recipient reads them (the store TAXII serves)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime


class IntelItem(Base):
    """One submission: what a party sent (kept as sent, read by the mediator and the submitting delegation only),
    and the mediator's decision on it."""

    __tablename__ = "intel_items"
    __table_args__ = (
        Index("ix_intel_items_delegation_id", "delegation", "id"),
        Index("ix_intel_items_delegation_objects_sha256", "delegation", "objects_sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, index=True)  # submitted|released|declined
    # "submission": content a party sent; "sighting": a sighting the cell built from a party's report, which the
    # mediator publishes as its own, dated when it is released
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="submission", server_default="submission")
    submitted_by: Mapped[str] = mapped_column(String(64), nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    share_identity: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    tlp: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # markings.Tlp, the most restrictive submitted
    objects: Mapped[str] = mapped_column(Text, nullable=False)  # the submitted STIX objects, a JSON array as sent
    objects_sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # an exact resubmission is a no-op
    object_count: Mapped[int] = mapped_column(Integer, nullable=False)
    summary: Mapped[str] = mapped_column(String(200), nullable=False)  # "indicator ×3, malware"
    ledger_index: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # the decision; a release is named by its own id, never the item's, so its readers cannot tie it to the
    # submitting delegation's ledger entry (whose header everyone reads)
    release_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    audience: Mapped[str | None] = mapped_column(String(64))
    released_tlp: Mapped[int | None] = mapped_column(SmallInteger)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)


class IntelObject(Base):
    """A released STIX object version in an audience's collection, exactly as its readers receive it."""

    __tablename__ = "intel_objects"
    __table_args__ = (
        UniqueConstraint("audience", "stix_id", "version", name="uq_intel_objects_audience_stix_id_version"),
        Index("ix_intel_objects_audience_id", "audience", "id"),  # TAXII pages in the order objects were added
        Index("ix_intel_objects_stix_id", "stix_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intel_items.id"), nullable=False, index=True)
    audience: Mapped[str] = mapped_column(String(64), nullable=False)
    stix_id: Mapped[str] = mapped_column(String(250), nullable=False)
    type: Mapped[str] = mapped_column(String(250), nullable=False)
    spec_version: Mapped[str] = mapped_column(String(8), nullable=False)
    # `modified`, else `created`, else the date added, spelled with six fraction digits so text order is time order
    version: Mapped[str] = mapped_column(String(32), nullable=False)
    date_added: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    raw: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON served, stored so reads never re-encode


class IntelVersion(Base):
    """A version of a STIX object (one with created or modified) as an item brought it before the mediator: at
    submission, or at once for the mediator's own. The first row of an id names the delegation that first
    submitted the object, the only one whose new versions of it the cell accepts (with the mediator's); the rows
    before an item's are the versions its own supersedes, which the mediator's review shows."""

    __tablename__ = "intel_versions"
    __table_args__ = (Index("ix_intel_versions_stix_id_id", "stix_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the order in which versions were submitted
    stix_id: Mapped[str] = mapped_column(String(250), nullable=False)
    version: Mapped[str] = mapped_column(String(32), nullable=False)  # as IntelObject.version spells it
    item_id: Mapped[int] = mapped_column(ForeignKey("intel_items.id"), nullable=False, index=True)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)  # the submitting delegation's


class IntelOwner(Base):
    """Whose an object (a STIX id) is: the delegation whose submission of it the mediator released first (the
    mediator's own, if it published the object first). Written once, at that release, under the ledger head's lock
    (so two releases cannot both claim it), and never changed: the cell accepts new versions of the object from
    that delegation and the mediator only."""

    __tablename__ = "intel_owners"

    stix_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("intel_items.id"), nullable=False)  # the release that claimed it


class IntelStatus(Base):
    """A TAXII status resource: what became of one envelope of objects sent to a collection."""

    __tablename__ = "intel_statuses"
    __ledger_exempt__ = True  # bookkeeping about a request; the objects it added have their own entries

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)  # the status resource as served (JSON)

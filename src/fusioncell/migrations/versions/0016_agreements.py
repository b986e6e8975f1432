"""agreements: signatories' keys, agreements with every version as signed, signatures, milestones and attestations

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

A signatory's public key with when the mediator approved it and from when it is revoked; an agreement, each version's
document and its digest, the signatures uploaded (whether they bind follows from the keys' states, never a flag);
milestones by their key, and the verifier's attestations with their evidence files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fusioncell.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("verifier", sa.Text(), nullable=False),
        sa.Column("registered_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("revoked_from", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
    )
    op.create_index("ix_signing_keys_username", "signing_keys", ["username"], unique=False)
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
    )
    op.create_index(op.f("ix_agreements_audience"), "agreements", ["audience"], unique=False)
    op.create_index("ix_agreements_ledger_index", "agreements", ["ledger_index"], unique=False)
    op.create_table(
        "agreement_versions",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_versions_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "version", name=op.f("pk_agreement_versions")),
    )
    op.create_table(
        "agreement_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("signed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_signatures_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_signatures")),
    )
    op.create_index(
        "ix_agreement_signatures_version", "agreement_signatures", ["agreement_id", "version"], unique=False
    )
    op.create_table(
        "agreement_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_milestones_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_milestones")),
    )
    op.create_index("ix_agreement_milestones_key", "agreement_milestones", ["agreement_id", "key"], unique=True)
    op.create_table(
        "milestone_attestations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("attested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["agreement_milestones.id"],
            name=op.f("fk_milestone_attestations_milestone_id_agreement_milestones"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_milestone_attestations_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone_attestations")),
    )
    op.create_index(
        "ix_milestone_attestations_milestone", "milestone_attestations", ["milestone_id", "ledger_index"], unique=False
    )
    op.create_table(
        "attestation_evidence",
        sa.Column("attestation_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attestation_id"],
            ["milestone_attestations.id"],
            name=op.f("fk_attestation_evidence_attestation_id_milestone_attestations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attestation_id", "sha256", name=op.f("pk_attestation_evidence")),
    )


def downgrade() -> None:
    op.drop_table("attestation_evidence")
    op.drop_index("ix_milestone_attestations_milestone", table_name="milestone_attestations")
    op.drop_table("milestone_attestations")
    op.drop_index("ix_agreement_milestones_key", table_name="agreement_milestones")
    op.drop_table("agreement_milestones")
    op.drop_index("ix_agreement_signatures_version", table_name="agreement_signatures")
    op.drop_table("agreement_signatures")
    op.drop_table("agreement_versions")
    op.drop_index("ix_agreements_ledger_index", table_name="agreements")
    op.drop_index(op.f("ix_agreements_audience"), table_name="agreements")
    op.drop_table("agreements")
    op.drop_index("ix_signing_keys_username", table_name="signing_keys")
    op.drop_table("signing_keys")

"""disputes: one shared case per dispute, the statements on its record and their evidence files

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

A case names its complainant and respondent, its state, the deadline of its stage (and the round that names the
stage's job), what it arose from, and the mediator's finding; statements carry their own audience (the case's or
narrower), their text and the SHA-256 of each evidence file, whose bytes sit beside them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fusioncell.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("complainant", sa.String(length=16), nullable=False),
        sa.Column("respondent", sa.String(length=16), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stage_due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=True),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("about", sa.String(length=160), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("finding", sa.String(length=24), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("remedy", sa.Text(), nullable=True),
        sa.Column("overdue_stage", sa.String(length=16), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    op.create_index(op.f("ix_disputes_audience"), "disputes", ["audience"], unique=False)
    op.create_index("ix_disputes_ledger_index", "disputes", ["ledger_index"], unique=False)
    op.create_index("ix_disputes_source", "disputes", ["source_kind", "source_id"], unique=False)
    op.create_table(
        "dispute_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("made_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.Integer(), nullable=True),
        sa.Column("addressed_to", sa.String(length=16), nullable=True),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.id"], name=op.f("fk_dispute_statements_dispute_id_disputes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_statements")),
    )
    op.create_index("ix_dispute_statements_dispute", "dispute_statements", ["dispute_id", "ledger_index"], unique=False)
    op.create_table(
        "dispute_evidence",
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["dispute_statements.id"],
            name=op.f("fk_dispute_evidence_statement_id_dispute_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("statement_id", "sha256", name=op.f("pk_dispute_evidence")),
    )


def downgrade() -> None:
    op.drop_table("dispute_evidence")
    op.drop_index("ix_dispute_statements_dispute", table_name="dispute_statements")
    op.drop_table("dispute_statements")
    op.drop_index("ix_disputes_source", table_name="disputes")
    op.drop_index("ix_disputes_ledger_index", table_name="disputes")
    op.drop_index(op.f("ix_disputes_audience"), table_name="disputes")
    op.drop_table("disputes")

"""intelligence: items under review, released objects (the TAXII store), TAXII status resources

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fusioncell.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intel_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", fusioncell.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("share_identity", sa.Boolean(), nullable=False),
        sa.Column("tlp", sa.SmallInteger(), nullable=False),
        sa.Column("objects", sa.Text(), nullable=False),
        sa.Column("objects_sha256", sa.String(length=64), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("release_id", sa.String(length=36), nullable=True),
        sa.Column("audience", sa.String(length=64), nullable=True),
        sa.Column("released_tlp", sa.SmallInteger(), nullable=True),
        sa.Column("decided_at", fusioncell.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intel_items")),
        sa.UniqueConstraint("release_id", name=op.f("uq_intel_items_release_id")),
    )
    with op.batch_alter_table("intel_items", schema=None) as batch_op:
        batch_op.create_index("ix_intel_items_delegation_id", ["delegation", "id"], unique=False)
        batch_op.create_index(
            "ix_intel_items_delegation_objects_sha256", ["delegation", "objects_sha256"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_intel_items_state"), ["state"], unique=False)

    op.create_table(
        "intel_statuses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", fusioncell.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intel_statuses")),
    )
    op.create_table(
        "intel_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("stix_id", sa.String(length=250), nullable=False),
        sa.Column("type", sa.String(length=250), nullable=False),
        sa.Column("spec_version", sa.String(length=8), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("date_added", fusioncell.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["intel_items.id"], name=op.f("fk_intel_objects_item_id_intel_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intel_objects")),
        sa.UniqueConstraint("audience", "stix_id", "version", name="uq_intel_objects_audience_stix_id_version"),
    )
    with op.batch_alter_table("intel_objects", schema=None) as batch_op:
        batch_op.create_index("ix_intel_objects_audience_id", ["audience", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intel_objects_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_intel_objects_stix_id", ["stix_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intel_objects", schema=None) as batch_op:
        batch_op.drop_index("ix_intel_objects_stix_id")
        batch_op.drop_index(batch_op.f("ix_intel_objects_item_id"))
        batch_op.drop_index("ix_intel_objects_audience_id")

    op.drop_table("intel_objects")
    op.drop_table("intel_statuses")
    with op.batch_alter_table("intel_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intel_items_state"))
        batch_op.drop_index("ix_intel_items_delegation_objects_sha256")
        batch_op.drop_index("ix_intel_items_delegation_id")

    op.drop_table("intel_items")

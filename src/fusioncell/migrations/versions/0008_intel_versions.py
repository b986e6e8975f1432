"""intelligence: the object versions each item brought, so that an object is versioned only by the delegation that
first submitted it (or the mediator), and the mediator's review shows what a new version changes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Items already submitted are read in the order of their submission entries, so the first delegation to submit an
object before this revision is the one that owns it after.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fusioncell.intel.stix import version_of

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = op.create_table(
        "intel_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=250), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["intel_items.id"], name=op.f("fk_intel_versions_item_id_intel_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intel_versions")),
    )
    with op.batch_alter_table("intel_versions", schema=None) as batch_op:
        batch_op.create_index("ix_intel_versions_stix_id_id", ["stix_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intel_versions_item_id"), ["item_id"], unique=False)

    submitted = sa.text(
        "SELECT id, delegation, objects FROM intel_items WHERE state NOT IN ('draft', 'discarded') "
        "ORDER BY ledger_index, id"
    )
    items = op.get_bind().execute(submitted).all()
    for item_id, delegation, objects in items:
        rows = [
            {"stix_id": o["id"], "version": version, "item_id": item_id, "delegation": delegation}
            for o in json.loads(objects)
            if (version := version_of(o)) is not None
        ]
        if rows:
            op.bulk_insert(versions, rows)


def downgrade() -> None:
    op.drop_table("intel_versions")

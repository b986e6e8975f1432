"""intelligence: whose each object is, claimed once by the first release of it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

An object is the delegation's whose submission of it the mediator released first. Read from the versions table,
that depended on the order of submission, which a copy released later could overturn; a row written once, at the
first release, cannot be. Filled from the releases so far, in the order they were decided.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    owners = op.create_table(
        "intel_owners",
        sa.Column("stix_id", sa.String(length=250), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["intel_items.id"], name=op.f("fk_intel_owners_item_id_intel_items")),
        sa.PrimaryKeyConstraint("stix_id", name=op.f("pk_intel_owners")),
    )
    released = sa.text(
        "SELECT v.stix_id, v.delegation, v.item_id FROM intel_versions AS v JOIN intel_items AS i ON i.id = v.item_id "
        "WHERE i.release_id IS NOT NULL ORDER BY i.decided_at, i.ledger_index, v.id"
    )
    claimed: dict[str, dict[str, object]] = {}
    for stix_id, delegation, item_id in op.get_bind().execute(released):
        claimed.setdefault(stix_id, {"stix_id": stix_id, "delegation": delegation, "item_id": item_id})
    if claimed:
        op.bulk_insert(owners, list(claimed.values()))


def downgrade() -> None:
    op.drop_table("intel_owners")

"""intelligence: an item's kind, so that a reported sighting is reviewed and released like a submission

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intel_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="submission"),
        )
    # sightings published at once before this revision (decided by "sighting", not by a mediator's username)
    op.execute("UPDATE intel_items SET kind = 'sighting' WHERE decided_by = 'sighting'")


def downgrade() -> None:
    with op.batch_alter_table("intel_items", schema=None) as batch_op:
        batch_op.drop_column("kind")

"""accounts: a count of token revocations, so that every instance's stream cuts off a revoked token at once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_revocations")),
    )
    op.bulk_insert(
        sa.table("token_revocations", sa.column("id", sa.Integer), sa.column("generation", sa.BigInteger)),
        [{"id": 1, "generation": 0}],
    )


def downgrade() -> None:
    op.drop_table("token_revocations")

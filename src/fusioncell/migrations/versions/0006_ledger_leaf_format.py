"""ledger: leaf format 2, whose public header is only index, time, audience and commitment

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Entries already in the log keep format 1 (a log is never rewritten); every entry appended from now on is format 2.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN with a constant default: ledger_entries is append-only (its triggers refuse UPDATE), and
    # neither database rewrites or updates existing rows for it
    op.add_column("ledger_entries", sa.Column("leaf_format", sa.SmallInteger(), nullable=False, server_default="1"))


def downgrade() -> None:
    # below this revision every entry reads as format 1: a log that holds format-2 entries would no longer hash
    # to the roots its witnesses cosigned
    newer = op.get_bind().execute(sa.text("SELECT count(*) FROM ledger_entries WHERE leaf_format = 2")).scalar()
    if newer:
        raise RuntimeError(
            f"the ledger holds {newer} format-2 entries, which only revision 0006 and later can read: "
            "a log is never rewritten, so it cannot be downgraded below 0006"
        )
    op.drop_column("ledger_entries", "leaf_format")

"""ledger: the verifiable map from (audience, subject) to its entries, whose root each checkpoint carries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Checkpoints signed before this revision carry no map; the first one signed after it maps every entry since 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_map_values",
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chain", sa.LargeBinary(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("audience", "key", "size", name=op.f("pk_ledger_map_values")),
    )
    op.add_column("ledger_checkpoints", sa.Column("map_root", sa.LargeBinary(length=32), nullable=True))
    # append-only, as the checkpoints are (the function is migration 0001's)
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_map_values_no_{verb.lower()} BEFORE {verb} ON ledger_map_values "
                "BEGIN SELECT RAISE(ABORT, 'ledger_map_values is append-only'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER ledger_map_values_append_only BEFORE UPDATE OR DELETE ON ledger_map_values "
            "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER ledger_map_values_no_truncate BEFORE TRUNCATE ON ledger_map_values "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()"
        )


def downgrade() -> None:
    op.drop_column("ledger_checkpoints", "map_root")
    op.drop_table("ledger_map_values")

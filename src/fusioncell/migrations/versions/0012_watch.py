"""the watch: who owes what by when after a rejected read-back, alerts handled, the watch roster, preferences

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

A rejected read-back is owed again within the message's handling time, so each delivery carries its own deadline
(`due_at`, until now always the message's `ack_due_at`, from which it is filled) and how many read-backs were
rejected. Alerts are marked handled. The watch roster records who holds each delegation's watch (at most one
open shift per delegation). A person's language and time zone stay with the account.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fusioncell.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rejections", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE message_deliveries SET due_at = "
        "(SELECT messages.ack_due_at FROM messages WHERE messages.id = message_deliveries.message_id)"
    )
    # a read-back rejected before this revision: its first round (no job of the earlier scheme escalates it again);
    # the corrected read-back was owed from the verdict
    op.execute(
        "UPDATE message_deliveries SET rejections = 1, due_at = COALESCE(verdict_at, due_at) WHERE state = 'negative'"
    )
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.alter_column("due_at", existing_type=UTCDateTime(timezone=True), nullable=False)
        batch_op.alter_column("rejections", existing_type=sa.Integer(), server_default=None)
    op.create_index("ix_message_deliveries_state", "message_deliveries", ["state"])
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handled_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("handled_note", sa.Text(), nullable=True))
    op.create_table(
        "watch_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("taken_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_note", sa.Text(), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("handover_note", sa.Text(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_shifts")),
    )
    op.create_index(
        "uq_watch_shifts_open",
        "watch_shifts",
        ["delegation"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_watch_shifts_delegation_ledger_index", "watch_shifts", ["delegation", "ledger_index"])
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_preferences")),
    )


def downgrade() -> None:
    op.drop_table("user_preferences")
    op.drop_index("ix_watch_shifts_delegation_ledger_index", table_name="watch_shifts")
    op.drop_index("uq_watch_shifts_open", table_name="watch_shifts")
    op.drop_table("watch_shifts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("handled_note")
        batch_op.drop_column("handled_by")
        batch_op.drop_column("handled_at")
    op.drop_index("ix_message_deliveries_state", table_name="message_deliveries")
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.drop_column("rejections")
        batch_op.drop_column("due_at")

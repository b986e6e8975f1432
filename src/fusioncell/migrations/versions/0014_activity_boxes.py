"""de-escalation: a two-dimensional index on each activity's grown box, for the deconfliction check's first filter;
the notifier's own id for a notification, to send it again safely

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

The check's candidates are the live activities whose box (grown by their radius) overlaps the new one's. A B-tree
answers one side of that range at most, so with 100,000 activities stored SQLite fetched about half the table for each
check. SQLite gets an R*Tree (`activity_boxes`, kept by triggers on `activities`) over the box and the live window
(`start_at` to `live_until`, as seconds since 2020-01-01); PostgreSQL a GiST index on the box (the window is the
B-tree `ix_activities_theatre_live_until`'s, which the planner combines with it).

`client_txn_id` (unique per notifier) and `request_digest` let a notification be sent again after a dropped answer
and be answered from the record.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOX = "box(point(min_x, min_y), point(max_x, max_y))"
# seconds since 2020-01-01 (julian day 2458849.5) of SQLite's stored UTC text; fusioncell.deescalation.models.EPOCH
SECONDS = "({} - 2458849.5) * 86400.0"
# from its start to the end of its life; one cancelled before it started lives until then: only that instant
FIRST = SECONDS.format("min(julianday(new.start_at), julianday(new.live_until))")
LAST = SECONDS.format("julianday(new.live_until)")
ROW = f"new.id, new.min_x, new.max_x, new.min_y, new.max_y, {FIRST}, {LAST}"


def upgrade() -> None:
    op.add_column("activities", sa.Column("client_txn_id", sa.String(length=100), nullable=True))
    op.add_column("activities", sa.Column("request_digest", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_activities_notified_by_client_txn_id", "activities", ["notified_by", "client_txn_id"], unique=True
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute(f"CREATE INDEX ix_activities_box ON activities USING gist (({BOX}))")
        return
    # An R*Tree stores 32-bit floats rounded outwards: a box it returns may be a little larger, never smaller. It is a
    # prefilter: the query keeps the exact time terms on the table's columns, and the engine measures distances.
    op.execute("CREATE VIRTUAL TABLE activity_boxes USING rtree(id, min_x, max_x, min_y, max_y, min_t, max_t)")
    op.execute(f"INSERT INTO activity_boxes SELECT {ROW.replace('new.', '')} FROM activities")
    op.execute(
        "CREATE TRIGGER activity_boxes_insert AFTER INSERT ON activities BEGIN "
        f"INSERT INTO activity_boxes VALUES ({ROW}); END"
    )
    op.execute(
        "CREATE TRIGGER activity_boxes_update "
        "AFTER UPDATE OF id, min_x, max_x, min_y, max_y, start_at, live_until ON activities BEGIN "
        "DELETE FROM activity_boxes WHERE id = old.id; "
        f"INSERT INTO activity_boxes VALUES ({ROW}); END"
    )
    op.execute(
        "CREATE TRIGGER activity_boxes_delete AFTER DELETE ON activities BEGIN "
        "DELETE FROM activity_boxes WHERE id = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_activities_box")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS activity_boxes_{name}")
        op.execute("DROP TABLE IF EXISTS activity_boxes")
    op.drop_index("ix_activities_notified_by_client_txn_id", table_name="activities")
    with op.batch_alter_table("activities", schema=None) as batch_op:  # SQLite: the table copied without them
        batch_op.drop_column("request_digest")
        batch_op.drop_column("client_txn_id")

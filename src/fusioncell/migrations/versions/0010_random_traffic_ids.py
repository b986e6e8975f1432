"""traffic: messages, clarifications and alerts get random ids; their lists page by ledger index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Ids from one sequence told a reader, from the gaps between the ids it reads, how many messages and alerts went to
audiences it may not read. New rows get random ids (the service draws them); rows already stored keep theirs. The
lists page by ledger index, which every delegation reads in the log's public headers, so the indexes move to it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_track_id")
        batch_op.create_index("ix_messages_track_ledger_index", ["track", "ledger_index"], unique=False)
        batch_op.create_index("ix_messages_ledger_index", ["ledger_index"], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_target_id")
        batch_op.create_index("ix_alerts_target_ledger_index", ["target", "ledger_index"], unique=False)
        batch_op.create_index("ix_alerts_ledger_index", ["ledger_index"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_ledger_index")
        batch_op.drop_index("ix_alerts_target_ledger_index")
        batch_op.create_index("ix_alerts_target_id", ["target", "id"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_ledger_index")
        batch_op.drop_index("ix_messages_track_ledger_index")
        batch_op.create_index("ix_messages_track_id", ["track", "id"], unique=False)

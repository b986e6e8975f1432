"""merkle tree, checkpoints, cosignatures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fusioncell.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("ledger_nodes", "ledger_checkpoints")


ROWID_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _entries_keyed_by_rowid()
    op.create_table(
        "ledger_nodes",
        sa.Column("id", ROWID_KEY, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_nodes")),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", fusioncell.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_cosignatures",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("received_at", fusioncell.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"], ["ledger_checkpoints.size"], name=op.f("fk_ledger_cosignatures_size_ledger_checkpoints")
        ),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_ledger_cosignatures")),
    )
    _backfill_tree()
    for table in APPEND_ONLY:
        _append_only(table)


def _entries_keyed_by_rowid() -> None:
    """SQLite: rebuild ledger_entries with its key spelled INTEGER, which makes it the rowid (one b-tree to walk
    instead of two). The append-only triggers go with the old table and are made again."""
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS ledger_entries_no_{verb}")
    with op.batch_alter_table("ledger_entries", recreate="always") as batch_op:
        batch_op.alter_column("index", type_=sa.Integer(), existing_type=sa.BigInteger(), autoincrement=False)
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER ledger_entries_no_{verb.lower()} BEFORE {verb} ON ledger_entries "
            "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END"
        )


def _backfill_tree() -> None:
    """Entries written before the tree existed get their interior nodes, in order, a chunk at a time, exactly as
    an append writes them (`tree.node_rows`; a leaf's hash is made from its entry row when read)."""
    from fusioncell.ledger import merkle
    from fusioncell.ledger.entries import entry_leaf
    from fusioncell.ledger.tree import node_rows

    bind = op.get_bind()
    entries = sa.table(
        "ledger_entries",
        *(sa.column(c) for c in ("index", "action", "actor_delegation", "audience", "subject", "commitment")),
        sa.column("recorded_at", fusioncell.db.UTCDateTime()),
    )
    nodes = sa.table("ledger_nodes", sa.column("id", sa.BigInteger), sa.column("hash", sa.LargeBinary))
    frontier = merkle.CompactRange()  # the perfect subtrees of the tree so far, largest first
    size = 0
    while True:
        rows = bind.execute(
            sa.select(entries).where(entries.c.index >= size).order_by(entries.c.index).limit(5000)
        ).all()
        if not rows:
            return
        if rows[0].index != size:
            raise RuntimeError(f"the ledger has a gap at entry {size}: it cannot be given a Merkle tree")
        leaves = [merkle.leaf_hash(entry_leaf(r)) for r in rows]
        new = node_rows(size, leaves, frontier.hashes())
        if new:
            bind.execute(sa.insert(nodes), [{"id": i, "hash": h} for i, h in new])
        frontier.extend(leaves)
        size += len(rows)


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()"
        )


def downgrade() -> None:
    op.drop_table("ledger_cosignatures")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_nodes")

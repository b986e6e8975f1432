"""Ledger tables: append-only entries, the single head row that sequences them, the Merkle tree's perfect
subtrees, the signed checkpoints and the witnesses' cosignatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime

# 64-bit everywhere; on SQLite spelled INTEGER, so the key is the table's rowid: range scans and inserts walk one
# b-tree instead of a key index and the table (a mirror reads a million entries, the sequencer writes thousands)
ROWID_KEY = BigInteger().with_variant(Integer(), "sqlite")


class LedgerHead(Base):
    """One row: the log's size. Locking it sequences appends, so indices are gapless and in commit order."""

    __tablename__ = "ledger_head"
    __ledger_exempt__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LedgerEntry(Base):
    """An append-only entry.

    Its Merkle leaf, which every delegation reads, is its public header. In leaf format 2 (every entry appended
    since migration 0006) that is index, recorded_at, audience and commitment only; the content (RFC 8785
    canonical JSON) commits to the action, the actor's delegation and the subject ("@action", "@actor_delegation",
    "@subject") and names the actor. Format 1 (entries appended before) also made action, actor_delegation and
    subject public; a log is never rewritten, so those stay as they were. Content and salt are revealed to the
    audience only; commitment = SHA-256(salt || content). The columns action, subject and actor_delegation are
    the server's index into the content, never served to those outside the audience.
    """

    __tablename__ = "ledger_entries"
    __ledger_exempt__ = True

    index: Mapped[int] = mapped_column(ROWID_KEY, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    actor_delegation: Mapped[str | None] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(160), nullable=False, index=True)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    salt: Mapped[str] = mapped_column(String(64), nullable=False)
    leaf_format: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    commitment: Mapped[str] = mapped_column(String(64), nullable=False)


class LedgerNode(Base):
    """A perfect subtree's hash: node (level, index) covers leaves [index·2^level, (index+1)·2^level).
    Stored as one integer key, level << 56 | index, so a proof's nodes come back in one `IN` lookup."""

    __tablename__ = "ledger_nodes"
    __ledger_exempt__ = True

    id: Mapped[int] = mapped_column(ROWID_KEY, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class LedgerCheckpoint(Base):
    """Every checkpoint the log signed (one per tree size), as the signed note it published."""

    __tablename__ = "ledger_checkpoints"
    __ledger_exempt__ = True

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # the verifiable map's root at this size, also an extension line of the note (null: signed before the map)
    map_root: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class LedgerMapValue(Base):
    """The verifiable map (`ledger/map.py`) as of each checkpoint: for each audience and subject (`key`, the
    subject's hash) that the checkpoint's new entries touched, the chain of all its entries' indices and their
    count. The map at a size is every key's newest row at or below it. Append-only, like the checkpoints."""

    __tablename__ = "ledger_map_values"
    __ledger_exempt__ = True

    audience: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chain: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LedgerCosignature(Base):
    """A witness's newest cosignature of a checkpoint (a heartbeat re-submission renews its timestamp)."""

    __tablename__ = "ledger_cosignatures"
    __ledger_exempt__ = True

    size: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_checkpoints.size"), primary_key=True)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text, nullable=False)
    timestamp: Mapped[int] = mapped_column(BigInteger, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

"""API shapes of the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from fusioncell import examples as ex

B64 = " (base64)"


class EntryHeader(BaseModel):
    """An entry's header. Every delegation reads its leaf: index, time, audience and commitment (leaf format 2),
    plus action, actor's delegation and subject for entries appended before leaf format 2, whose leaf made them
    public. Of a format-2 entry, action, actor_delegation and subject are given only to its audience (they are
    committed inside its content); to anyone else they are null."""

    index: int = Field(description="The entry's position in the log, from 0, gapless.", examples=[ex.MESSAGE_INDEX])
    recorded_at: datetime = Field(description="When it was recorded (UTC).", examples=[ex.SENT_AT])
    format: int = Field(description="The leaf format: 1 (public action and subject) or 2.", examples=[2])
    action: str | None = Field(
        description="What was done; null when the entry is format 2 and you are not in its audience.",
        examples=["message.sent"],
    )
    actor_delegation: str | None = Field(
        description="The actor's delegation; null for the system, and when the entry is format 2 and you are not in "
        "its audience.",
        examples=["SY"],
    )
    audience: str = Field(description="Who may read its content.", examples=["joint"])
    subject: str | None = Field(
        description="What it is about; null when the entry is format 2 and you are not in its audience.",
        examples=[ex.MESSAGE_SUBJECT],
    )
    commitment: str = Field(description="Hex SHA-256(salt || content).", examples=[ex.COMMITMENT])


class EntryHeaderPage(BaseModel):
    """A range of entry headers."""

    size: int = Field(description="Entries in the ledger.", examples=[ex.LEDGER_SIZE])
    items: list[EntryHeader] = Field(description="The headers in [start, end), in index order.")


class EntryContent(BaseModel):
    """Revealed to the entry's audience only: check it with SHA-256(bytes.fromhex(salt) + content.encode())."""

    index: int = Field(description="The entry's index.", examples=[ex.DELIVERY_INDEX])
    audience: str = Field(description="Who may read it.", examples=["joint"])
    content: str = Field(
        description="RFC 8785 canonical JSON, exactly the committed bytes (UTF-8).", examples=[ex.DELIVERY_CONTENT]
    )
    salt: str = Field(description="32 random bytes, hex.", examples=[ex.SALT])
    commitment: str = Field(description="Hex SHA-256(salt || content), as the header says.", examples=[ex.COMMITMENT])
    parsed: dict[str, Any] = Field(
        description="The content as a JSON object, for reading (check the commitment against `content`).",
        examples=[
            {
                "@action": "message.delivered",
                "@actor_delegation": "IL",
                "@subject": ex.MESSAGE_SUBJECT,
                "actor": ex.IL_LIAISON,
                "delegation": "IL",
                "deliveries": [
                    {"delivered_at": ex.DELIVERED_AT, "delivered_to": ex.IL_LIAISON, "message_id": ex.MESSAGE_ID}
                ],
            }
        ],
    )


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof: check it with the entry's leaf (SHA-256(0x00 ‖ canonical header))."""

    index: int = Field(description="The entry proved.", examples=[ex.MESSAGE_INDEX])
    size: int = Field(description="The tree size proved against: a checkpoint's.", examples=[ex.LEDGER_SIZE])
    leaf_hash: str = Field(description="The entry's leaf hash" + B64 + ".", examples=[ex.LEAF_HASH])
    hashes: list[str] = Field(description="The audit path" + B64 + ", from the leaf up.", examples=[ex.PROOF_HASHES])


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof: the tree of the second size extends the first, nothing rewritten."""

    first: int = Field(description="The smaller tree size.", examples=[ex.LEDGER_SIZE - 3])
    second: int = Field(description="The larger tree size.", examples=[ex.LEDGER_SIZE])
    hashes: list[str] = Field(description="The proof's hashes" + B64 + ".", examples=[ex.PROOF_HASHES[:2]])


class CosignatureInfo(BaseModel):
    """A party's witness vouching that it saw this checkpoint, consistent with every earlier one."""

    witness: str = Field(description="The witness's name, as in the charter.", examples=[ex.WITNESS_NAME])
    delegation: str = Field(description="The party that runs the witness.", examples=["SY"])
    timestamp: int = Field(description="POSIX seconds, signed by the witness.", examples=[ex.COSIGNED_AT])


class CheckpointInfo(BaseModel):
    """A signed checkpoint: the log's size and root hash, signed by the cell."""

    size: int = Field(description="The tree size.", examples=[ex.LEDGER_SIZE])
    root: str = Field(description="The Merkle tree's root hash" + B64 + ".", examples=[ex.ROOT])
    signed_at: datetime = Field(description="When the cell signed it (UTC).", examples=["2026-03-02T05:53:06Z"])
    final: bool = Field(
        description="Every party's witness has cosigned this checkpoint: no one can show another history up to it.",
        examples=[False],
    )
    cosignatures: list[CosignatureInfo] = Field(description="The witnesses' cosignatures so far.")
    note: str = Field(
        description="The C2SP signed note, with the witnesses' cosignature lines.", examples=[ex.CHECKPOINT_NOTE]
    )


class CheckpointPage(BaseModel):
    """Checkpoints, newest first."""

    items: list[CheckpointInfo] = Field(description="Newest first.")
    latest_final_size: int | None = Field(
        description="The size of the newest final checkpoint; null while none is final.", examples=[ex.LEDGER_SIZE - 3]
    )


class WitnessInfo(BaseModel):
    """A party's witness as the charter names it."""

    name: str = Field(description="The witness's name.", examples=[ex.WITNESS_NAME])
    delegation: str = Field(description="The party that runs it.", examples=["SY"])
    key: str = Field(description="Its verifier key (cosignature type 0x04).", examples=[ex.WITNESS_KEY])


class LogInfo(BaseModel):
    """What a witness or a verifier needs to know of this log, public."""

    origin: str = Field(description="The log's origin line, from the charter.", examples=[ex.LOG_ORIGIN])
    log_key: str = Field(description="The log's verifier key (Go note format).", examples=[ex.LOG_KEY])
    witnesses: list[WitnessInfo] = Field(description="The parties' witnesses; a checkpoint is final once all cosign.")


class RevealedContent(BaseModel):
    """An entry's content and salt, for its audience."""

    index: int = Field(description="The entry's index.", examples=[ex.DELIVERY_INDEX])
    content: str = Field(description="RFC 8785 canonical JSON, the committed bytes.", examples=[ex.DELIVERY_CONTENT])
    salt: str = Field(description="32 random bytes, hex.", examples=[ex.SALT])


class EntryContentPage(BaseModel):
    """Contents of a range of entries."""

    items: list[RevealedContent] = Field(description="Only entries whose audience includes you, in index order.")

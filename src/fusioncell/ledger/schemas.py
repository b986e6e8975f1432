"""API shapes of the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EntryHeader(BaseModel):
    """An entry's header. Every delegation reads its leaf: index, time, audience and commitment (leaf format 2),
    plus action, actor's delegation and subject for entries appended before leaf format 2, whose leaf made them
    public. Of a format-2 entry, action, actor_delegation and subject are given only to its audience (they are
    committed inside its content); to anyone else they are null."""

    index: int
    recorded_at: datetime
    format: int = Field(description="the leaf format: 1 (public action and subject) or 2")
    action: str | None = Field(description="null when the entry is format 2 and you are not in its audience")
    actor_delegation: str | None = Field(
        description="the actor's delegation; null for the system, and when the entry is format 2 and you are not in "
        "its audience"
    )
    audience: str
    subject: str | None = Field(description="null when the entry is format 2 and you are not in its audience")
    commitment: str = Field(description="hex SHA-256(salt || content)")


class EntryHeaderPage(BaseModel):
    size: int = Field(description="Entries in the ledger")
    items: list[EntryHeader]


class EntryContent(BaseModel):
    """Revealed to the entry's audience only: check it with SHA-256(bytes.fromhex(salt) + content.encode())."""

    index: int
    audience: str
    content: str = Field(description="RFC 8785 canonical JSON, exactly the committed bytes (UTF-8)")
    salt: str = Field(description="hex")
    commitment: str
    parsed: dict[str, Any]


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof: check it with the entry's leaf (SHA-256(0x00 ‖ canonical header))."""

    index: int
    size: int
    leaf_hash: str = Field(description="base64")
    hashes: list[str] = Field(description="base64, from the leaf up")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str] = Field(description="base64")


class CosignatureInfo(BaseModel):
    witness: str
    delegation: str
    timestamp: int = Field(description="POSIX seconds, signed by the witness")


class CheckpointInfo(BaseModel):
    size: int
    root: str = Field(description="base64")
    signed_at: datetime
    final: bool = Field(description="every party's witness has cosigned this checkpoint")
    cosignatures: list[CosignatureInfo]
    note: str = Field(description="the signed note with the witnesses' cosignature lines")


class CheckpointPage(BaseModel):
    items: list[CheckpointInfo] = Field(description="newest first")
    latest_final_size: int | None


class WitnessInfo(BaseModel):
    name: str
    delegation: str
    key: str = Field(description="verifier key, cosignature type 0x04")


class LogInfo(BaseModel):
    """What a witness or a verifier needs to know of this log, public."""

    origin: str
    log_key: str = Field(description="the log's verifier key (Go note format)")
    witnesses: list[WitnessInfo]


class RevealedContent(BaseModel):
    index: int
    content: str = Field(description="RFC 8785 canonical JSON, the committed bytes")
    salt: str = Field(description="hex")


class EntryContentPage(BaseModel):
    items: list[RevealedContent] = Field(description="only entries whose audience includes you")

"""API shapes of the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EntryHeader(BaseModel):
    """What every delegation may read of any entry."""

    model_config = ConfigDict(from_attributes=True)

    index: int
    recorded_at: datetime
    action: str
    actor_delegation: str | None
    audience: str
    subject: str
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

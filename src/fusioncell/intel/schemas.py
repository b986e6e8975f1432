"""API shapes of intelligence sharing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from fusioncell.schemas import LINES, STIX, InputModel

# STIX content follows the text rule as fusioncell.intel.stix checks it: refused, never normalised, with a pointer
StixContent = Annotated[Any, STIX]
TlpName = Annotated[str, StringConstraints(pattern=r"(?i)^(tlp:)?(clear|white|green|amber|amber\+strict|red)$")]


class IntelSubmit(InputModel):
    stix: StixContent = Field(description="A STIX 2.1 bundle, a list of objects or one object; every object TLP-marked")
    share_identity: bool = Field(
        default=False,
        description="Let recipients see your delegation as the source; otherwise the mediator's identity replaces "
        "yours in what is released",
    )
    draft: bool = Field(
        default=False,
        description="Keep it as your delegation's draft until you submit it: in none of the mediator's queues, "
        "read by no other delegation (the mediator, who supervises the record, reads its ledger entries)",
    )


class IntelDraftRevise(InputModel):
    stix: StixContent = Field(description="The draft's new content: a bundle, a list of objects, or one object")
    share_identity: bool = Field(default=False, description="As on submission; the whole draft is replaced")


class RedactionIn(InputModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=250)] = Field(description="the object's STIX id")
    remove: list[Annotated[str, StringConstraints(min_length=1, max_length=250)]] = Field(
        default_factory=list, max_length=100, description="properties left out of the released version"
    )
    replace: Annotated[dict[str, Any], STIX] = Field(
        default_factory=dict, max_length=50, description="properties given new values (checked as STIX content is)"
    )


class IntelRelease(InputModel):
    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tlp: TlpName | None = Field(default=None, description="Keep (default) or raise the marking; never lower it")
    redactions: list[RedactionIn] = Field(
        default_factory=list,
        max_length=100,  # a release's redactions fit well inside the request body limit, however large each is
        description="Release with redactions: each named object goes out as a new STIX version without them",
    )


class IntelRevoke(InputModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000), LINES]


class SightingCreate(InputModel):
    sighting_of: Annotated[str, StringConstraints(min_length=1, max_length=250)] = Field(
        description="the STIX id of a released object you read"
    )
    count: int | None = Field(default=None, ge=0, le=999_999_999)
    first_seen: AwareDatetime | None = Field(default=None, description="with its UTC offset")
    last_seen: AwareDatetime | None = Field(default=None, description="with its UTC offset")
    description: Annotated[str, StringConstraints(max_length=4000), LINES] | None = None


class IntelDecline(InputModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000), LINES]


class IntelItemRead(BaseModel):
    id: int
    kind: str = Field(description="submission: content a party sent; sighting: a party's report of a sighting")
    state: str
    delegation: str
    submitted_by: str
    submitted_at: datetime
    share_identity: bool
    tlp: str
    summary: str
    object_count: int
    ledger_index: int
    audience: str | None
    released_tlp: str | None
    release_id: str | None
    decided_at: datetime | None
    reason: str | None
    objects: list[dict[str, Any]] | None = Field(default=None, description="as submitted (one item's view only)")


class IntelItemPage(BaseModel):
    items: list[IntelItemRead]


class IntelObjectPage(BaseModel):
    objects: list[dict[str, Any]]
    next_after: str | None = Field(
        description="pass as ?after= for the next page; null when this is the last. An opaque token that only you "
        "can use: it tells nothing of what other audiences hold"
    )

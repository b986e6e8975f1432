"""API shapes of intelligence sharing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from fusioncell import examples as ex
from fusioncell.schemas import LINES, STIX, InputModel

# STIX content follows the text rule as fusioncell.intel.stix checks it: refused, never normalised, with a pointer
StixContent = Annotated[Any, STIX]
TlpName = Annotated[str, StringConstraints(pattern=r"(?i)^(tlp:)?(clear|white|green|amber|amber\+strict|red)$")]

AUDIENCE_DOC = (
    "Who receives it: `joint` (both parties, the mediator and UNDOF), `mediated:SY` or `mediated:IL` (that party "
    "and the mediator), `mediator` (the mediator alone)."
)


class IntelSubmit(InputModel):
    """STIX 2.1 content for the mediator's review."""

    stix: StixContent = Field(
        description="A STIX 2.1 bundle, a list of objects or one object; every object TLP-marked.",
        examples=[ex.BUNDLE],
    )
    share_identity: bool = Field(
        default=False,
        description="Let recipients see your delegation as the source; otherwise the mediator's identity replaces "
        "yours in what is released.",
        examples=[False],
    )
    draft: bool = Field(
        default=False,
        description="Keep it as your delegation's draft until you submit it: in none of the mediator's queues, "
        "read by no other delegation (the mediator, who supervises the record, reads its ledger entries).",
        examples=[False],
    )


class IntelDraftRevise(InputModel):
    """A draft's new content, replacing the old."""

    stix: StixContent = Field(
        description="The draft's new content: a bundle, a list of objects, or one object.",
        examples=[ex.RELAY_INDICATOR],
    )
    share_identity: bool = Field(
        default=False, description="As on submission; the whole draft is replaced.", examples=[False]
    )


class RedactionIn(InputModel):
    """What to take out of one object before it is released: it goes out as a new STIX version without it."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=250)] = Field(
        description="The STIX id of an object in the item.", examples=[ex.INDICATOR_ID]
    )
    remove: list[Annotated[str, StringConstraints(min_length=1, max_length=250)]] = Field(
        default_factory=list,
        max_length=100,
        description="Properties left out of the released version (not required ones such as `pattern`).",
        examples=[["description"]],
    )
    replace: Annotated[dict[str, Any], STIX] = Field(
        default_factory=dict,
        max_length=50,
        description="Properties given new values (checked as STIX content is).",
        examples=[{"name": ex.REDACTED_NAME}],
    )


class IntelRelease(InputModel):
    """The mediator's release of an item to an audience."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description=AUDIENCE_DOC + " TLP:RED goes to `mediated:<party>` or `mediator` only.", examples=["joint"]
    )
    tlp: TlpName | None = Field(
        default=None,
        description="Keep (leave it out) or raise the marking: clear, green, amber, amber+strict, red, with or "
        "without `TLP:`; never lower it.",
        examples=["TLP:AMBER"],
    )
    redactions: list[RedactionIn] = Field(
        default_factory=list,
        max_length=100,  # a release's redactions fit well inside the request body limit, however large each is
        description="Release with redactions: each named object goes out as a new STIX version without them.",
    )


class IntelRevoke(InputModel):
    """Why a released item is recalled."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000), LINES] = Field(
        description="Why, for every recipient and the submitting delegation; several lines allowed.",
        examples=[ex.REVOKE_REASON],
    )


class SightingCreate(InputModel):
    """A party's report that it, too, saw a released object."""

    sighting_of: Annotated[str, StringConstraints(min_length=1, max_length=250)] = Field(
        description="The STIX id of a released object you read.", examples=[ex.INDICATOR_ID]
    )
    count: int | None = Field(
        default=None, ge=0, le=999_999_999, description="How many times it was seen.", examples=[ex.SIGHTING["count"]]
    )
    first_seen: AwareDatetime | None = Field(
        default=None, description="When it was first seen, with its UTC offset.", examples=[ex.SIGHTING["first_seen"]]
    )
    last_seen: AwareDatetime | None = Field(
        default=None, description="When it was last seen, with its UTC offset.", examples=[ex.SIGHTING["last_seen"]]
    )
    description: Annotated[str, StringConstraints(max_length=4000), LINES] | None = Field(
        default=None,
        description="What was seen, for the mediator and the object's audience; several lines allowed.",
        examples=[ex.SIGHTING["description"]],
    )


class IntelDecline(InputModel):
    """Why the mediator declines an item."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000), LINES] = Field(
        description="Why, for the submitting delegation; several lines allowed.", examples=[ex.DECLINE_REASON]
    )


class IntelItemRead(BaseModel):
    """A submission or a sighting, and what the mediator decided."""

    id: int = Field(description="The item's id.", examples=[ex.INTEL_ITEM_ID])
    kind: str = Field(
        description="submission: content a party sent; sighting: a party's report of a sighting.",
        examples=["submission"],
    )
    state: str = Field(
        description="draft, submitted (awaiting the mediator), released, redacted (released with redactions), "
        "declined, revoked or discarded.",
        examples=["redacted"],
    )
    delegation: str = Field(description="The submitting delegation.", examples=["SY"])
    submitted_by: str = Field(description="Who submitted it.", examples=[ex.SY_ANALYST])
    submitted_at: datetime = Field(description="When (UTC).", examples=[ex.SUBMITTED_AT])
    share_identity: bool = Field(description="Whether recipients see the submitting delegation.", examples=[False])
    tlp: str = Field(
        description="The marking as submitted (the most restrictive of its objects).", examples=["TLP:GREEN"]
    )
    summary: str = Field(description="The types of its objects.", examples=["indicator"])
    object_count: int = Field(description="How many STIX objects it holds.", examples=[1])
    ledger_index: int = Field(description="The ledger entry of its submission.", examples=[ex.INTEL_INDEX])
    audience: str | None = Field(description="Where it was released; null until then.", examples=["joint"])
    released_tlp: str | None = Field(description="The marking it was released with.", examples=["TLP:AMBER"])
    release_id: str | None = Field(description="The release's id, as the ledger records it.", examples=[ex.RELEASE_ID])
    decided_at: datetime | None = Field(description="When the mediator decided (UTC).", examples=[ex.DECIDED_AT])
    reason: str | None = Field(description="The mediator's reason, when declined or revoked.", examples=[None])
    objects: list[dict[str, Any]] | None = Field(
        default=None, description="As submitted (one item's view only).", examples=[[ex.INDICATOR]]
    )


class IntelItemPage(BaseModel):
    """Items, newest first."""

    items: list[IntelItemRead] = Field(description="Newest first.")


class IntelObjectPage(BaseModel):
    """Released STIX objects, as their recipients receive them."""

    objects: list[dict[str, Any]] = Field(
        description="STIX 2.1 objects in the order they were added, each in every version released to you.",
        examples=[[ex.RELEASED_INDICATOR]],
    )
    next_after: str | None = Field(
        description="Pass as ?after= for the next page; null when this is the last. An opaque token that only you "
        "can use: it tells nothing of what other audiences hold.",
        examples=[ex.PAGE_TOKEN],
    )

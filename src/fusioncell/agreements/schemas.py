"""API shapes for agreements: a draft (its text in every language, its signatories, its milestones), a signature,
an attestation, and the agreement as read with each version's binding state and each milestone's status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from fusioncell.deescalation.schemas import EvidenceUpload
from fusioncell.schemas import LINES, InputModel

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Passage = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), LINES]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), LINES]


def _f(description: str, example: Any, **default: Any) -> Any:
    return Field(description=description, examples=[example], **default)


class MilestoneSpec(InputModel):
    """A milestone: who must do what by when, how it is verified, and by whom."""

    key: Slug = Field(description="Its name within the agreement, kept across versions.", examples=["separation-north"])
    title: dict[Lang, Line] = Field(
        description="What it is, in the agreement's languages (the authoritative one required).",
        examples=[{"en": "Withdrawal from the northern area of separation"}],
    )
    criterion: dict[Lang, Passage] = Field(
        description="How the verifier tells it is done, in the agreement's languages.",
        examples=[{"en": "No forces in the area of separation north of Quneitra; UNDOF patrols confirm."}],
    )
    obligor: Code = Field(description="The party that must do it: one of the signatories.", examples=["IL"])
    verifier: Code = Field(description="Who attests it: the mediator or an observer.", examples=["UNDOF"])
    zone: Slug | None = Field(default=None, description="The zone it concerns.", examples=["area-of-separation"])
    starts: AwareDatetime = Field(description="When its work begins.", examples=["2026-03-02T00:00:00Z"])
    due: AwareDatetime = Field(description="When it is due: after `starts`.", examples=["2026-04-01T00:00:00Z"])

    @model_validator(mode="after")
    def _in_order(self) -> MilestoneSpec:
        if self.starts >= self.due:
            raise ValueError("dates out of order: a milestone starts before it is due")
        return self


class AgreementDraft(InputModel):
    """A version's whole text: what the signatories sign."""

    title: dict[Lang, Line] = Field(
        description="The title in the charter's languages (the authoritative one required).",
        examples=[{"en": "Phased withdrawal timeline"}],
    )
    text: dict[Lang, Passage] = Field(
        description="The text: the authoritative language's, and translations.",
        examples=[{"en": "Israel withdraws in phases from the area of separation; UNDOF verifies each phase."}],
    )
    signatories: list[Code] = Field(
        min_length=1, max_length=16, description="The parties that must sign for it to bind.", examples=[["SY", "IL"]]
    )
    milestones: list[MilestoneSpec] = Field(default_factory=list, max_length=1000, description="Its timeline.")


class AgreementCreate(AgreementDraft):
    """A new agreement (the mediator): its audience, and its first version."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="`joint`, or `mediated:<party>` (an undertaking between that party and the mediator).",
        examples=["joint"],
    )


class TimelineProposal(InputModel):
    """One of the charter's timelines, proposed as an agreement dated from `start`."""

    audience: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        default="joint", description="`joint`, or `mediated:<party>`.", examples=["joint"]
    )
    start: AwareDatetime = Field(description="The day the timeline counts from.", examples=["2026-03-02T00:00:00Z"])


class SignatureCreate(InputModel):
    """A signature made offline (`fusioncell sign`) over one version's signing message."""

    key_id: Annotated[str, StringConstraints(min_length=3, max_length=200)] = Field(
        description="Your approved key: <name>+<key ID>.", examples=["sy.signatory+e7bce6f6"]
    )
    signature: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The Ed25519 signature, base64.",
        examples=["vVZdrFZH7Nj3D0OE5E0/OYyrMSGFwBd7G3o32kx/v3sIgdQVlkMLPBGAg0SX8C6l2M4PU/9m5ZLBHVKWRMjlDQ=="],
    )


class AttestationCreate(InputModel):
    """The verifier's word on a milestone."""

    verdict: Literal["verified", "not-verified"] = Field(description="Whether it is done.", examples=["verified"])
    note: Note = Field(description="What was seen, where, when.", examples=["Patrol 14 found OP-73 vacated."])
    evidence: list[EvidenceUpload] = Field(default_factory=list, max_length=5, description="Up to five files.")


class VersionRead(BaseModel):
    """A version and whether it binds."""

    version: int = _f("Its number, from 1.", 1)
    digest: str = _f(
        "SHA-256 of its RFC 8785 canonical document, hex.",
        "52c92bbb90562475d7ce68934b7c5c9cb898f5edd17ec1c7b4ae2e99594469a8",
    )
    proposed_by: str = _f("Who proposed it.", "us.mediator")
    proposed_at: datetime = _f("When.", "2026-03-02T06:00:00Z")
    signatories: list[str] = _f("Who must sign.", ["IL", "SY"])
    signed: dict[str, datetime] = _f("Each signatory's valid signature, when.", {"SY": "2026-03-02T07:00:00Z"})
    missing: list[str] = _f("Signatories yet to sign validly.", ["IL"])
    binds: bool = _f("Every signatory has signed it validly.", False)
    bound_at: datetime | None = _f("When the last valid signature arrived.", None)
    invalid: list[dict[str, str]] = _f(
        "Signatures that do not count, and why.",
        [
            {
                "delegation": "IL",
                "key_id": "il.signatory+0a1b2c3d",
                "reason": "key il.signatory+0a1b2c3d was not approved when it signed",
            }
        ],
    )
    ledger_index: int = _f("Its ledger entry.", 40)


class AttestationRead(BaseModel):
    """An attestation."""

    id: int = _f("Its id.", 1720031145)
    verdict: str = _f("verified or not-verified.", "verified")
    note: str = _f("What was seen.", "Patrol 14 found OP-73 vacated.")
    delegation: str = _f("The verifier.", "UNDOF")
    author: str = _f("Who attested.", "undof.observer")
    attested_at: datetime = _f("When.", "2026-03-30T10:00:00Z")
    evidence: list[dict[str, Any]] = _f("Each file's name, type, size and SHA-256.", [])
    ledger_index: int = _f("Its ledger entry.", 88)


class MilestoneRead(BaseModel):
    """A milestone of the version in force (else the latest), with its status as the clock and the record make it."""

    key: str = _f("Its key.", "separation-north")
    title: dict[str, str] = _f("What it is.", {"en": "Withdrawal from the northern area of separation"})
    criterion: dict[str, str] = _f("How it is verified.", {"en": "No forces north of Quneitra; UNDOF confirms."})
    obligor: str = _f("Who must do it.", "IL")
    verifier: str = _f("Who attests it.", "UNDOF")
    zone: str | None = _f("The zone it concerns.", "area-of-separation")
    starts: datetime = _f("When its work begins.", "2026-03-02T00:00:00Z")
    due: datetime = _f("When it is due.", "2026-04-01T00:00:00Z")
    status: str = _f("pending, due, verified, overdue or disputed: derived, never set.", "due")
    attestations: list[AttestationRead] = _f("The verifier's attestations, oldest first.", [])
    dispute: int | None = _f("A live case about it.", None)


class AgreementRead(BaseModel):
    """An agreement: its versions with their binding state, the version in force and its milestones."""

    id: int = _f("Its id.", 1544093317)
    audience: str = _f("Who reads it.", "joint")
    title: str = _f("Its title in the authoritative language.", "Phased withdrawal timeline")
    latest_version: int = _f("Its latest version.", 2)
    in_force: int | None = _f("The latest version that binds (none yet: it does not bind).", 1)
    binds: bool = _f("Some version binds.", True)
    created_by: str = _f("Who proposed it.", "us.mediator")
    created_at: datetime = _f("When.", "2026-03-02T06:00:00Z")
    versions: list[VersionRead] = _f("Every version, with its binding state.", [])
    milestones: list[MilestoneRead] = _f("The milestones of the version in force (else the latest).", [])
    ledger_index: int = _f("Its latest ledger entry.", 90)


class AgreementPage(BaseModel):
    """Agreements, in the order of their latest entry."""

    items: list[AgreementRead] = Field(description="The agreements.")


class VersionDocument(BaseModel):
    """One version exactly as signed: its document, the digest of its canonical form and the message to sign."""

    agreement: int = _f("The agreement.", 1544093317)
    version: int = _f("The version.", 1)
    document: dict[str, Any] = _f("The version's document (its RFC 8785 canonical form is what is hashed).", {})
    digest: str = _f(
        "SHA-256 of the canonical document, hex.", "52c92bbb90562475d7ce68934b7c5c9cb898f5edd17ec1c7b4ae2e99594469a8"
    )
    signing_message: str | None = _f(
        "The exact text to sign (Ed25519), UTF-8, with the key asked for (`key_id`).",
        "fusioncell agreement signature\nfusioncell.example/paris-2026\nagreement 1544093317 version 1\nsha256 "
        "52c92bbb90562475d7ce68934b7c5c9cb898f5edd17ec1c7b4ae2e99594469a8\nkey sy.signatory+e7bce6f6\n",
    )

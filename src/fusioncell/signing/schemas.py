"""API shapes for signatories' keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from fusioncell.schemas import LINES, InputModel

VERIFIER_EXAMPLE = "sy.signatory+e7bce6f6+AcJPK237jv6t5lm0KbWddWaCd9wHr/Dl9bLbc5Dy+GZg"


class KeyRegister(InputModel):
    """The public half of your key, as `fusioncell keys new --signatory` printed it."""

    verifier: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(
        description="The verifier key: <your username>+<key ID>+<base64(0x01 ‖ Ed25519 public key)>.",
        examples=[VERIFIER_EXAMPLE],
    )


class KeyRevoke(InputModel):
    """Revoke a key from an instant: signatures it made from then on are void (the agreements they bound no longer
    bind on them)."""

    revoked_from: AwareDatetime | None = Field(
        default=None,
        description="From when (default: now). Its owner revokes it from now or later; the mediator also from a "
        "past instant (a key found to have been taken), never before the key was registered.",
        examples=["2026-03-02T06:00:00Z"],
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), LINES] = Field(
        description="Why, for the record.", examples=["The laptop holding it was lost on 1 March."]
    )


class KeyRead(BaseModel):
    """A signatory's key as the cell holds it."""

    key_id: str = Field(description="<name>+<key ID>.", examples=["sy.signatory+e7bce6f6"])
    username: str = Field(description="Whose key it is.", examples=["sy.signatory"])
    delegation: str = Field(description="Their delegation.", examples=["SY"])
    verifier: str = Field(description="The verifier key.", examples=[VERIFIER_EXAMPLE])
    state: str = Field(description="registered (awaiting approval), approved or revoked.", examples=["approved"])
    registered_at: datetime = Field(description="When registered.", examples=["2026-03-01T09:00:00Z"])
    approved_at: datetime | None = Field(
        description="When the mediator approved it.", examples=["2026-03-01T10:00:00Z"]
    )
    approved_by: str | None = Field(description="Who approved it.", examples=["us.mediator"])
    revoked_from: datetime | None = Field(description="Signatures from this instant on are void.", examples=[None])
    revocation_reason: str | None = Field(description="Why it was revoked.", examples=[None])
    ledger_index: int = Field(description="Its latest ledger entry.", examples=[12])


class KeyPage(BaseModel):
    """Keys."""

    items: list[KeyRead] = Field(description="The keys, in the order registered.")

"""Thin HTTP for signatories' keys: register yours, the mediator approves it, revoke it from an instant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from fusioncell.deps import CellDep, CurrentUser
from fusioncell.signing import service
from fusioncell.signing.models import SigningKey
from fusioncell.signing.schemas import KeyPage, KeyRead, KeyRegister, KeyRevoke

router = APIRouter(prefix="/api/v1", tags=["agreements"])

KeyId = Annotated[
    str,
    Path(min_length=3, max_length=200, pattern=r"^[a-z][a-z0-9._-]{1,63}\+[0-9a-f]{8}$", description="<name>+<key ID>"),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such key"},
    422: {"description": "Invalid input: the field and the reason"},
}


def key_read(key: SigningKey) -> KeyRead:
    return KeyRead(
        key_id=key.key_id,
        username=key.username,
        delegation=key.delegation,
        verifier=key.verifier,
        state=service.state_of(key),
        registered_at=key.registered_at,
        approved_at=key.approved_at,
        approved_by=key.approved_by,
        revoked_from=key.revoked_from,
        revocation_reason=key.revocation_reason,
        ledger_index=key.ledger_index,
    )


@router.post(
    "/keys",
    name="key_register",
    summary="Register the public half of your signing key (signatories)",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyRead,
    responses={**ERRORS, 409: {"description": "Registered already"}},
)
def register(body: KeyRegister, cell: CellDep, principal: CurrentUser) -> KeyRead:
    """Signatories: the verifier key `fusioncell keys new --signatory` printed (its private half stays on your
    machine), named for your username. It signs once the mediator has approved it (`fusioncell keys register` does
    this for you)."""
    with cell.command() as uow:
        key = service.register(cell=cell, uow=uow, principal=principal, verifier=body.verifier)
    return key_read(key)


@router.get(
    "/keys",
    name="keys_list",
    summary="Signatories' keys and their state",
    response_model=KeyPage,
    responses={401: ERRORS[401], 403: ERRORS[403]},
)
def list_keys(
    cell: CellDep,
    principal: CurrentUser,
    delegation: Annotated[str | None, Query(max_length=16, description="Only this delegation's.")] = None,
) -> KeyPage:
    """Every delegation that reads joint traffic reads every signatory's key: registered (awaiting the mediator),
    approved, or revoked from an instant. Anyone checking a signature needs them."""
    return KeyPage(
        items=[key_read(k) for k in service.list_keys(cell=cell, principal=principal, delegation=delegation)]
    )


@router.get(
    "/keys/{key_id}",
    name="key_read",
    summary="One signatory's key",
    response_model=KeyRead,
    responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]},
)
def get_key(key_id: KeyId, cell: CellDep, principal: CurrentUser) -> KeyRead:
    """The key with its state: registered, approved (since when, by whom) or revoked (from when, why)."""
    return key_read(service.get_key(cell=cell, principal=principal, key_id=key_id))


@router.post(
    "/keys/{key_id}/approve",
    name="key_approve",
    summary="Approve a signatory's key (the mediator)",
    response_model=KeyRead,
    responses={**ERRORS, 409: {"description": "Approved already, or revoked"}},
)
def approve(key_id: KeyId, cell: CellDep, principal: CurrentUser) -> KeyRead:
    """The mediator's officers, having checked the key with its owner by a second channel: from now on its signatures
    count."""
    with cell.command() as uow:
        key = service.approve(cell=cell, uow=uow, principal=principal, key_id=key_id)
    return key_read(key)


@router.post(
    "/keys/{key_id}/revoke",
    name="key_revoke",
    summary="Revoke a key from an instant (its owner, or the mediator)",
    response_model=KeyRead,
    responses={**ERRORS, 409: {"description": "Revoked already"}},
)
def revoke(key_id: KeyId, body: KeyRevoke, cell: CellDep, principal: CurrentUser) -> KeyRead:
    """From `revoked_from` (default now, perhaps in the past) its signatures are void: an agreement that bound only on
    such a signature no longer binds, and the version before it is in force again."""
    with cell.command() as uow:
        key = service.revoke(
            cell=cell, uow=uow, principal=principal, key_id=key_id, revoked_from=body.revoked_from, reason=body.reason
        )
    return key_read(key)

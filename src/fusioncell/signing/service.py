"""Signatories' keys: registered by their owner, approved by the mediator, revoked from an instant by the owner or
the mediator. Each a ledger entry under `signing-key:<key id>`, to every delegation that reads joint traffic: anyone
who checks a signature must know the key and its state."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork
from fusioncell.errors import Conflict, Forbidden, InvalidInput, NotFound
from fusioncell.ledger.note import ALG_ED25519, NoteError, Verifier
from fusioncell.policy import JOINT, Permission, Principal, authorize, can_read, has_permission, resolve_audience
from fusioncell.signing.models import SigningKey

MAX_AHEAD = timedelta(days=366)


def key_name(verifier: Verifier) -> str:
    return f"{verifier.name}+{verifier.id:08x}"


def state_of(key: SigningKey) -> str:
    if key.revoked_from is not None:
        return "revoked"
    return "approved" if key.approved_at is not None else "registered"


def may_sign_at(key: SigningKey, moment: datetime) -> bool:
    """Approved by then, and not revoked from then or before."""
    approved = key.approved_at is not None and key.approved_at <= moment
    return approved and (key.revoked_from is None or moment < key.revoked_from)


def _joint(cell: Cell):  # type: ignore[no-untyped-def]
    return resolve_audience(JOINT, cell.charter.roster)


def _readable(cell: Cell, principal: Principal) -> None:
    if not can_read(principal, _joint(cell)):
        raise Forbidden(f"{principal.username} reads no joint traffic, and so no signatory's key")


def register(*, cell: Cell, uow: UnitOfWork, principal: Principal, verifier: str) -> SigningKey:
    authorize(principal, Permission.SIGN, cell.charter.roster, audience=_joint(cell))
    try:
        parsed = Verifier.parse(verifier)
    except NoteError as exc:
        raise InvalidInput(f"not a verifier key: {exc}", field="verifier") from None
    if parsed.alg != ALG_ED25519:
        raise InvalidInput(
            "a signatory's key is an Ed25519 key (type 0x01): make it with `fusioncell keys new --signatory`",
            field="verifier",
        )
    if parsed.name != principal.username:
        raise InvalidInput(
            f"the key is named {parsed.name!r}: a signatory registers a key in their own name ({principal.username})",
            field="verifier",
        )
    key_id = key_name(parsed)
    if uow.session.get(SigningKey, key_id) is not None:
        raise Conflict(f"key {key_id} is registered already", key_id=key_id)
    public = parsed.public
    for other in uow.session.execute(select(SigningKey.verifier)).scalars():
        if Verifier.parse(other).public == public:
            # the same public key under two names would let one person's signature pass for another's
            raise Conflict("this public key is registered already, under another name: make a key of your own")
    now = cell.clock.now()
    key = SigningKey(
        key_id=key_id,
        username=principal.username,
        delegation=principal.delegation or "",
        verifier=str(parsed),
        registered_at=now,
        ledger_index=uow.next_ledger_index(),
    )
    uow.session.add(key)
    uow.record(
        action="key.registered",
        actor=principal,
        audience=_joint(cell),
        subject=f"signing-key:{key_id}",
        content={"key_id": key_id, "username": key.username, "delegation": key.delegation, "verifier": key.verifier},
    )
    return key


def _for_update(uow: UnitOfWork, key_id: str) -> SigningKey:
    key = uow.session.execute(
        select(SigningKey)
        .where(SigningKey.key_id == key_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no key {key_id}")
    return key


def approve(*, cell: Cell, uow: UnitOfWork, principal: Principal, key_id: str) -> SigningKey:
    """The mediator approves a registered key: it signs from now on."""
    authorize(principal, Permission.APPROVE_KEY, cell.charter.roster)
    key = _for_update(uow, key_id)
    if key.revoked_from is not None:
        raise Conflict(f"key {key_id} is revoked: it is never approved again", state="revoked")
    if key.approved_at is not None:
        raise Conflict(f"key {key_id} was approved at {key.approved_at.isoformat()}", state="approved")
    key.approved_at, key.approved_by = cell.clock.now(), principal.username
    key.ledger_index = uow.next_ledger_index()
    uow.record(
        action="key.approved",
        actor=principal,
        audience=_joint(cell),
        subject=f"signing-key:{key_id}",
        content={"key_id": key_id, "username": key.username, "delegation": key.delegation},
    )
    return key


def revoke(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, key_id: str, revoked_from: datetime | None, reason: str
) -> SigningKey:
    """Its owner revokes a key from now (or later); the mediator, from any instant since it was registered (a key
    found to have been taken): from then on it signs nothing, and what it signed from then on binds no one."""
    key = _for_update(uow, key_id)
    roster = cell.charter.roster
    if principal.username != key.username and not has_permission(principal, Permission.APPROVE_KEY, roster):
        raise Forbidden(f"key {key_id} is {key.username}'s: only they or the mediator revoke it")
    if key.revoked_from is not None:
        raise Conflict(f"key {key_id} is revoked from {key.revoked_from.isoformat()}", state="revoked")
    now = cell.clock.now()
    start = revoked_from or now
    mediator = has_permission(principal, Permission.APPROVE_KEY, roster)
    if start < now and not mediator:
        # a party backdating its own revocation would unsign what it signed since, on its word alone
        raise Forbidden(
            "only the mediator revokes a key from a past instant (a key found to have been taken): ask the mediator, "
            "or revoke it from now",
        )
    if start < key.registered_at:
        raise InvalidInput(
            f"the key was registered at {key.registered_at.isoformat()}: it cannot be revoked from before",
            field="revoked_from",
        )
    if start > now + MAX_AHEAD:
        raise InvalidInput("a revocation starts within a year from now", field="revoked_from")
    key.revoked_from, key.revoked_at, key.revoked_by, key.revocation_reason = start, now, principal.username, reason
    key.ledger_index = uow.next_ledger_index()
    uow.record(
        action="key.revoked",
        actor=principal,
        audience=_joint(cell),
        subject=f"signing-key:{key_id}",
        content={"key_id": key_id, "revoked_from": start, "reason": reason},
    )
    return key


def list_keys(*, cell: Cell, principal: Principal, delegation: str | None = None) -> list[SigningKey]:
    _readable(cell, principal)
    query = select(SigningKey).order_by(SigningKey.registered_at, SigningKey.key_id)
    if delegation is not None:
        query = query.where(SigningKey.delegation == delegation)
    with cell.reading() as session:
        return list(session.execute(query).scalars())


def get_key(*, cell: Cell, principal: Principal, key_id: str) -> SigningKey:
    _readable(cell, principal)
    with cell.reading() as session:
        key = session.get(SigningKey, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    return key

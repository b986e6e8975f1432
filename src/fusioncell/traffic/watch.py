"""The watch roster: who holds each delegation's watch, taken and handed over with a note, each step a ledger
entry that the delegation and the mediator read (the delegation's home audience).

"Duty officer" in the charter's escalation chain means whoever holds the watch; with no one on watch, every liaison
officer of the delegation. At most one shift of a delegation is open (a partial unique index holds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fusioncell.auth.models import User
from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.errors import Conflict, InvalidInput, NotFound
from fusioncell.policy import (
    PERMISSION_ROLES,
    DelegationKind,
    Permission,
    Principal,
    Role,
    authorize,
    can_read,
    has_permission,
    home_audience,
)
from fusioncell.traffic.models import WatchShift

KEEPING_KINDS = (DelegationKind.PARTY, DelegationKind.MEDIATOR)  # observers read; they keep no watch
KEEPING_ROLES = frozenset(role.value for role in PERMISSION_ROLES[Permission.KEEP_WATCH])


def subject_of(delegation: str) -> str:
    return f"watch:{delegation}"


def open_shift(session: Session, delegation: str, *, for_update: bool = False) -> WatchShift | None:
    query = select(WatchShift).where(WatchShift.delegation == delegation, WatchShift.ended_at.is_(None))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def _since(shift: WatchShift) -> str:
    return f"{shift.holder} holds it since {shift.taken_at.isoformat()}"


def _content(shift: WatchShift, **more: object) -> dict[str, object]:
    return {
        "shift_id": shift.id,
        "delegation": shift.delegation,
        "holder": shift.holder,
        "taken_at": shift.taken_at,
        "note": shift.taken_note,
        **more,
    }


def _begin(uow: UnitOfWork, delegation: str, holder: str, now: datetime, note: str | None) -> WatchShift:
    shift = WatchShift(
        id=fresh_id(uow.session, WatchShift),
        delegation=delegation,
        holder=holder,
        taken_at=now,
        taken_note=note,
        ledger_index=uow.next_ledger_index(),  # the entry recorded with it
    )
    uow.session.add(shift)
    try:
        uow.session.flush()
    except IntegrityError:  # another took it in the same instant (PostgreSQL: the other committed first)
        raise Conflict(f"someone else took {delegation}'s watch at this moment: reload and look again") from None
    return shift


def take_watch(*, cell: Cell, uow: UnitOfWork, principal: Principal, note: str | None) -> WatchShift:
    """Take the watch of your delegation; whoever held it is relieved (their shift ends, recorded with this)."""
    roster = cell.charter.roster
    authorize(principal, Permission.KEEP_WATCH, roster)
    delegation = principal.delegation or ""
    now = cell.clock.now()
    current = open_shift(uow.session, delegation, for_update=True)
    relieved = None
    if current is not None:
        if current.holder == principal.username:
            raise Conflict(f"you hold {delegation}'s watch already, since {current.taken_at.isoformat()}")
        current.ended_at, current.ended_by, relieved = now, principal.username, current.holder
        uow.session.flush()  # the open shift closes before the new one opens (one open shift per delegation)
    shift = _begin(uow, delegation, principal.username, now, note)
    uow.record(
        action="watch.taken",
        actor=principal,
        audience=home_audience(delegation, roster),
        subject=subject_of(delegation),
        content=_content(shift, relieved=relieved),
    )
    return shift


def hand_over(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, note: str, successor: str | None
) -> WatchShift | None:
    """End your watch with a handover note, to a named colleague (who holds it from now) or to no one (every
    liaison officer of the delegation is then its duty officer). The successor's shift, if any."""
    roster = cell.charter.roster
    authorize(principal, Permission.KEEP_WATCH, roster)
    delegation = principal.delegation or ""
    current = open_shift(uow.session, delegation, for_update=True)
    if current is None:
        raise Conflict(f"no one holds {delegation}'s watch: there is nothing to hand over (take it first)")
    if current.holder != principal.username:
        raise Conflict(f"you do not hold {delegation}'s watch: {_since(current)}")
    if successor is not None:
        _check_successor(uow.session, cell, principal, successor)
    now = cell.clock.now()
    current.ended_at, current.ended_by, current.handover_note = now, principal.username, note
    uow.session.flush()
    following = _begin(uow, delegation, successor, now, None) if successor is not None else None
    uow.record(
        action="watch.handed_over",
        actor=principal,
        audience=home_audience(delegation, roster),
        subject=subject_of(delegation),
        content={
            "shift_id": current.id,
            "delegation": delegation,
            "holder": current.holder,
            "taken_at": current.taken_at,
            "ended_at": now,
            "note": note,
            "successor": successor,
            "successor_shift_id": following.id if following else None,
        },
    )
    return following


def _check_successor(session: Session, cell: Cell, principal: Principal, successor: str) -> None:
    if successor == principal.username:
        raise InvalidInput("you cannot hand the watch over to yourself", field="to")
    user = session.execute(select(User).where(User.username == successor)).scalar_one_or_none()
    if user is None or user.delegation != principal.delegation or user.disabled:
        raise InvalidInput(f"{successor!r} is no active account of {principal.delegation}", field="to")
    colleague = Principal(successor, user.delegation, frozenset(Role(r) for r in user.roles), user.id)
    if not has_permission(colleague, Permission.KEEP_WATCH, cell.charter.roster):
        raise InvalidInput(
            f"{successor} cannot keep the watch: only liaison officers and the mediator's officers can", field="to"
        )


# -- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchState:
    delegation: str
    shift: WatchShift | None  # None: no one on watch; every liaison officer is the duty officer


def _known(cell: Cell, principal: Principal) -> list[str]:
    """The delegations whose watch the principal may know of: those whose home audience it reads."""
    roster = cell.charter.roster
    return [
        d.code
        for d in cell.charter.delegations
        if roster.kind(d.code) in KEEPING_KINDS and can_read(principal, home_audience(d.code, roster))
    ]


def board(*, cell: Cell, principal: Principal) -> list[WatchState]:
    """Who holds the watch, in each delegation the principal may know of (its own; the mediator, every one)."""
    codes = _known(cell, principal)
    if not codes:
        return []
    with cell.reading() as session:
        shifts = {
            s.delegation: s
            for s in session.execute(
                select(WatchShift).where(WatchShift.delegation.in_(codes), WatchShift.ended_at.is_(None))
            ).scalars()
            if _keeps(session, s.holder)
        }
    return [WatchState(code, shifts.get(code)) for code in codes]


def shift_log(*, cell: Cell, principal: Principal, delegation: str, before: int | None, limit: int) -> list[WatchShift]:
    """A delegation's shifts, newest first (paged by the ledger index that began each, before a given one)."""
    if delegation not in _known(cell, principal):
        raise NotFound(f"no watch of {delegation!r} that you may read")
    query = (
        select(WatchShift)
        .where(WatchShift.delegation == delegation)
        .order_by(WatchShift.ledger_index.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(WatchShift.ledger_index < before)
    with cell.reading() as session:
        return list(session.execute(query).scalars())


def holder(session: Session, delegation: str) -> str | None:
    """Who keeps the delegation's watch now: the open shift's holder, while their account may keep it (a holder
    disabled, or no longer a liaison officer, keeps nothing: every liaison officer is the duty officer again)."""
    shift = open_shift(session, delegation)
    return shift.holder if shift is not None and _keeps(session, shift.holder) else None


def _keeps(session: Session, username: str) -> bool:
    found = session.execute(select(User.disabled, User.roles).where(User.username == username)).first()
    return found is not None and not found.disabled and bool(KEEPING_ROLES & set(found.roles))


def is_duty_officer(principal: Principal, delegation: str, holder_name: str | None) -> bool:
    """Whether the principal is the delegation's duty officer, given who holds its watch (None: no one)."""
    if principal.delegation != delegation:
        return False
    if holder_name is not None:
        return holder_name == principal.username
    return Role.LIAISON in principal.roles

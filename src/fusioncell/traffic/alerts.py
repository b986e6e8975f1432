"""Alerts: what the mediator's officers and each delegation's duty officer must act on (an overdue acknowledgement's
escalation, a rejected read-back), and marking one handled.

An alert is readable by the audience of what it is about; it is *for* the people its role names in its target
delegation: `mediator`, the mediator's officers; `duty_officer`, whoever holds the delegation's watch (with no one
on watch, every liaison officer of it). Those are the ones who see it on their watch, count it in the navigation
and may mark it handled.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, func, select

from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.errors import Conflict, Forbidden, NotFound
from fusioncell.policy import Principal, Role, can_read, home_audience, readable_audiences, resolve_audience
from fusioncell.traffic import watch
from fusioncell.traffic.models import Alert
from fusioncell.traffic.service import visible_page

MEDIATOR_ROLE, DUTY_OFFICER_ROLE = "mediator", "duty_officer"


def raise_alerts(
    uow: UnitOfWork,
    *,
    kind: str,
    targets: list[tuple[str, str]],
    audience: str,
    subject: str,
    summary: str,
    index: int,
    message_id: int | None = None,
) -> list[str]:
    """One alert for each (delegation, role) target, readable by `audience`, about `subject`, under the command's
    ledger entry `index` (the caller records it); returns the delegations alerted, for that entry's content."""
    now = uow.clock.now()
    for target, role in targets:
        uow.session.add(
            Alert(
                id=fresh_id(uow.session, Alert),
                kind=kind,
                target=target,
                role=role,
                audience=audience,
                subject=subject,
                message_id=message_id,
                summary=summary,
                created_at=now,
                ledger_index=index,
            )
        )
    return [target for target, _ in targets]


def list_alerts(
    *, cell: Cell, principal: Principal, target: str | None, open_only: bool = False, after: int | None, limit: int
) -> list[Alert]:
    """The alerts the principal may read (by their audience), in the order raised."""
    conditions = [Alert.target == target] if target is not None else []
    if open_only:
        conditions.append(Alert.handled_at.is_(None))
    return visible_page(cell, principal, Alert, conditions, after=after, limit=limit)


def _roles_held(principal: Principal, holder: str | None) -> list[str]:
    """The alert roles the principal answers for in its own delegation."""
    roles = []
    if Role.MEDIATOR in principal.roles:
        roles.append(MEDIATOR_ROLE)
    if principal.delegation is not None and watch.is_duty_officer(principal, principal.delegation, holder):
        roles.append(DUTY_OFFICER_ROLE)
    return roles


def _for_principal(session: Any, cell: Cell, principal: Principal) -> ColumnElement[bool]:
    """The condition: alerts for this principal (in an audience it reads, its delegation targeted, a role it
    answers for), handled or not."""
    if principal.delegation is None:
        return false()
    roles = _roles_held(principal, watch.holder(session, principal.delegation))
    audiences = readable_audiences(principal, cell.charter.roster)
    if not roles or not audiences:
        return false()
    return (Alert.target == principal.delegation) & Alert.role.in_(roles) & Alert.audience.in_(audiences)


def alerts_for(*, cell: Cell, principal: Principal, open_only: bool, after: int | None, limit: int) -> list[Alert]:
    """The alerts for this principal, in the order raised (after a ledger index), the handled ones too unless
    `open_only`."""
    with cell.reading() as session:
        query = select(Alert).where(_for_principal(session, cell, principal))
        if open_only:
            query = query.where(Alert.handled_at.is_(None))
        if after is not None:
            query = query.where(Alert.ledger_index > after)
        return list(session.execute(query.order_by(Alert.ledger_index).limit(limit)).scalars())


def handling_visible(cell: Cell, principal: Principal, alert: Alert) -> bool:
    """Whether the principal may read who handled an alert and the note: the target delegation and the mediator."""
    return can_read(principal, home_audience(alert.target, cell.charter.roster))


def open_count(*, cell: Cell, principal: Principal) -> int:
    """How many alerts for this principal await handling: the count in the navigation."""
    with cell.reading() as session:
        return session.execute(
            select(func.count())
            .select_from(Alert)
            .where(_for_principal(session, cell, principal), Alert.handled_at.is_(None))
        ).scalar_one()


def handle(*, cell: Cell, uow: UnitOfWork, principal: Principal, alert_id: int, note: str | None) -> Alert:
    """Mark an alert handled, with an optional note of what was done; one ledger entry in the alert's audience."""
    roster = cell.charter.roster
    alert = uow.session.execute(
        select(Alert).where(Alert.id == alert_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if alert is None or not can_read(principal, resolve_audience(alert.audience, roster)):
        raise NotFound("no such alert")  # the same answer whether it does not exist or is not yours to see
    holder = watch.holder(uow.session, alert.target)
    if principal.delegation != alert.target or alert.role not in _roles_held(principal, holder):
        whom = "the mediator's officers" if alert.role == MEDIATOR_ROLE else f"{alert.target}'s duty officer"
        if holder and can_read(principal, home_audience(alert.target, roster)):  # who holds it: theirs to know
            whom += f" ({holder} holds the watch)"
        raise Forbidden(f"this alert is for {whom}: only they mark it handled")
    if alert.handled_at is not None:
        raise Conflict(
            f"{alert.handled_by} marked this alert handled at {alert.handled_at.isoformat()}",
            handled_by=alert.handled_by,
        )
    now = cell.clock.now()
    alert.handled_at, alert.handled_by, alert.handled_note = now, principal.username, note
    # who handled it and how is the handling delegation's own (and the mediator's): the other party reads that
    # the alert was handled, never by whom or the note (that would tell who keeps its watch, and what they did)
    uow.record(
        action="alert.handled",
        actor=principal,
        audience=home_audience(alert.target, roster),
        subject=f"message:{alert.message_id}" if alert.message_id is not None else f"alert:{alert.id}",
        content={"alert_id": alert.id, "kind": alert.kind, "target": alert.target, "role": alert.role, "note": note},
    )
    return alert

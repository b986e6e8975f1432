"""Escalation of what a delegation owes past its deadline: reminders, then the charter's chain of alerts.

A job per step (the scheduler's): each finds the delivery as it is now, under its row lock, and does nothing if the
delegation has since acknowledged or read back (or a later rejection began a new round with jobs of its own).
"""

from __future__ import annotations

from fusioncell.cell import Cell
from fusioncell.charter.model import EscalationTarget
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.policy import Principal, resolve_audience
from fusioncell.scheduler.models import Job
from fusioncell.traffic.models import Alert, Message
from fusioncell.traffic.service import delivery_for_update, owes, schedule_overdue

SYSTEM = Principal.system("scheduler")


def handle_ack_overdue(cell: Cell, uow: UnitOfWork, job: Job) -> None:
    """Re-notify an unacknowledged delegation, or take the next escalation step that has come due."""
    message_id, delegation = job.payload["message_id"], job.payload["delegation"]
    delivery = delivery_for_update(uow, message_id, delegation)
    if delivery is None or delivery.rejections != job.payload.get("rejections", 0) or not owes(delivery):
        return  # acknowledged or read back meanwhile (or a later rejection began a new round): nothing to record
    message = uow.session.get(Message, message_id)
    assert message is not None
    charter = cell.charter
    audience = resolve_audience(message.audience, charter.roster)
    chain = charter.escalation_chain(message.track)
    now = cell.clock.now()
    level = delivery.escalation_level
    step = chain[level] if level < len(chain) else None
    overdue_by = int((now - delivery.due_at).total_seconds())
    # what every step's entry says: which delivery, how late, in which round
    about = {"message_id": message.id, "delegation": delegation, "overdue_seconds": overdue_by,
             "rejections": delivery.rejections}  # fmt: skip
    owed = (
        f"read back {message.precedence} '{message.subject}' again after its read-back was rejected"
        if delivery.rejections
        else f"acknowledged {message.precedence} '{message.subject}'"
    )
    if step is not None and now >= delivery.due_at + step.after:
        level += 1
        delivery.escalation_level = level
        delivery.escalated_to = step.notify.value
        target, role = (
            (delegation, "duty_officer")
            if step.notify is EscalationTarget.DUTY_OFFICER
            else (charter.mediator_code, step.notify.value)
        )
        alert = Alert(
            id=fresh_id(uow.session, Alert),
            kind="ack_overdue",
            target=target,
            role=role,
            audience=audience.label,
            subject=f"message:{message.id}",
            message_id=message.id,
            summary=f"{delegation} has not {owed} ({overdue_by // 60} min overdue): "
            f"escalated to {step.notify.value.replace('_', ' ')}",
            created_at=now,
            ledger_index=-1,
        )
        uow.session.add(alert)
        uow.session.flush()
        entry = uow.record(
            action="message.escalated",
            actor=SYSTEM,
            audience=audience,
            subject=f"message:{message.id}",
            content=about | {"level": level, "notify": step.notify.value, "alert_id": alert.id},
        )
        alert.ledger_index = entry.index
    else:
        delivery.renotified += 1
        uow.record(
            action="message.renotified",
            actor=SYSTEM,
            audience=audience,
            subject=f"message:{message.id}",
            content=about | {"count": delivery.renotified},
        )
    if level >= len(chain):
        return  # the chain is done: the last step (the mediator) owns the matter now
    next_step_at = delivery.due_at + chain[level].after
    next_at = min(next_step_at, now + charter.renotify_interval)
    schedule_overdue(uow, message, delivery, max(next_at, now), delivery.renotified + level)

"""Disputes: one shared case per dispute, every side's statements on its one record, the mediator's finding.

Each act is a command with its ledger entry under the case's subject (`dispute:<id>`), so an evidence bundle about the
case holds its whole story. Each live stage has the charter's deadline, stored as a job; a stage overdue alerts whoever
owes it and the mediator, and escalates the case to the diplomatic track — once, whichever instance fires it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.deescalation import evidence
from fusioncell.deescalation.models import Incident
from fusioncell.disputes import states
from fusioncell.disputes.models import Dispute, DisputeEvidence, DisputeStatement
from fusioncell.disputes.states import Act, Owner, State
from fusioncell.errors import Conflict, Forbidden, InvalidInput, NotFound
from fusioncell.policy import (
    JOINT,
    MEDIATED_PREFIX,
    Audience,
    DelegationKind,
    Permission,
    Principal,
    authorize,
    can_read,
    has_permission,
    readable_audiences,
    resolve_audience,
)
from fusioncell.scheduler import service as scheduler
from fusioncell.traffic import alerts
from fusioncell.traffic.models import Clarification, Message

STAGE_OVERDUE = "dispute.stage_overdue"
SYSTEM = Principal.system("scheduler")


@dataclass(frozen=True)
class Opening:
    """What a new case holds, however it was opened (a person's complaint, or the cell's own for an overdue
    milestone)."""

    audience: str
    complainant: str
    respondent: str
    title: str
    complaint: str
    lang: str
    source_kind: str | None = None
    source_id: int | None = None
    about: str | None = None  # the ledger subject of the source: the case's entries are about it too
    files: Sequence[evidence.Checked] = ()


# -- reading ------------------------------------------------------------------------------------------------------


def _audience(cell: Cell, label: str) -> Audience:
    return resolve_audience(label, cell.charter.roster)


def readable_case(cell: Cell, session: Any, principal: Principal, dispute_id: int) -> Dispute:
    case = session.get(Dispute, dispute_id)
    if case is None or not can_read(principal, _audience(cell, case.audience)):
        raise NotFound(f"no dispute {dispute_id} that you may read")
    return case


def _case_for_update(cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int) -> Dispute:
    case = uow.session.execute(
        select(Dispute).where(Dispute.id == dispute_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if case is None or not can_read(principal, _audience(cell, case.audience)):
        raise NotFound(f"no dispute {dispute_id} that you may read")
    return case


def statements_of(cell: Cell, session: Any, principal: Principal, case: Dispute) -> list[DisputeStatement]:
    """The case's record as the principal may read it, oldest first: a statement narrower than its case reaches
    only its own audience."""
    readable = readable_audiences(principal, cell.charter.roster)
    return list(
        session.execute(
            select(DisputeStatement)
            .where(DisputeStatement.dispute_id == case.id, DisputeStatement.audience.in_(readable))
            .order_by(DisputeStatement.ledger_index, DisputeStatement.id)
        ).scalars()
    )


def get_case(*, cell: Cell, principal: Principal, dispute_id: int) -> tuple[Dispute, list[DisputeStatement]]:
    with cell.reading() as session:
        case = readable_case(cell, session, principal, dispute_id)
        return case, statements_of(cell, session, principal, case)


def list_cases(
    *,
    cell: Cell,
    principal: Principal,
    state: str | None = None,
    respondent: str | None = None,
    after: int | None = None,
    limit: int = 100,
    newest_first: bool = False,
) -> list[Dispute]:
    """The cases whose audience the principal reads, in the order of their latest entry (a case moves to the end
    of the list each time it changes: `after` asks for what changed since); `newest_first` for a page that shows the
    latest `limit`."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    query = select(Dispute).where(Dispute.audience.in_(audiences))
    if state is not None:
        query = query.where(Dispute.state == state)
    if respondent is not None:
        query = query.where(Dispute.respondent == respondent)
    if after is not None:
        query = query.where(Dispute.ledger_index > after)
    order = Dispute.ledger_index.desc() if newest_first else Dispute.ledger_index
    with cell.reading() as session:
        return list(session.execute(query.order_by(order).limit(limit)).scalars())


def evidence_file(*, cell: Cell, principal: Principal, dispute_id: int, statement_id: int, sha256: str) -> Any:
    with cell.reading() as session:
        readable_case(cell, session, principal, dispute_id)
        statement = session.get(DisputeStatement, statement_id)
        if (
            statement is None
            or statement.dispute_id != dispute_id
            or not can_read(principal, _audience(cell, statement.audience))
        ):
            raise NotFound(f"dispute {dispute_id} has no statement {statement_id} that you may read")
        found = session.get(DisputeEvidence, (statement_id, sha256))
        if found is None:
            raise NotFound(f"statement {statement_id} has no evidence file {sha256}")
        return found


def stage_of(case: Dispute) -> tuple[str, Owner] | None:
    return states.STAGES.get(State(case.state))


def owed_by(cell: Cell, case: Dispute) -> str | None:
    stage = stage_of(case)
    if stage is None:
        return None
    return case.respondent if stage[1] is Owner.RESPONDENT else cell.charter.mediator_code


def acts_for(cell: Cell, principal: Principal, case: Dispute) -> list[str]:
    """What the principal may do to the case now, as the page offers it."""
    roster = cell.charter.roster
    state = State(case.state)
    if not states.is_live(state) or principal.is_system:
        return []
    acts: list[str] = []
    if principal.delegation == case.respondent and has_permission(principal, Permission.ANSWER_DISPUTE, roster):
        acts += [a.value for a in (Act.ACKNOWLEDGE, Act.RESPOND) if a in states.allowed_acts(state)]
    if has_permission(principal, Permission.DECIDE_DISPUTE, roster):
        acts += [a.value for a in (Act.REVIEW, Act.RESOLVE) if a in states.allowed_acts(state)]
        acts += ["request-information", Act.ESCALATE.value]
    if principal.delegation == case.complainant and has_permission(principal, Permission.OPEN_DISPUTE, roster):
        acts.append(Act.WITHDRAW.value)
    if has_permission(principal, Permission.STATE_CASE, roster):
        acts.append("statement")
    return acts


# -- opening ------------------------------------------------------------------------------------------------------


def _lang(cell: Cell, lang: str | None) -> str:
    languages = cell.charter.languages
    if lang is None:
        return languages.authoritative
    if lang not in languages.supported:
        raise InvalidInput(
            f"language {lang!r} is not one of the charter's: {', '.join(languages.supported)}", field="lang"
        )
    return lang


def _check_respondent(cell: Cell, audience: Audience, complainant: str, respondent: str) -> None:
    roster = cell.charter.roster
    if roster.kind(respondent) is not DelegationKind.PARTY:
        parties = ", ".join(sorted(roster.codes(DelegationKind.PARTY)))
        raise InvalidInput(f"respondent {respondent!r} is not a party of the charter ({parties})", field="respondent")
    if respondent == complainant:
        raise InvalidInput("a party does not bring a case against itself", field="respondent")
    if respondent not in audience.members:
        raise InvalidInput(
            f"respondent {respondent} does not read audience {audience.label!r}: it could not answer",
            field="respondent",
        )


def _source(
    cell: Cell, uow: UnitOfWork, principal: Principal, body: Any, audience: Audience
) -> tuple[str, int, str] | None:
    """The incident or clarification the case arises from, which the opener must read; the case reaches no one
    its source does not."""
    if body.incident is not None and body.clarification is not None:
        raise InvalidInput("a case arises from an incident or a clarification, not both", field="clarification")
    if body.incident is not None:
        incident = uow.session.get(Incident, body.incident)
        if incident is None or not can_read(principal, _audience(cell, incident.audience)):
            raise InvalidInput(f"no incident {body.incident} that you may read", field="incident")
        source_audience, source = incident.audience, ("incident", incident.id, f"incident:{incident.id}")
    elif body.clarification is not None:
        found = uow.session.get(Clarification, body.clarification)
        message = uow.session.get(Message, found.message_id) if found is not None else None
        if message is None or not can_read(principal, _audience(cell, message.audience)):
            raise InvalidInput(f"no clarification {body.clarification} that you may read", field="clarification")
        source_audience, source = message.audience, ("clarification", found.id, f"message:{message.id}")  # type: ignore[union-attr]
    else:
        return None
    if not audience.members <= _audience(cell, source_audience).members:
        raise InvalidInput(
            f"{source[0]} {source[1]} is {source_audience}: a case about it goes to that audience, or a narrower one",
            field="audience",
        )
    return source


def open_case(*, cell: Cell, uow: UnitOfWork, principal: Principal, body: Any) -> Dispute:
    """A person opens a case: a party's liaison officers against another party, an observer, or the mediator."""
    roster = cell.charter.roster
    authorize(principal, Permission.OPEN_DISPUTE, roster)
    audience = _audience(cell, body.audience)
    if audience.label != JOINT and not audience.label.startswith(MEDIATED_PREFIX):
        raise InvalidInput(f"a case goes to 'joint' or to 'mediated:<party>', not {body.audience!r}", field="audience")
    authorize(principal, Permission.OPEN_DISPUTE, roster, audience=audience)
    complainant = principal.delegation or ""
    _check_respondent(cell, audience, complainant, body.respondent)
    lang = _lang(cell, body.lang)
    source = _source(cell, uow, principal, body, audience)
    if source is not None:
        _refuse_second_case(cell, uow, principal, source[0], source[1])
    files = evidence.decode(body.evidence)
    return open_for(
        cell=cell,
        uow=uow,
        actor=principal,
        opening=Opening(
            audience=audience.label,
            complainant=complainant,
            respondent=body.respondent,
            title=body.title,
            complaint=body.complaint,
            lang=lang,
            source_kind=source[0] if source else None,
            source_id=source[1] if source else None,
            about=source[2] if source else None,
            files=files,
        ),
    )


def live_case_for(cell: Cell, session: Any, principal: Principal, kind: str, source_id: int) -> Dispute | None:
    """A live case arising from this source that the principal reads, if there is one."""
    readable = readable_audiences(principal, cell.charter.roster)
    return session.execute(
        select(Dispute)
        .where(
            Dispute.source_kind == kind,
            Dispute.source_id == source_id,
            Dispute.state.in_([s.value for s in states.LIVE]),
            Dispute.audience.in_(readable),
        )
        .order_by(Dispute.ledger_index)
        .limit(1)
    ).scalar_one_or_none()


def _refuse_second_case(cell: Cell, uow: UnitOfWork, principal: Principal, kind: str, source_id: int) -> None:
    existing = live_case_for(cell, uow.session, principal, kind, source_id)
    if existing is not None:
        raise Conflict(
            f"dispute {existing.id} is already {existing.state} about {kind} {source_id}: add your statement to its "
            "record",
            dispute=existing.id,
        )


def open_for(
    *,
    cell: Cell,
    uow: UnitOfWork,
    actor: Principal,
    opening: Opening,
    alert: bool = True,
    alerted: list[str] | None = None,
) -> Dispute:
    """Open a case (its complaint as the first statement), alert the respondent's duty officer and the mediator
    (unless the caller raises alerts of its own in the same entry, naming whom in `alerted`), and start the
    acknowledgement's clock."""
    now = cell.clock.now()
    audience = _audience(cell, opening.audience)
    index = uow.next_ledger_index()
    case = Dispute(
        id=fresh_id(uow.session, Dispute),
        audience=audience.label,
        title=opening.title,
        complainant=opening.complainant,
        respondent=opening.respondent,
        opened_by=actor.username,
        opened_at=now,
        state=State.OPEN.value,
        round=0,
        source_kind=opening.source_kind,
        source_id=opening.source_id,
        about=opening.about,
        ledger_index=index,
    )
    uow.session.add(case)
    _start_stage(cell, uow, case, now)
    uow.session.flush()
    complaint = _add_statement(
        uow,
        case,
        by=actor,
        kind="complaint",
        audience=audience.label,
        lang=opening.lang,
        text=opening.complaint,
        files=opening.files,
        delegation=opening.complainant,
    )
    alerted = list(alerted or [])
    if alert:
        alerted = _alert(
            uow,
            case,
            kind="dispute_opened",
            targets=[(case.respondent, "duty_officer"), (cell.charter.mediator_code, "mediator")],
            summary=f"{case.complainant} opened dispute {case.id} against {case.respondent}: {case.title} "
            f"(to acknowledge by {_when(case.stage_due_at)})",
            index=index,
        )
    uow.record(
        action="dispute.opened",
        actor=actor,
        audience=audience,
        subject=f"dispute:{case.id}",
        content={
            "dispute": case.id,
            "title": case.title,
            "complainant": case.complainant,
            "respondent": case.respondent,
            "source": {"kind": case.source_kind, "id": case.source_id} if case.source_kind else None,
            "about": case.about,
            "stage": "acknowledge",
            "stage_due_at": case.stage_due_at,
            "statement": _statement_content(complaint),
            "alerted": alerted,
        },
    )
    return case


# -- acts on a case -----------------------------------------------------------------------------------------------


def acknowledge(*, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, note: str | None) -> Dispute:
    """The respondent's liaison officers acknowledge the case: the response's clock starts."""
    case = _case_for_update(cell, uow, principal, dispute_id)
    _as_respondent(cell, principal, case)
    now = _move(cell, uow, case, Act.ACKNOWLEDGE)
    case.acknowledged_at = now
    _record(cell, uow, principal, case, "dispute.acknowledged", {"note": note})
    return case


def respond(*, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, body: Any) -> Dispute:
    """The respondent's response, the second statement of the record; the mediator's clock to take it up starts."""
    case = _case_for_update(cell, uow, principal, dispute_id)
    _as_respondent(cell, principal, case)
    lang = _lang(cell, body.lang)
    files = evidence.decode(body.evidence)
    case.responded_at = _move(cell, uow, case, Act.RESPOND)
    statement = _add_statement(
        uow, case, by=principal, kind="response", audience=case.audience, lang=lang, text=body.text, files=files
    )
    _record(cell, uow, principal, case, "dispute.responded", {"statement": _statement_content(statement)})
    return case


def review(*, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, note: str | None) -> Dispute:
    """The mediator takes the case up: the finding's clock starts."""
    authorize(principal, Permission.DECIDE_DISPUTE, cell.charter.roster)
    case = _case_for_update(cell, uow, principal, dispute_id)
    case.review_started_at = _move(cell, uow, case, Act.REVIEW)
    _record(cell, uow, principal, case, "dispute.review_started", {"note": note})
    return case


def resolve(*, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, body: Any) -> Dispute:
    """The mediator's finding, with its reasons and (when the complaint is borne out) the remedy; the case closes."""
    authorize(principal, Permission.DECIDE_DISPUTE, cell.charter.roster)
    if body.finding == states.Finding.SUBSTANTIATED and body.remedy is None:
        raise InvalidInput("a substantiated complaint needs its remedy: what the respondent is to do", field="remedy")
    case = _case_for_update(cell, uow, principal, dispute_id)
    now = _move(cell, uow, case, Act.RESOLVE)
    case.closed_at, case.closed_by = now, principal.username
    case.finding, case.reasons, case.remedy = body.finding, body.reasons, body.remedy
    _record(
        cell,
        uow,
        principal,
        case,
        "dispute.resolved",
        {"finding": case.finding, "reasons": case.reasons, "remedy": case.remedy},
    )
    return case


def escalate(*, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, reason: str) -> Dispute:
    """The mediator sends the case up to the diplomatic track; it closes in the cell."""
    authorize(principal, Permission.DECIDE_DISPUTE, cell.charter.roster)
    case = _case_for_update(cell, uow, principal, dispute_id)
    from_state = case.state
    now = _move(cell, uow, case, Act.ESCALATE)
    case.closed_at, case.closed_by, case.reasons = now, principal.username, reason
    _record(cell, uow, principal, case, "dispute.escalated", {"from_state": from_state, "reason": reason})
    return case


def withdraw(*, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, reason: str) -> Dispute:
    """The complainant withdraws its case."""
    case = _case_for_update(cell, uow, principal, dispute_id)
    authorize(principal, Permission.OPEN_DISPUTE, cell.charter.roster)
    if principal.delegation != case.complainant:
        raise Forbidden(f"only {case.complainant}, which brought dispute {case.id}, may withdraw it")
    from_state = case.state
    now = _move(cell, uow, case, Act.WITHDRAW)
    case.closed_at, case.closed_by, case.reasons = now, principal.username, reason
    _record(cell, uow, principal, case, "dispute.withdrawn", {"from_state": from_state, "reason": reason})
    return case


def add_statement(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, body: Any
) -> tuple[Dispute, DisputeStatement]:
    """A statement for the record, in the case's audience or a narrower one the author reads; an answer to the
    mediator's request for information goes to the request's audience (or a narrower one)."""
    roster = cell.charter.roster
    authorize(principal, Permission.STATE_CASE, roster)
    case = _case_for_update(cell, uow, principal, dispute_id)
    if not states.is_live(case.state):
        raise Conflict(f"dispute {case.id} is {case.state}: a closed case takes no further statement", state=case.state)
    request = None
    if body.reply_to is not None:
        request = uow.session.get(DisputeStatement, body.reply_to)
        if (
            request is None
            or request.dispute_id != case.id
            or request.kind != "request"
            or not can_read(principal, _audience(cell, request.audience))
        ):
            raise InvalidInput(f"no request for information {body.reply_to} on dispute {case.id}", field="reply_to")
        if request.addressed_to != principal.delegation:
            raise InvalidInput(
                f"request {request.id} asks {request.addressed_to}, not {principal.delegation}", field="reply_to"
            )
    within = request.audience if request is not None else case.audience
    audience = _narrower(cell, principal, body.audience or within, within)
    lang = _lang(cell, body.lang)
    files = evidence.decode(body.evidence)
    statement = _add_statement(
        uow,
        case,
        by=principal,
        kind="information" if request is not None else "statement",
        audience=audience.label,
        lang=lang,
        text=body.text,
        files=files,
        reply_to=request.id if request is not None else None,
    )
    _touch(case, audience, statement.ledger_index)
    uow.record(
        action="dispute.statement",
        actor=principal,
        audience=audience,
        subject=f"dispute:{case.id}",
        content={"dispute": case.id, "statement": _statement_content(statement)},
    )
    return case, statement


def request_information(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, dispute_id: int, body: Any
) -> tuple[Dispute, DisputeStatement]:
    """The mediator asks a delegation that reads the case for information, due in the charter's period; its duty
    officer is alerted."""
    roster = cell.charter.roster
    authorize(principal, Permission.DECIDE_DISPUTE, roster)
    case = _case_for_update(cell, uow, principal, dispute_id)
    if not states.is_live(case.state):
        raise Conflict(f"dispute {case.id} is {case.state}: a closed case takes no further request", state=case.state)
    if roster.kind(body.addressed_to) in (None, DelegationKind.MEDIATOR):
        raise InvalidInput(f"{body.addressed_to!r} is not a delegation the mediator can ask", field="addressed_to")
    audience = _narrower(cell, principal, body.audience or case.audience, case.audience)
    if body.addressed_to not in audience.members:
        raise InvalidInput(
            f"{body.addressed_to} does not read audience {audience.label!r}: it could not answer", field="addressed_to"
        )
    lang = _lang(cell, body.lang)
    now = cell.clock.now()
    statement = _add_statement(
        uow,
        case,
        by=principal,
        kind="request",
        audience=audience.label,
        lang=lang,
        text=body.text,
        addressed_to=body.addressed_to,
        due_at=now + cell.charter.disputes.information,
    )
    index = statement.ledger_index
    _touch(case, audience, index)
    _alert(
        uow,
        case,
        kind="dispute_information",
        targets=[(body.addressed_to, "duty_officer")],
        summary=f"the mediator asks {body.addressed_to} for information on dispute {case.id} ({case.title}), due by "
        f"{_when(statement.due_at)}",
        index=index,
        audience=audience.label,
    )
    uow.record(
        action="dispute.information_requested",
        actor=principal,
        audience=audience,
        subject=f"dispute:{case.id}",
        content={"dispute": case.id, "statement": _statement_content(statement)},
    )
    return case, statement


# -- the clock ----------------------------------------------------------------------------------------------------


def handle_stage_overdue(cell: Cell, uow: UnitOfWork, job: Any) -> None:
    """A stage's deadline passed: unless the case has moved on since the job was set, alert whoever owes the stage
    and the mediator, and escalate the case to the diplomatic track."""
    case = uow.session.execute(
        select(Dispute)
        .where(Dispute.id == job.payload["dispute_id"])
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if case is None or case.round != job.payload["round"] or not states.is_live(case.state):
        return  # acted on in time (its next stage has a job of its own), or closed
    stage = stage_of(case)
    assert stage is not None
    deadline, owner = stage
    debtor = owed_by(cell, case)
    assert debtor is not None
    due_at = case.stage_due_at
    from_state = case.state
    now = cell.clock.now()
    index = uow.next_ledger_index()
    case.state = State.ESCALATED.value
    case.overdue_stage = deadline
    case.closed_at, case.closed_by = now, SYSTEM.username
    case.reasons = f"{states.AWAITING[State(from_state)]} was due at {_when(due_at)}"
    case.stage_due_at = None
    case.round += 1
    case.ledger_index = index
    mediator = cell.charter.mediator_code
    targets = [(debtor, "mediator" if debtor == mediator else "duty_officer")]
    if debtor != mediator:
        targets.append((mediator, "mediator"))
    alerted = _alert(
        uow,
        case,
        kind="dispute_overdue",
        targets=targets,
        summary=f"dispute {case.id} ({case.title}): {case.reasons}; escalated to the diplomatic track",
        index=index,
    )
    uow.record(
        action="dispute.escalated",
        actor=SYSTEM,
        audience=_audience(cell, case.audience),
        subject=f"dispute:{case.id}",
        content={
            "dispute": case.id,
            "state": case.state,
            "from_state": from_state,
            "overdue": deadline,
            "owed_by": debtor,
            "due_at": due_at,
            "about": case.about,
            "alerted": alerted,
        },
    )


# -- inside -------------------------------------------------------------------------------------------------------


def _as_respondent(cell: Cell, principal: Principal, case: Dispute) -> None:
    authorize(principal, Permission.ANSWER_DISPUTE, cell.charter.roster)
    if principal.delegation != case.respondent:
        raise Forbidden(
            f"dispute {case.id} is brought against {case.respondent}: only its liaison officers acknowledge and answer"
        )


def _narrower(cell: Cell, principal: Principal, label: str, within: str) -> Audience:
    """An audience the author reads, reaching no one beyond `within`."""
    audience = _audience(cell, label)
    authorize(principal, Permission.STATE_CASE, cell.charter.roster, audience=audience)
    if not audience.members <= _audience(cell, within).members:
        raise InvalidInput(
            f"audience {label!r} reaches beyond {within!r}: a statement goes to its case's audience or a narrower one",
            field="audience",
        )
    return audience


def _move(cell: Cell, uow: UnitOfWork, case: Dispute, act: Act) -> datetime:
    """Take the act's transition (409 naming the state if it does not apply), and run the new stage's clock."""
    case.state = states.next_state(case.state, act, dispute_id=case.id).value
    now = cell.clock.now()
    scheduler.cancel(uow, key=_job_key(case))
    case.round += 1
    _start_stage(cell, uow, case, now)
    return now


def _start_stage(cell: Cell, uow: UnitOfWork, case: Dispute, now: datetime) -> None:
    stage = stage_of(case)
    if stage is None:
        case.stage_due_at = None
        return
    period: timedelta = getattr(cell.charter.disputes.deadlines, stage[0])
    case.stage_due_at = now + period
    scheduler.schedule(
        uow,
        kind=STAGE_OVERDUE,
        key=_job_key(case),
        subject=f"dispute:{case.id}",
        due_at=case.stage_due_at,
        payload={"dispute_id": case.id, "round": case.round, "stage": stage[0]},
    )


def _job_key(case: Dispute) -> str:
    return f"dispute:{case.id}:{case.round}"


def _touch(case: Dispute, audience: Audience, index: int) -> None:
    """A statement in the case's own audience moves the case in the list (`after`); a narrower one does not, or
    the list would tell the others that something they cannot read was said."""
    if audience.label == case.audience:
        case.ledger_index = index


def _record(cell: Cell, uow: UnitOfWork, principal: Principal, case: Dispute, action: str, extra: dict) -> None:
    stage = stage_of(case)
    case.ledger_index = uow.next_ledger_index()
    uow.record(
        action=action,
        actor=principal,
        audience=_audience(cell, case.audience),
        subject=f"dispute:{case.id}",
        content={
            "dispute": case.id,
            "state": case.state,
            "stage": stage[0] if stage else None,
            "stage_due_at": case.stage_due_at,
            "about": case.about,
            **extra,
        },
    )


def _add_statement(
    uow: UnitOfWork,
    case: Dispute,
    *,
    by: Principal,
    kind: str,
    audience: str,
    lang: str,
    text: str,
    files: Sequence[evidence.Checked] = (),
    delegation: str | None = None,
    reply_to: int | None = None,
    addressed_to: str | None = None,
    due_at: datetime | None = None,
) -> DisputeStatement:
    """A statement on the case's record, made now by `by` (for `delegation`, default theirs), in this command's
    entry, with its evidence files."""
    statement = DisputeStatement(
        id=fresh_id(uow.session, DisputeStatement),
        dispute_id=case.id,
        audience=audience,
        kind=kind,
        delegation=delegation or by.delegation or "",
        author=by.username,
        made_at=uow.clock.now(),
        lang=lang,
        text=text,
        reply_to=reply_to,
        addressed_to=addressed_to,
        due_at=due_at,
        evidence=[f.record() for f in files],
        ledger_index=uow.next_ledger_index(),
    )
    uow.session.add(statement)
    uow.session.flush()
    for f in files:
        uow.session.add(
            DisputeEvidence(statement_id=statement.id, sha256=f.sha256, content_type=f.content_type, data=f.data)
        )
    return statement


def _statement_content(statement: DisputeStatement) -> dict[str, Any]:
    return {
        "id": statement.id,
        "kind": statement.kind,
        "delegation": statement.delegation,
        "lang": statement.lang,
        "text": statement.text,
        "reply_to": statement.reply_to,
        "addressed_to": statement.addressed_to,
        "due_at": statement.due_at,
        "evidence": statement.evidence,
    }


def _alert(
    uow: UnitOfWork,
    case: Dispute,
    *,
    kind: str,
    targets: list[tuple[str, str]],
    summary: str,
    index: int,
    audience: str | None = None,
) -> list[str]:
    """Alerts about the case, readable by its audience (or the narrower one given); the delegations alerted."""
    return alerts.raise_alerts(uow, kind=kind, targets=targets, audience=audience or case.audience,
                               subject=f"dispute:{case.id}", summary=summary, index=index)  # fmt: skip


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ") if moment else "-"

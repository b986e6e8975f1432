"""Thin HTTP for disputes: open a case, the acts on it (acknowledge, respond, take up, request information, find,
escalate, withdraw), statements with evidence, the case with its record, and how swiftly cases are settled."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from fusioncell.cell import Cell
from fusioncell.deescalation.routes import evidence_download
from fusioncell.deps import CellDep, CurrentUser
from fusioncell.disputes import metrics, service
from fusioncell.disputes.models import Dispute, DisputeStatement
from fusioncell.disputes.schemas import (
    DisputeCreate,
    DisputeMetrics,
    DisputeNote,
    DisputePage,
    DisputeRead,
    DisputeReason,
    FindingCreate,
    InformationRequest,
    ResponseCreate,
    StatementCreate,
    StatementRead,
)
from fusioncell.policy import Principal
from fusioncell.schemas import RowId

router = APIRouter(prefix="/api/v1", tags=["disputes"])

DisputeId = Annotated[RowId, Path(description="A dispute's id")]
StatementId = Annotated[RowId, Path(description="A statement's id")]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted (the act is another's: the respondent's, the mediator's, the complainant's)"},
    404: {"description": "No such case you may read"},
    422: {"description": "Invalid input: the field and the reason"},
}
ACT_ERRORS = {**ERRORS, 409: {"description": "The case's state does not allow the act: the state is named"}}


def statement_read(statement: DisputeStatement) -> StatementRead:
    return StatementRead(
        id=statement.id,
        dispute=statement.dispute_id,
        audience=statement.audience,
        kind=statement.kind,
        delegation=statement.delegation,
        author=statement.author,
        made_at=statement.made_at,
        lang=statement.lang,
        text=statement.text,
        reply_to=statement.reply_to,
        addressed_to=statement.addressed_to,
        due_at=statement.due_at,
        evidence=list(statement.evidence),
        ledger_index=statement.ledger_index,
    )


def dispute_read(
    cell: Cell, principal: Principal, case: Dispute, statements: list[DisputeStatement] | None = None
) -> DisputeRead:
    stage = service.stage_of(case)
    return DisputeRead(
        id=case.id,
        audience=case.audience,
        title=case.title,
        complainant=case.complainant,
        respondent=case.respondent,
        opened_by=case.opened_by,
        opened_at=case.opened_at,
        state=case.state,
        stage=stage[0] if stage else None,
        stage_due_at=case.stage_due_at,
        owed_by=service.owed_by(cell, case),
        overdue_stage=case.overdue_stage,
        source={"kind": case.source_kind, "id": case.source_id} if case.source_kind else None,
        acknowledged_at=case.acknowledged_at,
        responded_at=case.responded_at,
        review_started_at=case.review_started_at,
        closed_at=case.closed_at,
        closed_by=case.closed_by,
        finding=case.finding,
        reasons=case.reasons,
        remedy=case.remedy,
        acts=service.acts_for(cell, principal, case),
        ledger_index=case.ledger_index,
        statements=[statement_read(s) for s in statements] if statements is not None else None,
    )


def _whole(cell: Cell, principal: Principal, dispute_id: int) -> DisputeRead:
    case, statements = service.get_case(cell=cell, principal=principal, dispute_id=dispute_id)
    return dispute_read(cell, principal, case, statements)


@router.post(
    "/disputes",
    name="dispute_open",
    summary="Open a case against a party (a party's liaison officers, an observer, the mediator)",
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeRead,
    responses={**ERRORS, 409: {"description": "A case about the same incident or clarification is already open"}},
)
def open_dispute(body: DisputeCreate, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """The complaint (with up to five evidence files) is the first statement of the record. The respondent's duty
    officer and the mediator are alerted; the respondent acknowledges within the charter's deadline or the case is
    escalated to the diplomatic track. From an incident or a rejected read-back's clarification: the case reaches
    no one its source does not."""
    with cell.command() as uow:
        case = service.open_case(cell=cell, uow=uow, principal=principal, body=body)
    return _whole(cell, principal, case.id)


@router.get(
    "/disputes",
    name="disputes_list",
    summary="The cases you may read, in the order of their latest entry",
    response_model=DisputePage,
    responses={401: ERRORS[401]},
)
def list_disputes(
    cell: CellDep,
    principal: CurrentUser,
    state: Annotated[
        Literal["open", "acknowledged", "responded", "under-review", "resolved", "escalated", "withdrawn"] | None,
        Query(description="Only cases in this state."),
    ] = None,
    respondent: Annotated[str | None, Query(max_length=16, description="Only cases against this party.")] = None,
    after: Annotated[int | None, Query(ge=-1, le=2**62, description="After this ledger index (paging).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> DisputePage:
    """Each case with its stage and when the stage is due, without its record. A case moves to the end each time it
    changes: pass the last one's `ledger_index` as `after` for what changed since."""
    items = service.list_cases(
        cell=cell, principal=principal, state=state, respondent=respondent, after=after, limit=limit
    )
    return DisputePage(items=[dispute_read(cell, principal, c) for c in items])


@router.get(
    "/disputes/metrics",
    name="disputes_metrics",
    summary="How swiftly the cases you read are settled",
    response_model=DisputeMetrics,
    responses={401: ERRORS[401]},
)
def dispute_metrics(cell: CellDep, principal: CurrentUser) -> DisputeMetrics:
    """Time to acknowledge and to resolve (median, 90th percentile), open cases by age, over the cases you read."""
    return DisputeMetrics(**metrics.compute(cell=cell, principal=principal))


@router.get(
    "/disputes/{dispute_id}",
    name="dispute_read",
    summary="One case with its record, as you may read it",
    response_model=DisputeRead,
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def get_dispute(dispute_id: DisputeId, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """The case and its statements side by side in the order made: those narrower than the case only for their
    audience. 404 for a case you may not read, as for one that does not exist."""
    return _whole(cell, principal, dispute_id)


def _act(summary: str, name: str, description: str = "") -> Any:
    return router.post(
        f"/disputes/{{dispute_id}}/{name}",
        name=f"dispute_{name.replace('-', '_')}",
        summary=summary,
        response_model=DisputeRead,
        responses=ACT_ERRORS,
        description=description or None,
    )


@_act("Acknowledge a case brought against your party (its liaison officers)", "acknowledge")
def acknowledge(dispute_id: DisputeId, body: DisputeNote, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """Your party's liaison officers: open → acknowledged. The response is then due within the charter's deadline,
    or the case is escalated to the diplomatic track."""
    with cell.command() as uow:
        service.acknowledge(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, note=body.note)
    return _whole(cell, principal, dispute_id)


@_act("Answer a case brought against your party (its liaison officers)", "respond")
def respond(dispute_id: DisputeId, body: ResponseCreate, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """Acknowledged → responded: the response joins the record in the case's audience; the mediator takes the case
    up within the charter's deadline."""
    with cell.command() as uow:
        service.respond(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, body=body)
    return _whole(cell, principal, dispute_id)


@_act("Take a case up for a finding (the mediator)", "review")
def review(dispute_id: DisputeId, body: DisputeNote, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """The mediator's officers: responded → under-review. The finding is then due within the charter's deadline, or
    the case is escalated to the diplomatic track."""
    with cell.command() as uow:
        service.review(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, note=body.note)
    return _whole(cell, principal, dispute_id)


@_act("Record the finding, which resolves the case (the mediator)", "finding")
def find(dispute_id: DisputeId, body: FindingCreate, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """Under-review → resolved: substantiated (with the remedy), not-substantiated or inconclusive, and why."""
    with cell.command() as uow:
        service.resolve(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, body=body)
    return _whole(cell, principal, dispute_id)


@_act("Send a case up to the diplomatic track (the mediator)", "escalate")
def escalate(dispute_id: DisputeId, body: DisputeReason, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """The mediator's officers: any live case → escalated, with the reason; it closes in the cell. A stage overdue
    does the same by itself."""
    with cell.command() as uow:
        service.escalate(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, reason=body.reason)
    return _whole(cell, principal, dispute_id)


@_act("Withdraw a case your delegation brought", "withdraw")
def withdraw(dispute_id: DisputeId, body: DisputeReason, cell: CellDep, principal: CurrentUser) -> DisputeRead:
    """Your delegation's liaison officers (or observers, or the mediator's officers: whoever brought it): any live
    case → withdrawn, with the reason."""
    with cell.command() as uow:
        service.withdraw(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, reason=body.reason)
    return _whole(cell, principal, dispute_id)


@router.post(
    "/disputes/{dispute_id}/statements",
    name="dispute_statement",
    summary="Add a statement to a case's record, with evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=StatementRead,
    responses={**ERRORS, 409: {"description": "The case is closed"}},
)
def add_statement(dispute_id: DisputeId, body: StatementCreate, cell: CellDep, principal: CurrentUser) -> StatementRead:
    """Any side that reads the case: in its audience, or a narrower one (your party and the mediator alone). With
    `reply_to`, the answer to the mediator's request for information."""
    with cell.command() as uow:
        _, statement = service.add_statement(cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, body=body)
    return statement_read(statement)


@router.post(
    "/disputes/{dispute_id}/requests",
    name="dispute_request_information",
    summary="Ask a delegation for information on a case (the mediator)",
    status_code=status.HTTP_201_CREATED,
    response_model=StatementRead,
    responses={**ERRORS, 409: {"description": "The case is closed"}},
)
def request_information(
    dispute_id: DisputeId, body: InformationRequest, cell: CellDep, principal: CurrentUser
) -> StatementRead:
    """The request joins the record (due in the charter's period) and the delegation's duty officer is alerted; it
    answers with a statement `reply_to` the request."""
    with cell.command() as uow:
        _, statement = service.request_information(
            cell=cell, uow=uow, principal=principal, dispute_id=dispute_id, body=body
        )
    return statement_read(statement)


@router.get(
    "/disputes/{dispute_id}/statements/{statement_id}/evidence/{sha256}",
    name="dispute_evidence",
    summary="A statement's evidence file, by its SHA-256",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 401: ERRORS[401], 404: ERRORS[404]},
)
def get_evidence(
    dispute_id: DisputeId,
    statement_id: StatementId,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The file's SHA-256, hex")],
    cell: CellDep,
    principal: CurrentUser,
) -> Response:
    """The bytes as attached, for the statement's audience; downloaded, never shown in place."""
    found = service.evidence_file(
        cell=cell, principal=principal, dispute_id=dispute_id, statement_id=statement_id, sha256=sha256
    )
    return evidence_download(found.data, found.content_type, sha256)

"""The dispute pages: the cases with each stage's clock and how swiftly cases are settled (`/disputes`), opening a
case, and a case's one shared record (`/disputes/{id}`): the statements of each side side by side, their evidence,
the finding, and the acts the reader may take now. Both follow the stream. The same services as the API, as the
signed-in person, so the one visibility rule in `policy` decides what a page shows."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from fusioncell.cell import Cell
from fusioncell.deps import CellDep
from fusioncell.disputes import metrics, service, states
from fusioncell.disputes.models import Dispute
from fusioncell.disputes.schemas import (
    DisputeCreate,
    DisputeNote,
    DisputeReason,
    FindingCreate,
    InformationRequest,
    ResponseCreate,
    StatementCreate,
)
from fusioncell.errors import DomainError, NotFound
from fusioncell.policy import (
    DelegationKind,
    Permission,
    Principal,
    audience_labels,
    can_read,
    has_permission,
    readable_audiences,
    resolve_audience,
)
from fusioncell.schemas import RowId
from fusioncell.web.pages import (
    NavItem,
    add_nav,
    add_templates,
    display_name,
    live_context,
    msg,
    reader_language,
    render,
)
from fusioncell.web.session import SignedIn, WebSession, check_csrf

HERE = FilePath(__file__).parent
router = APIRouter(include_in_schema=False)
add_templates(HERE / "templates")


def _reads_any(cell: Cell, principal: Principal) -> bool:
    return bool(readable_audiences(principal, cell.charter.roster))


add_nav(NavItem(msg("Disputes"), "/disputes", order=40, shown=_reads_any))

STATE_LABELS = {
    "open": msg("open"),
    "acknowledged": msg("acknowledged"),
    "responded": msg("responded"),
    "under-review": msg("under review"),
    "resolved": msg("resolved"),
    "escalated": msg("escalated"),
    "withdrawn": msg("withdrawn"),
}
STAGE_LABELS = {
    "acknowledge": msg("Acknowledgement due"),
    "respond": msg("Response due"),
    "review": msg("To be taken up"),
    "decide": msg("Finding due"),
}
FINDINGS = {
    "substantiated": msg("Substantiated"),
    "not-substantiated": msg("Not substantiated"),
    "inconclusive": msg("Inconclusive"),
}
KINDS = {
    "complaint": msg("Complaint"),
    "response": msg("Response"),
    "statement": msg("Statement"),
    "request": msg("Request for information"),
    "information": msg("Information"),
}
AGES = {"<1d": msg("under a day"), "1-3d": msg("1 to 3 days"), "3-7d": msg("3 to 7 days"), ">7d": msg("over a week")}
SHOWN = {"live": msg("Live"), "closed": msg("Closed"), "all": msg("All")}
STATIC = {"disputes.css": "text/css"}
CaseId = Annotated[RowId, Path()]
Csrf = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=25_000)]
Line = Annotated[str, Form(max_length=500)]
Files = Annotated[list[UploadFile], File()]


@router.get("/disputes/static/{name}", name="web_disputes_static")
def static(name: str) -> Response:
    if name not in STATIC:
        raise NotFound(f"no file {name!r}")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


# -- what the pages show ----------------------------------------------------------------------------------------


def _names(cell: Cell, request: Request, session: WebSession) -> dict[str, Any]:
    lang, _ = reader_language(request, session)
    return {
        "delegation_names": {d.code: display_name(d.names, cell, lang) for d in cell.charter.delegations},
        "state_labels": STATE_LABELS,
        "stage_labels": STAGE_LABELS,
        "finding_labels": FINDINGS,
        "kind_labels": KINDS,
        "age_labels": AGES,
        "stage_of": service.stage_of,
        "language_names": {code: code for code in cell.charter.languages.supported},
    }


def _writable(cell: Cell, principal: Principal, within: str) -> list[str]:
    """The audiences the principal may put a statement in on a case of audience `within`: the case's own first."""
    roster = cell.charter.roster
    members = resolve_audience(within, roster).members
    labels = [
        label
        for label in audience_labels(roster)
        if can_read(principal, resolve_audience(label, roster)) and resolve_audience(label, roster).members <= members
    ]
    return sorted(labels, key=lambda label: label != within)


def _opening_choices(cell: Cell, principal: Principal) -> dict[str, Any]:
    """Against whom and into which audience the reader may open a case."""
    roster = cell.charter.roster
    own = principal.delegation or ""
    parties = sorted(roster.codes(DelegationKind.PARTY) - {own})
    # a party's case is joint (the one it is against must read it); the mediator may put one to a party alone
    audiences = ["joint"]
    if roster.kind(own) is DelegationKind.MEDIATOR:
        audiences += [f"mediated:{p}" for p in parties]
    return {"respondents": parties, "opening_audiences": audiences}


def _list_context(cell: Cell, session: WebSession, shown: str) -> dict[str, Any]:
    principal = session.principal
    cases = service.list_cases(cell=cell, principal=principal, limit=500, newest_first=True)
    if shown == "live":
        cases = [c for c in cases if states.is_live(c.state)]
    elif shown == "closed":
        cases = [c for c in cases if not states.is_live(c.state)]
    # the stage due soonest first; closed cases most recent first
    live = sorted((c for c in cases if c.stage_due_at is not None), key=lambda c: c.stage_due_at)
    closed = sorted((c for c in cases if c.stage_due_at is None), key=lambda c: c.ledger_index, reverse=True)
    return {
        "cases": [*live, *closed],
        "shown": shown,
        "figures": metrics.compute(cell=cell, principal=principal),
        "opens": has_permission(principal, Permission.OPEN_DISPUTE, cell.charter.roster),
        "owed_by": lambda c: service.owed_by(cell, c),
        **_opening_choices(cell, principal),
    }


def _case_context(cell: Cell, session: WebSession, dispute_id: int) -> dict[str, Any]:
    principal = session.principal
    case, record = service.get_case(cell=cell, principal=principal, dispute_id=dispute_id)
    mediator = cell.charter.mediator_code
    sides = {case.complainant: "complainant", case.respondent: "respondent"}
    open_requests = [
        s
        for s in record
        if s.kind == "request"
        and s.addressed_to == principal.delegation
        and not any(r.reply_to == s.id for r in record)
    ]
    return {
        "case": case,
        "record": [(s, sides.get(s.delegation, "others")) for s in record],
        "acts": service.acts_for(cell, principal, case),
        "owed": service.owed_by(cell, case),
        "stage": service.stage_of(case),
        "audiences": _writable(cell, principal, case.audience),
        "open_requests": open_requests,
        "askable": sorted(
            code for code in resolve_audience(case.audience, cell.charter.roster).members if code != mediator
        ),
        "written_in": cell.charter.languages.supported,
    }


def _page(request: Request, cell: Cell, session: WebSession, template: str, status: int = 200, error: str = "",
          **context: Any) -> Response:  # fmt: skip
    return render(request, template, cell=cell, session=session, status=status, error=error,
                  **live_context(cell), **_names(cell, request, session), **context)  # fmt: skip


def _case_page(
    request: Request, cell: Cell, session: WebSession, dispute_id: int, *, status: int = 200, error: str = ""
) -> Response:
    try:
        context = _case_context(cell, session, dispute_id)
    except NotFound:
        return render(request, "error.html", cell=cell, session=session, status=404, title="",
                      message=reader_language(request, session)[0].gettext("No such case that you may read."),
                      detail="")  # fmt: skip
    return _page(request, cell, session, "dispute_case.html", status=status, error=error, **context)


# -- pages --------------------------------------------------------------------------------------------------------


@router.get("/disputes", name="web_disputes")
def cases(
    request: Request, cell: CellDep, session: SignedIn, shown: Annotated[str, Query(max_length=10)] = "live"
) -> Response:
    return _page(request, cell, session, "disputes.html", **_list_context(cell, session, _shown(shown)))


@router.get("/disputes/live", name="web_disputes_live")
def cases_live(
    request: Request, cell: CellDep, session: SignedIn, shown: Annotated[str, Query(max_length=10)] = "live"
) -> Response:
    return _page(request, cell, session, "disputes_live.html", **_list_context(cell, session, _shown(shown)))


@router.get("/disputes/{dispute_id}", name="web_dispute")
def case_page(request: Request, cell: CellDep, session: SignedIn, dispute_id: CaseId) -> Response:
    return _case_page(request, cell, session, dispute_id)


@router.get("/disputes/{dispute_id}/live", name="web_dispute_live")
def case_live(request: Request, cell: CellDep, session: SignedIn, dispute_id: CaseId) -> Response:
    return render(request, "dispute_case_live.html", cell=cell, session=session,
                  **_names(cell, request, session), **_case_context(cell, session, dispute_id))  # fmt: skip


def _shown(value: str) -> str:
    return value if value in SHOWN else "live"


# -- forms --------------------------------------------------------------------------------------------------------


async def _uploads(files: list[UploadFile]) -> list[dict[str, str]]:
    """Files from a form, as the API's body carries them (each then checked by its bytes as the API checks it)."""
    out = []
    for upload in files:
        data = await upload.read()
        if not upload.filename and not data:
            continue  # the file input left empty
        out.append(
            {
                "filename": upload.filename or "evidence",
                "content_type": upload.content_type or "application/octet-stream",
                "content_base64": base64.b64encode(data).decode(),
            }
        )
    return out


def _body(model: type[BaseModel], fields: dict[str, Any]) -> Any:
    """A form's fields as the API's body (empty fields left out), or the first thing wrong with them."""
    return model.model_validate({k: v for k, v in fields.items() if v not in ("", None)})


def _invalid(invalid: ValidationError) -> str:
    first = invalid.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


async def _act(
    request: Request,
    cell: Cell,
    session: WebSession,
    csrf: str,
    dispute_id: int,
    model: type[BaseModel],
    fields: dict[str, Any],
    command: Callable[..., Any],
) -> Response:
    """Validate the form as the API would, run the command in its unit of work off the event loop, and go back to
    the case (303), or show the case again with the reason."""
    from starlette.concurrency import run_in_threadpool

    check_csrf(request, csrf, session.csrf)
    try:
        body = _body(model, fields)
    except ValidationError as invalid:
        return _case_page(request, cell, session, dispute_id, status=422, error=_invalid(invalid))

    def run() -> None:
        with cell.command() as uow:
            command(cell=cell, uow=uow, principal=session.principal, dispute_id=dispute_id, body=body)

    try:
        await run_in_threadpool(run)
    except DomainError as refused:
        return _case_page(request, cell, session, dispute_id, status=refused.status, error=refused.detail)
    return RedirectResponse(f"/disputes/{dispute_id}", status_code=303)


@router.post("/disputes", name="web_dispute_open")
async def open_case(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    csrf: Csrf,
    respondent: Annotated[str, Form(max_length=16)] = "",
    audience: Annotated[str, Form(max_length=64)] = "joint",
    title: Line = "",
    complaint: Text = "",
    lang: Annotated[str, Form(max_length=16)] = "",
    incident: Annotated[str, Form(max_length=12)] = "",
    evidence: Files = [],  # noqa: B006 - FastAPI's way to say no file
) -> Response:
    from starlette.concurrency import run_in_threadpool

    check_csrf(request, csrf, session.csrf)
    fields = {"respondent": respondent, "audience": audience, "title": title, "complaint": complaint, "lang": lang,
              "incident": incident, "evidence": await _uploads(evidence)}  # fmt: skip

    def failed(status: int, error: str) -> Response:
        return _page(request, cell, session, "disputes.html", status=status, error=error, form=fields,
                     **_list_context(cell, session, "live"))  # fmt: skip

    try:
        body = _body(DisputeCreate, fields)
    except ValidationError as invalid:
        return failed(422, _invalid(invalid))

    def run() -> Dispute:
        with cell.command() as uow:
            return service.open_case(cell=cell, uow=uow, principal=session.principal, body=body)

    try:
        case = await run_in_threadpool(run)
    except DomainError as refused:
        return failed(refused.status, refused.detail)
    return RedirectResponse(f"/disputes/{case.id}", status_code=303)


def _by_note(name: str) -> Callable[..., Any]:
    act = getattr(service, name)
    return lambda *, body, **kw: act(note=body.note, **kw)


def _by_reason(name: str) -> Callable[..., Any]:
    act = getattr(service, name)
    return lambda *, body, **kw: act(reason=body.reason, **kw)


@router.post("/disputes/{dispute_id}/acknowledge", name="web_dispute_acknowledge")
async def acknowledge(
    request: Request, cell: CellDep, session: SignedIn, dispute_id: CaseId, csrf: Csrf, note: Text = ""
) -> Response:
    return await _act(request, cell, session, csrf, dispute_id, DisputeNote, {"note": note}, _by_note("acknowledge"))


@router.post("/disputes/{dispute_id}/review", name="web_dispute_review")
async def review(
    request: Request, cell: CellDep, session: SignedIn, dispute_id: CaseId, csrf: Csrf, note: Text = ""
) -> Response:
    return await _act(request, cell, session, csrf, dispute_id, DisputeNote, {"note": note}, _by_note("review"))


@router.post("/disputes/{dispute_id}/escalate", name="web_dispute_escalate")
async def escalate(
    request: Request, cell: CellDep, session: SignedIn, dispute_id: CaseId, csrf: Csrf, reason: Text = ""
) -> Response:
    return await _act(request, cell, session, csrf, dispute_id, DisputeReason, {"reason": reason},
                      _by_reason("escalate"))  # fmt: skip


@router.post("/disputes/{dispute_id}/withdraw", name="web_dispute_withdraw")
async def withdraw(
    request: Request, cell: CellDep, session: SignedIn, dispute_id: CaseId, csrf: Csrf, reason: Text = ""
) -> Response:
    return await _act(request, cell, session, csrf, dispute_id, DisputeReason, {"reason": reason},
                      _by_reason("withdraw"))  # fmt: skip


@router.post("/disputes/{dispute_id}/respond", name="web_dispute_respond")
async def respond(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    dispute_id: CaseId,
    csrf: Csrf,
    text: Text = "",
    lang: Annotated[str, Form(max_length=16)] = "",
    evidence: Files = [],  # noqa: B006
) -> Response:
    fields = {"text": text, "lang": lang, "evidence": await _uploads(evidence)}
    return await _act(request, cell, session, csrf, dispute_id, ResponseCreate, fields, service.respond)


@router.post("/disputes/{dispute_id}/statements", name="web_dispute_statement")
async def statement(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    dispute_id: CaseId,
    csrf: Csrf,
    text: Text = "",
    lang: Annotated[str, Form(max_length=16)] = "",
    audience: Annotated[str, Form(max_length=64)] = "",
    reply_to: Annotated[str, Form(max_length=12)] = "",
    evidence: Files = [],  # noqa: B006
) -> Response:
    fields = {"text": text, "lang": lang, "audience": audience, "reply_to": reply_to,
              "evidence": await _uploads(evidence)}  # fmt: skip
    return await _act(request, cell, session, csrf, dispute_id, StatementCreate, fields, service.add_statement)


@router.post("/disputes/{dispute_id}/requests", name="web_dispute_request")
async def request_information(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    dispute_id: CaseId,
    csrf: Csrf,
    addressed_to: Annotated[str, Form(max_length=16)] = "",
    text: Text = "",
    audience: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    fields = {"addressed_to": addressed_to, "text": text, "audience": audience}
    return await _act(request, cell, session, csrf, dispute_id, InformationRequest, fields,
                      service.request_information)  # fmt: skip


@router.post("/disputes/{dispute_id}/finding", name="web_dispute_finding")
async def finding(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    dispute_id: CaseId,
    csrf: Csrf,
    outcome: Annotated[str, Form(max_length=24)] = "",
    reasons: Text = "",
    remedy: Text = "",
) -> Response:
    fields = {"finding": outcome, "reasons": reasons, "remedy": remedy}
    return await _act(request, cell, session, csrf, dispute_id, FindingCreate, fields, service.resolve)

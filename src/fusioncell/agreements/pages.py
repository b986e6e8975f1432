"""The agreement pages: the agreements the reader may read with whether each binds (`/agreements`), one agreement with
its timeline drawn as a Gantt chart, its milestones, versions and signatures, and the verifier's form to attest a
milestone (`/agreements/{id}`), both following the stream; and the compliance report (`/agreements/{id}/report`),
computed from the ledger at the checkpoint it names, with its JSON, CSV and PDF. The same services as the API, as
the signed-in person, so the one visibility rule in `policy` decides what a page shows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from babel import Locale as BabelLocale
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError

from fusioncell.agreements import gantt, service
from fusioncell.agreements.schemas import AgreementCreate, AttestationCreate
from fusioncell.cell import Cell
from fusioncell.deps import CellDep
from fusioncell.disputes.pages import Files, _body, _invalid, _uploads
from fusioncell.errors import DomainError, NotFound
from fusioncell.policy import DelegationKind, Permission, Principal, has_permission, readable_audiences
from fusioncell.schemas import RowId
from fusioncell.web.i18n import Language
from fusioncell.web.pages import NavItem, add_nav, add_templates, display_name, live_context, msg, reader_language
from fusioncell.web.pages import render as render_page
from fusioncell.web.session import SignedIn, WebSession, check_csrf

HERE = FilePath(__file__).parent
router = APIRouter(include_in_schema=False)
add_templates(HERE / "templates")
add_nav(NavItem(msg("Agreements"), "/agreements", order=45,
                shown=lambda cell, principal: bool(readable_audiences(principal, cell.charter.roster))))  # fmt: skip

STATUS_LABELS = {
    "pending": msg("pending"),
    "due": msg("due"),
    "verified": msg("verified"),
    "overdue": msg("overdue"),
    "disputed": msg("disputed"),
}
VERDICTS = {"verified": msg("Verified: done as agreed"), "not-verified": msg("Not verified")}
STATIC = {"agreements.css": "text/css"}
AgreementId = Annotated[RowId, Path()]
MilestoneKey = Annotated[str, Path(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]
Csrf = Annotated[str, Form(max_length=200)]


@router.get("/agreements/static/{name}", name="web_agreements_static")
def static(name: str) -> Response:
    if name not in STATIC:
        raise NotFound(f"no file {name!r}")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


# -- what the pages show ----------------------------------------------------------------------------------------


def _in(texts: dict[str, str], cell: Cell, lang: Language) -> str:
    return display_name(texts, cell, lang) if texts else ""


def _percent(x: float) -> str:
    return f"{x * 100:.3f}%"


def _names(cell: Cell, lang: Language) -> dict[str, Any]:
    names = {d.code: display_name(d.names, cell, lang) for d in cell.charter.delegations}
    return {
        "delegation_names": names,
        "names_of": lambda codes: ("، " if lang.code == "ar" else ", ").join(names.get(c, c) for c in codes),
        "moment": lambda iso: datetime.fromisoformat(iso),
        "language_name": lambda code: BabelLocale.parse(code).get_display_name(lang.locale) or code,
        "status_labels": STATUS_LABELS,
        "verdict_labels": VERDICTS,
        "text_in": lambda texts: _in(texts, cell, lang),
        "pct": _percent,
    }


def _timeline(view: service.AgreementView, cell: Cell, lang: Language, now: datetime) -> gantt.Layout:
    rows = []
    for m in view.milestones:
        said = m.attestations[-1] if m.attestations else None
        rows.append({
            "key": m.spec["key"], "title": _in(m.spec["title"], cell, lang), "starts": m.spec["starts"],
            "due": m.spec["due"], "status": m.status,
            "verified_at": said.attested_at if said is not None and said.verdict == "verified" else None,
        })  # fmt: skip
    return gantt.layout(rows, now, rtl=lang.direction == "rtl")


def _summary(view: service.AgreementView) -> dict[str, Any]:
    """A line of the list: how many milestones in each status, and the next one due."""
    counted = {s: sum(1 for m in view.milestones if m.status == s) for s in STATUS_LABELS}
    open_ = [m for m in view.milestones if m.status in ("pending", "due", "overdue")]
    following = min(open_, key=lambda m: m.spec["due"], default=None)
    return {"counted": counted, "next": following}


def _list_context(cell: Cell, session: WebSession, lang: Language) -> dict[str, Any]:
    principal = session.principal
    views = service.list_views(cell=cell, principal=principal, limit=200, newest_first=True)
    proposes = has_permission(principal, Permission.PROPOSE_AGREEMENT, cell.charter.roster)
    return {
        "views": [(v, _summary(v)) for v in views],
        "proposes": proposes,
        "timelines": cell.charter.agreements.timelines if proposes else [],
        "audiences": ["joint", *(f"mediated:{p}" for p in sorted(cell.charter.roster.codes(DelegationKind.PARTY)))],
    }


def _may_attest(cell: Cell, principal: Principal, view: service.AgreementView) -> set[str]:
    """The milestones the reader verifies, while the agreement binds."""
    if view.assessment.in_force is None or not has_permission(principal, Permission.ATTEST, cell.charter.roster):
        return set()
    return {m.spec["key"] for m in view.milestones if m.spec["verifier"] == principal.delegation}


def _agreement_context(cell: Cell, session: WebSession, lang: Language, agreement_id: int) -> dict[str, Any]:
    principal = session.principal
    view = service.get_view(cell=cell, principal=principal, agreement_id=agreement_id)
    states = {s.version: s for s in view.assessment.versions}
    shown = view.shown_version
    latest = view.agreement.latest_version  # the one to sign: never a superseded draft
    unsigned = [latest] if principal.delegation in states[latest].missing and latest != view.assessment.in_force else []
    return {
        "view": view,
        "agreement": view.agreement,
        "shown": shown,
        "document": shown.document,
        "states": states,
        "timeline": _timeline(view, cell, lang, cell.clock.now()),
        "attests": _may_attest(cell, principal, view),
        "to_sign": unsigned if has_permission(principal, Permission.SIGN, cell.charter.roster) else [],
    }


def _page(request: Request, cell: Cell, session: WebSession, template: str, *, status: int = 200, error: str = "",
          **context: Any) -> Response:  # fmt: skip
    lang, _ = reader_language(request, session)
    return render_page(request, template, cell=cell, session=session, status=status, error=error,
                       **live_context(cell), **_names(cell, lang), **context)  # fmt: skip


def _not_found(request: Request, cell: Cell, session: WebSession) -> Response:
    return render_page(request, "error.html", cell=cell, session=session, status=404, title="",
                       message=reader_language(request, session)[0].gettext("No such agreement that you may read."),
                       detail="")  # fmt: skip


def _agreement_page(request: Request, cell: Cell, session: WebSession, agreement_id: int, *, status: int = 200,
                    error: str = "") -> Response:  # fmt: skip
    lang, _ = reader_language(request, session)
    try:
        context = _agreement_context(cell, session, lang, agreement_id)
    except NotFound:
        return _not_found(request, cell, session)
    return _page(request, cell, session, "agreement.html", status=status, error=error, **context)


# -- pages --------------------------------------------------------------------------------------------------------


@router.get("/agreements", name="web_agreements")
def agreements(request: Request, cell: CellDep, session: SignedIn) -> Response:
    lang, _ = reader_language(request, session)
    return _page(request, cell, session, "agreements.html", **_list_context(cell, session, lang))


@router.get("/agreements/live", name="web_agreements_live")
def agreements_live(request: Request, cell: CellDep, session: SignedIn) -> Response:
    lang, _ = reader_language(request, session)
    return _page(request, cell, session, "agreements_live.html", **_list_context(cell, session, lang))


@router.get("/agreements/{agreement_id}", name="web_agreement")
def agreement(request: Request, cell: CellDep, session: SignedIn, agreement_id: AgreementId) -> Response:
    return _agreement_page(request, cell, session, agreement_id)


@router.get("/agreements/{agreement_id}/live", name="web_agreement_live")
def agreement_live(request: Request, cell: CellDep, session: SignedIn, agreement_id: AgreementId) -> Response:
    lang, _ = reader_language(request, session)
    return _page(request, cell, session, "agreement_live.html",
                 **_agreement_context(cell, session, lang, agreement_id))  # fmt: skip


@router.get("/agreements/{agreement_id}/report", name="web_agreement_report")
def compliance(request: Request, cell: CellDep, session: SignedIn, agreement_id: AgreementId) -> Response:
    """The report as of the newest signed checkpoint, in the reader's language where the agreement has it."""
    from fusioncell.agreements import report

    lang, _ = reader_language(request, session)
    try:
        found = report.compute(cell=cell, principal=session.principal, agreement_id=agreement_id, lang=lang.code)
    except NotFound:
        return _not_found(request, cell, session)
    return _page(request, cell, session, "agreement_report.html", report=found.data,
                 timeline=gantt.layout(found.data["milestones"], found.now, rtl=lang.direction == "rtl"))  # fmt: skip


# -- forms --------------------------------------------------------------------------------------------------------


@router.post("/agreements/{agreement_id}/milestones/{key}/attest", name="web_milestone_attest")
async def attest(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    agreement_id: AgreementId,
    key: MilestoneKey,
    csrf: Csrf,
    verdict: Annotated[str, Form(max_length=24)] = "",
    note: Annotated[str, Form(max_length=25_000)] = "",
    evidence: Files = [],  # noqa: B006 - FastAPI's way to say no file
) -> Response:
    """The verifier's word on a milestone, as the API takes it; back to the agreement (303), or the page again with
    the reason."""
    from starlette.concurrency import run_in_threadpool

    check_csrf(request, csrf, session.csrf)
    try:
        body = _body(AttestationCreate, {"verdict": verdict, "note": note, "evidence": await _uploads(evidence)})
    except ValidationError as invalid:
        return _agreement_page(request, cell, session, agreement_id, status=422, error=_invalid(invalid))

    def run() -> None:
        with cell.command() as uow:
            service.attest(cell=cell, uow=uow, principal=session.principal, agreement_id=agreement_id, key=key,
                           body=body)  # fmt: skip

    try:
        await run_in_threadpool(run)
    except DomainError as refused:
        return _agreement_page(request, cell, session, agreement_id, status=refused.status, error=refused.detail)
    return RedirectResponse(f"/agreements/{agreement_id}#milestone-{key}", status_code=303)


@router.post("/agreements/timelines", name="web_agreement_from_timeline")
async def from_timeline(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    csrf: Csrf,
    timeline: Annotated[str, Form(max_length=64)] = "",
    start: Annotated[str, Form(max_length=40)] = "",
    audience: Annotated[str, Form(max_length=64)] = "joint",
) -> Response:
    """The mediator proposes one of the charter's timelines, dated from a day, as a new agreement."""
    from starlette.concurrency import run_in_threadpool

    check_csrf(request, csrf, session.csrf)
    lang, _ = reader_language(request, session)

    def failed(status: int, error: str) -> Response:
        return _page(request, cell, session, "agreements.html", status=status, error=error,
                     **_list_context(cell, session, lang))  # fmt: skip

    try:
        day = datetime.fromisoformat(start if "T" in start else f"{start}T00:00:00+00:00")
        if day.tzinfo is None:
            raise ValueError("no time zone")
    except ValueError:
        return failed(422, f"start: {start!r} is not a date (YYYY-MM-DD)")

    def run() -> int:
        draft = AgreementCreate.model_validate(
            {**service.draft_from_timeline(cell, timeline, day), "audience": audience}
        )
        with cell.command() as uow:
            return service.propose(cell=cell, uow=uow, principal=session.principal, body=draft).id

    try:
        created = await run_in_threadpool(run)
    except OverflowError:
        return failed(422, f"start: {start!r} puts the timeline's dates past the calendar")
    except ValidationError as invalid:
        return failed(422, _invalid(invalid))
    except DomainError as refused:
        return failed(refused.status, refused.detail)
    return RedirectResponse(f"/agreements/{created}", status_code=303)

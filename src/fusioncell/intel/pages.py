"""The intelligence pages: what was released to the reader (as TAXII serves it, readable here too), the mediator's
queue (release, release with redactions, decline), a delegation's own submissions and drafts with their status,
submitting STIX from a form, and reporting a sighting of a released object. The same services as the API, as the
signed-in person: a delegation that submits nothing (an observer, an admin) sees only what it may read."""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fusioncell.cell import Cell
from fusioncell.deps import CellDep
from fusioncell.errors import DomainError, NotFound
from fusioncell.intel import service
from fusioncell.intel.markings import Tlp, tlp_of
from fusioncell.intel.models import IntelItem
from fusioncell.intel.schemas import IntelDecline, IntelDraftRevise, IntelSubmit, SightingCreate
from fusioncell.policy import DelegationKind, Permission, audience_labels, has_permission, readable_audiences
from fusioncell.schemas import RowId
from fusioncell.web.pages import NavItem, add_nav, add_templates, msg, render, translate
from fusioncell.web.session import SignedIn, check_csrf

router = APIRouter(include_in_schema=False)
add_templates(FilePath(__file__).parent / "templates")


def _reads_any(cell: Cell, principal: Any) -> bool:
    return bool(readable_audiences(principal, cell.charter.roster))


add_nav(NavItem(msg("Intelligence"), "/intel", order=50, shown=_reads_any))

STATES = ("draft", "submitted", "released", "redacted", "declined", "revoked", "discarded")
ItemId = Annotated[RowId, Path()]


def _object_row(obj: dict[str, Any]) -> dict[str, Any]:
    """What an officer needs to judge an object at a glance."""
    level = tlp_of(obj)
    return {
        "id": obj.get("id", ""),
        "type": obj.get("type", ""),
        "label": obj.get("name") or obj.get("value") or obj.get("relationship_type") or "",
        "detail": obj.get("pattern") or obj.get("description") or "",
        "tlp": level.label if level else "",
        "properties": sorted(k for k in obj if k not in service.UNREDACTABLE),
        "json": json.dumps(obj, indent=1, ensure_ascii=False),
    }


def _supersession(found: service.Supersession) -> dict[str, Any]:
    """A new version of an object submitted before, as the review shows it: each property's change, as JSON."""

    def shown(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False)

    return {
        "stix_id": found.stix_id,
        "order": found.order,
        "owner": found.owner,
        "base_item": found.base_item,
        "base_version": found.base_version,
        "base_state": found.base_state,
        "partial": found.partial,
        "rivals": found.rivals,
        "not_theirs": found.not_theirs,
        "changes": [
            {"name": c.name, "kind": c.kind, "before": shown(c.before), "after": shown(c.after)} for c in found.changes
        ],
    }


def _not_found(request: Request, cell: Cell, session: SignedIn) -> Response:
    return render(request, "error.html", cell=cell, session=session, status=404,
                  message=translate(request, "No such item that you may read."))  # fmt: skip


def _may_decide(cell: Cell, session: SignedIn) -> bool:
    return has_permission(session.principal, Permission.RELEASE_INTEL, cell.charter.roster)


def _submits(cell: Cell, session: SignedIn) -> bool:
    return has_permission(session.principal, Permission.SUBMIT_INTEL, cell.charter.roster)


def _sections(cell: Cell, session: SignedIn) -> dict[str, bool]:
    """Which of the intelligence pages this person has: what they read, the submissions, submitting."""
    principal = session.principal
    # submissions are a party's or the mediator's: an observer submits nothing, an admin reads nothing
    keeps_submissions = cell.charter.roster.kind(principal.delegation or "") in (
        DelegationKind.PARTY, DelegationKind.MEDIATOR) and _reads_any(cell, principal)  # fmt: skip
    return {"reviews": keeps_submissions, "submits": _submits(cell, session)}


@router.get("/intel", name="web_intel")
def queue(request: Request, cell: CellDep, session: SignedIn, state: Annotated[str | None, Query()] = None) -> Response:
    if not _sections(cell, session)["reviews"]:  # an observer submits nothing: what was released to it
        return RedirectResponse("/intel/released", status_code=303)
    chosen = state if state in STATES else None
    items = service.list_items(cell=cell, principal=session.principal, state=chosen, limit=200)
    return render(
        request,
        "intel_queue.html",
        cell=cell,
        session=session,
        items=items,
        # drafts are a delegation's own: the mediator's queue never holds another's
        states=[s for s in STATES if s not in service.DRAFT_STATES] if _may_decide(cell, session) else STATES,
        state=chosen,
        deciding=_may_decide(cell, session),
        tlp_label=lambda value: Tlp(value).label,
        **_sections(cell, session),
    )


def _item_page(
    request: Request, cell: Cell, session: SignedIn, item: IntelItem, *, status: int = 200, error: str | None = None
) -> Response:
    submitted = Tlp(item.tlp)
    superseded = [_supersession(s) for s in service.supersessions(cell=cell, principal=session.principal, item=item)]
    return render(
        request,
        "intel_item.html",
        cell=cell,
        session=session,
        status=status,
        item=item,
        error=error,
        objects=[_object_row(o) for o in json.loads(item.objects)],
        superseded=superseded,
        # another delegation's object in it: the release would be refused, so it is not offered
        releasable=not any(s["not_theirs"] for s in superseded),
        deciding=_may_decide(cell, session) and item.state == "submitted",
        audiences=audience_labels(cell.charter.roster),
        levels=[level for level in Tlp if level >= submitted],
        tlp_label=lambda value: Tlp(value).label,
        own_draft=item.state == "draft" and _submits(cell, session) and item.delegation == session.principal.delegation,
        draft_json=json.dumps(json.loads(item.objects), indent=2, ensure_ascii=False),
        **_sections(cell, session),
    )


@router.post("/intel/{item_id}/release", name="web_intel_release")
async def release(request: Request, cell: CellDep, session: SignedIn, item_id: ItemId) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")), session.csrf)
    withheld: dict[str, list[str]] = {}  # "withhold:<stix id>" = a property, one box each
    for key, value in form.multi_items():
        if key.startswith("withhold:") and isinstance(value, str) and value.strip():
            withheld.setdefault(key.removeprefix("withhold:"), []).append(value)
    tlp_text = str(form.get("tlp", ""))
    return _decide(
        request,
        cell,
        session,
        item_id,
        lambda uow: service.release(
            cell=cell,
            uow=uow,
            principal=session.principal,
            item_id=item_id,
            audience=str(form.get("audience", "")),
            tlp=Tlp.parse(tlp_text) if tlp_text else None,
            redactions=[(k, service.Redaction(remove=tuple(v))) for k, v in withheld.items()] or None,
        ),
    )


@router.post("/intel/{item_id}/decline", name="web_intel_decline")
def decline(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    item_id: ItemId,
    csrf: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    if not reason.strip():
        return _refused(
            request, cell, session, item_id, 422, translate(request, "Give the reason the submitter will read.")
        )
    try:  # the text rule, as the API's body applies it (fusioncell.text): the reason as stored, or why not
        reason = IntelDecline(reason=reason.strip()).reason
    except ValidationError as invalid:
        return _refused(request, cell, session, item_id, 422, invalid.errors()[0]["msg"])
    return _decide(
        request,
        cell,
        session,
        item_id,
        lambda uow: service.decline(
            cell=cell, uow=uow, principal=session.principal, item_id=item_id, reason=reason.strip()
        ),
    )


def _decide(request: Request, cell: Cell, session: SignedIn, item_id: int, act) -> Response:  # type: ignore[no-untyped-def]
    try:
        with cell.command() as uow:
            act(uow)
    except (DomainError, ValueError) as refused:
        status = refused.status if isinstance(refused, DomainError) else 422
        detail = refused.detail if isinstance(refused, DomainError) else str(refused)
        return _refused(request, cell, session, item_id, status, detail)
    return RedirectResponse(f"/intel/{item_id}", status_code=303)


def _refused(request: Request, cell: Cell, session: SignedIn, item_id: int, status: int, message: str) -> Response:
    try:
        item = service.get_item(cell=cell, principal=session.principal, item_id=item_id)
    except NotFound:
        return _not_found(request, cell, session)
    return _item_page(request, cell, session, item, status=status, error=message)


# ---- what was released to the reader --------------------------------------------------------------------------

RELEASED_PER_PAGE = 50


def _released_row(row: Any) -> dict[str, Any]:
    obj = json.loads(row.raw)
    level = tlp_of(obj)
    return {
        "stix_id": row.stix_id,
        "type": row.type,
        "label": obj.get("name") or obj.get("value") or obj.get("relationship_type") or "",
        "detail": obj.get("pattern") or obj.get("description") or "",
        "tlp": level.label if level else "",
        "audience": row.audience,
        "added": row.date_added,
        "json": json.dumps(obj, indent=1, ensure_ascii=False),
        "sightable": row.type not in ("sighting", "marking-definition", "identity"),
    }


@router.get("/intel/released", name="web_intel_released")
def released(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return _released_page(request, cell, session, after)


def _released_page(request: Request, cell: Cell, session: SignedIn, after: str | None, *, status: int = 200,
                   error: str = "") -> Response:  # fmt: skip
    try:
        page = service.released_objects(cell=cell, principal=session.principal, after=after,
                                        limit=RELEASED_PER_PAGE)  # fmt: skip
    except DomainError:  # a page token this reader was not given: the first page
        page = service.released_objects(cell=cell, principal=session.principal, after=None, limit=RELEASED_PER_PAGE)
    return render(
        request,
        "intel_released.html",
        cell=cell,
        session=session,
        status=status,
        objects=[_released_row(r) for r in page.rows],
        next_after=page.next_after,
        reads=_reads_any(cell, session.principal),
        error=error,
        **_sections(cell, session),
    )


@router.post("/intel/sightings", name="web_intel_sighting")
async def sighting(request: Request, cell: CellDep, session: SignedIn) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")), session.csrf)
    fields: dict[str, Any] = {"sighting_of": str(form.get("sighting_of", ""))}
    for name in ("count", "first_seen", "last_seen", "description"):
        value = str(form.get(name, "")).strip()
        if value:
            fields[name] = value if name != "first_seen" and name != "last_seen" else value + (
                "" if value.endswith("Z") or "+" in value[10:] else "Z")  # fmt: skip
    try:
        body = SightingCreate.model_validate(fields)
        with cell.command() as uow:
            item = service.report_sighting(
                cell=cell, uow=uow, principal=session.principal, sighting_of=body.sighting_of, count=body.count,
                first_seen=body.first_seen, last_seen=body.last_seen, description=body.description,
            )  # fmt: skip
    except ValidationError as invalid:
        return _released_page(request, cell, session, None, status=422, error=invalid.errors()[0]["msg"])
    except DomainError as refused:
        return _released_page(request, cell, session, None, status=refused.status, error=refused.detail)
    return RedirectResponse(f"/intel/{item.id}", status_code=303)


# ---- submitting and drafts ---------------------------------------------------------------------------------------


def _new_page(request: Request, cell: Cell, session: SignedIn, *, content: str = "", share: bool = False,
              status: int = 200, errors: list[str] | None = None) -> Response:  # fmt: skip
    return render(request, "intel_new.html", cell=cell, session=session, status=status, content=content,
                  share=share, errors=errors or [], **_sections(cell, session))  # fmt: skip


@router.get("/intel/new", name="web_intel_new")
def new(request: Request, cell: CellDep, session: SignedIn) -> Response:
    if not _submits(cell, session):
        return render(request, "error.html", cell=cell, session=session, status=403,
                      title=translate(request, msg("Not for this account")),
                      message=translate(request, msg("Only a delegation's analysts submit intelligence.")))  # fmt: skip
    return _new_page(request, cell, session)


def _problems(refused: DomainError) -> list[str]:
    """A refusal's every problem, one line each (STIX checks list them by object and property)."""
    listed = refused.extensions.get("errors")
    if isinstance(listed, list) and listed:
        return [f"{e.get('pointer') or e.get('field') or ''}: {e.get('reason') or e.get('detail') or e}"
                for e in listed]  # fmt: skip
    return [refused.detail]


def _parsed(request: Request, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        sentence = translate(request, msg("This is not JSON: %(reason)s (line %(line)s, column %(column)s)."))
        raise _NotJson(sentence % {"reason": bad.msg, "line": bad.lineno, "column": bad.colno}) from None


class _NotJson(Exception):
    pass


def _form_refusal(refused: _NotJson | ValidationError | DomainError) -> tuple[int, list[str]]:
    """A refused intelligence form, as the page says it: its status and every problem, one line each (where the
    JSON breaks off, each field the schema refused, each object and property the STIX checks refused)."""
    if isinstance(refused, _NotJson):
        return 422, [str(refused)]
    if isinstance(refused, ValidationError):
        return 422, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in refused.errors(include_url=False)]
    return refused.status, _problems(refused)


@router.post("/intel/new", name="web_intel_submit")
def submit(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    csrf: Annotated[str, Form(max_length=200)],
    content: Annotated[str, Form(max_length=1_000_000)],
    action: Annotated[str, Form(max_length=16)] = "submit",
    share_identity: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    share = bool(share_identity)
    try:
        body = IntelSubmit.model_validate({"stix": _parsed(request, content), "share_identity": share,
                                           "draft": action == "draft"})  # fmt: skip
        with cell.command() as uow:
            made = service.submit(cell=cell, uow=uow, principal=session.principal, body=body.stix,
                                  share_identity=body.share_identity, draft=body.draft)  # fmt: skip
    except (_NotJson, ValidationError, DomainError) as refused:
        status, errors = _form_refusal(refused)
        return _new_page(request, cell, session, content=content, share=share, status=status, errors=errors)
    return RedirectResponse(f"/intel/{made.item.id}", status_code=303)


@router.post("/intel/{item_id}/draft", name="web_intel_draft")
def draft(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    item_id: ItemId,
    csrf: Annotated[str, Form(max_length=200)],
    action: Annotated[str, Form(max_length=16)],
    content: Annotated[str, Form(max_length=1_000_000)] = "",
    share_identity: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A draft revised (its content replaced), submitted for review, or discarded."""
    check_csrf(request, csrf, session.csrf)
    principal = session.principal
    try:
        with cell.command() as uow:
            if action == "revise":
                body = IntelDraftRevise.model_validate({"stix": _parsed(request, content),
                                                        "share_identity": bool(share_identity)})  # fmt: skip
                service.revise_draft(cell=cell, uow=uow, principal=principal, item_id=item_id, body=body.stix,
                                     share_identity=body.share_identity)  # fmt: skip
            elif action == "submit":
                service.submit_draft(cell=cell, uow=uow, principal=principal, item_id=item_id)
            elif action == "discard":
                service.discard_draft(cell=cell, uow=uow, principal=principal, item_id=item_id)
            else:
                raise _NotJson(translate(request, msg("Choose what to do with the draft.")))
    except (_NotJson, ValidationError, DomainError) as refused:
        status, errors = _form_refusal(refused)
        return _refused(request, cell, session, item_id, status, "; ".join(errors))
    return RedirectResponse(f"/intel/{item_id}", status_code=303)


# last: a path of its own (/intel/released, /intel/new) is not an item's number
@router.get("/intel/{item_id}", name="web_intel_item")
def item_page(request: Request, cell: CellDep, session: SignedIn, item_id: ItemId) -> Response:
    try:
        item = service.get_item(cell=cell, principal=session.principal, item_id=item_id)
    except NotFound:
        return _not_found(request, cell, session)
    return _item_page(request, cell, session, item)

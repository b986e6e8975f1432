"""The watch screen: a liaison officer's traffic in the browser, live.

- `/watch`: what my delegation owes (overdue first, then by precedence and deadline, each with its countdown), the
  loops my delegation opened that are still open, the alerts for me, who holds the watch, and the traffic I may
  read, newest first. `/watch/live` is the part that changes, fetched again by the page's script whenever the
  stream brings something (fusioncell.js), so the page follows the cell without reloading.
- `/messages/{id}`: one message, its translations, each addressed delegation's loop, its glossary terms, and the
  forms to acknowledge with a read-back and to judge a read-back.
- `/compose`: a message or a reply, offering only what this person may send, with a client transaction id made
  with the form so that a double click or a resubmitted form sends one message.
- `/alerts`: the alerts for me, to mark handled.

Every form posts back here, checks its CSRF token, runs the same command as the API, and redirects (303) to the
page it came from; a refusal shows the page again with the reason, in the reader's language where we know it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fusioncell import text
from fusioncell.auth import service as accounts
from fusioncell.cell import Cell
from fusioncell.charter.model import Precedence
from fusioncell.deps import CellDep, MessageId
from fusioncell.errors import DomainError, NotFound
from fusioncell.policy import (
    DelegationKind,
    Permission,
    Principal,
    Role,
    audience_labels,
    can_read,
    has_permission,
    readable_audiences,
    resolve_audience,
)
from fusioncell.schemas import LedgerAfter, RowId
from fusioncell.traffic import alerts, screen, service, watch
from fusioncell.traffic.models import Alert, Message
from fusioncell.traffic.schemas import (
    AckCreate,
    AlertHandle,
    Marker,
    MessageCreate,
    Verdict,
    VerdictCreate,
    WatchHandOver,
    WatchTake,
)
from fusioncell.traffic.views import glossary_terms
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

router = APIRouter(include_in_schema=False)
add_templates(FilePath(__file__).parent / "templates")

# The loop's states as a person reads them (source strings of the catalogues).
DELIVERY_STATES = {
    "pending": msg("Not yet delivered"),
    "delivered": msg("Delivered"),
    "acknowledged": msg("Acknowledged"),
    "read_back": msg("Read back, awaiting verdict"),
    "confirmed": msg("Read-back confirmed"),
    "negative": msg("Read-back rejected"),
}
ALERT_KINDS = {
    "ack_overdue": msg("Overdue"),
    "readback_negative": msg("Read-back rejected"),
    "activity_conflict": msg("Activity conflict"),
    "dispute_opened": msg("Dispute opened"),
    "dispute_overdue": msg("Dispute overdue"),
    "dispute_information": msg("Information requested"),
    "milestone_overdue": msg("Milestone overdue"),
}
# where an alert's subject is shown (an alert about a message links to the message)
SUBJECT_PAGES = {"dispute": "/disputes/{}", "agreement": "/agreements/{}"}


def alert_link(alert: Alert) -> str | None:
    kind, _, ident = alert.subject.partition(":")
    page = SUBJECT_PAGES.get(kind)
    return page.format(ident) if page and ident.isdigit() else None


FIELD_LABELS = {
    "track": msg("Track"),
    "audience": msg("Audience"),
    "precedence": msg("Precedence"),
    "marker": msg("Marker"),
    "subject": msg("Subject"),
    "body": msg("Body"),
    "lang": msg("Language"),
    "translations": msg("Translations (optional)"),
    "addressed": msg("Who must acknowledge"),
}
MARKERS = {
    "INSTRUCTION": msg("Instruction"),
    "ADVICE": msg("Advice"),
    "WARNING": msg("Warning"),
    "INFORMATION": msg("Information"),
    "QUESTION": msg("Question"),
    "ANSWER": msg("Answer"),
    "REQUEST": msg("Request"),
    "INTENTION": msg("Intention"),
}


def _keeps_traffic(cell: Cell, principal: Principal) -> bool:
    """Whoever reads any traffic has a watch screen (an observer's holds joint traffic only, read-only)."""
    return bool(readable_audiences(principal, cell.charter.roster))


def _may_act(cell: Cell, principal: Principal) -> bool:
    return has_permission(principal, Permission.ACKNOWLEDGE, cell.charter.roster) and principal.delegation is not None


def _alert_count(cell: Cell, principal: Principal) -> int:
    return alerts.open_count(cell=cell, principal=principal)


add_nav(NavItem(msg("Watch"), "/watch", order=10, shown=_keeps_traffic))
add_nav(NavItem(msg("Alerts"), "/alerts", order=20, shown=_may_act, count=_alert_count))


# -- what the templates are given ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    text: str
    term: str | None = None  # a glossary term's id
    wordings: dict[str, str] | None = None


def highlighted(value: str, matches: Sequence[Any]) -> list[Segment]:
    """The text cut at the glossary terms found in it, for the page to mark them; whole, when the text holds
    direction controls or other marks (cutting there could split an isolate the page shows)."""
    if not matches or any(not isinstance(piece, str) for piece in text.segments(value, lines=True)):
        return [Segment(value)]
    out, last = [], 0
    for m in sorted(matches, key=lambda m: m.start):
        if m.start < last:
            continue  # overlapping finds: the first wins
        if m.start > last:
            out.append(Segment(value[last : m.start]))
        out.append(Segment(value[m.start : m.end], m.term, dict(m.wordings)))
        last = m.end
    if last < len(value):
        out.append(Segment(value[last:]))
    return out


def _names(cell: Cell, request: Request, session: WebSession) -> dict[str, Any]:
    """Delegations and tracks by their names in the reader's language."""
    lang, _ = reader_language(request, session)
    return {
        "delegation_names": {d.code: display_name(d.names, cell, lang) for d in cell.charter.delegations},
        "track_names": {t.id: display_name(t.names, cell, lang) for t in cell.charter.tracks},
        "state_labels": DELIVERY_STATES,
        "alert_kinds": ALERT_KINDS,
        "alert_link": alert_link,
        "marker_labels": MARKERS,
    }


def _received(request: Request, cell: Cell, principal: Principal, messages: Sequence[Message]) -> None:
    """Shown on this screen: a member's client has received them (as the API's inbox and the stream count it).
    Noted for the stream's batched writer, not waited for: the page does not pay for the write."""
    recorder = request.app.state.receipts
    receipts = service.pending_receipts(cell=cell, principal=principal, messages=messages)
    if receipts:
        from_thread.run_sync(lambda: [recorder.note(r) for r in receipts])


def _live_context(request: Request, cell: Cell, session: WebSession, before: int | None) -> dict[str, Any]:
    principal = session.principal
    owed = screen.owed(cell=cell, principal=principal)
    _received(request, cell, principal, [o.message for o in owed])
    traffic = screen.traffic(cell=cell, principal=principal, before=before)
    return {
        "owed": owed,
        "urgent": [o for o in owed if o.message.precedence in screen.URGENT],
        "open_loops": screen.open_loops(cell=cell, principal=principal),
        "traffic": traffic,
        "before": before,
        "older": traffic[-1].ledger_index if len(traffic) == screen.TRAFFIC_PAGE else None,
        "my_alerts": alerts.alerts_for(cell=cell, principal=principal, open_only=True, after=None, limit=100),
        "board": watch.board(cell=cell, principal=principal),
        "acting": _may_act(cell, principal),
        "keeps_watch": has_permission(principal, Permission.KEEP_WATCH, cell.charter.roster),
        "now": cell.clock.now(),
    }


def _colleagues(cell: Cell, session: WebSession) -> list[str]:
    """Who the watch may be handed over to: the delegation's other active liaison (or mediator's) officers."""
    principal = session.principal
    return [
        u.username
        for u in accounts.list_users(cell=cell, delegation=principal.delegation)
        if not u.disabled
        and u.username != principal.username
        and ({Role.LIAISON.value, Role.MEDIATOR.value} & set(u.roles))
    ]


# -- the watch ------------------------------------------------------------------------------------------------


Before = Annotated[LedgerAfter | None, Query(description="traffic recorded before this ledger index")]


@router.get("/watch", name="web_watch")
def watch_page(request: Request, cell: CellDep, session: SignedIn, before: Before = None) -> Response:
    if not _keeps_traffic(cell, session.principal):
        return _refused(request, cell, session, msg("Your account reads no traffic: there is no watch for it."))
    return _watch(request, cell, session, before)


def _live_page(
    request: Request, cell: Cell, session: WebSession, template: str, *, status: int, error: str, **context: Any
) -> Response:
    """A page that follows the stream: where its stream starts (the ledger's head as the page is drawn), the
    heartbeat its watchdog waits for, and the names in the reader's language."""
    return render(request, template, cell=cell, session=session, status=status, error=error,
                  **live_context(cell), **_names(cell, request, session), **context)  # fmt: skip


def _watch(
    request: Request, cell: Cell, session: WebSession, before: int | None, *, status: int = 200, error: str = ""
) -> Response:
    return _live_page(request, cell, session, "traffic_watch.html", status=status, error=error,
                      colleagues=_colleagues(cell, session), holding=_holding(cell, session),
                      shifts=_shift_log(cell, session), **_live_context(request, cell, session, before))  # fmt: skip


def _shift_log(cell: Cell, session: WebSession) -> list[Any]:
    """The latest shifts of the reader's own delegation, with the notes they were taken and handed over with."""
    delegation = session.principal.delegation
    if delegation is None or not has_permission(session.principal, Permission.KEEP_WATCH, cell.charter.roster):
        return []
    return watch.shift_log(cell=cell, principal=session.principal, delegation=delegation, before=None, limit=8)


def _holding(cell: Cell, session: WebSession) -> bool:
    """Whether the signed-in person holds their delegation's watch."""
    with cell.reading() as db:
        return watch.holder(db, session.principal.delegation or "") == session.principal.username


@router.get("/watch/live", name="web_watch_live")
def watch_live(request: Request, cell: CellDep, session: SignedIn, before: Before = None) -> Response:
    """The part of the watch that changes, for the page's script to swap in place."""
    if not _keeps_traffic(cell, session.principal):
        return _refused(request, cell, session, msg("Your account reads no traffic: there is no watch for it."))
    return render(request, "traffic_watch_live.html", cell=cell, session=session,
                  **_names(cell, request, session), **_live_context(request, cell, session, before))  # fmt: skip


Note = Annotated[str, Form(max_length=5000)]
Csrf = Annotated[str, Form(max_length=200)]


@router.post("/watch/take", name="web_watch_take")
def take_watch(request: Request, cell: CellDep, session: SignedIn, csrf: Csrf, note: Note = "") -> Response:
    check_csrf(request, csrf, session.csrf)
    try:  # the API's own body, so the text rule holds here too
        body = WatchTake.model_validate({"note": _clean(note)})
    except ValidationError as invalid:
        return _watch(request, cell, session, None, status=422, error=_invalid(invalid))

    def command() -> None:
        with cell.command() as uow:
            watch.take_watch(cell=cell, uow=uow, principal=session.principal, note=body.note)

    return _then(request, cell, session, command, "/watch")


@router.post("/watch/hand-over", name="web_watch_hand_over")
def hand_over(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    csrf: Csrf,
    note: Note = "",
    to: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    if not _clean(note):
        return _watch(request, cell, session, None, status=422,
                      error=_t(request, session, msg("Write a handover note: what is open, what is due.")))  # fmt: skip

    try:
        body = WatchHandOver.model_validate({"note": note, "to": _clean(to)})
    except ValidationError as invalid:
        return _watch(request, cell, session, None, status=422, error=_invalid(invalid))

    def command() -> None:
        with cell.command() as uow:
            watch.hand_over(cell=cell, uow=uow, principal=session.principal, note=body.note, successor=body.to)

    return _then(request, cell, session, command, "/watch")


# -- one message ----------------------------------------------------------------------------------------------


def _message_context(cell: Cell, request: Request, session: WebSession, message: Message) -> dict[str, Any]:
    principal = session.principal
    terms = glossary_terms(cell, audience=message.audience, subject=message.subject, body=message.body)
    mine = next((d for d in message.deliveries if d.delegation == principal.delegation), None)
    sender_side = principal.delegation == message.sender_delegation and _may_act(cell, principal)
    return {
        "message": message,
        "subject_segments": highlighted(message.subject, [t for t in terms if t.field == "subject"]),
        "body_segments": highlighted(message.body, [t for t in terms if t.field == "body"]),
        "terms": _unique_terms(terms),
        "mine": mine,
        "may_acknowledge": mine is not None and _may_act(cell, principal) and mine.state in service.OWING_STATES,
        "may_read_back_again": mine is not None and _may_act(cell, principal) and mine.state == "acknowledged",
        "awaiting_verdict": [d for d in message.deliveries if d.state == "read_back"] if sender_side else [],
        "replies": screen.replies(cell=cell, principal=principal, message_id=message.id),
        "may_reply": has_permission(principal, Permission.SEND_MESSAGE, cell.charter.roster),
        "parent": _parent(cell, principal, message),
        "now": cell.clock.now(),
    }


def _unique_terms(terms: Sequence[Any]) -> list[Any]:
    seen, out = set(), []
    for t in terms:
        if t.term not in seen:
            seen.add(t.term)
            out.append(t)
    return out


def _parent(cell: Cell, principal: Principal, message: Message) -> Message | None:
    if message.reply_to_id is None:
        return None
    try:
        return service.get_message(cell=cell, principal=principal, message_id=message.reply_to_id)
    except NotFound:
        return None


def _message_page(
    request: Request, cell: Cell, session: WebSession, message_id: int, *, status: int = 200, error: str = ""
) -> Response:
    try:
        message = service.get_message(cell=cell, principal=session.principal, message_id=message_id)
    except NotFound:
        return _not_found(request, cell, session)
    _received(request, cell, session.principal, [message])
    return _live_page(request, cell, session, "traffic_message.html", status=status, error=error,
                      **_message_context(cell, request, session, message))  # fmt: skip


@router.get("/messages/{message_id}", name="web_message")
def message_page(request: Request, cell: CellDep, session: SignedIn, message_id: MessageId) -> Response:
    return _message_page(request, cell, session, message_id)


@router.get("/messages/{message_id}/live", name="web_message_live")
def message_live(request: Request, cell: CellDep, session: SignedIn, message_id: MessageId) -> Response:
    try:
        message = service.get_message(cell=cell, principal=session.principal, message_id=message_id)
    except NotFound:
        return _not_found(request, cell, session)
    return render(request, "traffic_message_live.html", cell=cell, session=session, error="",
                  **_names(cell, request, session), **_message_context(cell, request, session, message))  # fmt: skip


@router.post("/messages/{message_id}/ack", name="web_message_ack")
def acknowledge(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    message_id: MessageId,
    csrf: Csrf,
    readback: Annotated[str, Form(max_length=20_000)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    try:
        body = AckCreate.model_validate({"readback": _clean(readback)})
    except ValidationError as invalid:
        return _message_page(request, cell, session, message_id, status=422, error=_invalid(invalid))

    def command() -> None:
        with cell.command() as uow:
            service.acknowledge(cell=cell, uow=uow, principal=session.principal, message_id=message_id,
                                readback=body.readback)  # fmt: skip

    page = "/watch" if back == "/watch" else f"/messages/{message_id}"
    return _then(request, cell, session, command, page, message_id=message_id)


@router.post("/messages/{message_id}/verdict", name="web_message_verdict")
def verdict(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    message_id: MessageId,
    csrf: Csrf,
    decision: Annotated[str, Form(max_length=16)],
    delegation: Annotated[str, Form(max_length=16)],
    note: Note = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    if decision not in (Verdict.CONFIRMED.value, Verdict.NEGATIVE.value):
        return _message_page(request, cell, session, message_id, status=422,
                             error=_t(request, session, msg("Choose confirm or reject.")))  # fmt: skip
    if decision == Verdict.NEGATIVE.value and not _clean(note):
        reason = msg("Say what the read-back got wrong, so that they can read it back right.")
        return _message_page(request, cell, session, message_id, status=422, error=_t(request, session, reason))

    try:
        body = VerdictCreate.model_validate({"verdict": decision, "note": _clean(note), "delegation": delegation})
    except ValidationError as invalid:
        return _message_page(request, cell, session, message_id, status=422, error=_invalid(invalid))

    def command() -> None:
        with cell.command() as uow:
            service.judge_readback(cell=cell, uow=uow, principal=session.principal, message_id=message_id,
                                   verdict=body.verdict, note=body.note, delegation=body.delegation)  # fmt: skip

    return _then(request, cell, session, command, f"/messages/{message_id}", message_id=message_id)


# -- compose --------------------------------------------------------------------------------------------------


def _writable_audiences(cell: Cell, principal: Principal) -> list[str]:
    roster = cell.charter.roster
    return [label for label in audience_labels(roster) if can_read(principal, resolve_audience(label, roster))]


def _compose_page(
    request: Request,
    cell: Cell,
    session: WebSession,
    *,
    form: dict[str, Any],
    status: int = 200,
    error: str = "",
    error_field: str = "",
) -> Response:
    principal = session.principal
    roster = cell.charter.roster
    charter = cell.charter
    markers = [m.value for m in Marker if m is not Marker.INSTRUCTION or has_permission(
        principal, Permission.SEND_INSTRUCTION, roster)]  # fmt: skip
    reply_to = form.get("reply_to")
    parent = None
    audiences = _writable_audiences(cell, principal)
    if reply_to:
        try:
            parent = service.get_message(cell=cell, principal=principal, message_id=int(reply_to))
        except (NotFound, ValueError):
            parent = None
        if parent is not None:  # a reply goes to the original's audience or a narrower one
            wider = resolve_audience(parent.audience, roster).members
            audiences = [a for a in audiences if resolve_audience(a, roster).members <= wider]
    addressable = sorted(
        code for code, d in roster.delegations.items()
        if d.kind in (DelegationKind.PARTY, DelegationKind.MEDIATOR) and code != principal.delegation
    )  # fmt: skip
    return render(
        request,
        "traffic_compose.html",
        cell=cell,
        session=session,
        status=status,
        error=error,
        error_field=error_field,
        form=form,
        parent=parent,
        tracks=charter.tracks,
        audiences=audiences,
        precedences=[p.value for p in Precedence],
        word_limits={p.value: charter.word_limit(p) for p in Precedence},
        markers=markers,
        message_languages=charter.languages.supported,
        addressable=addressable,
        **_names(cell, request, session),
    )


@router.get("/compose", name="web_compose")
def compose(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    reply_to: Annotated[RowId | None, Query()] = None,
) -> Response:
    if not has_permission(session.principal, Permission.SEND_MESSAGE, cell.charter.roster):
        return _refused(request, cell, session, msg("Only liaison officers and the mediator send messages."))
    lang, _ = reader_language(request, session)
    form: dict[str, Any] = {
        "client_txn_id": "web-" + secrets.token_urlsafe(18),  # made with the form: a resubmission sends it again
        "lang": lang.code if lang.code in cell.charter.languages.supported else cell.charter.languages.authoritative,
        "precedence": Precedence.ROUTINE.value,
        "marker": Marker.INFORMATION.value,
        "readback_required": True,
        "reply_to": reply_to,
    }
    if reply_to is not None:
        try:
            parent = service.get_message(cell=cell, principal=session.principal, message_id=reply_to)
        except NotFound:
            return _not_found(request, cell, session)
        answer = Marker.ANSWER if parent.marker == Marker.QUESTION.value else Marker.INFORMATION
        form |= {"track": parent.track, "audience": parent.audience, "subject": _re(parent.subject),
                 "marker": answer.value}  # fmt: skip
    return _compose_page(request, cell, session, form=form)


def _re(subject: str) -> str:
    return subject if subject.startswith("RE: ") else ("RE: " + subject)[:200]


@router.post("/compose", name="web_compose_send")
async def send(request: Request, cell: CellDep, session: SignedIn) -> Response:
    raw = await request.form()
    check_csrf(request, str(raw.get("csrf", "")), session.csrf)
    form = {k: str(v) for k, v in raw.items() if isinstance(v, str)}
    form["readback_required"] = "readback_required" in raw
    form["addressed"] = [str(v) for v in raw.getlist("addressed") if isinstance(v, str)]
    draft_fields: dict[str, Any] = {
        key: form.get(key, "") for key in ("track", "audience", "precedence", "marker", "subject", "body", "lang")
    }
    draft_fields["readback_required"] = form["readback_required"]
    draft_fields["client_txn_id"] = form.get("client_txn_id") or None
    if form.get("reply_to"):
        draft_fields["reply_to"] = form["reply_to"]
    if form["addressed"]:
        draft_fields["addressed"] = form["addressed"]
    translations = {}
    for code in cell.charter.languages.supported:
        subject, body = form.get(f"tr_subject_{code}", "").strip(), form.get(f"tr_body_{code}", "").strip()
        if subject or body:
            translations[code] = {"subject": subject, "body": body}
    if translations:
        draft_fields["translations"] = translations
    try:
        draft = MessageCreate.model_validate(draft_fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = str(first["loc"][0])
        label = _t(request, session, FIELD_LABELS.get(field, field))
        reason = _t(request, session, msg("Check this field: %(field)s.")) % {"field": label}
        return _compose_page(request, cell, session, form=form, status=422, error=f"{reason} ({first['msg']})",
                             error_field=field)  # fmt: skip
    try:
        message = service.find_replay(cell, session.principal, draft)  # the same form again: the message it sent
        if message is None:
            try:
                with cell.command() as uow:
                    message = service.send(cell=cell, uow=uow, sender=session.principal, draft=draft)
            except service.ConcurrentResend:  # the same form, twice at once: the one that won
                message = service.find_replay(cell, session.principal, draft)
    except DomainError as refused:
        field = str(refused.extensions.get("field", "")).split(".")[0]
        return _compose_page(request, cell, session, form=form, status=refused.status, error=refused.detail,
                             error_field=field)  # fmt: skip
    assert message is not None
    return RedirectResponse(f"/messages/{message.id}", status_code=303)


# -- alerts ---------------------------------------------------------------------------------------------------


def _alerts_context(cell: Cell, session: WebSession) -> dict[str, Any]:
    mine = alerts.alerts_for(cell=cell, principal=session.principal, open_only=False, after=None, limit=500)
    return {
        "open_alerts": [a for a in mine if a.handled_at is None][::-1],
        "handled": [a for a in mine if a.handled_at is not None][::-1][:50],
    }


@router.get("/alerts", name="web_alerts")
def alerts_page(request: Request, cell: CellDep, session: SignedIn) -> Response:
    return _alerts(request, cell, session)


@router.get("/alerts/live", name="web_alerts_live")
def alerts_live(request: Request, cell: CellDep, session: SignedIn) -> Response:
    return render(request, "traffic_alerts_live.html", cell=cell, session=session,
                  **_names(cell, request, session), **_alerts_context(cell, session))  # fmt: skip


def _alerts(request: Request, cell: Cell, session: WebSession, *, status: int = 200, error: str = "") -> Response:
    return _live_page(request, cell, session, "traffic_alerts.html", status=status, error=error,
                      **_alerts_context(cell, session))  # fmt: skip


@router.post("/alerts/{alert_id}/handle", name="web_alert_handle")
def handle_alert(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    alert_id: Annotated[RowId, Path()],
    csrf: Csrf,
    note: Note = "",
    back: Annotated[str, Form(max_length=200)] = "/alerts",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    try:
        body = AlertHandle.model_validate({"note": _clean(note)})
    except ValidationError as invalid:
        return _alerts(request, cell, session, status=422, error=_invalid(invalid))

    def command() -> None:
        with cell.command() as uow:
            alerts.handle(cell=cell, uow=uow, principal=session.principal, alert_id=alert_id, note=body.note)

    return _then(request, cell, session, command, back if back in ("/alerts", "/watch") else "/alerts")


# -- shared ---------------------------------------------------------------------------------------------------


def _clean(value: str) -> str | None:
    return value.strip() or None


def _invalid(invalid: ValidationError) -> str:
    """A form field the API's body refuses (the text rule, a length), as the API words it."""
    first = invalid.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def _t(request: Request, session: WebSession, source: str) -> str:
    return reader_language(request, session)[0].gettext(source)


def _then(
    request: Request,
    cell: Cell,
    session: WebSession,
    command: Any,
    back: str,
    *,
    message_id: int | None = None,
) -> Response:
    """Run a form's command; on success back to the page (303), on a refusal the page again with the reason."""
    try:
        command()
    except DomainError as refused:
        if message_id is not None:
            return _message_page(request, cell, session, message_id, status=refused.status, error=refused.detail)
        if back == "/alerts":
            return _alerts(request, cell, session, status=refused.status, error=refused.detail)
        return _watch(request, cell, session, None, status=refused.status, error=refused.detail)
    return RedirectResponse(back, status_code=303)


def _not_found(request: Request, cell: Cell, session: WebSession) -> Response:
    return render(request, "error.html", cell=cell, session=session, status=404,
                  title=_t(request, session, msg("Not found")),
                  message=_t(request, session, msg("No such message that you may read.")))  # fmt: skip


def _refused(request: Request, cell: Cell, session: WebSession, reason: str) -> Response:
    return render(request, "error.html", cell=cell, session=session, status=403,
                  title=_t(request, session, msg("Not for this account")),
                  message=_t(request, session, reason))  # fmt: skip

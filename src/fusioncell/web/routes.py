"""The web pages: sign in and out, and the ledger's checkpoints with which of them is final; what every page
shares is in `web.pages`."""

from __future__ import annotations

import base64
import contextlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from fusioncell.auth import service as auth_service
from fusioncell.auth.models import USERNAME_LENGTH
from fusioncell.cell import Cell
from fusioncell.deps import MAX_INT, CellDep
from fusioncell.errors import TooManyRequests, Unauthorized
from fusioncell.ledger import log
from fusioncell.ledger import service as ledger_service
from fusioncell.ledger.note import LAST_TIMESTAMP
from fusioncell.policy import readable_audiences
from fusioncell.problems import problem
from fusioncell.web import i18n
from fusioncell.web.pages import (
    STATIC,
    VENDOR,
    VENDOR_TYPES,
    NavItem,
    add_nav,
    display_name,
    msg,
    reader_language,
    render,
    vendor_root,
)
from fusioncell.web.session import (
    SESSION_COOKIE,
    CsrfRefused,
    LoginRequired,
    SignedIn,
    check_csrf,
    clear_session,
    local_path,
    login_csrf_of,
    new_login_csrf,
    set_login_csrf,
    set_session,
)

CHECKPOINTS_PER_PAGE = 20
REFRESH_SECONDS = 5  # checkpoints come at most every few seconds, cosignatures within a few more

router = APIRouter(include_in_schema=False)
add_nav(NavItem(msg("Ledger"), "/ledger", order=90))


# ---- signing in and out -------------------------------------------------------------------------------------


def _login_page(
    request: Request, cell: Cell, *, status: int = 200, error: str | None = None, **fields: Any
) -> Response:
    token = login_csrf_of(request) or new_login_csrf()
    response = render(
        request,
        "login.html",
        cell=cell,
        status=status,
        error=error,
        csrf=token,
        next_path=local_path(fields.get("next_path") or request.query_params.get("next")),
        username=fields.get("username", ""),
        otp_required=fields.get("otp_required", False),
        otp_offered=fields.get("otp_offered", False),
        session=None,
    )
    set_login_csrf(response, request, token)
    return response


@router.get("/login", name="web_login_form")
def login_form(request: Request, cell: CellDep) -> Response:
    return _login_page(request, cell)


@router.post("/login", name="web_login")
def login(
    request: Request,
    cell: CellDep,
    username: Annotated[str, Form(max_length=USERNAME_LENGTH)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=200)],
    otp: Annotated[str, Form(max_length=16)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    lang, _ = reader_language(request)
    check_csrf(request, csrf, login_csrf_of(request))
    again = {"username": username, "next_path": next_path}
    if any("\x00" in value for value in (username, password, otp, next_path)):
        return _login_page(request, cell, status=422, error=lang.gettext("Invalid username or password."), **again)
    code = ascii_code(otp) if otp.strip() else None
    if otp.strip() and code is None:  # not a code at all: nothing to check, nothing written
        message = lang.gettext("That one-time code is not valid. Enter the current one.")
        return _login_page(request, cell, status=422, error=message, otp_required=True, **again)
    client = request.client.host if request.client else None
    try:
        issued = auth_service.login(cell=cell, username=username, password=password, otp=code, client=client)
    except TooManyRequests as held:
        message = lang.gettext(
            "Too many failed attempts. Wait a few minutes, or add your one-time code if you have one."
        )
        response = _login_page(request, cell, status=429, error=message, otp_offered=True, **again)
        response.headers["Retry-After"] = str(held.retry_after)
        return response
    except Unauthorized as refused:
        otp_required = bool(refused.extensions.get("otp_required"))
        if otp_required and not otp:
            message = lang.gettext("Enter the one-time code from your authenticator.")
        elif otp_required:
            message = lang.gettext("That one-time code is not valid. Enter the current one.")
        else:
            message = lang.gettext("Invalid username or password.")
        return _login_page(request, cell, status=401, error=message, otp_required=otp_required, **again)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous and "\x00" not in previous:  # the session this browser had ends with the new one
        with contextlib.suppress(Unauthorized):  # it had ended already (signed out elsewhere, revoked): no matter
            auth_service.logout(cell=cell, raw_token=previous)
    response = RedirectResponse(local_path(next_path), status_code=303)
    set_session(response, request, issued.access_token, issued.expires_at, cell.clock.now())
    return response


def ascii_code(typed: str) -> str | None:
    """A one-time code as typed (Arabic-Indic or other Unicode digits, spaces between groups) in ASCII digits, as
    the API takes it; None if it is not 6 to 8 digits."""
    digits = [unicodedata.digit(c, None) for c in "".join(typed.split())]
    if not 6 <= len(digits) <= 8 or None in digits:
        return None
    return "".join(str(d) for d in digits)


@router.post("/logout", name="web_logout")
def logout(request: Request, cell: CellDep, session: SignedIn, csrf: Annotated[str, Form(max_length=200)]) -> Response:
    check_csrf(request, csrf, session.csrf)
    with contextlib.suppress(Unauthorized):  # signed out meanwhile (another tab): it is over either way
        auth_service.logout(cell=cell, raw_token=session.token)
    response = RedirectResponse("/login", status_code=303)
    clear_session(response, request)
    return response


# ---- the ledger: checkpoints, cosignatures, finality ---------------------------------------------------------


@dataclass(frozen=True)
class WitnessState:
    witness: str
    delegation: str
    state: str  # cosigned | refused | awaiting
    at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CheckpointView:
    size: int
    root: str
    signed_at: datetime
    final: bool
    witnesses: list[WitnessState]
    note: str


def _checkpoint_views(cell: Cell, session: SignedIn, before: int | None) -> list[CheckpointView]:
    signed = log.history(cell, before=before, limit=CHECKPOINTS_PER_PAGE)
    refused = ledger_service.refusals(cell=cell, principal=session.principal, sizes=[c.size for c in signed])
    views = []
    for checkpoint in signed:
        cosigned = log.cosignatures(cell, checkpoint.size)
        by_witness = {c.witness: c for c in cosigned}
        states = []
        for witness in cell.charter.ledger.witnesses:
            if witness.name in by_witness:
                at = datetime.fromtimestamp(min(by_witness[witness.name].timestamp, LAST_TIMESTAMP), UTC)
                states.append(WitnessState(witness.name, witness.delegation, "cosigned", at=at))
            elif (checkpoint.size, witness.name) in refused:
                reason = refused[(checkpoint.size, witness.name)]
                states.append(
                    WitnessState(
                        witness.name, witness.delegation, "refused", reason=f"{reason['status']} {reason['reason']}"
                    )
                )
            else:
                states.append(WitnessState(witness.name, witness.delegation, "awaiting"))
        views.append(
            CheckpointView(
                size=checkpoint.size,
                root=base64.b64encode(checkpoint.root).decode(),
                signed_at=checkpoint.signed_at,
                final=log.is_final(cell.charter, cosigned),
                witnesses=states,
                note=log.with_cosignatures(checkpoint, cosigned),
            )
        )
    return views


def _ledger_context(cell: Cell, session: SignedIn, before: int | None, lang: i18n.Language) -> dict[str, Any]:
    checkpoints = _checkpoint_views(cell, session, before)
    final = log.latest_final(cell)
    delegations = {d.code: display_name(d.names, cell, lang) for d in cell.charter.delegations}
    party_witnesses = {w.name for w in log.party_witnesses(cell.charter)}
    return {
        "session": session,
        "checkpoints": checkpoints,
        "latest_final": final,
        "log_size": ledger_service.size(cell),
        "delegations": delegations,
        "witnesses": cell.charter.ledger.witnesses,
        "party_witnesses": party_witnesses,
        "parties_without_witness": [
            delegations[d.code]
            for d in log.party_delegations(cell.charter)
            if d.code not in {w.delegation for w in log.party_witnesses(cell.charter)}
        ],
        "before": before,
        "older": checkpoints[-1].size if len(checkpoints) == CHECKPOINTS_PER_PAGE else None,
        "live": before is None,
        "refresh_seconds": REFRESH_SECONDS,
    }


Before = Annotated[int | None, Query(ge=0, le=MAX_INT, description="checkpoints of sizes below this")]


@router.get("/ledger", name="web_ledger")
def ledger_page(request: Request, cell: CellDep, session: SignedIn, before: Before = None) -> Response:
    lang, _ = reader_language(request, session)
    context = _ledger_context(cell, session, before, lang)
    return render(request, "ledger.html", cell=cell, log_origin=cell.charter.mechanism.log_origin,
                  log_key=str(log.log_signer(cell).verifier), **context)  # fmt: skip


@router.get("/ledger/live", name="web_ledger_live")
def ledger_live(request: Request, cell: CellDep, session: SignedIn, before: Before = None) -> Response:
    """The part of the ledger page that changes, for htmx to swap in place."""
    lang, _ = reader_language(request, session)
    return render(request, "_ledger_live.html", cell=cell, **_ledger_context(cell, session, before, lang))


@router.get("/", name="web_home")
def home(request: Request, cell: CellDep) -> RedirectResponse:
    """The watch for whoever reads traffic; the ledger for the others (an admin); the sign-in page first."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and "\x00" not in token:
        with contextlib.suppress(Unauthorized):
            principal = auth_service.authenticate(cell=cell, raw_token=token)
            if readable_audiences(principal, cell.charter.roster):
                return RedirectResponse("/watch", status_code=303)
            return RedirectResponse("/ledger", status_code=303)
    return RedirectResponse("/login", status_code=303)


@router.get("/static/vendor/{name:path}", name="web_vendor")
def vendor(name: str) -> Response:
    if name not in VENDOR:
        return Response(status_code=404)
    path = vendor_root() / VENDOR[name]
    if not path.is_file():
        return Response(
            f"{name} is not installed: run `make install` (it installs the web pages' packages with npm ci)",
            status_code=503,
            media_type="text/plain",
        )
    return FileResponse(path, media_type=VENDOR_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=86400"})


def install(app: FastAPI) -> None:
    """The pages, their static files, and how a page answers a missing session or a refused form."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="web_static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = "/login?" + urlencode({"next": exc.next_path})
        if request.headers.get("hx-request"):  # htmx follows HX-Redirect, not a 303 into its swap target
            response: Response = Response(status_code=401, headers={"HX-Redirect": target})
        elif "application/json" in request.headers.get("accept", ""):  # a page's script (the map): it says so
            response = problem(
                Unauthorized.status,
                slug=Unauthorized.slug,
                title="Sign in first",
                detail="Your session has ended: sign in again to go on.",
                headers={"HX-Redirect": target, "Vary": "Accept"},
            )
        else:
            response = RedirectResponse(target, status_code=303)
        if SESSION_COOKIE in request.cookies:  # a session that has ended: the browser forgets it
            clear_session(response, request)
        return response

    @app.exception_handler(CsrfRefused)
    async def _csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        lang, _ = reader_language(request)
        message = lang.gettext("This form has expired or came from another site. Reload the page and try again.")
        return render(request, "error.html", cell=request.app.state.cell, status=exc.status, session=None,
                      message=message)  # fmt: skip

"""The account page: the pages' language and time zone kept with the account, whether signing in asks for a
one-time code, and signing out everywhere (every session of the account, on every device)."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from fusioncell.auth import service
from fusioncell.cell import Cell
from fusioncell.deps import CellDep
from fusioncell.errors import DomainError
from fusioncell.web import i18n
from fusioncell.web.pages import add_templates, msg, reader_language, render
from fusioncell.web.session import SignedIn, WebSession, check_csrf, clear_session

router = APIRouter(include_in_schema=False)
add_templates(Path(__file__).parent / "templates")


def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones() | {"UTC"})


def _page(request: Request, cell: Cell, session: WebSession, *, status: int = 200, error: str = "",
          saved: bool = False) -> Response:  # fmt: skip
    user = service.user_of(cell=cell, username=session.principal.username)
    return render(
        request,
        "auth_account.html",
        cell=cell,
        session=session,
        status=status,
        error=error,
        saved=saved,
        user=user,
        page_languages=[i18n.language(code) for code in i18n.LANGUAGES if code in cell.charter.languages.supported],
        zones=_zones(),
    )


@router.get("/account", name="web_account")
def account(request: Request, cell: CellDep, session: SignedIn) -> Response:
    return _page(request, cell, session, saved=request.query_params.get("saved") == "1")


@router.post("/account", name="web_account_save")
def save(
    request: Request,
    cell: CellDep,
    session: SignedIn,
    csrf: Annotated[str, Form(max_length=200)],
    lang: Annotated[str, Form(max_length=16)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, csrf, session.csrf)
    try:
        service.set_preferences(cell=cell, principal=session.principal,
                                changes={"lang": lang or None, "time_zone": time_zone or None})  # fmt: skip
    except DomainError as refused:
        message = reader_language(request, session)[0].gettext(msg("That setting is not one the cell knows."))
        return _page(request, cell, session, status=refused.status, error=f"{message} ({refused.detail})")
    response = RedirectResponse("/account?saved=1", status_code=303)
    if lang:  # the language chosen here is this browser's too
        response.set_cookie("fusioncell_lang", lang, max_age=365 * 86400, path="/", samesite="lax")
    return response


@router.post("/account/sign-out-everywhere", name="web_sign_out_everywhere")
def sign_out_everywhere(
    request: Request, cell: CellDep, session: SignedIn, csrf: Annotated[str, Form(max_length=200)]
) -> Response:
    check_csrf(request, csrf, session.csrf)
    service.logout_everywhere(cell=cell, principal=session.principal)
    response = RedirectResponse("/login", status_code=303)
    clear_session(response, request)
    return response

"""Signing in on the web: the bearer token the API issues, kept in an HttpOnly cookie; forms carry a CSRF token
bound to it.

- The session cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and Secure
  when the cell is served over HTTPS. Logging out revokes the token itself, as the API's logout does; signing in
  again revokes the session the browser had.
- A form that changes something carries `csrf`, an HMAC of the session token: another site cannot compute it,
  because it cannot read the cookie. Before signing in there is no session, so the login form's token is a random
  value also set as a cookie (double submit), which stops another site from signing a browser into its account.
- A POST whose Origin header names another site is refused before any of that. Behind a proxy, set
  FUSIONCELL_PUBLIC_URL to the address people open: forms must come from it, and cookies are Secure when it is
  https (otherwise the request's own scheme and host decide).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, WebSocket
from fastapi.responses import Response

from fusioncell.auth import service as auth_service
from fusioncell.deps import CellDep
from fusioncell.errors import DomainError, Unauthorized
from fusioncell.policy import Principal

SESSION_COOKIE = "fusioncell_session"
LOGIN_CSRF_COOKIE = "fusioncell_login_csrf"
LANG_COOKIE = "fusioncell_lang"
MAX_NEXT = 2000  # the sign-in form's `next` field takes no more
_LOGIN_CSRF = re.compile(r"^[A-Za-z0-9_-]{32}$")  # what new_login_csrf makes


class LoginRequired(Exception):
    """A page asked for without a valid session: the browser goes to the login page (htmx: HX-Redirect)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(DomainError):
    status, slug, title = 403, "csrf-refused", "Form refused"


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    token: str
    lang: str | None = None  # the account's own settings (auth.models.UserPreferences)
    time_zone: str | None = None
    expires_at: datetime | None = None  # when the session ends: the pages warn before

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"fusioncell web form", hashlib.sha256).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def login_csrf_of(request: Request) -> str | None:
    """The sign-in form's token from its cookie, if it is one this site made (anything else is replaced)."""
    value = request.cookies.get(LOGIN_CSRF_COOKIE)
    return value if value and _LOGIN_CSRF.match(value) else None


def site_origin(request: Request | WebSocket) -> str:
    """scheme://host[:port] people use: FUSIONCELL_PUBLIC_URL when set, else this request's own (a WebSocket's
    ws:// or wss:// as the page's http:// or https://)."""
    public = request.app.state.cell.settings.public_url
    if public:
        return public.rstrip("/")
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return f"{scheme}://{request.url.netloc}"


def foreign_origin(request: Request | WebSocket) -> str | None:
    """The Origin a browser sent, if it names another site than this one (None: this site, or no browser)."""
    origin = request.headers.get("origin")
    if origin is None or origin == site_origin(request):
        return None
    return origin


def _secure(request: Request) -> bool:
    return site_origin(request).startswith("https://")


def set_session(response: Response, request: Request, token: str, expires_at: datetime, now: datetime) -> None:
    # Max-Age, not Expires: the browser's clock need not agree with the server's for the session to last its term
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(int((expires_at - now).total_seconds()), 0),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, value, path="/", httponly=True, samesite="strict", secure=_secure(request))


def local_path(candidate: str | None, default: str = "/") -> str:
    """Where to go after signing in: a path of this site only (never //other.example or a scheme)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return default
    if len(candidate) > MAX_NEXT:
        return default
    if any(ord(c) < 0x20 for c in candidate):
        return default
    return candidate


def check_origin(request: Request) -> None:
    """A form posted from another site's page is refused (browsers send Origin on every POST)."""
    origin = foreign_origin(request)  # None without Origin: not a browser, and the CSRF token still has to match
    if origin is not None:
        raise CsrfRefused(
            f"this form came from {origin}, not from {site_origin(request)}: reload the page and send it again"
        )


def check_csrf(request: Request, sent: str | None, expected: str | None) -> None:
    check_origin(request)
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused("this form has expired or did not come from this site: reload the page and send it again")


def optional_session(request: Request, cell: Any) -> WebSession | None:
    """The signed-in session of this browser, if it has one that holds."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and "\x00" not in token:
        try:
            account = auth_service.authenticate_page(cell=cell, raw_token=token)
            return WebSession(account.principal, token, account.lang, account.time_zone, account.expires_at)
        except Unauthorized:
            pass
    return None


def _session(request: Request, cell: CellDep) -> WebSession:
    session = optional_session(request, cell)
    if session is None:
        raise LoginRequired(_return_to(request))
    return session


def _return_to(request: Request) -> str:
    """Where to come back after signing in: the page asked for. A page's refresh (htmx) comes back to the page it
    refreshed, never to the bare fragment; a form posted when the session had expired, to the default page."""
    if request.headers.get("hx-request"):
        current = urlsplit(request.headers.get("hx-current-url", ""))
        return local_path(current.path + (f"?{current.query}" if current.query else ""))
    if request.method != "GET":
        return local_path(None)
    return local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))


SignedIn = Annotated[WebSession, Depends(_session)]

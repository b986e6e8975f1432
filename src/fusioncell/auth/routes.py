"""Thin HTTP for authentication."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from fusioncell import examples
from fusioncell.auth import service
from fusioncell.auth.schemas import MeRead, PreferencesUpdate, TokenForm, TokenRead, TokenRequest
from fusioncell.deps import BearerToken, CellDep, CurrentUser
from fusioncell.errors import DomainError, TooManyRequests, Unauthorized

router = APIRouter(prefix="/api/v1", tags=["auth"])

AUTH_ERRORS = {401: {"description": "Not authenticated (problem+json)"}}
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# models the token operation reads itself (it takes JSON or a form), for the OpenAPI document's components
BODY_MODELS: tuple[type[BaseModel], ...] = (TokenRequest, TokenForm)
_OPTIONAL_FORM_FIELDS = ("otp", "scope", "client_id", "client_secret")


@dataclass(frozen=True)
class SignIn:
    body: TokenRequest
    oauth2_form: bool  # the OAuth2 password grant (a form), not the JSON body


def _invalid(exc: ValidationError) -> RequestValidationError:
    """A body's validation errors as the request's, so they are answered as any other body's (422, pointers)."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)])


async def sign_in(request: Request) -> SignIn:
    """The credentials, from a JSON body or an OAuth2 password-grant form, checked as every request body is."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == FORM_MEDIA_TYPE:
        form = await request.form()
        fields = form.multi_items()
        names = [name for name, _ in fields]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:  # RFC 6749 §3.2: a parameter is sent once
            raise RequestValidationError(
                [
                    {"type": "duplicate", "loc": ("body", name), "msg": "given more than once", "input": None}
                    for name in twice
                ]  # fmt: skip
            )
        # an HTML form or an OAuth2 client sends what it has no value for empty: as if it were not sent
        values: dict[str, Any] = {
            name: value for name, value in fields if not (name in _OPTIONAL_FORM_FIELDS and value == "")
        }
        try:
            grant = TokenForm.model_validate(values)
        except ValidationError as exc:
            raise _invalid(exc) from None
        return SignIn(TokenRequest.model_construct(username=grant.username, password=grant.password, otp=grant.otp),
                      oauth2_form=True)  # fmt: skip
    raw = await request.body()
    data: Any = None
    if raw and (not media_type or media_type == "application/json" or media_type.endswith("+json")):
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", 0),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": reason},
                    }
                ]  # fmt: skip
            ) from None
    elif raw:
        data = raw  # neither JSON nor a form: refused below, as not an object
    if data is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return SignIn(TokenRequest.model_validate(data), oauth2_form=False)
    except ValidationError as exc:
        raise _invalid(exc) from None


_JSON_EXAMPLES = {
    "sign-in": {
        "summary": "Sign in as Syria's liaison officer",
        "description": "Your own username and password: `make run` prints the demo accounts' passwords.",
        "value": {"username": examples.SY_LIAISON, "password": examples.PASSWORD},
    },
}
_FORM_EXAMPLES = {
    "oauth2-password-grant": {
        "summary": "OAuth2 password grant, as the docs' Authorize sends it",
        "value": {"grant_type": "password", "username": examples.SY_LIAISON, "password": examples.PASSWORD},
    },
}
TOKEN_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}, "examples": _JSON_EXAMPLES},
        FORM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/TokenForm"}, "examples": _FORM_EXAMPLES},
    },
}


@router.post(
    "/auth/token",
    name="auth_issue_token",
    summary="Log in and receive a bearer token",
    response_model=TokenRead,
    responses={
        401: {
            "description": "Bad credentials or one-time code",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
        },
        422: {"description": "Invalid input: a missing or malformed field, an unknown one, or a form field sent twice"},
        429: {
            "description": "Throttled",
            "headers": {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again"}
            },
        },
    },
    openapi_extra={"requestBody": TOKEN_REQUEST_BODY},
)
def issue_token(
    sign: Annotated[SignIn, Depends(sign_in)], cell: CellDep, request: Request, response: Response
) -> TokenRead:
    """Exchange a username and password for a bearer token. Send JSON `{username, password, otp?}`, or the
    OAuth2 password grant as a form (`grant_type=password&username=…&password=…`), which is what the docs'
    **Authorize** button sends: both answer the same token. An account with a second factor adds its one-time
    code: `otp` in either body, or, in the form, typed right after the password.

    Anyone may call it. A wrong username, password or code is 401, and the same answer whether the account
    exists or not. Repeated failures are throttled (429 with `Retry-After`): five for an account from one address
    hold that address for 15 minutes; the right password with the current one-time code signs in through any
    hold. The token expires after `FUSIONCELL_TOKEN_TTL` (12 hours by default), or sooner at logout."""
    client = request.client.host if request.client else None
    body = sign.body
    password, otp = body.password, body.otp
    if sign.oauth2_form and otp is None:
        password, otp = service.split_appended_code(cell=cell, username=body.username, password=password)
    try:
        issued = service.login(cell=cell, username=body.username, password=password, otp=otp, client=client)
    except (Unauthorized, TooManyRequests) as refused:
        if sign.oauth2_form:  # an OAuth2 client (the docs' Authorize dialog) shows error and error_description
            _oauth2_error(refused)
        raise
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    expires_in = int((issued.expires_at - cell.clock.now()).total_seconds())
    return TokenRead(access_token=issued.access_token, expires_at=issued.expires_at, expires_in=expires_in)


def _oauth2_error(refused: DomainError) -> None:
    """The refusal, still a problem, with the members an OAuth2 client shows (RFC 6749 §5.2)."""
    if isinstance(refused, Unauthorized):
        refused.extensions.setdefault("error", "invalid_grant")
    refused.extensions.setdefault("error_description", refused.detail)


@router.post(
    "/auth/logout",
    name="auth_logout",
    summary="Revoke the bearer token used for this request",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=AUTH_ERRORS,
)
def logout(cell: CellDep, token: BearerToken) -> None:
    """End this token at once: every request with it is 401 from now on, and a stream opened with it closes
    (close code 4401). Other tokens of the same account go on working. A token already revoked is 401."""
    service.logout(cell=cell, raw_token=token)


@router.get(
    "/me", name="me_read", summary="Who the bearer token belongs to", response_model=MeRead, responses=AUTH_ERRORS
)
def read_me(cell: CellDep, principal: CurrentUser) -> MeRead:
    """Your username, delegation and roles, as the cell sees them: what you may read and do follows from these;
    and your own settings (the pages' language and time zone). Any valid token; 401 without one."""
    return _me(cell, principal)


def _me(cell: CellDep, principal: CurrentUser) -> MeRead:
    user = service.user_of(cell=cell, username=principal.username)
    prefs = service.preferences(cell=cell, user_id=user.id)
    return MeRead(
        username=user.username,
        delegation=user.delegation,
        roles=list(user.roles),
        totp_enabled=user.totp_secret is not None,
        lang=prefs.lang if prefs else None,
        time_zone=prefs.time_zone if prefs else None,
    )


@router.patch(
    "/me",
    name="me_update",
    summary="Change your own language and time zone",
    response_model=MeRead,
    responses={**AUTH_ERRORS, 422: {"description": "Not a language of the charter, or an unknown time zone"}},
)
def update_me(body: PreferencesUpdate, cell: CellDep, principal: CurrentUser) -> MeRead:
    """Set the language the pages show you (one of the charter's) and the time zone they show times in beside
    UTC, kept with your account so every browser you sign in from shows them alike. Each field sent is changed;
    null clears it (the browser's own is used). Your own settings: nothing is recorded in the ledger."""
    service.set_preferences(cell=cell, principal=principal, changes=body.model_dump(exclude_unset=True))
    return _me(cell, principal)


@router.post(
    "/auth/logout-everywhere",
    name="auth_logout_everywhere",
    summary="Revoke every session of your account",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=AUTH_ERRORS,
)
def logout_everywhere(cell: CellDep, principal: CurrentUser) -> None:
    """Sign out everywhere: every token of your account is revoked at once, this one included (a lost phone, a
    shared screen left signed in). Every request with them is 401 from now on and their streams close."""
    service.logout_everywhere(cell=cell, principal=principal)

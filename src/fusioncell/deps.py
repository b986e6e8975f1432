"""Named dependencies, so routes read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from starlette.requests import HTTPConnection

from fusioncell import text
from fusioncell.auth import service as auth_service
from fusioncell.cell import Cell
from fusioncell.errors import Unauthorized
from fusioncell.policy import Principal
from fusioncell.schemas import BIG_MAX, RowId

TOKEN_URL = "/api/v1/auth/token"
# Two ways to say the same thing, so that every client's docs read right: a bearer token in the Authorization header
# (API clients), and the OAuth2 password flow that yields it (the docs page's Authorize asks for username and
# password, then sends the token as that header). Each secured operation accepts either.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description=f"A token from POST {TOKEN_URL}, sent as `Authorization: Bearer <token>`.",
)
_password_flow = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    scheme_name="OAuth2Password",
    auto_error=False,
    description="Sign in with your username and password; the token comes back and is sent as a bearer token. "
    "With a second factor, type your one-time code right after your password. client_id and client_secret: "
    "leave empty.",
)


# Dependencies that do no I/O are coroutines: FastAPI runs a plain function in the thread pool, a hop per request.
async def get_cell(request: Request) -> Cell:
    return request.app.state.cell


async def refuse_bad_text(connection: HTTPConnection) -> None:
    """Every route, HTTP or WebSocket: no query or path parameter may hold what the text rule refuses in one line
    (fusioncell.text: controls, NUL included, which PostgreSQL cannot take in text and SQLite would; bidirectional
    overrides; invisible characters), answered as any invalid parameter is, a 422 naming it and the character."""
    errors = [
        {"type": "text_refused", "loc": (where, name), "msg": str(found), "input": value}
        for where, items in (("query", connection.query_params.multi_items()), ("path", connection.path_params.items()))
        for name, value in items
        if isinstance(value, str) and (found := text.refusal(value, lines=False)) is not None
    ]
    if errors:
        raise RequestValidationError(errors)


async def optional_bearer(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _declared: Annotated[str | None, Depends(_password_flow)],  # reads the same header: here for the docs
) -> str | None:
    """The bearer token of the Authorization header, if there is one."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        return None
    return credentials.credentials


OptionalBearer = Annotated[str | None, Depends(optional_bearer)]


async def bearer_token(token: OptionalBearer) -> str:
    if token is None:
        raise Unauthorized(f"send a bearer token: Authorization: Bearer <token from POST {TOKEN_URL}>")
    return token


# Identifiers and indices fit their columns (fusioncell.schemas); anything larger is invalid input, not a server error.
MAX_INT = BIG_MAX
MessageId = Annotated[RowId, Path(description="A message id")]
LedgerIndex = Annotated[int, Path(ge=0, le=MAX_INT, description="A ledger index")]

CellDep = Annotated[Cell, Depends(get_cell)]
BearerToken = Annotated[str, Depends(bearer_token)]


def current_principal(cell: CellDep, token: BearerToken) -> Principal:
    return auth_service.authenticate(cell=cell, raw_token=token)


CurrentUser = Annotated[Principal, Depends(current_principal)]

"""Named dependencies, so routes read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from fusioncell import text
from fusioncell.auth import service as auth_service
from fusioncell.cell import Cell
from fusioncell.errors import Unauthorized
from fusioncell.policy import Principal
from fusioncell.schemas import BIG_MAX, RowId

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


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


async def bearer_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("send a bearer token: Authorization: Bearer <token from POST /api/v1/auth/token>")
    return credentials.credentials


# Identifiers and indices fit their columns (fusioncell.schemas); anything larger is invalid input, not a server error.
MAX_INT = BIG_MAX
MessageId = Annotated[RowId, Path(description="A message id")]
LedgerIndex = Annotated[int, Path(ge=0, le=MAX_INT, description="A ledger index")]

CellDep = Annotated[Cell, Depends(get_cell)]
BearerToken = Annotated[str, Depends(bearer_token)]


def current_principal(cell: CellDep, token: BearerToken) -> Principal:
    return auth_service.authenticate(cell=cell, raw_token=token)


CurrentUser = Annotated[Principal, Depends(current_principal)]

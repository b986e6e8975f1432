"""Thin HTTP for authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from fusioncell.auth import service
from fusioncell.auth.schemas import MeRead, TokenRead, TokenRequest
from fusioncell.deps import BearerToken, CellDep, CurrentUser

router = APIRouter(prefix="/api/v1", tags=["auth"])

AUTH_ERRORS = {401: {"description": "Not authenticated (problem+json)"}}


@router.post(
    "/auth/token",
    name="auth_issue_token",
    summary="Log in and receive a bearer token",
    response_model=TokenRead,
    responses={401: {"description": "Bad credentials or one-time code"}, 429: {"description": "Throttled"}},
)
def issue_token(body: TokenRequest, cell: CellDep, request: Request) -> TokenRead:
    client = request.client.host if request.client else None
    issued = service.login(cell=cell, username=body.username, password=body.password, otp=body.otp, client=client)
    return TokenRead(access_token=issued.access_token, expires_at=issued.expires_at)


@router.post(
    "/auth/logout",
    name="auth_logout",
    summary="Revoke the bearer token used for this request",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=AUTH_ERRORS,
)
def logout(cell: CellDep, token: BearerToken) -> None:
    service.logout(cell=cell, raw_token=token)


@router.get(
    "/me", name="me_read", summary="Who the bearer token belongs to", response_model=MeRead, responses=AUTH_ERRORS
)
def read_me(cell: CellDep, principal: CurrentUser) -> MeRead:
    user = service.user_of(cell=cell, username=principal.username)
    return MeRead(
        username=user.username,
        delegation=user.delegation,
        roles=list(user.roles),
        totp_enabled=user.totp_secret is not None,
    )

"""API shapes of authentication."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fusioncell.auth.models import USERNAME_LENGTH
from fusioncell.schemas import SECRET, InputModel

Username = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9._-]{1,63}$")]


class TokenRequest(InputModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=USERNAME_LENGTH)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024), SECRET]
    otp: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")] | None = Field(
        default=None, description="The current TOTP code, for accounts with a second factor."
    )


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class MeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    delegation: str
    roles: list[str]
    totp_enabled: bool

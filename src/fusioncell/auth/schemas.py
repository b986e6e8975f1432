"""API shapes of authentication."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fusioncell import examples
from fusioncell.auth.models import USERNAME_LENGTH
from fusioncell.schemas import SECRET, InputModel

Username = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9._-]{1,63}$")]
LoginName = Annotated[str, StringConstraints(min_length=1, max_length=USERNAME_LENGTH)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024), SECRET]
OneTimeCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")]

USERNAME_DOC = "Your account's username, as your delegation's administrator created it."
PASSWORD_DOC = "Your password, exactly as typed (it is compared as it is, never normalised)."
OTP_DOC = "The current code of your authenticator app, for an account with a second factor; each code works once."


class TokenRequest(InputModel):
    """Sign in with a username and password (and the one-time code, for an account with a second factor)."""

    username: LoginName = Field(description=USERNAME_DOC, examples=[examples.SY_LIAISON])
    password: Password = Field(description=PASSWORD_DOC, examples=[examples.PASSWORD])
    otp: OneTimeCode | None = Field(default=None, description=OTP_DOC, examples=[examples.OTP])


def _absent_not_null(schema: dict[str, Any]) -> None:
    """A form has no null: an optional field of it is declared as what it holds, and left out when absent."""
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if options:
        schema.update(options[0])


class TokenForm(InputModel):
    """The same sign-in as an OAuth2 password grant (RFC 6749 §4.3), form-encoded: what the docs' Authorize sends.
    An account with a second factor sends its one-time code as `otp`, or types it right after the password (the
    Authorize dialog has no box for it): for such an account, a password field ending in six digits is read as the
    password followed by the code."""

    # a form has no null: what it leaves out is absent (empty optional fields are taken as absent)
    grant_type: Literal["password"] = Field(
        description="Always `password`: the OAuth2 resource owner password grant.", examples=["password"]
    )
    username: LoginName = Field(description=USERNAME_DOC, examples=[examples.IL_LIAISON])
    password: Password = Field(
        description=PASSWORD_DOC + " An account with a second factor may type its one-time code right after it.",
        examples=[examples.PASSWORD],
    )
    otp: OneTimeCode | None = Field(
        default=None, description=OTP_DOC, examples=[examples.OTP], json_schema_extra=_absent_not_null
    )
    scope: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None,
        description="Ignored: a token opens what its account's roles open, and nothing else.",
        examples=[""],
        json_schema_extra=_absent_not_null,
    )
    client_id: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None,
        description="Ignored: the cell registers no OAuth2 clients.",
        examples=["swagger-ui"],
        json_schema_extra=_absent_not_null,
    )
    client_secret: Annotated[str, StringConstraints(max_length=1024), SECRET] | None = Field(
        default=None,
        description="Ignored: the cell registers no OAuth2 clients.",
        examples=[""],
        json_schema_extra=_absent_not_null,
    )


class TokenRead(BaseModel):
    """A bearer token: send it as `Authorization: Bearer <access_token>` (the docs' Authorize does this for you)."""

    access_token: str = Field(
        description="The bearer token: 256 random bits. The cell keeps only its SHA-256; keep it secret.",
        examples=[examples.ACCESS_TOKEN],
    )
    token_type: Literal["bearer"] = Field(
        default="bearer", description="Always `bearer` (RFC 6750).", examples=["bearer"]
    )
    expires_at: datetime = Field(
        description="When the token stops working (UTC); logout, a password reset, enrolling a second factor or "
        "disabling the account end it sooner.",
        examples=[examples.TOKEN_EXPIRES_AT],
    )
    expires_in: int = Field(
        description="Seconds from now until `expires_at` (RFC 6749 §5.1).", examples=[examples.TOKEN_EXPIRES_IN]
    )


class MeRead(BaseModel):
    """The account a bearer token belongs to."""

    model_config = ConfigDict(from_attributes=True)

    username: str = Field(description="The account's username.", examples=[examples.IL_LIAISON])
    delegation: str = Field(description="The delegation the account belongs to.", examples=["IL"])
    roles: list[str] = Field(
        description="What the account may do: liaison (traffic and duty), analyst (intelligence), signatory, "
        "mediator, observer, admin (accounts only; reads no content).",
        examples=[["liaison"]],
    )
    totp_enabled: bool = Field(
        description="Whether signing in needs a one-time code as well as the password.", examples=[False]
    )
    lang: str | None = Field(
        default=None,
        description="The language the pages show this account in (one of the charter's); null: the browser's.",
        examples=["ar"],
    )
    time_zone: str | None = Field(
        default=None,
        description="The IANA time zone the pages show times in, beside UTC; null: the browser's.",
        examples=["Asia/Damascus"],
    )


class PreferencesUpdate(InputModel):
    """Your own settings: each field sent is changed (null clears it), each left out stays as it is."""

    lang: Annotated[str, StringConstraints(min_length=2, max_length=16)] | None = Field(
        default=None, description="A language of the charter (en, ar, he); null: the browser's.", examples=["ar"]
    )
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="An IANA time zone name (Asia/Damascus, Asia/Jerusalem, America/New_York, UTC); null: the "
        "browser's.",
        examples=["Asia/Jerusalem"],
    )

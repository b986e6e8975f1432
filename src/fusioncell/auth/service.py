"""Account commands and the token life cycle. Services flush; the unit of work commits."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from sqlalchemy import bindparam, delete, func, select, update

from fusioncell.auth import revocations, throttle
from fusioncell.auth.models import AccessToken, LoginAttempt, User, UserPreferences
from fusioncell.auth.passwords import check_strength, hash_password, verify_password
from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from fusioncell.policy import Principal, Role, can_manage_account, check_roles, home_audience

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
TOKEN_PREFIX = "fct_"
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6  # pyotp's default, as enroll_totp makes them
_APPENDED_CODE = re.compile(rf"(.+)([0-9]{{{TOTP_DIGITS}}})", re.DOTALL)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def principal_of(user: User) -> Principal:
    return Principal(
        username=user.username,
        delegation=user.delegation,
        roles=frozenset(Role(r) for r in user.roles),
        user_id=user.id,
    )


def _parse_roles(roles: Iterable[str]) -> list[Role]:
    parsed = []
    for role in roles:
        try:
            parsed.append(Role(role))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {role!r}; roles are {known}", field="roles") from None
    return sorted(set(parsed), key=lambda r: list(Role).index(r))


def account_subject(user: User) -> str:
    # By its (random) number: its name is content, for its delegation and the mediator.
    return f"account:{user.id}"


def _get_user(uow: UnitOfWork, username: str) -> User:
    user = uow.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no account named {username!r}", username=username)
    return user


def _may_manage(cell: Cell, actor: Principal, delegation: str) -> None:
    if not can_manage_account(actor, delegation, cell.charter.roster):
        raise Forbidden(f"{actor.username} may not manage accounts of delegation {delegation}")


def _revoke_all(uow: UnitOfWork, user: User, now: datetime) -> int:
    result = uow.session.execute(
        update(AccessToken)
        .where(AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revoked = result.rowcount or 0
    if revoked:
        revocations.note(uow)  # open streams of these tokens close at once
    return revoked


# -- commands ------------------------------------------------------------------------------------------


def add_user(
    *,
    cell: Cell,
    uow: UnitOfWork,
    actor: Principal,
    username: str,
    delegation: str,
    roles: Iterable[str],
    password: str,
) -> User:
    if not USERNAME_RE.fullmatch(username):  # match() lets a final newline through: "$" matches before it
        raise InvalidInput(
            "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter",
            field="username",
        )
    parsed = _parse_roles(roles)
    check_roles(delegation, parsed, cell.charter.roster)
    _may_manage(cell, actor, delegation)
    if reason := check_strength(password):
        raise InvalidInput(reason, field="password")
    if uow.session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"an account named {username!r} already exists", username=username)
    now = cell.clock.now()
    user = User(
        id=fresh_id(uow.session, User),  # random: a sequence would count the accounts other delegations opened
        username=username,
        delegation=delegation,
        roles=[r.value for r in parsed],
        password_hash=hash_password(password),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(user)
    uow.session.flush()
    uow.record(
        action="account.created",
        actor=actor,
        audience=home_audience(delegation, cell.charter.roster),
        subject=account_subject(user),
        content={"username": username, "delegation": delegation, "roles": user.roles},
    )
    return user


def disable_user(*, cell: Cell, uow: UnitOfWork, actor: Principal, username: str) -> User:
    user = _get_user(uow, username)
    _may_manage(cell, actor, user.delegation)
    if user.disabled:
        raise Conflict(f"account {username!r} is already disabled", username=username)
    now = cell.clock.now()
    user.disabled = True
    user.updated_at = now
    revoked = _revoke_all(uow, user, now)
    uow.record(
        action="account.disabled",
        actor=actor,
        audience=home_audience(user.delegation, cell.charter.roster),
        subject=account_subject(user),
        content={"username": username, "tokens_revoked": revoked},
    )
    return user


def reset_password(*, cell: Cell, uow: UnitOfWork, actor: Principal, username: str, password: str) -> User:
    user = _get_user(uow, username)
    _may_manage(cell, actor, user.delegation)
    if reason := check_strength(password):
        raise InvalidInput(reason, field="password")
    now = cell.clock.now()
    user.password_hash = hash_password(password)
    user.updated_at = now
    revoked = _revoke_all(uow, user, now)
    uow.record(
        action="account.password_reset",
        actor=actor,
        audience=home_audience(user.delegation, cell.charter.roster),
        subject=account_subject(user),
        content={"username": username, "tokens_revoked": revoked},
    )
    return user


def enroll_totp(*, cell: Cell, uow: UnitOfWork, actor: Principal, username: str) -> str:
    """Give the account a new TOTP secret; returns the provisioning URI. Login then needs the code, and every
    token and cached sign-in the account had ends."""
    user = _get_user(uow, username)
    _may_manage(cell, actor, user.delegation)
    secret = pyotp.random_base32(length=32)
    now = cell.clock.now()
    user.totp_secret = secret
    user.updated_at = now
    # sessions opened with the password alone end: tokens are revoked, and cached HTTP Basic sign-ins end because
    # they hold only while the account has no second factor (principal_if_unchanged)
    revoked = _revoke_all(uow, user, now)
    uow.record(
        action="account.totp_enrolled",
        actor=actor,
        audience=home_audience(user.delegation, cell.charter.roster),
        subject=account_subject(user),
        content={"username": username, "tokens_revoked": revoked},
    )
    issuer = cell.charter.mechanism.name.get("en") or cell.charter.mechanism.log_origin
    return pyotp.TOTP(secret).provisioning_uri(name=f"{username}@{user.delegation}", issuer_name=issuer)


# -- queries -------------------------------------------------------------------------------------------


def list_users(*, cell: Cell, delegation: str | None = None) -> list[User]:
    with cell.reading() as session:
        query = select(User).order_by(User.delegation, User.username)
        if delegation:
            query = query.where(User.delegation == delegation)
        return list(session.execute(query).scalars())


# -- tokens --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime
    principal: Principal


@dataclass(frozen=True)
class _Attempt:
    """An attempt under way: its row (None if nothing was recorded), the account, and the hold it tries to pass
    with a one-time code (`through` when the account may pass it so: rule 3 of fusioncell.auth.throttle)."""

    id: int | None
    user: User | None
    held: throttle.Hold | None = None
    through: bool = False


def _reserve(cell: Cell, username: str, client: str | None, with_code: bool, now: datetime) -> _Attempt:
    """Judge the holds and record this attempt before the slow hash, in one transaction per account: attempts in
    flight count towards the limits too, so a burst of parallel guesses cannot outrun them."""
    with cell.command() as uow:
        throttle.lock_account(uow, username)
        throttle.prune(uow.session, cell.settings, username, now)
        held = throttle.hold(uow.session, cell.settings, username, client, now)
        if held is not None and not with_code:
            log.warning(
                "login throttled", extra={"username": username, "client": client, "retry_after": held.retry_after}
            )
            raise held.error()
        user = uow.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if held is None:
            return _Attempt(throttle.start(uow.session, username, client, now), user)
        through = bool(user is not None and user.totp_secret and not user.disabled)
        if through and throttle.password_known_elsewhere(uow.session, cell.settings, username, now):
            log.warning("second factor being guessed", extra={"username": username, "client": client})
            through = False
        attempt_id = (
            throttle.start(uow.session, username, client, now, reason=throttle.CHECKING_CODE) if through else None
        )
        return _Attempt(attempt_id, user, held, through)


def _fail(cell: Cell, attempt: _Attempt, username: str, client: str | None, reason: str) -> None:
    """The reserved attempt failed: it stays, with its reason, and counts until the windows pass."""
    with cell.command() as uow:
        uow.session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt.id).values(reason=reason))
    log.warning(
        "login failed",
        extra={"username": username, "client": client, "reason": reason, "through_hold": attempt.held is not None},
    )


def _withdraw(cell: Cell, attempt: _Attempt) -> None:
    """The reserved attempt was neither a failure nor a sign-in (the one-time code is still to come, or a held
    try that cannot pass: it is answered as held and not counted)."""
    if attempt.id is None:
        return
    with cell.command() as uow:
        uow.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))


def _checked_password(
    cell: Cell, username: str, password: str, client: str | None, now: datetime, *, with_code: bool = False
) -> _Attempt:
    """The reserved attempt, whose account is enabled and opened by the password; a failure is recorded and raised.
    Through a hold only the account of a right password with a one-time code comes back (its code still to check):
    anything else gets the hold's answer, whatever was wrong, and is not counted."""
    attempt = _reserve(cell, username, client, with_code, now)
    user = attempt.user
    # the slow hash runs outside any write transaction (a login never holds up the cell's traffic), and for a held
    # try too, so that its time tells nothing either
    password_ok = verify_password(user.password_hash if user else None, password)
    if attempt.held is not None:
        if not (password_ok and attempt.through):
            _withdraw(cell, attempt)
            raise attempt.held.error()
        return attempt
    if user is None or not password_ok:
        _fail(cell, attempt, username, client, throttle.BAD_CREDENTIALS)
        raise Unauthorized("invalid username or password")
    if user.disabled:
        _fail(cell, attempt, username, client, throttle.DISABLED)
        raise Unauthorized("this account is disabled; ask your delegation's administrator")
    return attempt


def login(*, cell: Cell, username: str, password: str, otp: str | None, client: str | None) -> IssuedToken:
    """A bearer token for a username, password and (for an account with a second factor) one-time code, throttled
    by the rule of fusioncell.auth.throttle; `client` is the address fusioncell.proxies found."""
    now = cell.clock.now()
    attempt = _checked_password(cell, username, password, client, now, with_code=bool(otp))
    user = attempt.user
    assert user is not None
    step: int | None = None
    if user.totp_secret:
        if not otp:
            _withdraw(cell, attempt)
            raise Unauthorized("this account needs a one-time code: send it as 'otp'", otp_required=True)
        totp = pyotp.TOTP(user.totp_secret)
        step = _matching_step(totp, otp, now)
        if step is None:
            _fail(cell, attempt, username, client, throttle.BAD_OTP)
            raise attempt.held.error() if attempt.held else Unauthorized("invalid one-time code", otp_required=True)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + cell.settings.token_ttl
    try:
        with cell.command() as uow:
            if step is not None:
                # lock the account so two logins with the same code cannot both pass the check below
                uow.session.execute(select(User.id).where(User.id == user.id).with_for_update())
                used = uow.session.execute(
                    select(func.max(AccessToken.otp_step)).where(AccessToken.user_id == user.id)
                ).scalar()
                if used is not None and used >= step:
                    raise Unauthorized("this one-time code was already used; wait for the next one", otp_required=True)
            uow.session.add(
                AccessToken(
                    token_hash=token_digest(raw), user_id=user.id, issued_at=now, expires_at=expires_at, otp_step=step
                )
            )
            # the reserved attempt goes with the earlier failures from this client
            throttle.signed_in(uow.session, username, client, now)
    except Unauthorized:
        _fail(cell, attempt, username, client, throttle.OTP_REUSED)
        if attempt.held is not None:
            raise attempt.held.error() from None
        raise
    log.info(
        "login",
        extra={
            "username": username,
            "delegation": user.delegation,
            "client": client,
            "through_hold": attempt.held is not None,
        },
    )
    return IssuedToken(raw, expires_at, principal_of(user))


def split_appended_code(*, cell: Cell, username: str, password: str) -> tuple[str, str | None]:
    """The password and the one-time code of an account with a second factor whose officer typed the code right
    after the password (the OAuth2 password grant, as the API docs' Authorize sends it, has no field for it). For
    any other account, or a password not ending in the code's digits, the password as typed and no code."""
    typed = _APPENDED_CODE.fullmatch(password)
    if typed is None:
        return password, None
    with cell.reading() as session:
        secret = session.execute(select(User.totp_secret).where(User.username == username)).scalar_one_or_none()
    return (typed.group(1), typed.group(2)) if secret else (password, None)


def _matching_step(totp: pyotp.TOTP, otp: str, now: datetime) -> int | None:
    """The time step the code belongs to (the current one or one either side), or None."""
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in (current, current - 1, current + 1):
        # as bytes: compare_digest refuses str holding anything but ASCII (a code typed in Arabic-Indic digits)
        if secrets.compare_digest(totp.at(step * TOTP_STEP_SECONDS).encode(), otp.encode()):
            return step
    return None


# built once, plain columns rather than entities: this runs on every request and every stream token check
_TOKEN_LOOKUP = (
    select(
        AccessToken.revoked_at,
        AccessToken.expires_at,
        User.id,
        User.username,
        User.delegation,
        User.roles,
        User.disabled,
    )
    .join(User, User.id == AccessToken.user_id)
    .where(AccessToken.token_hash == bindparam("digest"))
)


def _refusal(row: Any, now: datetime) -> str | None:
    """Why a token found by _TOKEN_LOOKUP (or not found: None) no longer opens its account, if it does not."""
    if row is None:
        return "unknown token: log in again"
    if row.revoked_at is not None:
        return "this token was revoked: log in again"
    if row.expires_at <= now:
        return "this token has expired: log in again"
    if row.disabled:
        return "this account is disabled"
    return None


def authenticate(*, cell: Cell, raw_token: str) -> Principal:
    now = cell.clock.now()
    with cell.reading() as session:
        row = session.execute(_TOKEN_LOOKUP, {"digest": token_digest(raw_token)}).first()
    if (refusal := _refusal(row, now)) is not None:
        raise Unauthorized(refusal)
    return _principal_of_row(row)


def _principal_of_row(row: Any) -> Principal:
    return Principal(
        username=row.username,
        delegation=row.delegation,
        roles=frozenset(Role(r) for r in row.roles),
        user_id=row.id,
    )


@dataclass(frozen=True)
class WebAccount:
    """What a page needs of the signed-in account, read with its token in one query."""

    principal: Principal
    expires_at: datetime
    lang: str | None
    time_zone: str | None


_SESSION_LOOKUP = _TOKEN_LOOKUP.add_columns(UserPreferences.lang, UserPreferences.time_zone).outerjoin(
    UserPreferences, UserPreferences.user_id == User.id
)


def authenticate_page(*, cell: Cell, raw_token: str) -> WebAccount:
    """As `authenticate`, with the session's end and the account's own settings, for a page."""
    now = cell.clock.now()
    with cell.reading() as session:
        row = session.execute(_SESSION_LOOKUP, {"digest": token_digest(raw_token)}).first()
    if (refusal := _refusal(row, now)) is not None:
        raise Unauthorized(refusal)
    return WebAccount(_principal_of_row(row), row.expires_at, row.lang, row.time_zone)


_TOKENS_LOOKUP = (
    select(AccessToken.token_hash, AccessToken.revoked_at, AccessToken.expires_at, User.disabled)
    .join(User, User.id == AccessToken.user_id)
    .where(AccessToken.token_hash.in_(bindparam("digests", expanding=True)))
)
_TOKENS_AT_ONCE = 500


def refused_tokens(*, cell: Cell, digests: Iterable[str]) -> dict[str, str]:
    """Of these token digests, those that no longer open their account, each with the reason: the stream checks all
    its sockets in one query when a token has been revoked somewhere."""
    now = cell.clock.now()
    wanted = sorted(set(digests))
    refused: dict[str, str] = {}
    with cell.reading() as session:
        for start in range(0, len(wanted), _TOKENS_AT_ONCE):
            chunk = wanted[start : start + _TOKENS_AT_ONCE]
            rows = {row.token_hash: row for row in session.execute(_TOKENS_LOOKUP, {"digests": chunk})}
            for digest in chunk:
                if (refusal := _refusal(rows.get(digest), now)) is not None:
                    refused[digest] = refusal
    return refused


def password_principal(*, cell: Cell, username: str, password: str, client: str | None) -> tuple[Principal, str]:
    """HTTP Basic (TAXII clients): the account behind a username and password, checked and throttled as a login
    is, with no token issued; with the password hash it was checked against. An account with a second factor
    cannot sign in this way: it uses a bearer token."""
    now = cell.clock.now()
    attempt = _checked_password(cell, username, password, client, now)
    user = attempt.user
    assert user is not None
    if user.totp_secret:
        _withdraw(cell, attempt)
        raise Unauthorized("this account has a second factor: send a bearer token from POST /api/v1/auth/token instead")
    with cell.command() as uow:
        throttle.signed_in(uow.session, username, client, now)
    return principal_of(user), user.password_hash


def principal_if_unchanged(*, cell: Cell, username: str, password_hash: str) -> Principal | None:
    """The account as it is now, if a sign-in checked against `password_hash` still stands: the account is enabled,
    its password is still that one, and it has no second factor (HTTP Basic cannot carry the code). Read from the
    database each time, so a disabling, a reset or an enrolment in TOTP on any instance ends cached sign-ins at
    once, and a change of roles applies at once."""
    with cell.reading() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or user.disabled or user.password_hash != password_hash or user.totp_secret is not None:
        return None
    return principal_of(user)


def logout(*, cell: Cell, raw_token: str) -> None:
    with cell.command() as uow:
        result = uow.session.execute(
            update(AccessToken)
            .where(AccessToken.token_hash == token_digest(raw_token), AccessToken.revoked_at.is_(None))
            .values(revoked_at=cell.clock.now())
        )
        if not result.rowcount:
            raise Unauthorized("unknown or already revoked token")
        revocations.note(uow)  # a stream opened with this token closes at once


def logout_everywhere(*, cell: Cell, principal: Principal) -> int:
    """Revoke every session of the principal's account (every browser, every client): how many were open."""
    with cell.command() as uow:
        user = _get_user(uow, principal.username)
        return _revoke_all(uow, user, cell.clock.now())


def preferences(*, cell: Cell, user_id: int) -> UserPreferences | None:
    with cell.reading() as session:
        return session.get(UserPreferences, user_id)


def set_preferences(*, cell: Cell, principal: Principal, changes: dict[str, str | None]) -> UserPreferences:
    """Change the principal's own language and time zone (each key present is set; None clears it)."""
    lang = changes.get("lang")
    if lang is not None and lang not in cell.charter.languages.supported:
        supported = ", ".join(cell.charter.languages.supported)
        raise InvalidInput(f"language {lang!r} is not one of the charter's: {supported}", field="lang")
    zone = changes.get("time_zone")
    if zone is not None and zone not in _time_zones():
        raise InvalidInput(
            f"{zone!r} is not a time zone this server knows: use an IANA name such as Asia/Damascus or UTC",
            field="time_zone",
        )
    with cell.command() as uow:
        user = _get_user(uow, principal.username)
        prefs = uow.session.get(UserPreferences, user.id) or UserPreferences(user_id=user.id)
        for key in ("lang", "time_zone"):
            if key in changes:
                setattr(prefs, key, changes[key])
        uow.session.add(prefs)
        uow.session.flush()
        return prefs


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def user_of(*, cell: Cell, username: str) -> User:
    with cell.reading() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no account named {username!r}")
    return user

"""Sign-in throttling, shared by the API's login, the web's sign-in and TAXII's HTTP Basic. Its state is the table
login_attempts, so every instance of a cell throttles alike, on SQLite and PostgreSQL.

The rule. A client is the address `fusioncell.proxies` finds (the TCP peer, or behind a trusted proxy the address
it forwards), an IPv6 client counted by its /64, the block one subscriber is given. An attempt whose password is
checked counts as a failure from the moment it starts until it succeeds, so a burst of simultaneous guesses gets
no more tries than one at a time; an attempt refused by a hold is not recorded, so it cannot extend the hold.

1. Per account and client. After FUSIONCELL_LOGIN_MAX_FAILURES failures of an account from one client within
   FUSIONCELL_LOGIN_FAILURE_WINDOW, that client waits (429) until the oldest of them leaves the window. No other
   client is held: a party guessing at a liaison's password from its own addresses locks only itself out.
2. Per account, from every client. Once an account has FUSIONCELL_LOGIN_ACCOUNT_MAX_FAILURES failures within
   FUSIONCELL_LOGIN_ACCOUNT_WINDOW from clients it has not signed in from in the last KNOWN_CLIENT_DAYS days (its
   owner's own typos at its own desks are not counted here, so what a held client is told never moves with
   them), such a client gets one try per back-off: 1 s after the latest failure, doubling with each failure past
   the limit, up to FUSIONCELL_LOGIN_BACKOFF_MAX. Guessing from many addresses is slowed to that pace; the clients
   the account has signed in from are held by rule 1 alone, so no one else can keep its owner out.
3. Through either hold. The right password with the account's current one-time code signs in whatever holds the
   client: a lock that others caused (from the same NAT or proxy) does not keep out someone with both factors.
   Any other held try gets the hold's 429 whatever was wrong, so it learns nothing, and is not counted. A right
   password with a wrong or used code shows that the password is known: after FUSIONCELL_LOGIN_MAX_FAILURES of those
   within FUSIONCELL_LOGIN_ACCOUNT_WINDOW the way through closes until they age out, so the code cannot be guessed
   through it either (only someone with the password can close it).

A sign-in clears its client's failures for the account and marks the client as one the account signs in from.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from fusioncell.auth.models import LoginAttempt
from fusioncell.clock import as_utc
from fusioncell.db import UnitOfWork
from fusioncell.errors import TooManyRequests
from fusioncell.proxies import parse_address
from fusioncell.settings import Settings

KNOWN_CLIENT_DAYS = 30

# login_attempts.reason: a sign-in (one row per account and client), or a failure of some kind
SIGNED_IN = "signed-in"
CHECKING = "checking"  # in flight: counts as a failure until it succeeds
CHECKING_CODE = "checking-code"  # in flight through a hold, the password right: the code is being checked
BAD_CREDENTIALS, DISABLED, BAD_OTP, OTP_REUSED = "bad-credentials", "disabled", "bad-otp", "otp-reused"
_PASSWORD_KNOWN = (CHECKING_CODE, BAD_OTP, OTP_REUSED)

_CLIENT_MAX: int = LoginAttempt.__table__.c.client.type.length  # type: ignore[attr-defined]
_BACKOFF_DOUBLINGS = 40  # past this the back-off is at its cap whatever the cap


def client_key(client: str | None) -> str | None:
    """What a client is counted as: an IPv4 address, an IPv6 /64, or (not an address: a test transport, a Unix
    socket) its name, cut to fit the column."""
    if client is None:
        return None
    address = parse_address(client)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else client[:_CLIENT_MAX]


@dataclass(frozen=True)
class Hold:
    """Why a client may not try a password now, and for how long."""

    detail: str
    retry_after: int

    def error(self) -> TooManyRequests:
        return TooManyRequests(self.detail, retry_after=self.retry_after)


def lock_account(uow: UnitOfWork, username: str) -> None:
    """Serialise the throttle's reads and writes for one account, so holds are judged on every attempt before.
    SQLite's single writer (BEGIN IMMEDIATE) does this already; PostgreSQL takes a transaction advisory lock."""
    if uow.db.is_postgres:
        uow.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"login:{username}", 0))))


def prune(session: Session, settings: Settings, username: str, now: datetime) -> None:
    """Forget the account's failures no rule counts any more, and the clients it has not signed in from for long."""
    counted = max(settings.login_failure_window, settings.login_account_window)
    session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.username == username,
            or_(
                (LoginAttempt.reason != SIGNED_IN) & (LoginAttempt.attempted_at <= now - counted),
                (LoginAttempt.reason == SIGNED_IN)
                & (LoginAttempt.attempted_at <= now - timedelta(days=KNOWN_CLIENT_DAYS)),
            ),
        )
    )


def _failures(username: str, since: datetime):  # type: ignore[no-untyped-def]
    return (
        LoginAttempt.username == username,
        LoginAttempt.reason != SIGNED_IN,
        LoginAttempt.attempted_at > since,
    )


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def hold(session: Session, settings: Settings, username: str, client: str | None, now: datetime) -> Hold | None:
    """The hold on this client for this account now (rules 1 and 2), the longer if both apply; None if it may try."""
    key = client_key(client)
    holds: list[Hold] = []

    window = settings.login_failure_window
    count, oldest = session.execute(
        select(func.count(LoginAttempt.id), func.min(LoginAttempt.attempted_at)).where(
            *_failures(username, now - window), LoginAttempt.client == key
        )
    ).one()
    if count >= settings.login_max_failures:
        wait = _seconds(as_utc(oldest) + window - now)
        holds.append(Hold(f"too many failed logins for {username!r} from this address; try again in {wait} s", wait))

    # failures from clients the account is known at are its owner's own (typos, a sign-in in flight): they are
    # rule 1's alone, so that neither they nor the sign-ins that clear them move what other clients are told
    known = _known_clients(session, username, now)
    count, latest = session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.attempted_at)).where(
            *_failures(username, now - settings.login_account_window),
            or_(LoginAttempt.client.is_(None), LoginAttempt.client.not_in(known)),
        )
    ).one()
    past = count - settings.login_account_max_failures
    if past >= 0 and key not in known:
        backoff = min(settings.login_backoff_max, timedelta(seconds=2 ** min(past, _BACKOFF_DOUBLINGS)))
        if now < as_utc(latest) + backoff:
            wait = _seconds(as_utc(latest) + backoff - now)
            holds.append(
                Hold(
                    f"too many failed logins for {username!r}; from an address it has not signed in from, "
                    f"try again in {wait} s",
                    wait,
                )
            )
    if not holds:
        return None
    longest = max(holds, key=lambda h: h.retry_after)
    return Hold(
        longest.detail + " (an account with a one-time code signs in now with its password and current code)",
        longest.retry_after,
    )


def _known_clients(session: Session, username: str, now: datetime) -> set[str]:
    """The clients the account has signed in from in the last KNOWN_CLIENT_DAYS days."""
    return set(
        session.execute(
            select(LoginAttempt.client).where(
                LoginAttempt.username == username,
                LoginAttempt.reason == SIGNED_IN,
                LoginAttempt.attempted_at > now - timedelta(days=KNOWN_CLIENT_DAYS),
                LoginAttempt.client.is_not(None),
            )
        ).scalars()
    )


def password_known_elsewhere(session: Session, settings: Settings, username: str, now: datetime) -> bool:
    """Rule 3's closing: enough tries with the right password and a wrong code (or in flight) that the way
    through a hold stays shut."""
    count = session.execute(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.username == username,
            LoginAttempt.reason.in_(_PASSWORD_KNOWN),
            LoginAttempt.attempted_at > now - settings.login_account_window,
        )
    ).scalar_one()
    return count >= settings.login_max_failures


def start(session: Session, username: str, client: str | None, now: datetime, *, reason: str = CHECKING) -> int:
    """Record an attempt before its password is checked; it counts as a failure until it succeeds."""
    attempt = LoginAttempt(username=username, attempted_at=now, client=client_key(client), reason=reason)
    session.add(attempt)
    session.flush()
    return attempt.id


def signed_in(session: Session, username: str, client: str | None, now: datetime) -> None:
    """The account signed in from this client: its failures from here go, and the client is one it signs in from."""
    key = client_key(client)
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.client == key))
    session.add(LoginAttempt(username=username, attempted_at=now, client=key, reason=SIGNED_IN))

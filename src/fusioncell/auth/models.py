"""Account tables. Tokens and login attempts are security bookkeeping, not shared record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fusioncell.db import Base, UTCDateTime

# What users.username and login_attempts.username hold: no account's name is longer, so no sign-in with a longer
# name is looked up or recorded (the API and the web sign-in refuse it as input, TAXII's HTTP Basic as a wrong login).
USERNAME_LENGTH = 64


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), unique=True, nullable=False)
    delegation: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class UserPreferences(Base):
    """How a person likes the pages: language and time zone, kept with the account so every browser they sign in
    from shows them alike. Their own settings, not shared record."""

    __tablename__ = "user_preferences"
    __ledger_exempt__ = True

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lang: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))


class AccessToken(Base):
    """A bearer token, stored only as its SHA-256 (tokens carry 256 random bits, so no slow hash is needed)."""

    __tablename__ = "access_tokens"
    __ledger_exempt__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    otp_step: Mapped[int | None] = mapped_column(Integer, doc="TOTP time step used, so a code works once")


class TokenRevocations(Base):
    """One row: how many transactions have revoked tokens, moved in each of them (so in commit order). A stream
    reads it with every batch of new entries: a change means some subscriber's token may have been revoked before
    those entries were committed, and must be checked before they are sent."""

    __tablename__ = "token_revocations"
    __ledger_exempt__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LoginAttempt(Base):
    """Sign-in attempts, kept in the database so every app instance throttles alike (fusioncell.auth.throttle):
    failures and attempts in flight, and for each account and client its latest sign-in (reason 'signed-in')."""

    __tablename__ = "login_attempts"
    __ledger_exempt__ = True
    __table_args__ = (Index("ix_login_attempts_lookup", "username", "client", "attempted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    client: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), nullable=False)

"""Settings in one place: environment variables with the prefix FUSIONCELL_."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fusioncell.proxies import IPNetwork, parse_trusted


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FUSIONCELL_", extra="ignore")

    data: Path = Field(default=Path("var/demo"), description="Data directory: charter, SQLite database, keys.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a PostgreSQL database (postgresql+psycopg://…); "
        "unset means SQLite in WAL mode under the data directory.",
    )
    log_key_file: Path | None = Field(
        default=None,
        description="The log's private signing key (default <data>/keys/log.key, made on first start unless the "
        "charter names a log key). Every instance of one cell uses the same file.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes. Several need PostgreSQL (LISTEN/NOTIFY wakes each one's stream); "
        "SQLite serves from one process.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+$",
        description="The address people open, e.g. https://cell.example (scheme and host, no path). Web forms must "
        "come from it and session cookies are Secure when it is https. Unset: each request's own scheme and host.",
    )
    stix_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Processes that check large STIX submissions (the stix2 library is pure Python); unset: one "
        "per core; 0 or 1: in the server process",
    )
    token_ttl: timedelta = timedelta(hours=12)
    max_body_bytes: int = 1_048_576
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = Field(
        default=(),
        description="Reverse proxies whose X-Forwarded-For is believed: addresses and CIDR networks separated by "
        "commas (10.0.0.5, 10.1.0.0/16). Unset: none, and a request's client is its TCP peer (fusioncell.proxies).",
    )
    # sign-in throttling (fusioncell.auth.throttle states the rule)
    login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="Failed logins of one account from one client before that client waits."
    )
    login_failure_window: timedelta = Field(
        default=timedelta(minutes=15), description="How long a failure counts against its account and client."
    )
    login_account_max_failures: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="Failed logins of one account from every client before clients it has not signed in from "
        "get one try per back-off.",
    )
    login_account_window: timedelta = Field(
        default=timedelta(days=1), description="How long a failure counts against its account from every client."
    )
    login_backoff_max: timedelta = Field(
        default=timedelta(minutes=5), description="The longest wait between tries the account-wide back-off imposes."
    )
    scheduler_interval_seconds: float = 1.0
    scheduler_enabled: bool = True
    stream_heartbeat_seconds: float = 15.0
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token for Prometheus to scrape /metrics; the mediator's officers may read it too.",
    )
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("postgresql+psycopg://", "sqlite")):
            raise ValueError(
                "FUSIONCELL_DATABASE_URL must be a postgresql+psycopg://user@host/db URL "
                "(or unset for SQLite under the data directory)"
            )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> tuple[IPNetwork, ...]:
        return parse_trusted(value)

    @field_validator("login_failure_window", "login_account_window", "login_backoff_max")
    @classmethod
    def _a_while(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=366):
            raise ValueError("must be between one second and a year, as an ISO 8601 duration such as PT15M or P1D")
        return value

    @property
    def charter_path(self) -> Path:
        return self.data / "charter.yaml"

    def resolved_stix_workers(self) -> int:
        return os.cpu_count() or 1 if self.stix_workers is None else self.stix_workers

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data / 'fusioncell.sqlite3').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (CLI flags) taking precedence."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    if "data" not in clean and not os.environ.get("FUSIONCELL_DATA"):
        clean["data"] = Path("var/demo")
    return Settings(**clean)

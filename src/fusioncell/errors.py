"""Errors carry their status; they are rendered once, as RFC 9457 application/problem+json."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://fusioncell.dev/problems/"


class ConcurrentResend(Exception):
    """A request under a client's own id (`client_txn_id`) that is already on the record, or was committed while
    this one was on its way: the caller answers with what was recorded (or 409 if it differs)."""


class DomainError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class InvalidInput(DomainError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class InvalidPageToken(DomainError):
    status, slug, title = 400, "invalid-page-token", "Invalid page token"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Not authenticated"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extensions)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


class LogKeyError(RuntimeError):
    """The log's signing key is missing, unreadable, too readable, or not the one the charter names: an
    operator's problem at start-up, not a client's."""

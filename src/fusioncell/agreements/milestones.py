"""A milestone's status, derived and never set: from the clock, the verifier's latest attestation and whether a case
about it is live. Pure.

In order: *overdue* once its date has passed and it is not verified (whatever else is said of it); *disputed* while
a case about it is live (a verification contested, say); *verified* once its verifier last attested it done; *due*
within the charter's window before its date; *pending* before that, and while the agreement does not bind."""

from __future__ import annotations

from datetime import datetime, timedelta

STATUSES = ("pending", "due", "verified", "overdue", "disputed")


def status_of(
    *, due: datetime, verified: bool, disputed: bool, now: datetime, window: timedelta, binding: bool = True
) -> str:
    if not binding:
        return "pending"
    if not verified and now >= due:
        return "overdue"
    if disputed:
        return "disputed"
    if verified:
        return "verified"
    if now >= due - window:
        return "due"
    return "pending"

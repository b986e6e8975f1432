"""Every table, imported once so the metadata (and Alembic) sees the whole schema."""

from fusioncell.auth.models import AccessToken, LoginAttempt, User
from fusioncell.db import Base
from fusioncell.ledger.models import LedgerEntry, LedgerHead
from fusioncell.scheduler.models import Job

metadata = Base.metadata

__all__ = ["AccessToken", "Job", "LedgerEntry", "LedgerHead", "LoginAttempt", "User", "metadata"]

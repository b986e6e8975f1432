"""Token revocations, as something every instance's stream acts on at once.

Every transaction that revokes tokens (logout, signing out of the web, disabling an account, a password reset,
enrolling TOTP: whatever revokes goes through `note`) moves one counter, `token_revocations.generation`, and on
PostgreSQL notifies REVOKED_CHANNEL. The stream hub reads the counter after each batch of new entries; when it has
moved, the hub checks its subscribers' tokens in one query before that batch goes out, and closes the sockets of
those no longer valid. The counter moves inside the revoking transaction and is read after the entries are, so a
revocation committed before an entry is always known before that entry is sent: nothing committed after a token
was revoked reaches its socket. The wake-up rides the hub's existing paths: NOTIFY on PostgreSQL (every instance),
the `PRAGMA data_version` watcher on SQLite (which also sees the command line's commits).
"""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from fusioncell.auth.models import TokenRevocations
from fusioncell.db import UnitOfWork

REVOKED_CHANNEL = "fusioncell_revoked"
_ROW = 1

_table = TokenRevocations.__table__
_MOVE = update(_table).where(_table.c.id == _ROW).values(generation=_table.c.generation + 1)
_READ = select(_table.c.generation).where(_table.c.id == _ROW)
_NOTIFY = text("SELECT pg_notify(:channel, '')")


def note(uow: UnitOfWork) -> None:
    """In the revoking transaction: move the counter, and wake every instance's stream when (and if) it commits.
    The row lock makes concurrent revocations move it one after the other, in commit order."""
    uow.session.execute(_MOVE)
    if uow.db.is_postgres:
        uow.session.execute(_NOTIFY, {"channel": REVOKED_CHANNEL})


def generation(session: Session) -> int:
    """How many revoking transactions had committed when this was read."""
    return session.execute(_READ).scalar_one()

"""Entries as a log wrote them before migration 0006: leaf format 1, whose public leaf names the action, the
actor's delegation and the subject. A log is never rewritten, so such entries live on in every upgraded log; these
helpers let a test append them through the real unit of work."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from fusioncell.ledger import entries
from fusioncell.policy import Audience, Principal


def legacy_entry_row(
    *,
    index: int,
    now: datetime,
    action: str,
    actor: Principal,
    audience: Audience,
    subject: str,
    content: Mapping[str, Any],
    sqlite: bool = False,
) -> tuple[tuple[Any, ...], Any, bytes]:
    """`entries.entry_row` as it was in leaf format 1."""
    plain, content_bytes = entries.canonical_pair({"actor": actor.username, **content})
    salt = entries.new_salt()
    commitment = hashlib.sha256(salt + content_bytes).hexdigest()
    iso = entries._iso(now)
    leaf = entries._leaf_text(index, iso, action, actor.delegation, audience.label, subject, commitment).encode()
    stored = entries._stored_of_iso(iso) if sqlite else now
    row = (
        index, stored, action, actor.username, actor.delegation, audience.label, subject,
        content_bytes.decode("utf-8"), salt.hex(), 1, commitment,
    )  # fmt: skip
    return row, plain, hashlib.sha256(b"\x00" + leaf).digest()


@contextmanager
def format_1() -> Iterator[None]:
    """Within this block, the unit of work appends format-1 entries."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(entries, "entry_row", legacy_entry_row)
        yield

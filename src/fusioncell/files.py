"""Files only their owner may read: tokens, private keys, demo passwords."""

from __future__ import annotations

import os
from pathlib import Path


def write_owner_only(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to `path` with owner-only permissions from the first byte (the directory made owner-only if
    new). `exclusive`: refuse to replace an existing file (FileExistsError), as for a key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC), 0o600)
    os.fchmod(fd, 0o600)  # an older file may have been readable by others: fix that before writing
    with os.fdopen(fd, "w") as fh:
        fh.write(text)

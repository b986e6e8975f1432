"""Evidence files: what their bytes are (never what their name or the sender says), their size and SHA-256. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fusioncell import text

MAX_FILES = 5
MAX_FILE_BYTES = 512 * 1024  # each, decoded; the request body's own limit bounds them together

# what a file's first bytes say it is, for the kinds a cell receives as evidence
SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/gif", b"GIF87a", 0),
    ("image/gif", b"GIF89a", 0),
    ("application/pdf", b"%PDF-", 0),
    ("video/mp4", b"ftyp", 4),
)
ACCEPTED = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "video/mp4", "text/plain")


class EvidenceError(ValueError):
    pass


def sniff(data: bytes) -> str | None:
    """The content type the bytes show, or None for anything not accepted as evidence."""
    for kind, magic, offset in SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if decoded and text.refusal(decoded, lines=True) is None else None


@dataclass(frozen=True)
class Checked:
    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes

    def record(self) -> dict[str, object]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size, "sha256": self.sha256}


def check(filename: str, declared: str, data: bytes) -> Checked:
    if not data:
        raise EvidenceError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise EvidenceError(f"{len(data):,} bytes: a file is at most {MAX_FILE_BYTES:,} bytes")
    found = sniff(data)
    if found is None:
        raise EvidenceError(f"its bytes are none of the accepted kinds ({', '.join(ACCEPTED)})")
    if declared != found:
        raise EvidenceError(f"declared {declared} but its bytes are {found}")
    return Checked(filename, found, len(data), hashlib.sha256(data).hexdigest(), data)

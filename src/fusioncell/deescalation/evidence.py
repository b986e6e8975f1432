"""Evidence files: what their bytes are (never what their name or the sender says), their size and SHA-256. Pure."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fusioncell import text
from fusioncell.errors import InvalidInput

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


class Upload(Protocol):
    filename: str
    content_type: str
    content_base64: str


def decode(uploads: Sequence[Upload], *, field: str = "evidence") -> list[Checked]:
    """The files of a request body, each decoded and checked, or InvalidInput naming the one that fails (and a file
    attached twice)."""
    out = []
    for i, upload in enumerate(uploads):
        try:
            data = base64.b64decode(upload.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{field}: content_base64 is not base64", field=f"{field}[{i}].content_base64") from None
        try:
            out.append(check(upload.filename, upload.content_type, data))
        except EvidenceError as exc:
            raise InvalidInput(f"{field}[{i}] ({upload.filename}): {exc}", field=f"{field}[{i}]") from None
    hashes = [f.sha256 for f in out]
    if len(set(hashes)) != len(hashes):
        raise InvalidInput("the same file is attached twice", field=field)
    return out

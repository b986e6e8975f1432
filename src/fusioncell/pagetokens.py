"""Opaque page tokens: where the next page of a list starts, sealed so that the reader learns nothing from it.

A keyset page ends at a row, and row ids come from one sequence for every audience: an id in the clear tells a
reader how many rows went, in between, to audiences it cannot see (and a parameter that takes any id lets it
find the id of every row it reads). So a list that pages over such rows hands out the position sealed:
AES-256-GCM, a fresh nonce each time, under a key that every instance of the cell derives (HKDF-SHA256) from the
log's signing key, which every instance reads, so that any instance serves the next page, after a restart too.
The token's associated data names the list, the reader and the filters the token was made for: a token altered,
or brought by another user or with other filters, does not open, and the request is refused (400).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fusioncell.cell import Cell
from fusioncell.errors import InvalidPageToken
from fusioncell.ledger.log import log_signer
from fusioncell.ledger.note import derive_key

_VERSION = b"\x01"
_NONCE_BYTES = 12
_POSITION_BYTES = 8  # a signed 64-bit row id, whatever its size: every token has the same length
TOKEN_LENGTH = len(base64.urlsafe_b64encode(_VERSION + bytes(_NONCE_BYTES + _POSITION_BYTES + 16)).rstrip(b"="))
_INFO = b"fusioncell page tokens v1"


class PageTokens:
    """Seals and opens positions under one key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def derived_from(cls, secret: bytes) -> PageTokens:
        return cls(derive_key(secret, _INFO))

    def seal(self, position: int, *, bound_to: str) -> str:
        """A token for `position` (a row id from 0 to 2**63 - 1) that opens only with the same `bound_to`."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, position.to_bytes(_POSITION_BYTES, "big"), _VERSION + bound_to.encode())
        return base64.urlsafe_b64encode(_VERSION + nonce + sealed).rstrip(b"=").decode("ascii")

    def open(self, token: str, *, bound_to: str) -> int:
        """The position a token of ours holds, if it was made for `bound_to`; InvalidPageToken otherwise."""
        try:
            if len(token) != TOKEN_LENGTH or not token.isascii():
                raise ValueError
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            if raw[:1] != _VERSION:
                raise ValueError
            nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
            return int.from_bytes(self._aead.decrypt(nonce, sealed, _VERSION + bound_to.encode()), "big")
        except (ValueError, binascii.Error, InvalidTag):
            raise InvalidPageToken(
                "this page token is not one this cell gave you for this list and these filters: start again without it"
            ) from None


def page_tokens(cell: Cell) -> PageTokens:
    """The cell's page tokens, keyed from its log signing key (the same on every instance, across restarts)."""
    return cell.derived("page_tokens", lambda: PageTokens.derived_from(log_signer(cell).seed))


def bound_to(*parts: str) -> str:
    """What a token is made for, from its parts (the list, the reader, the filters), unambiguously joined."""
    return json.dumps(parts, ensure_ascii=False)

"""C2SP signed notes, checkpoints and cosignatures, byte-compatible with Go's golang.org/x/mod/sumdb/note.

- signed-note: a text ending in a newline, a blank line, then lines `— <name> base64(key ID ‖ signature)`.
  Ed25519 key IDs are SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]; keys are written as Go writes them:
  verifier `<name>+<hex key ID>+base64(0x01 ‖ public key)`,
  signer `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 ‖ seed)`.
- tlog-checkpoint: the text is `<origin>\\n<size>\\n<base64 root>\\n`.
- tlog-cosignature (Ed25519, type 0x04): a witness signs `cosignature/v1\\ntime <t>\\n` ‖ checkpoint text; the
  signature is key ID ‖ u64 big-endian timestamp ‖ Ed25519 signature.

Pure functions and small value types: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
DASH = "\u2014"
MAX_SIGNATURES = 100  # as Go's note.Open; the spec asks for at least 16
MAX_NOTE_BYTES = 1 << 20


class NoteError(ValueError):
    """A malformed key, note or checkpoint, or a signature that does not verify."""


class UnverifiedNote(NoteError):
    """No signature from a known key verified."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or any(ord(c) < 0x20 for c in name):
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")


def key_id(name: str, alg: int, public: bytes) -> int:
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A named public key: a log's (alg 0x01) or a witness's cosigning key (alg 0x04)."""

    name: str
    alg: int
    public: bytes

    @property
    def id(self) -> int:
        return key_id(self.name, self.alg, self.public)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """`<name>+<hex key ID>+<base64(alg ‖ public key)>`, refusing anything Go's NewVerifier refuses."""
        parts = vkey.strip().split("+", 2)  # base64 may itself hold "+"
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<key ID>+<base64 key>")
        name, hex_id, b64 = parts
        _check_name(name)
        if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
            raise NoteError("the key ID of a verifier key is 8 lower-case hex digits")
        raw = _b64decode(b64, "the verifier key")
        if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError("only Ed25519 verifier keys (type 0x01, or 0x04 for witness cosignatures) are supported")
        verifier = cls(name, raw[0], raw[1:])
        if verifier.id != int(hex_id, 16):
            raise NoteError("the key ID does not match the key")
        return verifier

    def __str__(self) -> str:
        return f"{self.name}+{self.id:08x}+{base64.b64encode(bytes([self.alg]) + self.public).decode()}"

    def _key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key().verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    alg: int
    seed: bytes

    @classmethod
    def generate(cls, name: str, *, alg: int = ALG_ED25519) -> Signer:
        _check_name(name)
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return cls(name, alg, seed)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """`PRIVATE+KEY+<name>+<hex key ID>+<base64(alg ‖ seed)>`."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<key ID>+<base64 key>")
        name, hex_id, b64 = parts[2:]
        _check_name(name)
        raw = _b64decode(b64, "the signer key")
        if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError("only Ed25519 signer keys are supported")
        signer = cls(name, raw[0], raw[1:])
        if f"{signer.verifier.id:08x}" != hex_id:
            raise NoteError("the key ID does not match the key")
        return signer

    def __str__(self) -> str:
        b64 = base64.b64encode(bytes([self.alg]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id:08x}+{b64}"

    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.alg, _raw_public(self._key().public_key()))

    def sign(self, message: bytes) -> bytes:
        return self._key().sign(message)


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one purpose, derived (HKDF-SHA256) from a signing key's seed: what every instance of a cell
    that holds the log key can make alike, and no one without it (page tokens, the map's audience salts)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


# -- signed notes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    name: str
    id: int
    blob: bytes  # what follows the key ID

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.id.to_bytes(4, 'big') + self.blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note must not contain control characters other than newline")


def parse_signature_line(line: str) -> Signature:
    """`— <name> <base64>` (without the newline)."""
    if not line.startswith(DASH + " "):
        raise NoteError("a signature line starts with an em dash and a space")
    rest = line[2:]
    name, sep, b64 = rest.partition(" ")
    if not sep:
        raise NoteError("a signature line is '— <name> <signature>'")
    _check_name(name)
    raw = _b64decode(b64, "a signature")
    if len(raw) < 5:
        raise NoteError("a signature is a key ID and at least one byte")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into its text and signatures (nothing verified yet)."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise NoteError("the note is too large")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note must be valid UTF-8") from exc
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    cut = data.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note has a blank line between its text and its signatures")
    text, block = data[: cut + 1], data[cut + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("every signature line ends in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    if any(ord(c) < 0x20 and c != "\n" for c in block):
        raise NoteError("a note must not contain control characters other than newline")
    return Note(text, tuple(parse_signature_line(line) for line in lines))


def sign_note(text: str, *signers: Signer) -> Note:
    _check_text(text)
    return Note(text, tuple(Signature(s.name, s.verifier.id, s.sign(text.encode())) for s in signers))


def open_note(data: str | bytes, verifiers: list[Verifier]) -> tuple[Note, list[Verifier]]:
    """Parse a note and check its signatures against the known Ed25519 (0x01) keys: signatures by unknown keys
    are ignored, a known key's bad signature fails the whole note, and at least one must verify. Returns the
    note and the keys whose signatures verified."""
    note = parse_note(data)
    known = {(v.name, v.id): v for v in verifiers if v.alg == ALG_ED25519}
    good: list[Verifier] = []
    for sig in note.signatures:
        v = known.get((sig.name, sig.id))
        if v is None:
            continue
        if not v.verify(note.text.encode(), sig.blob):
            raise NoteError(f"the signature of {sig.name} does not verify")
        if v not in good:
            good.append(v)
    if not good:
        raise UnverifiedNote("no signature on the note is from a known key")
    return note, good


# -- checkpoints ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("a checkpoint ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise NoteError("a checkpoint's origin must not be empty")
        if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError("a checkpoint's size is a decimal number without leading zeroes")
        size = int(size_text)
        if size >= 1 << 63:
            raise NoteError("a checkpoint's size is out of range")
        root = _b64decode(root_text, "the root hash")
        if len(root) != 32:
            raise NoteError("a checkpoint's root hash is 32 bytes")
        if any(not line for line in extensions):
            raise NoteError("a checkpoint's extension lines must not be empty")
        return cls(origin, size, root, tuple(extensions))


def open_checkpoint(data: str | bytes, log_key: Verifier, origin: str | None = None) -> tuple[Checkpoint, Note]:
    """A signed checkpoint verified against the log's key (and its origin, if given)."""
    note, _ = open_note(data, [log_key])
    checkpoint = Checkpoint.parse(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint's origin is {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, note


# -- cosignatures (tlog-cosignature v1, Ed25519) ---------------------------------------------------------------


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(signer: Signer, text: str, timestamp: int) -> Signature:
    if signer.alg != ALG_COSIGNATURE_V1:
        raise NoteError("a cosignature needs a witness key (type 0x04)")
    if not 0 <= timestamp < 1 << 63:
        raise NoteError("the cosignature timestamp is out of range")
    blob = struct.pack(">Q", timestamp) + signer.sign(cosignature_message(text, timestamp))
    return Signature(signer.name, signer.verifier.id, blob)


# 9999-12-31T23:59:59Z: a later time no calendar of ours can show, so no honest witness signs it
LAST_TIMESTAMP = 253_402_300_799


def verify_cosignature(witness: Verifier, text: str, signature: Signature) -> int:
    """The timestamp of a valid cosignature by `witness` on the checkpoint text; NoteError otherwise."""
    if witness.alg != ALG_COSIGNATURE_V1:
        raise NoteError(f"{witness.name} is not a witness key (type 0x04)")
    if (signature.name, signature.id) != (witness.name, witness.id):
        raise NoteError(f"the signature is not by witness {witness.name}")
    if len(signature.blob) != 8 + 64:
        raise NoteError(f"the cosignature of {witness.name} is not a timestamped Ed25519 signature")
    (timestamp,) = struct.unpack(">Q", signature.blob[:8])
    if timestamp > LAST_TIMESTAMP:
        raise NoteError(f"the cosignature of {witness.name} is dated after the year 9999")
    if not witness.verify(cosignature_message(text, timestamp), signature.blob[8:]):
        raise NoteError(f"the cosignature of {witness.name} does not verify")
    return int(timestamp)

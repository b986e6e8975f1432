"""Signed notes, checkpoints and cosignatures: Go's published vector, and every way a note can be wrong."""

from __future__ import annotations

import base64

import pytest

from fusioncell.ledger import note as N
from fusioncell.ledger.note import NoteError

# golang.org/x/mod/sumdb/note, note_test.go
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_NOTE = GO_TEXT + "\n" + GO_SIG


def test_go_vector_verifies_and_signing_reproduces_it_byte_for_byte() -> None:
    verifier = N.Verifier.parse(GO_VKEY)
    signer = N.Signer.parse(GO_SKEY)
    assert str(verifier) == GO_VKEY and str(signer) == GO_SKEY
    assert signer.verifier == verifier
    note, good = N.open_note(GO_NOTE, [verifier])
    assert note.text == GO_TEXT and good == [verifier]
    assert str(N.sign_note(GO_TEXT, signer)) == GO_NOTE  # Ed25519 is deterministic


def test_mangled_verifier_keys_are_refused() -> None:
    """As Go's TestNewVerifier: every proper substring and every one-byte change of the key is refused."""
    b = GO_VKEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(NoteError):
                    N.Verifier.parse(b[i:j].decode())
    for i in range(len(b)):
        mangled = bytearray(b)
        mangled[i] += 1
        with pytest.raises(NoteError):
            N.Verifier.parse(mangled.decode())


def test_a_changed_text_or_signature_fails_and_unknown_keys_are_ignored() -> None:
    verifier = N.Verifier.parse(GO_VKEY)
    with pytest.raises(NoteError, match="does not verify"):
        N.open_note(GO_NOTE.replace("cryptography", "cryptographY"), [verifier])
    other = N.Signer.generate("someone.example/else")
    both = str(N.Note(GO_TEXT, (*N.parse_note(GO_NOTE).signatures, N.sign_note(GO_TEXT, other).signatures[0])))
    note, good = N.open_note(both, [verifier])  # the unknown signature is ignored
    assert good == [verifier] and len(note.signatures) == 2
    with pytest.raises(N.UnverifiedNote):
        N.open_note(GO_NOTE, [other.verifier])  # nothing from a known key


@pytest.mark.parametrize(
    "bad",
    [
        GO_TEXT + GO_SIG,  # no blank line
        GO_TEXT.rstrip("\n") + "\n\n" + GO_SIG.rstrip("\n"),  # signature line without its newline
        GO_TEXT + "\n" + GO_SIG.replace("— ", "- "),  # not an em dash
        GO_TEXT + "\n" + GO_SIG.replace("x08go", "x08g!"),  # not base64
        GO_TEXT.replace("If", "If\x01") + "\n" + GO_SIG,  # a control character
        GO_TEXT + "\n" + "— PeterNeumann AAAA\n",  # too short to hold a key ID and a signature
        b"\xff\xfe\n\n" + GO_SIG.encode(),  # not UTF-8
        GO_TEXT + "\n" + GO_SIG * 101,  # too many signatures
    ],
)
def test_malformed_notes_are_refused(bad: str | bytes) -> None:
    with pytest.raises(NoteError):
        N.open_note(bad, [N.Verifier.parse(GO_VKEY)])


def test_checkpoint_round_trip_and_malformed_checkpoints() -> None:
    log = N.Signer.generate("fusioncell.example/paris-2026")
    cp = N.Checkpoint("fusioncell.example/paris-2026", 20852163, bytes(range(32)))
    signed = str(N.sign_note(cp.text, log))
    assert signed.startswith("fusioncell.example/paris-2026\n20852163\n" + base64.b64encode(bytes(range(32))).decode())
    opened, _ = N.open_checkpoint(signed, log.verifier, "fusioncell.example/paris-2026")
    assert opened == cp
    with pytest.raises(NoteError, match="origin"):
        N.open_checkpoint(signed, log.verifier, "elsewhere.example/log")
    root = base64.b64encode(bytes(32)).decode()
    for text in ["o\n012\n" + root + "\n", "o\n-1\n" + root + "\n", "\n1\n" + root + "\n", "o\n1\nAAAA\n",
                 "o\n1\n" + root, "o\n1\n", "o\n1\n" + root + "\n\n", f"o\n{1 << 63}\n" + root + "\n"]:  # fmt: skip
        with pytest.raises(NoteError):
            N.Checkpoint.parse(text)


def test_cosignatures() -> None:
    witness = N.Signer.generate("sy.witness.example", alg=N.ALG_COSIGNATURE_V1)
    text = N.Checkpoint("fusioncell.example/paris-2026", 7, bytes(32)).text
    sig = witness.verifier  # the verifier key as the charter lists it
    assert str(sig).split("+")[2].startswith("B")  # type byte 0x04
    assert N.Verifier.parse(str(sig)) == sig
    line = N.cosign(witness, text, 1_700_000_000)
    assert N.verify_cosignature(sig, text, N.parse_signature_line(line.line().rstrip("\n"))) == 1_700_000_000
    with pytest.raises(NoteError):
        N.verify_cosignature(sig, text.replace("7", "8"), line)
    tampered = N.Signature(line.name, line.id, (1_700_000_001).to_bytes(8, "big") + line.blob[8:])
    with pytest.raises(NoteError):
        N.verify_cosignature(sig, text, tampered)  # the timestamp is signed
    with pytest.raises(NoteError):
        N.cosign(N.Signer.generate("log.example"), text, 1)  # a log key is not a witness key
    # a well-signed date no calendar can show (a hostile witness's) is refused, not stored to break every reader
    assert N.verify_cosignature(sig, text, N.cosign(witness, text, N.LAST_TIMESTAMP)) == N.LAST_TIMESTAMP
    with pytest.raises(NoteError, match="after the year 9999"):
        N.verify_cosignature(sig, text, N.cosign(witness, text, N.LAST_TIMESTAMP + 1))

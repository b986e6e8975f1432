"""Evidence bundles: the entries about a subject, the contents the requester may see, inclusion proofs to a
final checkpoint, its cosignatures and the public keys — checked offline by `verify`, which trusts nothing in
the bundle it cannot check.

A bundle is complete, and proves it: for each audience its exporter reads, it lists the indices of every entry
about the subject up to its checkpoint, with the proof that the checkpoint's verifiable map (`ledger/map.py`)
holds exactly that list, or no entry at all. So an
arbiter can rely on an absence: a bundle with an entry left out fails `verify`, naming the entry. The log signs
who exported the bundle, when, and a digest of everything else in it (`statement`), so the exporter's identity,
which decides the audiences it must account for, cannot be changed either.

The keys in a bundle are anchored in the log itself: the bundle always carries entry 0, the adopted charter,
whose content names the log origin and (when the charter lists them) the witnesses' keys; `verify` compares the
bundle's keys with it, and with keys the verifier pins on the command line.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select

from fusioncell.cell import Cell
from fusioncell.errors import Conflict, InvalidInput, NotFound
from fusioncell.ledger import log, merkle, smt, tree
from fusioncell.ledger import map as ledger_map
from fusioncell.ledger.entries import canonical, commitment_of, entry_leaf
from fusioncell.ledger.models import LedgerEntry
from fusioncell.ledger.note import Checkpoint, NoteError, Verifier, open_note, sign_note, verify_cosignature
from fusioncell.policy import DelegationInfo, DelegationKind, Principal, Role, Roster, readable_audiences

FORMAT = "fusioncell-evidence/2"
FORMAT_1 = "fusioncell-evidence/1"  # bundles exported before the map: inclusion only, not completeness
MAX_ENTRIES = 100_000


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def related(cell: Cell, principal: Principal, subject: str) -> list[LedgerEntry]:
    """Entry 0 and the entries about `subject` that the requester may read: those under its name, and those whose
    content names it (a message's batched receipts, a release's recall: `ledger_map.ALSO_ABOUT`). Entries of other
    audiences are left out: that a hidden entry is about the subject, and when, is its audience's alone to know."""
    if not subject or len(subject) > 160:
        raise InvalidInput("subject is a ledger subject such as message:17", field="subject")
    readable = set(readable_audiences(principal, cell.charter.roster))
    naming = ledger_map.named_by(subject)
    with cell.reading() as session:
        rows = list(
            session.execute(
                select(LedgerEntry).where(
                    or_(
                        LedgerEntry.index == 0,
                        and_(LedgerEntry.subject == subject, LedgerEntry.audience.in_(readable)),
                    )
                )
            ).scalars()
        )
        for prefix in naming if readable else ():
            candidates = session.execute(
                select(LedgerEntry).where(LedgerEntry.subject.like(prefix + "%"), LedgerEntry.audience.in_(readable))
            ).scalars()
            rows += [e for e in candidates if subject in ledger_map.subjects_of(e.subject, json.loads(e.content))]
    rows.sort(key=lambda e: e.index)
    if len(rows) <= 1 and not any(r.subject == subject for r in rows):
        raise NotFound(f"the ledger has no entry about {subject!r} that you may read")
    if len(rows) > MAX_ENTRIES:
        raise InvalidInput(f"more than {MAX_ENTRIES} entries are about {subject!r}", field="subject")
    return rows


def _final_with_map(cell: Cell, newest: int, final: log.SignedCheckpoint | None = None) -> log.SignedCheckpoint:
    final = final or log.latest_final(cell)
    if final is None or final.size <= newest:
        have = f"the newest final checkpoint has {final.size} entries" if final else "no checkpoint is final yet"
        raise Conflict(
            f"entry {newest} is not yet under a final checkpoint ({have}): every party's witness must cosign one "
            "first; try again in a few seconds"
        )
    if final.map_root is None:
        raise Conflict(
            f"the newest final checkpoint ({final.size} entries) was signed before the log kept its map of "
            "subjects, so a bundle could not show it is complete: try again once a newer checkpoint is final"
        )
    return final


def export(
    cell: Cell, principal: Principal, subject: str, *, final: log.SignedCheckpoint | None = None
) -> dict[str, Any]:
    """The bundle about `subject`, proven to `final` (default: the latest final checkpoint), which must hold every
    entry about it."""
    entries = related(cell, principal, subject)
    final = _final_with_map(cell, entries[-1].index, final)
    readable = readable_audiences(principal, cell.charter.roster)
    keys = [(a, subject) for a in readable]
    entries = [e for e in entries if e.index < final.size]
    # the entries the map lists for each audience: those `related` found under the subject (entry 0 aside)
    listed: dict[tuple[str, str], list[int]] = {k: [] for k in keys}
    for e in entries:
        if e.index != 0 or e.subject == subject:
            listed[(e.audience, subject)].append(e.index)
    with cell.reading() as session:
        proofs = ledger_map.keeper(cell).proofs(session, final.size, keys)
    out = []
    with tree.NodeReader.open(cell.db) as reader:
        for e in entries:
            item: dict[str, Any] = {
                "leaf": entry_leaf(e).decode(),
                "proof": [_b64(h) for h in reader.inclusion(e.index, final.size)[1]],
            }
            if e.audience in readable:
                item["content"], item["salt"] = e.content, e.salt
            out.append(item)
    mapped = []
    for a, s in keys:
        proof = proofs[(a, s)]
        if proof.count != len(listed[(a, s)]):
            raise RuntimeError(f"the map counts {proof.count} entries about {s} in {a}, not {len(listed[(a, s)])}")
        mapped.append(
            {
                "audience": a,
                "subject": s,
                "indices": listed[(a, s)],
                "proof": _proof_json(proof.inner),
                "audience_salt": _b64(proof.salt),
                "audience_root": _b64(proof.audience_root),
                "audience_proof": _proof_json(proof.outer),
            }
        )
    cosigned = log.cosignatures(cell, final.size)
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "subject": subject,
        "origin": cell.charter.mechanism.log_origin,
        "exported_at": cell.clock.now().isoformat().replace("+00:00", "Z"),
        "exported_by": {
            "username": principal.username,
            "delegation": principal.delegation,
            "roles": sorted(str(r) for r in principal.roles),
        },
        "log_key": str(log.log_signer(cell).verifier),
        "parties": sorted(d.code for d in log.party_delegations(cell.charter)),
        "witnesses": [
            {"name": w.name, "delegation": w.delegation, "key": w.key} for w in cell.charter.ledger.witnesses
        ],
        "checkpoint": log.with_cosignatures(final, cosigned),
        "entries": out,
        "map": mapped,
    }
    bundle["statement"] = str(sign_note(_statement_text(bundle), log.log_signer(cell)))
    return bundle


def _proof_json(proof: smt.MapProof) -> dict[str, Any]:
    return {
        "siblings": [_b64(h) for h in proof.siblings],
        "other": None if proof.other is None else [_b64(proof.other[0]), _b64(proof.other[1])],
    }


def _proof_of(data: Any) -> smt.MapProof:
    """A map proof read from a bundle (ValueError, KeyError or TypeError when malformed)."""
    siblings = tuple(base64.b64decode(h, validate=True) for h in data["siblings"])
    other = data["other"]
    if other is None:
        return smt.MapProof(siblings)
    key, value = (base64.b64decode(h, validate=True) for h in other)
    return smt.MapProof(siblings, (key, value))


def _statement_text(bundle: dict[str, Any]) -> str:
    """What the log signs of a bundle: who exported it and when, about what, and a digest of all the rest."""
    body = {k: v for k, v in bundle.items() if k != "statement"}
    who = bundle.get("exported_by") or {}
    return (
        f"{FORMAT}\n{bundle.get('origin')}\nsubject {bundle.get('subject')}\n"
        f"exported by {who.get('username')} of {who.get('delegation')} ({','.join(who.get('roles') or [])})\n"
        f"at {bundle.get('exported_at')}\nsha256 {hashlib.sha256(canonical(body)).hexdigest()}\n"
    )


# -- offline verification -----------------------------------------------------------------------------------


class EvidenceError(Exception):
    """The bundle does not prove what it claims: the message says exactly where."""


@dataclass
class Verified:
    subject: str
    origin: str
    size: int
    entries: int
    contents: int
    cosigned_by: list[str] = field(default_factory=list)
    complete: bool = False  # the map proves the bundle holds every entry about the subject its exporter may read
    exported_by: str = ""


def _need(bundle: dict[str, Any], key: str, kind: type) -> Any:
    value = bundle.get(key)
    if not isinstance(value, kind):
        raise EvidenceError(f"bundle: {key!r} is missing or not a {kind.__name__}")
    return value


def header_field(name: str, header: dict[str, Any], content: dict[str, Any] | None) -> Any:
    """An entry's action, actor_delegation or subject: in its public leaf (format 1), or committed inside its
    content (format 2; None when the content is not revealed)."""
    if header.get("format") == 2:
        return None if content is None else content.get(f"@{name}")
    return header.get(name)


def entry_subject(header: dict[str, Any], content: dict[str, Any] | None) -> str | None:
    return header_field("subject", header, content)


def _about(subject: str, header: dict[str, Any], content: dict[str, Any] | None) -> bool:
    """Whether an entry belongs in a bundle about `subject`: entry 0 (the charter), and every entry the map lists
    under it (its own subject, or a batch of receipts naming the message)."""
    own = entry_subject(header, content)
    return header.get("index") == 0 or (own is not None and subject in ledger_map.subjects_of(str(own), content))


def verify(
    bundle: dict[str, Any],
    *,
    log_key: str | None = None,
    witness_keys: list[str] | None = None,
    charter_sha256: str | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Verified:
    """Check a bundle offline: the log's signature on the checkpoint; each entry's inclusion proof to its root,
    each revealed content against its commitment, each entry being about the subject; the keys anchored outside
    the bundle (the agreed charter file's hash against entry 0, or keys pinned here) and every party's witness
    cosignature by the witness the charter (or a pin) names. Raises EvidenceError with the place."""
    if bundle.get("format") not in (FORMAT, FORMAT_1):
        raise EvidenceError(f"bundle: not a {FORMAT} bundle")
    subject = _need(bundle, "subject", str)
    origin = _need(bundle, "origin", str)
    try:
        key = Verifier.parse(_need(bundle, "log_key", str))
        pins = {v.name: v for v in (Verifier.parse(k) for k in witness_keys or [])}
        pinned_log = Verifier.parse(log_key) if log_key else None
    except NoteError as exc:
        raise EvidenceError(f"key: {exc}") from None
    if pinned_log is not None and pinned_log != key:
        raise EvidenceError(f"log key: the bundle's key {key} is not the key you pinned")
    if key.name != origin:
        raise EvidenceError(f"log key: named {key.name!r}, not after the origin {origin!r}")
    note_text = _need(bundle, "checkpoint", str)
    try:
        note, _ = open_note(note_text, [key])
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        raise EvidenceError(f"checkpoint: {exc}") from None
    if checkpoint.origin != origin:
        raise EvidenceError(f"checkpoint: its origin is {checkpoint.origin!r}, not {origin!r}")

    # the entries: each in the tree the checkpoint signs, each content its commitment's, each about the subject
    entries = _need(bundle, "entries", list)
    contents = 0
    charter_content: dict[str, Any] | None = None
    exact = 0
    seen: dict[int, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for n, item in enumerate(entries):
        try:
            leaf = item["leaf"].encode()
            header = json.loads(leaf)
            index = header["index"]
            proof = [base64.b64decode(h, validate=True) for h in item["proof"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EvidenceError(f"entry #{n}: malformed ({exc})") from None
        if not isinstance(index, int) or not 0 <= index < checkpoint.size:
            raise EvidenceError(f"entry #{n}: index {index!r} is not in the checkpoint's {checkpoint.size} entries")
        try:
            merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(leaf), proof, checkpoint.root)
        except merkle.ProofError as exc:
            raise EvidenceError(f"entry {index}: {exc}") from None
        parsed = None
        if "content" in item:
            try:
                salt = bytes.fromhex(item["salt"])
                content = item["content"]
                if commitment_of(salt, content.encode("utf-8")) != header.get("commitment"):
                    raise EvidenceError(f"entry {index}: the content does not match its commitment")
                parsed = json.loads(content)
            except (KeyError, TypeError, ValueError) as exc:
                raise EvidenceError(f"entry {index}: malformed content ({exc})") from None
            contents += 1
            if index == 0 and header_field("action", header, parsed) == "charter.adopted":
                charter_content = parsed
        if not _about(subject, header, parsed):
            raise EvidenceError(
                f"entry {index} is not about {subject} (its subject is {entry_subject(header, parsed)!r})"
            )
        exact += entry_subject(header, parsed) == subject
        seen[index] = (header, parsed)
        progress(n + 1, len(entries))
    if not exact:
        raise EvidenceError(f"bundle: no entry in it is about {subject}")

    # the keys, anchored outside the bundle
    if charter_content is None:
        raise EvidenceError("entry 0: the bundle does not reveal the adopted charter, so its keys cannot be checked")
    if charter_sha256 is not None and charter_content.get("sha256") != charter_sha256:
        raise EvidenceError("entry 0: the adopted charter is not the charter file you gave")
    charter = charter_content.get("charter", {})
    if charter.get("mechanism", {}).get("log_origin") != origin:
        raise EvidenceError("entry 0: the adopted charter names another log origin")
    agreed_log = charter.get("ledger", {}).get("log_key")
    if agreed_log and agreed_log != str(key):
        raise EvidenceError("log key: not the one the adopted charter names")
    parties = {d.get("code") for d in charter.get("delegations", []) if d.get("kind") == "party"}
    agreed = [(w["name"], w["delegation"], w["key"]) for w in charter.get("ledger", {}).get("witnesses", [])]
    if agreed:
        witnesses = agreed
    else:
        witnesses = [(w.get("name"), w.get("delegation"), w.get("key")) for w in _need(bundle, "witnesses", list)]
        unpinned = sorted(str(name) for name, _, _ in witnesses if name not in pins)
        if unpinned:
            raise EvidenceError(
                f"witness: the adopted charter names no witness keys, so pin {', '.join(unpinned)} with --witness-key"
            )
    verified_by: dict[str, str] = {}
    for name, delegation, key_text in witnesses:
        try:
            wkey = Verifier.parse(str(key_text))
        except NoteError as exc:
            raise EvidenceError(f"witness {name}: {exc}") from None
        if wkey.name != name:
            raise EvidenceError(f"witness {name}: its key is named {wkey.name!r}")
        if name in pins and pins[name] != wkey:
            raise EvidenceError(f"witness {name}: the key is not the key you pinned")
        for sig in note.signatures:
            if (sig.name, sig.id) == (wkey.name, wkey.id):
                try:
                    verify_cosignature(wkey, note.text, sig)
                except NoteError as exc:
                    raise EvidenceError(f"checkpoint: {exc}") from None
                verified_by[name] = str(delegation)
    if not parties:
        raise EvidenceError("entry 0: the adopted charter names no parties")
    # Only the witnesses' keys stand against a log that forges: the log's own key could sign anything, entry 0
    # included. So they must come from outside: from the agreed charter file (its hash is in entry 0) or pinned.
    if not ((charter_sha256 is not None and agreed) or (verified_by and set(verified_by) <= set(pins))):
        raise EvidenceError(
            "nothing outside the bundle anchors the witnesses' keys: give --charter FILE (the agreed charter that "
            "names them) or --witness-key for each party's witness"
        )
    missing = parties - set(verified_by.values())
    if missing:
        raise EvidenceError(
            f"checkpoint: not final — no valid cosignature from the witness of {', '.join(sorted(missing))}"
        )
    result = Verified(subject, origin, checkpoint.size, len(entries), contents, sorted(verified_by))
    if bundle["format"] == FORMAT:
        result.exported_by = _check_complete(bundle, subject, checkpoint, key, charter, seen)
        result.complete = True
    elif ledger_map.root_of_extensions(checkpoint.extensions) is not None:
        # a genuine format-1 bundle was proven to a checkpoint signed before the map existed
        raise EvidenceError(
            f"bundle: its checkpoint carries the log's map of subjects, so it was exported as a {FORMAT} bundle "
            "that proves it is complete; this one was altered to say less"
        )
    return result


def _check_complete(
    bundle: dict[str, Any],
    subject: str,
    checkpoint: Checkpoint,
    key: Verifier,
    charter: dict[str, Any],
    seen: dict[int, tuple[dict[str, Any], dict[str, Any] | None]],
) -> str:
    """That the bundle holds every entry about its subject in every audience its exporter reads, as the
    checkpoint's map lists them, and that the log signed who exported it. Returns the exporter, as signed."""
    root = ledger_map.root_of_extensions(checkpoint.extensions)
    if root is None:
        raise EvidenceError("checkpoint: it carries no map of subjects, so nothing shows the bundle is complete")
    who = _need(bundle, "exported_by", dict)
    try:
        roster = Roster.of(
            DelegationInfo(d["code"], DelegationKind(d["kind"]), bool(d.get("joint_reader")))
            for d in charter.get("delegations", [])
        )
        exporter = Principal(who["username"], who["delegation"], frozenset(Role(r) for r in who["roles"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"bundle: the exporter or the charter's delegations are malformed ({exc})") from None
    expected = [(a, subject) for a in readable_audiences(exporter, roster)]
    lists: dict[tuple[str, str], list[int]] = {}
    for n, item in enumerate(_need(bundle, "map", list)):
        try:
            a, s = str(item["audience"]), str(item["subject"])
            found = item["indices"]
            inner = _proof_of(item["proof"])
            outer = _proof_of(item["audience_proof"])
            salt = base64.b64decode(item["audience_salt"], validate=True)
            audience_root = base64.b64decode(item["audience_root"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"map #{n}: malformed ({exc})") from None
        if not (isinstance(found, list) and all(type(i) is int for i in found)) or found != sorted(set(found)):
            raise EvidenceError(f"map #{n}: its indices are not a rising list of entry indices")
        if found and not 0 <= found[0] <= found[-1] < checkpoint.size:
            raise EvidenceError(f"map #{n}: an index is outside the checkpoint's {checkpoint.size} entries")
        try:
            # the subject in its audience's map, then that audience's salted root in the top map
            smt.verify(audience_root, ledger_map.subject_key(s), smt.chain(found) if found else None, inner)
            empty = audience_root == smt.EMPTY
            value = None if empty else ledger_map.audience_value(salt, audience_root)
            smt.verify(root, ledger_map.audience_key(a), value, outer)
        except (smt.MapProofError, ValueError):
            raise EvidenceError(
                f"map: the log's map at checkpoint {checkpoint.size} does not hold exactly "
                f"{'entries ' + ', '.join(map(str, found)) if found else 'no entry'} about {s} in {a}: the bundle "
                f"leaves out entries about {subject}, or lists some that are not"
            ) from None
        lists[(a, s)] = found
    for a, s in expected:
        if (a, s) not in lists:
            raise EvidenceError(
                f"bundle: it does not account for the entries about {s} in {a}, which {who['username']} reads"
            )
        for index in lists[(a, s)]:
            if index not in seen:
                raise EvidenceError(
                    f"entry {index} is missing from the bundle: the log's map at checkpoint {checkpoint.size} "
                    f"lists it among the entries about {s} in {a}"
                )
            header, parsed = seen[index]
            if header.get("audience") != a or not _about(s, header, parsed):
                raise EvidenceError(f"entry {index}: not about {s} in {a}, as the map's list says")
    listed = {i for found in lists.values() for i in found}
    for index in seen:
        if index != 0 and index not in listed:
            raise EvidenceError(f"entry {index} is in the bundle but not in the map's lists about {subject}")
    # last, so that what is missing is named first: the exporter (whose audiences decide what the bundle must
    # account for), the time and everything else, as the log signed them at export
    try:
        statement, _ = open_note(_need(bundle, "statement", str), [key])
    except NoteError as exc:
        raise EvidenceError(f"statement: {exc}") from None
    if statement.text != _statement_text(bundle):
        raise EvidenceError(
            "statement: the log did not sign this bundle as it stands: its exporter, its time or its contents "
            "were changed after export"
        )
    return f"{who['username']} ({who['delegation']})"

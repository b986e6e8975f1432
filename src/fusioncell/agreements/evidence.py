"""The evidence that an agreement binds, and its offline check.

One bundle is complete for one subject, so the evidence about an agreement is several: the bundle about
`agreement:<id>` (its versions, signatures, attestations, and the cases on its milestones), and one about each
`signing-key:<id>` that signed it (the key, its approval, any revocation — none can be left out: each bundle proves it
is complete). `fusioncell verify` checks each as any bundle, then computes from their contents alone which version
binds, with the same rule the cell applies (`binding.py`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fusioncell.agreements import binding
from fusioncell.cell import Cell
from fusioncell.ledger import evidence
from fusioncell.ledger.note import NoteError, Verifier
from fusioncell.policy import Principal

FORMAT = "fusioncell-agreement-evidence/1"


def export(cell: Cell, principal: Principal, agreement_id: int) -> dict[str, Any]:
    """The bundles about the agreement and about every key that signed it, as the principal may read them, all
    proven to one final checkpoint."""
    from fusioncell.ledger import log

    final = log.latest_final(cell)
    main = evidence.export(cell, principal, f"agreement:{agreement_id}", final=final)
    key_ids = sorted(
        {
            content["key_id"]
            for content in _contents(main)
            if content.get("@action") == "agreement.signed" and isinstance(content.get("key_id"), str)
        }
    )
    return {
        "format": FORMAT,
        "agreement": agreement_id,
        "bundles": [main, *(evidence.export(cell, principal, f"signing-key:{k}", final=final) for k in key_ids)],
    }


def _contents(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in bundle.get("entries", []):
        if "content" in item:
            content = json.loads(item["content"])
            content["@recorded_at"] = datetime.fromisoformat(json.loads(item["leaf"])["recorded_at"])
            out.append(content)
    return out


@dataclass
class Checked:
    agreement: int
    origin: str
    bundles: list[evidence.Verified]
    assessment: binding.Assessment
    titles: dict[int, str]


def verify(
    data: dict[str, Any],
    *,
    log_key: str | None = None,
    witness_keys: list[str] | None = None,
    charter_sha256: str | None = None,
) -> Checked:
    """Check every bundle (EvidenceError on the first that fails), that they are about this agreement and its keys
    in one log, then compute the binding state from what they hold."""
    agreement = data.get("agreement")
    bundles = data.get("bundles")
    if type(agreement) is not int or not isinstance(bundles, list) or not bundles:
        raise evidence.EvidenceError(f"not a {FORMAT} document: it names no agreement or holds no bundles")
    checked = [
        evidence.verify(b, log_key=log_key, witness_keys=witness_keys, charter_sha256=charter_sha256)
        if isinstance(b, dict)
        else _refuse("a bundle is not a JSON object")
        for b in bundles
    ]
    origins = {c.origin for c in checked}
    if len(origins) != 1:
        raise evidence.EvidenceError(f"the bundles come from different logs: {', '.join(sorted(origins))}")
    # one checkpoint for all: a key's bundle from before its revocation beside a later agreement's would tell a story
    # the log never told at any one time
    sizes = {c.size for c in checked}
    if len(sizes) != 1:
        raise evidence.EvidenceError(
            f"the bundles are proven to different checkpoints ({', '.join(map(str, sorted(sizes)))} entries): export "
            "them together again"
        )
    subjects = [c.subject for c in checked]
    if len(set(subjects)) != len(subjects):
        raise evidence.EvidenceError("a bundle is given twice")
    if checked[0].subject != f"agreement:{agreement}":
        raise evidence.EvidenceError(f"the first bundle is about {checked[0].subject}, not agreement:{agreement}")
    for found in checked:
        if not found.complete:
            raise evidence.EvidenceError(f"the bundle about {found.subject} does not prove it is complete")
    if any(not c.subject.startswith("signing-key:") for c in checked[1:]):
        raise evidence.EvidenceError("after the agreement's own bundle, each is about a signing key")
    contents = [_contents(b) for b in bundles]
    for c in contents[0]:
        if c.get("@action") in VERSION_ACTIONS and binding.digest(c["document"]) != c["digest"]:
            raise evidence.EvidenceError(f"version {c['version']}: its digest is not its document's")
    try:
        facts = read_facts(contents[0], [c for held in contents[1:] for c in held])
    except NoteError as exc:
        raise evidence.EvidenceError(f"a signing key: {exc}") from None
    signatures, keys = facts.signatures, facts.keys
    titles = {v: d["title"][d["authoritative"]] for v, d in facts.documents.items()}
    versions = facts.versions()
    named = {s.key_id for s in signatures}
    missing = sorted(named - {c.subject.removeprefix("signing-key:") for c in checked[1:]})
    if missing:
        # without a key's own bundle its signatures would not count, and an earlier version would seem in force
        raise evidence.EvidenceError(f"the bundle about each key that signed is missing: {', '.join(missing)}")
    assessment = binding.assess(
        origin=checked[0].origin, agreement=agreement, versions=versions, signatures=signatures, keys=keys
    )
    return Checked(agreement, checked[0].origin, checked, assessment, titles)


VERSION_ACTIONS = ("agreement.proposed", "agreement.amended")


@dataclass
class Facts:
    """What the ledger's entries say of an agreement and its keys, as the binding rule and the report read them."""

    documents: dict[int, dict[str, Any]]
    signatures: list[binding.Signature]
    keys: dict[str, binding.Key]
    attestations: list[dict[str, Any]]  # the `milestone.attested` contents, in ledger order
    cases: list[dict[str, Any]]  # the contents of the entries of the cases about it, in ledger order

    def versions(self) -> list[binding.Version]:
        return [binding.Version(v, binding.digest(d), tuple(d["signatories"])) for v, d in self.documents.items()]


def read_facts(agreement: list[dict[str, Any]], keys: list[dict[str, Any]]) -> Facts:
    """From entry contents (each with its `@action` and `@recorded_at`): the agreement's own and its cases', and its
    signing keys'. A key registered, approved (when its entry was recorded), revoked (from the instant it names)."""
    facts = Facts({}, [], {}, [], [])
    for c in agreement:
        action = c.get("@action", "")
        if action in VERSION_ACTIONS:
            facts.documents[c["version"]] = c["document"]
        elif action == "agreement.signed":
            facts.signatures.append(
                binding.Signature(c["version"], c["delegation"], c["key_id"], _b64(c["signature"]), c["@recorded_at"])
            )
        elif action == "milestone.attested":
            facts.attestations.append(c)
        elif action.startswith("dispute."):
            facts.cases.append(c)
    found: dict[str, dict[str, Any]] = {}
    for c in keys:
        if not str(c.get("@action", "")).startswith("key."):
            continue  # a bundle's entry 0, the adopted charter
        one = found.setdefault(c["key_id"], {})
        if c["@action"] == "key.registered":
            one.update(public=Verifier.parse(c["verifier"]).public, delegation=c["delegation"])
        elif c["@action"] == "key.approved":
            one["approved_at"] = c["@recorded_at"]
        elif c["@action"] == "key.revoked":
            one["revoked_from"] = datetime.fromisoformat(c["revoked_from"])
    facts.keys = {
        k: binding.Key(k, f["delegation"], f["public"], f.get("approved_at"), f.get("revoked_from"))
        for k, f in found.items()
        if "public" in f
    }
    return facts


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _refuse(reason: str) -> Any:
    raise evidence.EvidenceError(reason)

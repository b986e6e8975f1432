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
            content["@recorded_at"] = json.loads(item["leaf"])["recorded_at"]
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
    versions, signatures, titles = [], [], {}
    for c in contents[0]:
        action = c.get("@action")
        if action in ("agreement.proposed", "agreement.amended"):
            document = c["document"]
            if binding.digest(document) != c["digest"]:
                raise evidence.EvidenceError(f"version {c['version']}: its digest is not its document's")
            versions.append(binding.Version(c["version"], c["digest"], tuple(document["signatories"])))
            titles[c["version"]] = document["title"][document["authoritative"]]
        elif action == "agreement.signed":
            signatures.append(
                binding.Signature(
                    c["version"],
                    c["delegation"],
                    c["key_id"],
                    _b64(c["signature"]),
                    datetime.fromisoformat(c["@recorded_at"]),
                )
            )
    keys: dict[str, binding.Key] = {}
    for found, holding in zip(checked[1:], contents[1:], strict=True):
        key_id = found.subject.removeprefix("signing-key:")
        facts: dict[str, Any] = {}
        for c in holding:
            if c.get("key_id") != key_id:
                continue
            if c["@action"] == "key.registered":
                try:
                    facts["public"] = Verifier.parse(c["verifier"]).public
                except NoteError as exc:
                    raise evidence.EvidenceError(f"key {key_id}: {exc}") from None
                facts["delegation"] = c["delegation"]
            elif c["@action"] == "key.approved":
                facts["approved_at"] = datetime.fromisoformat(c["@recorded_at"])
            elif c["@action"] == "key.revoked":
                facts["revoked_from"] = datetime.fromisoformat(c["revoked_from"])
        if "public" in facts:
            keys[key_id] = binding.Key(
                key_id, facts["delegation"], facts["public"], facts.get("approved_at"), facts.get("revoked_from")
            )
    named = {s.key_id for s in signatures}
    missing = sorted(named - {c.subject.removeprefix("signing-key:") for c in checked[1:]})
    if missing:
        # without a key's own bundle its signatures would not count, and an earlier version would seem in force
        raise evidence.EvidenceError(f"the bundle about each key that signed is missing: {', '.join(missing)}")
    assessment = binding.assess(
        origin=checked[0].origin, agreement=agreement, versions=versions, signatures=signatures, keys=keys
    )
    return Checked(agreement, checked[0].origin, checked, assessment, titles)


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _refuse(reason: str) -> Any:
    raise evidence.EvidenceError(reason)

"""The compliance report of an agreement, computed from the ledger: the entries about the agreement and about each key
that signed it, up to a signed checkpoint the report names — the same contents an evidence bundle carries, read with
the same rules (`binding.py`, `milestones.py`), so anyone holding the bundle can recompute every figure."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from fusioncell.agreements import binding
from fusioncell.agreements.milestones import STATUSES, status_of
from fusioncell.agreements.models import Milestone
from fusioncell.agreements.service import readable_agreement
from fusioncell.cell import Cell
from fusioncell.disputes import states as dispute_states
from fusioncell.ledger import log
from fusioncell.ledger.models import LedgerEntry
from fusioncell.ledger.note import Verifier
from fusioncell.policy import Principal, readable_audiences

CSV_COLUMNS = ("key", "title", "obligor", "verifier", "zone", "starts", "due", "status", "verified_at",
               "days_overdue", "dispute")  # fmt: skip


@dataclass
class Report:
    data: dict[str, Any]

    def json(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, indent=1).encode()

    def csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for m in self.data["milestones"]:
            writer.writerow(["" if m[c] is None else m[c] for c in CSV_COLUMNS])
        return out.getvalue().encode("utf-8")


def _contents(rows: list[LedgerEntry]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        content = json.loads(row.content)
        content["@index"] = row.index
        content["@recorded_at"] = row.recorded_at
        out.append(content)
    return out


def compute(*, cell: Cell, principal: Principal, agreement_id: int, lang: str | None = None) -> Report:
    """The report as of the newest signed checkpoint (signed now if the log has grown since): every figure from the
    entries below it that the reader may read."""
    checkpoint = log.sign_checkpoint(cell)
    readable = readable_audiences(principal, cell.charter.roster)
    with cell.reading() as session:
        agreement = readable_agreement(cell, session, principal, agreement_id)
        subject = f"agreement:{agreement_id}"
        main = _contents(
            list(
                session.execute(
                    select(LedgerEntry)
                    .where(
                        LedgerEntry.index < checkpoint.size,
                        LedgerEntry.audience.in_(readable),
                        (LedgerEntry.subject == subject) | LedgerEntry.subject.like("dispute:%"),
                    )
                    .order_by(LedgerEntry.index)
                ).scalars()
            )
        )
        main = [c for c in main if c["@subject"] == subject or c.get("about") == subject]
        key_ids = {c["key_id"] for c in main if c["@action"] == "agreement.signed"}
        key_rows = _contents(
            list(
                session.execute(
                    select(LedgerEntry)
                    .where(
                        LedgerEntry.index < checkpoint.size,
                        LedgerEntry.subject.in_([f"signing-key:{k}" for k in sorted(key_ids)]),
                    )
                    .order_by(LedgerEntry.index)
                ).scalars()
            )
        )
        milestone_keys = {
            m.id: m.key
            for m in session.execute(select(Milestone).where(Milestone.agreement_id == agreement_id)).scalars()
        }
    return Report(_assemble(cell, agreement, checkpoint, main, key_rows, milestone_keys, lang))


def _assemble(
    cell: Cell,
    agreement: Any,
    checkpoint: log.SignedCheckpoint,
    main: list[dict[str, Any]],
    key_rows: list[dict[str, Any]],
    milestone_keys: dict[int, str],
    lang: str | None,
) -> dict[str, Any]:
    documents: dict[int, dict[str, Any]] = {}
    signatures = []
    attestations: list[dict[str, Any]] = []
    live_cases: dict[int, str] = {}  # case → milestone key, while live
    for c in main:
        action = c["@action"]
        if action in ("agreement.proposed", "agreement.amended"):
            documents[c["version"]] = c["document"]
        elif action == "agreement.signed":
            signatures.append(
                binding.Signature(c["version"], c["delegation"], c["key_id"], _b64(c["signature"]), c["@recorded_at"])
            )
        elif action == "milestone.attested":
            attestations.append(c)
        elif action.startswith("dispute.") and c["@subject"].startswith("dispute:"):
            case = c["dispute"]
            source = c.get("source") or {}
            if action == "dispute.opened" and source.get("kind") == "milestone" and source.get("id") in milestone_keys:
                live_cases[case] = milestone_keys[source["id"]]
            elif c.get("state") in [s.value for s in dispute_states.CLOSED]:
                live_cases.pop(case, None)
    keys: dict[str, dict[str, Any]] = {}
    for c in key_rows:
        facts = keys.setdefault(c["key_id"], {})
        if c["@action"] == "key.registered":
            facts.update(public=Verifier.parse(c["verifier"]).public, delegation=c["delegation"])
        elif c["@action"] == "key.approved":
            facts["approved_at"] = c["@recorded_at"]
        elif c["@action"] == "key.revoked":
            facts["revoked_from"] = datetime.fromisoformat(c["revoked_from"])
    assessment = binding.assess(
        origin=cell.charter.mechanism.log_origin,
        agreement=agreement.id,
        versions=[binding.Version(v, binding.digest(d), tuple(d["signatories"])) for v, d in documents.items()],
        signatures=signatures,
        keys={
            k: binding.Key(k, f["delegation"], f["public"], f.get("approved_at"), f.get("revoked_from"))
            for k, f in keys.items()
            if "public" in f
        },
    )
    shown = assessment.in_force or max(documents, default=None)
    document = documents.get(shown) if shown is not None else None
    authoritative = document["authoritative"] if document else cell.charter.languages.authoritative
    language = lang if document and lang in document["text"] else authoritative
    now = cell.clock.now()
    window = cell.charter.agreements.due_window
    terms = {v: {m["key"]: m for m in d["milestones"]} for v, d in documents.items()}
    disputed = set(live_cases.values())
    milestones = []
    for spec in document["milestones"] if document else []:
        said = [
            a
            for a in attestations
            if a["milestone"] == spec["key"] and terms.get(a["version"], {}).get(spec["key"]) == spec
        ]
        verified = bool(said) and said[-1]["verdict"] == "verified"
        due = datetime.fromisoformat(spec["due"])
        status = status_of(due=due, verified=verified, disputed=spec["key"] in disputed, now=now, window=window,
                           binding=assessment.in_force is not None)  # fmt: skip
        verified_at = said[-1]["@recorded_at"] if verified else None
        late = (verified_at or now) - due
        milestones.append(
            {
                "key": spec["key"],
                "title": spec["title"].get(language) or spec["title"][authoritative],
                "obligor": spec["obligor"],
                "verifier": spec["verifier"],
                "zone": spec["zone"],
                "starts": spec["starts"],
                "due": spec["due"],
                "status": status,
                "verified_at": _iso(verified_at),
                "days_overdue": round(late.total_seconds() / 86400, 1) if late.total_seconds() > 0 else 0,
                "dispute": next((case for case, key in live_cases.items() if key == spec["key"]), None),
            }
        )
    counted = {s: sum(1 for m in milestones if m["status"] == s) for s in STATUSES}
    verified_rows = [m for m in milestones if m["verified_at"] is not None]
    on_time = sum(1 for m in verified_rows if m["days_overdue"] == 0)
    state = assessment.state(shown) if shown is not None else None
    return {
        "agreement": agreement.id,
        "title": document["title"].get(language, document["title"][authoritative]) if document else agreement.title,
        "audience": agreement.audience,
        "language": language,
        "computed_at": _iso(now),
        "checkpoint": {
            "size": checkpoint.size,
            "root": checkpoint.root.hex(),
            "signed_at": _iso(checkpoint.signed_at),
            "origin": cell.charter.mechanism.log_origin,
        },
        "in_force": assessment.in_force,
        "binds": assessment.in_force is not None,
        "bound_at": _iso(state.bound_at) if state is not None and state.binds else None,
        "signatories": list(document["signatories"]) if document else [],
        "figures": {
            "milestones": len(milestones),
            "by_status": counted,
            "verified_on_time": on_time,
            "verified_late": len(verified_rows) - on_time,
            "share_verified_on_time": round(on_time / len(milestones), 3) if milestones else None,
        },
        "milestones": milestones,
    }


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    from datetime import UTC

    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

"""The compliance report of an agreement, computed from the ledger: the entries about the agreement and about each key
that signed it, up to a signed checkpoint the report names — the same contents an evidence bundle carries, read with
the same rules (`binding.py`, `milestones.py`), so anyone holding the bundle can recompute every figure."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from fusioncell.agreements import binding
from fusioncell.agreements.evidence import Facts, read_facts
from fusioncell.agreements.milestones import STATUSES, status_of
from fusioncell.agreements.models import Milestone
from fusioncell.agreements.service import readable_agreement
from fusioncell.cell import Cell
from fusioncell.disputes import states as dispute_states
from fusioncell.ledger import evidence, log
from fusioncell.ledger.models import LedgerEntry
from fusioncell.policy import Principal

CSV_COLUMNS = ("key", "title", "obligor", "verifier", "zone", "starts", "due", "status", "verified_at",
               "days_overdue", "dispute")  # fmt: skip


@dataclass
class Report:
    data: dict[str, Any]
    now: datetime

    def json(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, indent=1).encode()

    def csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for m in self.data["milestones"]:
            writer.writerow(["" if m[c] is None else m[c] for c in CSV_COLUMNS])
        return out.getvalue().encode("utf-8")

    def pdf(self, reader: str | None = None) -> bytes:
        from fusioncell.agreements import pdf

        return pdf.render(self.data, self.now, reader)


def _contents(rows: list[LedgerEntry], below: int) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if 0 < row.index < below:
            content = json.loads(row.content)
            content["@recorded_at"] = row.recorded_at
            out.append(content)
    return out


def compute(*, cell: Cell, principal: Principal, agreement_id: int, lang: str | None = None) -> Report:
    """The report as of the newest signed checkpoint (signed now if the log has grown since): every figure from the
    entries below it about the agreement (its cases' included) and its signing keys that the reader may read — those
    an evidence bundle about them would hold."""
    checkpoint = log.sign_checkpoint(cell)
    with cell.reading() as session:
        agreement = readable_agreement(cell, session, principal, agreement_id)
        milestone_keys = {
            m.id: m.key
            for m in session.execute(select(Milestone).where(Milestone.agreement_id == agreement_id)).scalars()
        }
    main = _contents(evidence.related(cell, principal, f"agreement:{agreement_id}"), checkpoint.size)
    key_ids = sorted({c["key_id"] for c in main if c["@action"] == "agreement.signed"})
    keys = [
        c for k in key_ids for c in _contents(evidence.related(cell, principal, f"signing-key:{k}"), checkpoint.size)
    ]
    return Report(
        _assemble(cell, agreement, checkpoint, read_facts(main, keys), milestone_keys, lang), cell.clock.now()
    )


def _assemble(
    cell: Cell,
    agreement: Any,
    checkpoint: log.SignedCheckpoint,
    facts: Facts,
    milestone_keys: dict[int, str],
    lang: str | None,
) -> dict[str, Any]:
    live_cases: dict[int, str] = {}  # case → milestone key, while live
    for c in facts.cases:
        case, source = c["dispute"], c.get("source") or {}
        if (
            c["@action"] == "dispute.opened"
            and source.get("kind") == "milestone"
            and source.get("id") in milestone_keys
        ):
            live_cases[case] = milestone_keys[source["id"]]
        elif c.get("state") in [s.value for s in dispute_states.CLOSED]:
            live_cases.pop(case, None)
    documents, attestations = facts.documents, facts.attestations
    assessment = binding.assess(
        origin=cell.charter.mechanism.log_origin,
        agreement=agreement.id,
        versions=facts.versions(),
        signatures=facts.signatures,
        keys=facts.keys,
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
        late = (verified_at or now) - due if assessment.in_force is not None else timedelta(0)  # owed once it binds
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


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    from datetime import UTC

    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

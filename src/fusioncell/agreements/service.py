"""Agreements: the mediator proposes a text and amends it in versions; each signatory signs the version offline with
an approved key and uploads the signature; whether it binds follows from the signatures alone (`binding.py`).
Milestones take their terms from the version in force, their status from the verifier's attestations, the live
cases about them and the clock; one passing its date unverified alerts both parties and the mediator and opens a
case. Every act is a ledger entry under `agreement:<id>`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from fusioncell.agreements import binding
from fusioncell.agreements.milestones import status_of
from fusioncell.agreements.models import (
    Agreement,
    AgreementSignature,
    AgreementVersion,
    Attestation,
    AttestationEvidence,
    Milestone,
)
from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.deescalation import evidence
from fusioncell.disputes import service as disputes
from fusioncell.disputes import states as dispute_states
from fusioncell.disputes.models import Dispute
from fusioncell.errors import Conflict, Forbidden, InvalidInput, NotFound
from fusioncell.ledger.note import Verifier
from fusioncell.policy import (
    JOINT,
    MEDIATED_PREFIX,
    Audience,
    DelegationKind,
    Permission,
    Principal,
    authorize,
    can_read,
    readable_audiences,
    resolve_audience,
)
from fusioncell.scheduler import service as scheduler
from fusioncell.signing.models import SigningKey
from fusioncell.traffic import alerts

MILESTONE_OVERDUE = "milestone.overdue"
SYSTEM = Principal.system("scheduler")


# -- reading ------------------------------------------------------------------------------------------------------


def _audience(cell: Cell, label: str) -> Audience:
    return resolve_audience(label, cell.charter.roster)


def readable_agreement(cell: Cell, session: Any, principal: Principal, agreement_id: int) -> Agreement:
    found = session.get(Agreement, agreement_id)
    if found is None or not can_read(principal, _audience(cell, found.audience)):
        raise NotFound(f"no agreement {agreement_id} that you may read")
    return found


def keys_of(session: Any, key_ids: set[str]) -> dict[str, binding.Key]:
    if not key_ids:
        return {}
    rows = session.execute(select(SigningKey).where(SigningKey.key_id.in_(sorted(key_ids)))).scalars()
    return {
        k.key_id: binding.Key(k.key_id, k.delegation, Verifier.parse(k.verifier).public, k.approved_at, k.revoked_from)
        for k in rows
    }


@dataclass
class MilestoneView:
    row: Milestone | None
    spec: dict[str, Any]
    status: str
    attestations: list[Attestation]
    dispute: int | None


@dataclass
class AgreementView:
    agreement: Agreement
    versions: list[AgreementVersion]
    assessment: binding.Assessment
    milestones: list[MilestoneView]

    @property
    def shown_version(self) -> AgreementVersion:
        """The version in force, else the latest (whose milestones are shown as proposed)."""
        wanted = self.assessment.in_force or self.agreement.latest_version
        return next(v for v in self.versions if v.version == wanted)


def assess(cell: Cell, session: Any, agreement: Agreement) -> tuple[list[AgreementVersion], binding.Assessment]:
    versions = list(
        session.execute(
            select(AgreementVersion)
            .where(AgreementVersion.agreement_id == agreement.id)
            .order_by(AgreementVersion.version)
        ).scalars()
    )
    signatures = list(
        session.execute(select(AgreementSignature).where(AgreementSignature.agreement_id == agreement.id)).scalars()
    )
    keys = keys_of(session, {s.key_id for s in signatures})
    assessment = binding.assess(
        origin=cell.charter.mechanism.log_origin,
        agreement=agreement.id,
        versions=[binding.Version(v.version, v.digest, tuple(v.document["signatories"])) for v in versions],
        signatures=[
            binding.Signature(s.version, s.delegation, s.key_id, base64.b64decode(s.signature), s.signed_at, s.id)
            for s in signatures
        ],
        keys=keys,
    )
    return versions, assessment


def view(cell: Cell, session: Any, agreement: Agreement, now: datetime | None = None) -> AgreementView:
    versions, assessment = assess(cell, session, agreement)
    result = AgreementView(agreement, versions, assessment, [])
    shown = result.shown_version
    rows = {
        m.key: m for m in session.execute(select(Milestone).where(Milestone.agreement_id == agreement.id)).scalars()
    }
    ids = [m.id for m in rows.values()]
    attestations: dict[int, list[Attestation]] = {}
    live: dict[int, int] = {}
    if ids:
        for a in session.execute(
            select(Attestation).where(Attestation.milestone_id.in_(ids)).order_by(Attestation.ledger_index)
        ).scalars():
            attestations.setdefault(a.milestone_id, []).append(a)
        for d in session.execute(
            select(Dispute.id, Dispute.source_id).where(
                Dispute.source_kind == "milestone",
                Dispute.source_id.in_(ids),
                Dispute.state.in_([s.value for s in dispute_states.LIVE]),
            )
        ):
            live[d.source_id] = d.id
    moment = now or cell.clock.now()
    window = cell.charter.agreements.due_window
    terms = {v.version: {m["key"]: m for m in v.document["milestones"]} for v in versions}
    for spec in shown.document["milestones"]:
        row = rows.get(spec["key"])
        # what the verifier attested of these very terms: an amended date or criterion must be attested again
        said = (
            [a for a in attestations.get(row.id, []) if terms.get(a.version, {}).get(spec["key"]) == spec]
            if row
            else []
        )
        in_force = assessment.in_force is not None
        result.milestones.append(
            MilestoneView(
                row=row,
                spec=spec,
                status=status_of(
                    due=datetime.fromisoformat(spec["due"]),
                    verified=bool(said) and said[-1].verdict == "verified",
                    disputed=row is not None and row.id in live,
                    now=moment,
                    window=window,
                    binding=in_force,
                ),
                attestations=said,
                dispute=live.get(row.id) if row else None,
            )
        )
    return result


def get_view(*, cell: Cell, principal: Principal, agreement_id: int) -> AgreementView:
    with cell.reading() as session:
        return view(cell, session, readable_agreement(cell, session, principal, agreement_id))


def list_views(
    *, cell: Cell, principal: Principal, limit: int = 100, newest_first: bool = False
) -> list[AgreementView]:
    """The agreements the principal reads, by the ledger's order of their last change (the newest first, for a
    page that shows the most recently active)."""
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return []
    order = Agreement.ledger_index.desc() if newest_first else Agreement.ledger_index
    with cell.reading() as session:
        rows = session.execute(
            select(Agreement).where(Agreement.audience.in_(audiences)).order_by(order).limit(limit)
        ).scalars()
        return [view(cell, session, a) for a in rows]


def version_of(*, cell: Cell, principal: Principal, agreement_id: int, version: int) -> AgreementVersion:
    with cell.reading() as session:
        readable_agreement(cell, session, principal, agreement_id)
        found = session.get(AgreementVersion, (agreement_id, version))
    if found is None:
        raise NotFound(f"agreement {agreement_id} has no version {version}")
    return found


def message_of(cell: Cell, version: AgreementVersion, key_id: str) -> bytes:
    """The exact message a signatory signs over this version with this key."""
    origin = cell.charter.mechanism.log_origin
    return binding.signing_message(origin, version.agreement_id, version.version, version.digest, key_id)


# -- the text -----------------------------------------------------------------------------------------------------


def _languages(cell: Cell, path: str, texts: dict[str, str]) -> None:
    charter = cell.charter.languages
    if charter.authoritative not in texts:
        raise InvalidInput(f"{path}: the authoritative language ({charter.authoritative}) is required", field=path)
    for lang in texts:
        if lang not in charter.supported:
            raise InvalidInput(
                f"{path}: {lang!r} is not one of the charter's languages ({', '.join(charter.supported)})",
                field=f"{path}.{lang}",
            )


def _document(cell: Cell, *, agreement: int, version: int, audience: Audience, draft: Any) -> dict[str, Any]:
    """The version's document as signed, checked against the charter: languages, signatories, milestones."""
    roster = cell.charter.roster
    _languages(cell, "title", draft.title)
    _languages(cell, "text", draft.text)
    signatories = list(draft.signatories)
    if len(set(signatories)) != len(signatories):
        raise InvalidInput("a signatory is listed twice", field="signatories")
    for code in signatories:
        if roster.kind(code) is not DelegationKind.PARTY:
            raise InvalidInput(f"{code!r} is not a party of the charter: only parties sign", field="signatories")
        if code not in audience.members:
            raise InvalidInput(
                f"{code} does not read audience {audience.label!r}: it could not read what it signs",
                field="signatories",
            )
    from fusioncell.deescalation.service import zone_states

    keys = [m.key for m in draft.milestones]
    if len(set(keys)) != len(keys):
        raise InvalidInput("a milestone key is listed twice", field="milestones")
    zones = None
    milestones = []
    for i, m in enumerate(draft.milestones):
        where = f"milestones[{i}]"
        _languages(cell, f"{where}.title", m.title)
        _languages(cell, f"{where}.criterion", m.criterion)
        if m.obligor not in signatories:
            raise InvalidInput(
                f"{where}.obligor: {m.obligor!r} is not one of the signatories", field=f"{where}.obligor"
            )
        kind = roster.kind(m.verifier)
        if kind not in (DelegationKind.MEDIATOR, DelegationKind.OBSERVER) or m.verifier not in audience.members:
            raise InvalidInput(
                f"{where}.verifier: {m.verifier!r} is not the mediator or an observer reading {audience.label!r}",
                field=f"{where}.verifier",
            )
        if m.zone is not None:
            if zones is None:
                with cell.reading() as session:
                    zones = {s.zone.id for s in zone_states(cell, session, at=cell.clock.now())}
            if m.zone not in zones:
                raise InvalidInput(f"{where}.zone: no zone {m.zone!r}", field=f"{where}.zone")
        milestones.append(
            {
                "key": m.key,
                "title": dict(m.title),
                "criterion": dict(m.criterion),
                "obligor": m.obligor,
                "verifier": m.verifier,
                "zone": m.zone,
                "starts": _iso(m.starts),
                "due": _iso(m.due),
            }
        )
    return {
        "agreement": agreement,
        "version": version,
        "origin": cell.charter.mechanism.log_origin,
        "audience": audience.label,
        "authoritative": cell.charter.languages.authoritative,
        "title": dict(draft.title),
        "text": dict(draft.text),
        "signatories": signatories,
        "milestones": milestones,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _add_version(
    cell: Cell, uow: UnitOfWork, principal: Principal, agreement: Agreement, audience: Audience, draft: Any
) -> AgreementVersion:
    number = agreement.latest_version + 1
    document = _document(cell, agreement=agreement.id, version=number, audience=audience, draft=draft)
    index = uow.next_ledger_index()
    row = AgreementVersion(
        agreement_id=agreement.id,
        version=number,
        document=document,
        digest=binding.digest(document),
        proposed_by=principal.username,
        proposed_at=cell.clock.now(),
        ledger_index=index,
    )
    uow.session.add(row)
    known = set(uow.session.execute(select(Milestone.key).where(Milestone.agreement_id == agreement.id)).scalars())
    for spec in document["milestones"]:
        if spec["key"] not in known:
            uow.session.add(Milestone(id=fresh_id(uow.session, Milestone), agreement_id=agreement.id, key=spec["key"]))
    agreement.latest_version = number
    agreement.title = document["title"][document["authoritative"]]
    agreement.ledger_index = index
    uow.record(
        action="agreement.proposed" if number == 1 else "agreement.amended",
        actor=principal,
        audience=audience,
        subject=f"agreement:{agreement.id}",
        content={"agreement": agreement.id, "version": number, "digest": row.digest, "document": document},
    )
    return row


def propose(*, cell: Cell, uow: UnitOfWork, principal: Principal, body: Any) -> Agreement:
    """The mediator proposes an agreement: its first version, to be signed by every signatory it names."""
    roster = cell.charter.roster
    authorize(principal, Permission.PROPOSE_AGREEMENT, roster)
    audience = _audience(cell, body.audience)
    if audience.label != JOINT and not audience.label.startswith(MEDIATED_PREFIX):
        raise InvalidInput(
            f"an agreement goes to 'joint' or to 'mediated:<party>', not {body.audience!r}", field="audience"
        )
    agreement = Agreement(
        id=fresh_id(uow.session, Agreement),
        audience=audience.label,
        title="",
        latest_version=0,
        created_by=principal.username,
        created_at=cell.clock.now(),
        ledger_index=uow.next_ledger_index(),
    )
    uow.session.add(agreement)
    uow.session.flush()
    _add_version(cell, uow, principal, agreement, audience, body)
    return agreement


def draft_from_timeline(cell: Cell, timeline_id: str, start: datetime) -> dict[str, Any]:
    """One of the charter's timelines as a draft, its milestones dated from `start`."""
    timeline = next((t for t in cell.charter.agreements.timelines if t.id == timeline_id), None)
    if timeline is None:
        known = ", ".join(t.id for t in cell.charter.agreements.timelines) or "none"
        raise NotFound(f"the charter has no timeline {timeline_id!r} (it has: {known})")
    return {
        "title": dict(timeline.title),
        "text": dict(timeline.text),
        "signatories": list(timeline.signatories),
        "milestones": [
            {
                "key": m.key,
                "title": dict(m.title),
                "criterion": dict(m.criterion),
                "obligor": m.obligor,
                "verifier": m.verifier,
                "zone": m.zone,
                "starts": (start + m.starts).isoformat(),
                "due": (start + m.due).isoformat(),
            }
            for m in timeline.milestones
        ],
    }


def _for_update(uow: UnitOfWork, cell: Cell, principal: Principal, agreement_id: int) -> Agreement:
    found = uow.session.execute(
        select(Agreement)
        .where(Agreement.id == agreement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if found is None or not can_read(principal, _audience(cell, found.audience)):
        raise NotFound(f"no agreement {agreement_id} that you may read")
    return found


def amend(*, cell: Cell, uow: UnitOfWork, principal: Principal, agreement_id: int, body: Any) -> AgreementVersion:
    """The mediator proposes a new version: it must be signed again; until it binds, the one in force stays so."""
    authorize(principal, Permission.PROPOSE_AGREEMENT, cell.charter.roster)
    agreement = _for_update(uow, cell, principal, agreement_id)
    versions, assessment = assess(cell, uow.session, agreement)
    if assessment.in_force is not None:
        bound = next(v for v in versions if v.version == assessment.in_force)
        dropped = [c for c in bound.document["signatories"] if c not in body.signatories]
        if dropped:
            # an amendment binds only on its own signatories: leaving one out would let the others unbind it alone
            raise InvalidInput(
                f"version {bound.version}, in force, binds {', '.join(dropped)} too: an amendment names every "
                "signatory of the version in force",
                field="signatories",
            )
    return _add_version(cell, uow, principal, agreement, _audience(cell, agreement.audience), body)


# -- signing ------------------------------------------------------------------------------------------------------


def sign(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, agreement_id: int, version: int, body: Any
) -> AgreementSignature:
    """A signatory uploads the signature made offline over the version's signing message, with their own approved
    key, for their own party. Every way a signature could fail to count is refused here, with the reason."""
    roster = cell.charter.roster
    authorize(principal, Permission.SIGN, roster)
    agreement = _for_update(uow, cell, principal, agreement_id)
    row = uow.session.get(AgreementVersion, (agreement_id, version))
    if row is None:
        raise NotFound(f"agreement {agreement_id} has no version {version}")
    delegation = principal.delegation or ""
    if delegation not in row.document["signatories"]:
        raise Forbidden(
            f"{delegation} is not a signatory of version {version} (its signatories: "
            f"{', '.join(row.document['signatories'])})"
        )
    key = uow.session.get(SigningKey, body.key_id)
    if key is None:
        raise InvalidInput(f"key {body.key_id} is not registered: `fusioncell keys register` first", field="key_id")
    if key.username != principal.username:
        raise Forbidden(f"key {key.key_id} is {key.username}'s: a signatory signs with their own key only")
    now = cell.clock.now()
    if key.approved_at is None:
        raise InvalidInput(f"key {key.key_id} awaits the mediator's approval: it signs nothing yet", field="key_id")
    if key.revoked_from is not None and key.revoked_from <= now:
        raise InvalidInput(f"key {key.key_id} is revoked from {key.revoked_from.isoformat()}", field="key_id")
    try:
        raw = base64.b64decode(body.signature, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the signature is not base64", field="signature") from None
    if len(raw) != 64:
        raise InvalidInput(f"an Ed25519 signature is 64 bytes, not {len(raw)}", field="signature")
    if not binding.Verifier()(Verifier.parse(key.verifier).public, message_of(cell, row, key.key_id), raw):
        raise InvalidInput(
            f"the signature does not verify with key {key.key_id} over version {version} of agreement {agreement_id}: "
            "sign exactly this version (`fusioncell sign`)",
            field="signature",
        )
    _, before = assess(cell, uow.session, agreement)
    state = before.state(version)
    if state is not None and delegation in state.signed:
        raise Conflict(
            f"{delegation} has signed version {version} already, at {state.signed[delegation].isoformat()}",
            signed_at=state.signed[delegation].isoformat(),
        )
    index = uow.next_ledger_index()
    signature = AgreementSignature(
        id=fresh_id(uow.session, AgreementSignature),
        agreement_id=agreement_id,
        version=version,
        delegation=delegation,
        key_id=key.key_id,
        username=principal.username,
        signature=base64.b64encode(raw).decode(),
        signed_at=now,
        ledger_index=index,
    )
    uow.session.add(signature)
    uow.session.flush()
    agreement.ledger_index = index
    _, after = assess(cell, uow.session, agreement)
    bound = after.state(version)
    binds_now = bound is not None and bound.binds
    if after.in_force is not None and after.in_force != before.in_force:
        _schedule_milestones(uow, agreement, next_version(uow, agreement_id, after.in_force))
    uow.record(
        action="agreement.signed",
        actor=principal,
        audience=_audience(cell, agreement.audience),
        subject=f"agreement:{agreement_id}",
        content={
            "agreement": agreement_id,
            "version": version,
            "digest": row.digest,
            "delegation": delegation,
            "key_id": key.key_id,
            "signature": signature.signature,
            "binds": binds_now,
            "in_force": after.in_force,
        },
    )
    return signature


def next_version(uow: UnitOfWork, agreement_id: int, version: int) -> AgreementVersion:
    found = uow.session.get(AgreementVersion, (agreement_id, version))
    assert found is not None
    return found


def _schedule_milestones(uow: UnitOfWork, agreement: Agreement, version: AgreementVersion) -> None:
    """Each milestone of the version now in force gets its deadline's job (one per agreement, key and date)."""
    for spec in version.document["milestones"]:
        scheduler.schedule(
            uow,
            kind=MILESTONE_OVERDUE,
            key=f"milestone:{agreement.id}:{spec['key']}:{spec['due']}",
            subject=f"agreement:{agreement.id}",
            due_at=datetime.fromisoformat(spec["due"]),
            payload={"agreement": agreement.id, "key": spec["key"], "due": spec["due"]},
        )


# -- attesting ----------------------------------------------------------------------------------------------------


def attest(*, cell: Cell, uow: UnitOfWork, principal: Principal, agreement_id: int, key: str, body: Any) -> Attestation:
    """The milestone's verifier (its mediator's officers, or its observer) says whether it is done, with evidence."""
    authorize(principal, Permission.ATTEST, cell.charter.roster)
    agreement = _for_update(uow, cell, principal, agreement_id)
    current = view(cell, uow.session, agreement)
    found = next((m for m in current.milestones if m.spec["key"] == key), None)
    if found is None or found.row is None:
        raise NotFound(f"agreement {agreement_id} has no milestone {key!r}")
    if principal.delegation != found.spec["verifier"]:
        raise Forbidden(f"milestone {key!r} is verified by {found.spec['verifier']}, not {principal.delegation}")
    if current.assessment.in_force is None:
        raise Conflict(f"agreement {agreement_id} does not bind yet: nothing to verify", state="unsigned")
    files = evidence.decode(body.evidence)
    index = uow.next_ledger_index()
    row = Attestation(
        id=fresh_id(uow.session, Attestation),
        milestone_id=found.row.id,
        agreement_id=agreement_id,
        version=current.shown_version.version,
        verdict=body.verdict,
        note=body.note,
        delegation=principal.delegation or "",
        author=principal.username,
        attested_at=cell.clock.now(),
        evidence=[f.record() for f in files],
        ledger_index=index,
    )
    uow.session.add(row)
    uow.session.flush()
    for f in files:
        uow.session.add(
            AttestationEvidence(attestation_id=row.id, sha256=f.sha256, content_type=f.content_type, data=f.data)
        )
    agreement.ledger_index = index
    uow.record(
        action="milestone.attested",
        actor=principal,
        audience=_audience(cell, agreement.audience),
        subject=f"agreement:{agreement_id}",
        content={
            "agreement": agreement_id,
            "milestone": key,
            "version": current.shown_version.version,
            "verdict": row.verdict,
            "note": row.note,
            "evidence": row.evidence,
        },
    )
    return row


def attestation_file(*, cell: Cell, principal: Principal, agreement_id: int, attestation_id: int, sha256: str) -> Any:
    with cell.reading() as session:
        readable_agreement(cell, session, principal, agreement_id)
        row = session.get(Attestation, attestation_id)
        if row is None or row.agreement_id != agreement_id:
            raise NotFound(f"agreement {agreement_id} has no attestation {attestation_id}")
        found = session.get(AttestationEvidence, (attestation_id, sha256))
    if found is None:
        raise NotFound(f"attestation {attestation_id} has no evidence file {sha256}")
    return found


# -- the clock ----------------------------------------------------------------------------------------------------


def handle_milestone_overdue(cell: Cell, uow: UnitOfWork, job: Any) -> None:
    """A milestone's date passed. If it is still a term of the version in force, with that date, and its verifier
    has not attested it done: alert both parties and the mediator, and open a case against the obligor unless one is
    live for it."""
    agreement = uow.session.execute(
        select(Agreement).where(Agreement.id == job.payload["agreement"]).with_for_update()
    ).scalar_one_or_none()
    if agreement is None:
        return
    current = view(cell, uow.session, agreement)
    if current.assessment.in_force is None:
        return
    found = next((m for m in current.milestones if m.spec["key"] == job.payload["key"]), None)
    if found is None or found.row is None or found.spec["due"] != job.payload["due"]:
        return  # amended since: its own date has a job of its own
    if found.attestations and found.attestations[-1].verdict == "verified":
        return
    spec = found.spec
    authoritative = current.shown_version.document["authoritative"]
    title = spec["title"][authoritative]
    audience = _audience(cell, agreement.audience)
    mediator = cell.charter.mediator_code
    parties = [c for c in current.shown_version.document["signatories"] if c in audience.members]
    targets = [(p, "duty_officer") for p in parties] + [(mediator, "mediator")]
    summary = f"milestone {title!r} of agreement {agreement.id} was due at {spec['due']}: {spec['obligor']} owes it"
    if found.dispute is not None:
        index = uow.next_ledger_index()
        _alerts(uow, agreement, targets, summary + f" (dispute {found.dispute} is open on it)", index)
        uow.record(
            action="milestone.overdue",
            actor=SYSTEM,
            audience=audience,
            subject=f"agreement:{agreement.id}",
            content={
                "agreement": agreement.id,
                "milestone": spec["key"],
                "due": spec["due"],
                "dispute": found.dispute,
                "alerted": [t for t, _ in targets],
            },  # fmt: skip
        )
        return
    case = disputes.open_for(
        cell=cell,
        uow=uow,
        actor=SYSTEM,
        opening=disputes.Opening(
            audience=agreement.audience,
            complainant=mediator,
            respondent=spec["obligor"],
            title=f"Milestone overdue: {title}"[:200],
            complaint=f"Agreement {agreement.id}, version {current.shown_version.version}: milestone {spec['key']!r} "
            f"({title}) was due at {spec['due']} and {spec['verifier']} has not attested it done. Criterion: "
            f"{spec['criterion'][authoritative]}",
            lang=authoritative,
            source_kind="milestone",
            source_id=found.row.id,
            about=f"agreement:{agreement.id}",
        ),
        alert=False,
        alerted=[t for t, _ in targets],
    )
    _alerts(uow, agreement, targets, summary + f"; dispute {case.id} opened", case.ledger_index)


def _alerts(uow: UnitOfWork, agreement: Agreement, targets: list[tuple[str, str]], summary: str, index: int) -> None:
    alerts.raise_alerts(uow, kind="milestone_overdue", targets=targets, audience=agreement.audience,
                        subject=f"agreement:{agreement.id}", summary=summary, index=index)  # fmt: skip

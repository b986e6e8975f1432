"""Thin HTTP for agreements: propose (or propose one of the charter's timelines), amend, read a version exactly as
signed, upload a signature made offline, attest a milestone; each agreement read with its binding state."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from fusioncell.agreements import service
from fusioncell.agreements.schemas import (
    AgreementCreate,
    AgreementDraft,
    AgreementPage,
    AgreementRead,
    AttestationCreate,
    AttestationRead,
    MilestoneRead,
    SignatureCreate,
    TimelineProposal,
    VersionDocument,
    VersionRead,
)
from fusioncell.deescalation.routes import evidence_download
from fusioncell.deps import CellDep, CurrentUser
from fusioncell.schemas import RowId

router = APIRouter(prefix="/api/v1", tags=["agreements"])

AgreementId = Annotated[RowId, Path(description="An agreement's id")]
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000, description="A version's number")]
MilestoneKey = Annotated[str, Path(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64, description="A key")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not permitted"},
    404: {"description": "No such agreement, version or milestone you may read"},
    422: {"description": "Invalid input: the field and the reason"},
}


def agreement_read(found: service.AgreementView) -> AgreementRead:
    a = found.agreement
    states = {s.version: s for s in found.assessment.versions}
    return AgreementRead(
        id=a.id,
        audience=a.audience,
        title=a.title,
        latest_version=a.latest_version,
        in_force=found.assessment.in_force,
        binds=found.assessment.in_force is not None,
        created_by=a.created_by,
        created_at=a.created_at,
        versions=[
            VersionRead(
                version=v.version,
                digest=v.digest,
                proposed_by=v.proposed_by,
                proposed_at=v.proposed_at,
                signatories=list(v.document["signatories"]),
                signed=states[v.version].signed,
                missing=states[v.version].missing,
                binds=states[v.version].binds,
                bound_at=states[v.version].bound_at,
                invalid=[
                    {"delegation": s.delegation, "key_id": s.key_id, "reason": reason}
                    for s, reason in states[v.version].invalid
                ],
                ledger_index=v.ledger_index,
            )
            for v in found.versions
        ],
        milestones=[
            MilestoneRead(
                key=m.spec["key"],
                title=m.spec["title"],
                criterion=m.spec["criterion"],
                obligor=m.spec["obligor"],
                verifier=m.spec["verifier"],
                zone=m.spec["zone"],
                starts=m.spec["starts"],
                due=m.spec["due"],
                status=m.status,
                attestations=[
                    AttestationRead(
                        id=t.id,
                        verdict=t.verdict,
                        note=t.note,
                        delegation=t.delegation,
                        author=t.author,
                        attested_at=t.attested_at,
                        evidence=list(t.evidence),
                        ledger_index=t.ledger_index,
                    )
                    for t in m.attestations
                ],
                dispute=m.dispute,
            )
            for m in found.milestones
        ],
        ledger_index=a.ledger_index,
    )


def _read(cell: Any, principal: Any, agreement_id: int) -> AgreementRead:
    return agreement_read(service.get_view(cell=cell, principal=principal, agreement_id=agreement_id))


@router.post(
    "/agreements",
    name="agreement_propose",
    summary="Propose an agreement: its text, signatories and milestones (the mediator)",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementRead,
    responses=ERRORS,
)
def propose(body: AgreementCreate, cell: CellDep, principal: CurrentUser) -> AgreementRead:
    """The mediator's officers: version 1, in the authoritative language with translations. It binds when every
    signatory it names has signed it with an approved key (`fusioncell sign`)."""
    with cell.command() as uow:
        agreement = service.propose(cell=cell, uow=uow, principal=principal, body=body)
    return _read(cell, principal, agreement.id)


@router.post(
    "/agreements/timelines/{timeline_id}",
    name="agreement_propose_timeline",
    summary="Propose one of the charter's timelines as an agreement, dated from a day (the mediator)",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementRead,
    responses=ERRORS,
)
def propose_timeline(
    timeline_id: Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]*$", max_length=64, description="A timeline's id")],
    body: TimelineProposal,
    cell: CellDep,
    principal: CurrentUser,
) -> AgreementRead:
    """The mediator's officers: the charter's timeline (its text, signatories and phases) with each milestone dated
    from `start`, as version 1 of a new agreement."""
    draft = AgreementCreate.model_validate(
        {**service.draft_from_timeline(cell, timeline_id, body.start), "audience": body.audience}
    )
    with cell.command() as uow:
        agreement = service.propose(cell=cell, uow=uow, principal=principal, body=draft)
    return _read(cell, principal, agreement.id)


@router.get(
    "/agreements",
    name="agreements_list",
    summary="The agreements you may read, with their binding state",
    response_model=AgreementPage,
    responses={401: ERRORS[401]},
)
def list_agreements(cell: CellDep, principal: CurrentUser) -> AgreementPage:
    """Every agreement whose audience you read: each version's signatures and binding state, the version in force,
    and its milestones' status."""
    return AgreementPage(items=[agreement_read(v) for v in service.list_views(cell=cell, principal=principal)])


@router.get(
    "/agreements/{agreement_id}",
    name="agreement_read",
    summary="One agreement: versions, signatures, binding state, milestones",
    response_model=AgreementRead,
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def get_agreement(agreement_id: AgreementId, cell: CellDep, principal: CurrentUser) -> AgreementRead:
    """Whether it binds is computed from the signatures alone, as `fusioncell verify` computes it offline from an
    evidence bundle. 404 for one you may not read, as for one that does not exist."""
    return _read(cell, principal, agreement_id)


@router.post(
    "/agreements/{agreement_id}/versions",
    name="agreement_amend",
    summary="Amend an agreement: a new version, to be signed again (the mediator)",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementRead,
    responses=ERRORS,
)
def amend(agreement_id: AgreementId, body: AgreementDraft, cell: CellDep, principal: CurrentUser) -> AgreementRead:
    """The mediator's officers: the whole text again, as it is to stand. Until every signatory has signed it, the
    version in force stays in force."""
    with cell.command() as uow:
        service.amend(cell=cell, uow=uow, principal=principal, agreement_id=agreement_id, body=body)
    return _read(cell, principal, agreement_id)


@router.get(
    "/agreements/{agreement_id}/versions/{version}",
    name="agreement_version",
    summary="One version exactly as signed: its document, digest and signing message",
    response_model=VersionDocument,
    responses={401: ERRORS[401], 404: ERRORS[404]},
)
def get_version(
    agreement_id: AgreementId,
    version: VersionNumber,
    cell: CellDep,
    principal: CurrentUser,
    key_id: Annotated[
        str | None,
        Query(max_length=200, description="Your key's id: the answer then holds the exact message to sign with it."),
    ] = None,
) -> VersionDocument:
    """What `fusioncell sign` fetches, shows and signs offline: check the digest against the document's RFC 8785
    canonical form yourself before signing. The message signed names the key that signs it."""
    row = service.version_of(cell=cell, principal=principal, agreement_id=agreement_id, version=version)
    return VersionDocument(
        agreement=agreement_id,
        version=version,
        document=row.document,
        digest=row.digest,
        signing_message=service.message_of(cell, row, key_id).decode() if key_id else None,
    )


@router.post(
    "/agreements/{agreement_id}/versions/{version}/signatures",
    name="agreement_sign",
    summary="Upload your signature over a version (signatories)",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementRead,
    responses={**ERRORS, 409: {"description": "Your party has signed this version already"}},
)
def sign(
    agreement_id: AgreementId, version: VersionNumber, body: SignatureCreate, cell: CellDep, principal: CurrentUser
) -> AgreementRead:
    """A signatory of a party the version names, with their own approved and unrevoked key. Refused, with the reason:
    a signature that does not verify over exactly this version, a key not registered, not approved, revoked, or
    another's."""
    with cell.command() as uow:
        service.sign(cell=cell, uow=uow, principal=principal, agreement_id=agreement_id, version=version, body=body)
    return _read(cell, principal, agreement_id)


@router.post(
    "/agreements/{agreement_id}/milestones/{key}/attestations",
    name="milestone_attest",
    summary="Attest a milestone done or not (its verifier)",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementRead,
    responses={**ERRORS, 409: {"description": "The agreement does not bind yet"}},
)
def attest(
    agreement_id: AgreementId, key: MilestoneKey, body: AttestationCreate, cell: CellDep, principal: CurrentUser
) -> AgreementRead:
    """The milestone's verifier (the mediator's officers, or its observer), with what was seen and evidence files.
    The latest attestation decides whether it is verified."""
    with cell.command() as uow:
        service.attest(cell=cell, uow=uow, principal=principal, agreement_id=agreement_id, key=key, body=body)
    return _read(cell, principal, agreement_id)


REPORT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


@router.get(
    "/agreements/{agreement_id}/report",
    name="agreement_report",
    summary="The compliance report: each milestone's status and the figures, computed from the ledger",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}, "application/pdf": {}}},
        401: ERRORS[401],
        404: ERRORS[404],
        422: ERRORS[422],
        503: {"description": "The PDF's font is not installed (make install)"},
    },  # fmt: skip
)
def agreement_report(
    agreement_id: AgreementId,
    cell: CellDep,
    principal: CurrentUser,
    format: Annotated[
        Literal["json", "csv", "pdf"],
        Query(description="json (the whole report), csv (a row a milestone) or pdf (with the timeline's Gantt chart)"),
    ] = ("json"),
    lang: Annotated[
        str | None,
        Query(max_length=16, description="The language of titles (default: authoritative), and of the PDF's words."),
    ] = None,
) -> Response:
    """From the entries about the agreement and its signing keys below the newest signed checkpoint, which the report
    names (size, root): the version in force, each milestone's status, when verified, how late, and the figures."""
    from fusioncell.agreements import report

    found = report.compute(cell=cell, principal=principal, agreement_id=agreement_id, lang=lang)
    body = found.pdf(lang) if format == "pdf" else found.csv() if format == "csv" else found.json()
    return Response(
        body,
        media_type=REPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="compliance-{agreement_id}.{format}"'},
    )


@router.get(
    "/agreements/{agreement_id}/evidence",
    name="agreement_evidence",
    summary="The evidence that an agreement binds: bundles about it and about each key that signed it",
    responses={
        200: {"content": {"application/json": {}}},
        401: ERRORS[401],
        404: ERRORS[404],
        409: {"description": "No final checkpoint yet covers its latest entry: try again once the witnesses cosign"},
    },
)
def agreement_evidence(agreement_id: AgreementId, cell: CellDep, principal: CurrentUser) -> Response:
    """Each bundle complete for its subject (the agreement; each key that signed it), checked offline by
    `fusioncell verify`, which then computes from them alone which version binds."""
    import json

    from fusioncell.agreements import evidence

    service.get_view(cell=cell, principal=principal, agreement_id=agreement_id)  # 404 for one you may not read
    body = json.dumps(evidence.export(cell, principal, agreement_id), ensure_ascii=False)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="evidence-agreement-{agreement_id}.json"'},
    )


@router.get(
    "/agreements/{agreement_id}/attestations/{attestation_id}/evidence/{sha256}",
    name="attestation_evidence",
    summary="An attestation's evidence file, by its SHA-256",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 401: ERRORS[401], 404: ERRORS[404]},
)
def get_evidence(
    agreement_id: AgreementId,
    attestation_id: Annotated[RowId, Path(description="An attestation's id")],
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The file's SHA-256, hex")],
    cell: CellDep,
    principal: CurrentUser,
) -> Response:
    """The bytes as attached, for the agreement's audience; downloaded, never shown in place."""
    found = service.attestation_file(
        cell=cell, principal=principal, agreement_id=agreement_id, attestation_id=attestation_id, sha256=sha256
    )
    return evidence_download(found.data, found.content_type, sha256)

"""Thin HTTP for the ledger: entry headers and contents, the signed checkpoint, Merkle proofs."""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from fusioncell.deps import MAX_INT, CellDep, CurrentUser, LedgerIndex
from fusioncell.ledger import evidence, log, service
from fusioncell.ledger.schemas import (
    CheckpointInfo,
    CheckpointPage,
    ConsistencyProof,
    CosignatureInfo,
    EntryContent,
    EntryContentPage,
    EntryHeader,
    EntryHeaderPage,
    InclusionProof,
    LogInfo,
    WitnessInfo,
)

Size = Annotated[int, Query(ge=0, le=MAX_INT, description="A tree size: a checkpoint's.")]
Start = Annotated[int, Query(ge=0, le=MAX_INT, description="The first index of the range.", examples=[0])]
LEAVES_MEDIA_TYPE = "application/jsonl"


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@router.get(
    "/entries",
    name="ledger_entries",
    summary="Entry headers in [start, end): what every delegation reads, and the rest to the audience",
    response_model=EntryHeaderPage,
    responses={401: {"description": "Not authenticated"}},
)
def entries(
    cell: CellDep,
    principal: CurrentUser,
    start: Start = 0,
    end: Annotated[
        int | None,
        Query(ge=0, le=MAX_INT, description="Exclusive; default start + 100; at most 1000 per page.", examples=[100]),
    ] = None,
) -> EntryHeaderPage:
    """The public header of each entry in [start, end): index, time, audience and commitment, for every
    delegation, since every party witnesses the whole log. The action, actor's delegation and subject are given
    only for entries your delegation may read (format 2); to others they are null. A range is cut at the log's
    size and at 1000 entries: page on from the last index + 1."""
    total, headers = service.headers(
        cell=cell, principal=principal, start=start, end=start + 100 if end is None else end
    )
    return EntryHeaderPage(size=total, items=[EntryHeader(**h) for h in headers])


@router.get(
    "/entries/{index}/content",
    name="ledger_entry_content",
    summary="An entry's content and salt, for its audience only",
    response_model=EntryContent,
    responses={401: {"description": "Not authenticated"}, 404: {"description": "No such entry you may read"}},
)
def entry_content(index: LedgerIndex, cell: CellDep, principal: CurrentUser) -> EntryContent:
    """What an entry says, with its salt, for the entry's audience only: check SHA-256(salt ‖ content) against
    the header's commitment. 404 if there is no such entry or it is not yours to read."""
    entry = service.content(cell=cell, principal=principal, index=index)
    return EntryContent(
        index=entry.index,
        audience=entry.audience,
        content=entry.content,
        salt=entry.salt,
        commitment=entry.commitment,
        parsed=service.parsed(entry),
    )


@router.get(
    "/checkpoint",
    name="ledger_checkpoint",
    summary="The newest signed checkpoint (C2SP tlog-checkpoint signed note)",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The signed note"},
        401: {"description": "Not authenticated"},
    },
)
def checkpoint(cell: CellDep, principal: CurrentUser) -> PlainTextResponse:
    """The newest checkpoint as a C2SP signed note (origin, size, root hash, the cell's signature), with the
    cosignature lines of the witnesses that have signed it. `Fusioncell-Final: yes` once every party's witness
    has cosigned. Any member."""
    signed = log.latest(cell) or log.sign_checkpoint(cell)
    cosigned = log.cosignatures(cell, signed.size)
    return PlainTextResponse(
        log.with_cosignatures(signed, cosigned),
        headers={
            "Cache-Control": "no-store",
            "Fusioncell-Final": "yes" if log.is_final(cell.charter, cosigned) else "no",
        },
    )


@router.get(
    "/checkpoints",
    name="ledger_checkpoints",
    summary="Signed checkpoints, newest first, with their cosignatures and whether each is final",
    response_model=CheckpointPage,
    responses={401: {"description": "Not authenticated"}},
)
def checkpoints(
    cell: CellDep,
    principal: CurrentUser,
    before: Annotated[int | None, Query(ge=0, le=MAX_INT, description="Only sizes below this.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many checkpoints.", examples=[20])] = 20,
) -> CheckpointPage:
    """Signed checkpoints, newest first, each with its cosignatures and whether it is final (every party's witness
    has cosigned it). For the next page, pass the last one's `size` as `before`. Any member."""
    items = []
    for signed in log.history(cell, before=before, limit=limit):
        cosigned = log.cosignatures(cell, signed.size)
        items.append(
            CheckpointInfo(
                size=signed.size,
                root=_b64(signed.root),
                signed_at=signed.signed_at,
                final=log.is_final(cell.charter, cosigned),
                cosignatures=[
                    CosignatureInfo(witness=c.witness, delegation=c.delegation, timestamp=c.timestamp) for c in cosigned
                ],
                note=log.with_cosignatures(signed, cosigned),
            )
        )
    final = log.latest_final(cell)
    return CheckpointPage(items=items, latest_final_size=final.size if final else None)


@router.get(
    "/log",
    name="ledger_log_info",
    summary="The log's origin, verifier key and witnesses (public)",
    response_model=LogInfo,
)
def log_info(cell: CellDep) -> LogInfo:
    """The log's origin, its verifier key and the parties' witnesses: what a witness or an offline verifier
    needs, so it is open to anyone, without a token."""
    return LogInfo(
        origin=cell.charter.mechanism.log_origin,
        log_key=str(log.log_signer(cell).verifier),
        witnesses=[WitnessInfo(name=w.name, delegation=w.delegation, key=w.key) for w in cell.charter.ledger.witnesses],
    )


@router.get(
    "/proof/inclusion",
    name="ledger_inclusion_proof",
    summary="RFC 9162 inclusion proof of an entry in the tree of a given size",
    response_model=InclusionProof,
    responses={401: {"description": "Not authenticated"}, 422: {"description": "Index or size out of range"}},
)
def inclusion_proof(
    cell: CellDep,
    principal: CurrentUser,
    index: Annotated[int, Query(ge=0, le=MAX_INT, description="The entry to prove.")],
    size: Size,
) -> InclusionProof:
    """Proof that entry `index` is in the tree of `size` entries (a checkpoint's): hash the leaf up the path and
    compare with that checkpoint's root. Any member; an index at or past `size`, or a size past the log's, is 422."""
    leaf, hashes = log.inclusion(cell, index, size)
    return InclusionProof(index=index, size=size, leaf_hash=_b64(leaf), hashes=[_b64(h) for h in hashes])


@router.get(
    "/proof/consistency",
    name="ledger_consistency_proof",
    summary="RFC 9162 consistency proof between two tree sizes",
    response_model=ConsistencyProof,
    responses={401: {"description": "Not authenticated"}, 422: {"description": "Sizes out of range"}},
)
def consistency_proof(
    cell: CellDep,
    principal: CurrentUser,
    first: Annotated[int, Query(ge=0, le=MAX_INT, description="The earlier tree size.")],
    second: Annotated[int, Query(ge=0, le=MAX_INT, description="The later tree size.")],
) -> ConsistencyProof:
    """Proof that the tree of `second` entries extends the tree of `first`: nothing before was changed. Witnesses
    check it before they cosign. Any member; `first` past `second`, or `second` past the log's size, is 422."""
    hashes = log.consistency(cell, first, second)
    return ConsistencyProof(first=first, second=second, hashes=[_b64(h) for h in hashes])


@router.get(
    "/leaves",
    name="ledger_leaves",
    summary="Entry leaves in [start, end) as JSON Lines: each line exactly the bytes the Merkle tree hashes",
    response_class=Response,
    responses={
        200: {"content": {LEAVES_MEDIA_TYPE: {}}, "description": "One canonical header per line, in index order"},
        401: {"description": "Not authenticated"},
        422: {"description": "A bad range"},
    },
)
def leaves(
    cell: CellDep,
    principal: CurrentUser,
    start: Start = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INT, description="Exclusive; at most 65,536 per page.")] = None,
) -> Response:
    """A mirror's feed: each line is an entry's leaf, exactly the bytes the Merkle tree hashes, so a witness can
    rebuild the tree. Any member (the leaves hold only public headers)."""
    lines = service.leaves(cell=cell, start=start, end=start + service.MAX_LEAVES if end is None else end)
    return Response(lines, media_type=LEAVES_MEDIA_TYPE)


@router.get(
    "/contents",
    name="ledger_contents",
    summary="Contents and salts of the entries in [start, end) that you may read",
    response_model=EntryContentPage,
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/EntryContentPage"}}}},
        401: {"description": "Not authenticated"},
        422: {"description": "A bad range"},
    },
)
def contents(
    cell: CellDep,
    principal: CurrentUser,
    start: Start = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INT, description="Exclusive; at most 65,536 per page.")] = None,
) -> Response:
    """The contents and salts of the entries in [start, end) whose audience your delegation is in; the others are
    left out. With the leaves, what your delegation's mirror keeps."""
    rows = service.contents(
        cell=cell, principal=principal, start=start, end=start + service.MAX_LEAVES if end is None else end
    )
    # written directly (thousands of items a page for a mirror); the schema above documents the shape
    items = [{"index": i, "content": c, "salt": s} for i, c, s in rows]
    return Response(json.dumps({"items": items}, ensure_ascii=False).encode(), media_type="application/json")


@router.get(
    "/evidence",
    name="ledger_evidence",
    summary="An evidence bundle: the entries about a subject, what you may read of them, proofs to a final checkpoint",
    responses={
        200: {"content": {"application/json": {}}, "description": "Verify it offline with `fusioncell verify`"},
        401: {"description": "Not authenticated"},
        409: {"description": "The entries are not yet under a final checkpoint"},
        404: {"description": "No entry about that subject that you may read"},
    },
)
def evidence_bundle(
    cell: CellDep,
    principal: CurrentUser,
    subject: Annotated[
        str, Query(min_length=1, max_length=160, description="What the entries are about: `message:<id>`, …")
    ],
) -> Response:
    """Everything recorded about a subject (a message, an intelligence item, …) that you may read, with Merkle
    proofs up to a final checkpoint: check it offline with `fusioncell verify`, against the charter or the
    witnesses' keys. 404 when no entry about it is yours to read; 409 until a final checkpoint covers them (wait
    for the witnesses to cosign)."""
    bundle = evidence.export(cell, principal, subject)
    name = subject.replace(":", "-").replace("/", "-")
    return Response(
        json.dumps(bundle, ensure_ascii=False, indent=1).encode(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="evidence-{name}.json"'},
    )

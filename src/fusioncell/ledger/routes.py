"""Thin HTTP for the ledger (the Merkle proofs and checkpoints come with the log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fusioncell.deps import MAX_INT, CellDep, CurrentUser, LedgerIndex
from fusioncell.ledger import service
from fusioncell.ledger.schemas import EntryContent, EntryHeader, EntryHeaderPage

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@router.get(
    "/entries",
    name="ledger_entries",
    summary="Public entry headers in [start, end)",
    response_model=EntryHeaderPage,
    responses={401: {"description": "Not authenticated"}},
)
def entries(
    cell: CellDep,
    principal: CurrentUser,
    start: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    end: Annotated[
        int | None, Query(ge=0, le=MAX_INT, description="Exclusive; default start + 100; at most 1000 per page")
    ] = None,
) -> EntryHeaderPage:
    total, rows = service.headers(cell=cell, start=start, end=start + 100 if end is None else end)
    return EntryHeaderPage(size=total, items=[EntryHeader.model_validate(r) for r in rows])


@router.get(
    "/entries/{index}/content",
    name="ledger_entry_content",
    summary="An entry's content and salt, for its audience only",
    response_model=EntryContent,
    responses={401: {"description": "Not authenticated"}, 404: {"description": "No such entry you may read"}},
)
def entry_content(index: LedgerIndex, cell: CellDep, principal: CurrentUser) -> EntryContent:
    entry = service.content(cell=cell, principal=principal, index=index)
    return EntryContent(
        index=entry.index,
        audience=entry.audience,
        content=entry.content,
        salt=entry.salt,
        commitment=entry.commitment,
        parsed=service.parsed(entry),
    )

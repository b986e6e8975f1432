"""Intelligence commands and queries: a party submits, the mediator releases (to an audience, keeping or raising
the marking) or declines; recipients read the released objects.

Nothing submitted reaches another party before the mediator releases it: submissions live in `intel_items`, read
by the mediator and the submitting delegation only; what recipients read is written to `intel_objects` at release,
already in the form they receive (the marking applied, the submitter's identity replaced unless allowed).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, or_, select, true

from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork, fresh_id
from fusioncell.errors import Conflict, InvalidInput, NotFound
from fusioncell.intel import stix
from fusioncell.intel.markings import Tlp, tlp_of, with_tlp
from fusioncell.intel.models import IntelItem, IntelObject, IntelOwner, IntelVersion
from fusioncell.pagetokens import bound_to, page_tokens
from fusioncell.policy import (
    MEDIATED_PREFIX,
    MEDIATOR,
    Audience,
    DelegationKind,
    Permission,
    Principal,
    authorize,
    can_read,
    home_audience,
    readable_audiences,
    resolve_audience,
)

# Identity objects get ids from the log's origin and the delegation: the same on every instance and every release.
_IDENTITY_NAMESPACE = uuid.UUID("0f6b1c4e-3a52-4c55-9d1e-5b7e7f3b9a10")
_IDENTITY_CREATED = "2026-01-01T00:00:00.000Z"


def _version(obj: dict[str, Any], fallback: datetime) -> str:
    """The object's version as stored; an object with no timestamp is versioned by when it was added."""
    return stix.version_of(obj) or stix.version_text(fallback)


def mediator_identity(cell: Cell) -> dict[str, Any]:
    """The STIX identity that stands for the mediator as source of what it releases."""
    mediator = next(d for d in cell.charter.delegations if d.kind is DelegationKind.MEDIATOR)
    name = mediator.names.get("en") or next(iter(mediator.names.values()))
    origin = cell.charter.mechanism.log_origin
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid5(_IDENTITY_NAMESPACE, f'{origin}/{mediator.code}')}",
        "created": _IDENTITY_CREATED,
        "modified": _IDENTITY_CREATED,
        "name": name,
        "identity_class": "organization",
        "object_marking_refs": [Tlp.CLEAR.marking_id],
    }


# ---- submitting ---------------------------------------------------------------------------------------------


def checked(cell: Cell, body: Any) -> stix.Checked:
    """The content if it passes, else InvalidInput listing every problem (nothing is stored). Nobody submits a
    version of the mediator's own identity: it would replace, for every reader, the source of its releases. Its
    timestamps keep to the cell's range (stix.out_of_range)."""
    result, problems = stix.check_submission(body, workers=cell.settings.resolved_stix_workers())
    if result is not None:
        mediator = mediator_identity(cell)["id"]
        at = ("stix", "objects") if isinstance(body, dict) and body.get("type") == "bundle" else ("stix",)
        problems = [
            stix.Problem((*at, i, "id"), mediator, "the mediator's own identity: it cannot be submitted")
            for i, o in enumerate(result.objects)
            if o["id"] == mediator
        ]
        problems += stix.submission_out_of_range(body, result.objects, cell.clock.now())
    if result is None or problems:
        raise InvalidInput(
            f"{len(problems)} problem(s) in the STIX content; nothing was stored",
            errors=[p.as_error() for p in problems],
        )
    return result


def _new_item(
    uow: UnitOfWork, principal: Principal, content: stix.Checked, now: datetime, **decision: Any
) -> IntelItem:
    """An item of the principal's delegation, holding the content, written now; `decision` sets its state and,
    for one decided as it is made, the release fields."""
    item = IntelItem(
        id=fresh_id(uow.session, IntelItem),  # random: a sequence would count, and date, others' items
        submitted_by=principal.username,
        delegation=principal.delegation or "",
        submitted_at=now,
        tlp=int(content.tlp),
        objects=content.text,
        objects_sha256=content.sha256,
        object_count=len(content.objects),
        summary=stix.summary(content.objects),
        ledger_index=uow.next_ledger_index(),
        **decision,
    )
    uow.session.add(item)
    uow.session.flush()
    return item


@dataclass(frozen=True)
class Submission:
    item: IntelItem
    created: bool  # False: exactly this content was submitted before, and `item` is what it made
    versions: list[tuple[str, str]]  # (id, version) of every object


DRAFT_STATES = ("draft", "discarded")  # the delegation's own, until it submits: not in the mediator's queue


def _stored(item: IntelItem) -> stix.Checked:
    """An item's content as it was checked when it came in."""
    objects = json.loads(item.objects)
    versions = [stix.version_of(o) for o in objects]
    return stix.Checked(objects, Tlp(item.tlp), versions, item.objects, item.objects_sha256)


def _submission_entry(item: IntelItem, content: stix.Checked | None = None) -> dict[str, Any]:
    """What the ledger keeps of an item's content: its marking, the identity choice, each object's version."""
    if content is None:
        content = _stored(item)
    versions = [
        [o["id"], v or stix.version_text(item.submitted_at)]
        for o, v in zip(content.objects, content.versions, strict=True)
    ]
    return {
        "item": item.id,
        "tlp": content.tlp.label,
        "share_identity": item.share_identity,
        "objects": versions,
        "sha256": content.sha256,
    }


def _earlier(uow: UnitOfWork, delegation: str, sha256: str, share_identity: bool, *, drafts: bool) -> IntelItem | None:
    states = IntelItem.state == "draft" if drafts else IntelItem.state.not_in(DRAFT_STATES)
    return uow.session.execute(
        select(IntelItem).where(
            IntelItem.delegation == delegation,
            IntelItem.objects_sha256 == sha256,
            IntelItem.share_identity == share_identity,  # the same content, now with its identity allowed: a new item
            states,
        )
    ).scalar()


def submit(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, body: Any, share_identity: bool, draft: bool = False
) -> Submission:
    """The new item under review (or, `draft`, kept by the delegation until it submits it); for content the
    delegation already submitted (or drafted) exactly, with the same choice about its identity, that item (a
    resend changes nothing)."""
    authorize(principal, Permission.SUBMIT_INTEL, cell.charter.roster)
    content = checked(cell, body)
    now = cell.clock.now()
    versions = [(o["id"], v or stix.version_text(now)) for o, v in zip(content.objects, content.versions, strict=True)]
    earlier = _earlier(uow, principal.delegation or "", content.sha256, share_identity, drafts=draft)
    if earlier is not None:
        return Submission(earlier, False, versions)
    _only_own_versions(cell, uow, principal, body, content)
    if draft:
        _not_submitted_yet(uow, principal.delegation or "", content, share_identity)
    item = _new_item(
        uow, principal, content, now, state="draft" if draft else "submitted", share_identity=share_identity
    )
    if draft:
        _record_draft(cell, uow, principal, item, "drafted", _submission_entry(item, content))
    else:
        _record_versions(uow, item, content)
        uow.record(
            action="intel.submitted",
            actor=principal,
            audience=home_audience(item.delegation, cell.charter.roster),
            subject=f"intel-submission:{item.id}",
            content=_submission_entry(item, content),
        )
    return Submission(item, True, versions)


def _record_draft(
    cell: Cell, uow: UnitOfWork, principal: Principal, item: IntelItem, step: str, content: dict[str, Any]
) -> None:
    """A draft's step on the record. Its header, which every member reads, says only that the delegation worked on
    a draft: one action for every step, a subject of its own each time, so that no one else can follow a draft,
    count its revisions, or learn that an item was dropped."""
    uow.record(
        action="intel.draft",
        actor=principal,
        audience=home_audience(item.delegation, cell.charter.roster),
        subject=f"intel-draft:{uuid.uuid4()}",
        content={"step": step, **content},
    )


def _not_submitted_yet(uow: UnitOfWork, delegation: str, content: stix.Checked, share_identity: bool) -> None:
    """A draft of content already submitted could never be submitted: say so now."""
    earlier = _earlier(uow, delegation, content.sha256, share_identity, drafts=False)
    if earlier is not None:
        raise Conflict(f"exactly this content was submitted as item {earlier.id}", item=earlier.id)


def _own_draft(cell: Cell, uow: UnitOfWork, principal: Principal, item_id: int) -> IntelItem:
    authorize(principal, Permission.SUBMIT_INTEL, cell.charter.roster)
    item = uow.session.get(IntelItem, item_id, with_for_update=True)
    if item is None or item.delegation != principal.delegation:
        raise NotFound(f"no intelligence item {item_id} of your delegation")
    if item.state != "draft":
        raise Conflict(f"item {item_id} is {item.state}; only a draft can be changed", state=item.state)
    return item


def revise_draft(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, item_id: int, body: Any, share_identity: bool
) -> IntelItem:
    """A draft's content replaced, checked as a submission is."""
    item = _own_draft(cell, uow, principal, item_id)
    content = checked(cell, body)
    _only_own_versions(cell, uow, principal, body, content)
    _not_submitted_yet(uow, item.delegation, content, share_identity)
    item.tlp = int(content.tlp)
    item.objects = content.text
    item.objects_sha256 = content.sha256
    item.object_count = len(content.objects)
    item.summary = stix.summary(content.objects)
    item.share_identity = share_identity
    item.submitted_by = principal.username
    _record_draft(cell, uow, principal, item, "revised", _submission_entry(item, content))
    return item


def submit_draft(*, cell: Cell, uow: UnitOfWork, principal: Principal, item_id: int) -> IntelItem:
    """The draft before the mediator, unless exactly its content is already there."""
    item = _own_draft(cell, uow, principal, item_id)
    earlier = _earlier(uow, item.delegation, item.objects_sha256, item.share_identity, drafts=False)
    if earlier is not None:
        raise Conflict(f"exactly this content was submitted as item {earlier.id}; discard this draft", item=earlier.id)
    content = _stored(item)
    _only_own_versions(cell, uow, principal, content.objects, content)  # others may have submitted them since
    _record_versions(uow, item, content)
    item.state = "submitted"
    item.submitted_by = principal.username
    item.submitted_at = cell.clock.now()
    item.ledger_index = uow.next_ledger_index()  # the item's entry is its submission's, as for one sent directly
    uow.record(
        action="intel.submitted",
        actor=principal,
        audience=home_audience(item.delegation, cell.charter.roster),
        subject=f"intel-submission:{item.id}",
        content=_submission_entry(item),
    )
    return item


def discard_draft(*, cell: Cell, uow: UnitOfWork, principal: Principal, item_id: int) -> IntelItem:
    """A draft the delegation will not submit: kept, with its ledger entries, but out of every list of work."""
    item = _own_draft(cell, uow, principal, item_id)
    item.state = "discarded"
    item.decided_at = cell.clock.now()
    item.decided_by = principal.username
    _record_draft(cell, uow, principal, item, "discarded", {"item": item.id})
    return item


# ---- who may version an object ------------------------------------------------------------------------------
#
# An object (a STIX id) is the delegation's whose submission of it the mediator released first (the mediator's own
# when it published it first): the cell accepts new versions of it from that delegation and the mediator only, as
# STIX has only an object's creator version it. The claim is written once, by that release, under the ledger
# head's lock (IntelOwner), and nothing later changes it. Until then the object is no one's: a submission that is
# pending or was declined claims nothing, so a party cannot hold an id the other party will use (ids made from a
# name are common) by submitting it first; the mediator, whose review shows every submission of the object,
# decides which is released, and with it whose the object is.
#
# Another party that reads the object is refused at once, unless what it sends is a copy of a version it read,
# property for property (a bundle may carry others' objects it refers to: that versions nothing). One that does
# not read it is not refused: the refusal would confirm an object it may not read; its submission goes on as one
# with a new id would, and the mediator, whose review shows whose object it is, cannot release it. Everything here
# goes by (id, version): one submission may hold several versions of an object, each judged on its own.
# Observables have no versions, and two parties may well send the same one (its id is made from its value).


def _is_mediator(cell: Cell, delegation: str | None) -> bool:
    return delegation is not None and cell.charter.roster.kind(delegation) is DelegationKind.MEDIATOR


def _owners(session: Any, stix_ids: set[str]) -> dict[str, str]:
    """Whose each of these objects is, for those released (see above)."""
    if not stix_ids:
        return {}
    query = select(IntelOwner.stix_id, IntelOwner.delegation).where(IntelOwner.stix_id.in_(stix_ids))
    return dict(session.execute(query).all())


def _claim(uow: UnitOfWork, item: IntelItem) -> None:
    """The item is being released: the objects it versions that are no one's yet become its delegation's. The
    caller holds the ledger head's lock, which every release takes first, so no two releases claim one object."""
    versioned = set(uow.session.execute(select(IntelVersion.stix_id).where(IntelVersion.item_id == item.id)).scalars())
    fresh = versioned - _owners(uow.session, versioned).keys()
    if fresh:
        rows = [{"stix_id": i, "delegation": item.delegation, "item_id": item.id} for i in sorted(fresh)]
        uow.session.execute(insert(IntelOwner), rows)


def _canonical(obj: Any) -> str:
    """An object's properties as one text, so that 1 and 1.0, or true and 1, are not the same copy."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _copies(session: Any, objects: list[dict[str, Any]], audiences: list[str] | None) -> set[tuple[str, str]]:
    """The (id, version) of those objects that are, property for property, a version released to one of the
    audiences (to any, for None)."""
    sent = {(o["id"], stix.version_of(o)): _canonical(o) for o in objects}
    if not sent:
        return set()
    query = select(_O.c.stix_id, _O.c.version, _O.c.raw).where(_O.c.stix_id.in_({i for i, _ in sent}))
    if audiences is not None:
        query = query.where(_O.c.audience.in_(audiences))
    return {
        (row.stix_id, row.version)
        for row in session.execute(query)
        if sent.get((row.stix_id, row.version)) == _canonical(json.loads(row.raw))
    }


def _only_own_versions(cell: Cell, uow: UnitOfWork, principal: Principal, body: Any, content: stix.Checked) -> None:
    """Conflict, naming each object, for new versions of another delegation's objects that the principal reads
    (copies of what it read are none); nothing for those it does not read (see above)."""
    if _is_mediator(cell, principal.delegation):
        return
    versioned = [(i, o, v) for i, (o, v) in enumerate(zip(content.objects, content.versions, strict=True)) if v]
    owners = _owners(uow.session, {o["id"] for _, o, _ in versioned})
    others = {stix_id for stix_id, delegation in owners.items() if delegation != principal.delegation}
    audiences = readable_audiences(principal, cell.charter.roster)
    if not others or not audiences:
        return
    read = set(
        uow.session.execute(
            select(_O.c.stix_id).where(_O.c.stix_id.in_(others), _O.c.audience.in_(audiences)).distinct()
        ).scalars()
    )
    theirs = [(i, o, v) for i, o, v in versioned if o["id"] in read]
    copies = _copies(uow.session, [o for _, o, _ in theirs], audiences)
    refused = [
        stix.Problem(
            (*stix.position_in(body, i), "id"),
            o["id"],
            "a new version of an object released to you that another delegation first submitted: only that "
            "delegation or the mediator may version it; send it unchanged, or give yours an id of its own (a "
            "relationship or a note can refer to this one)",
        )
        for i, o, v in theirs
        if (o["id"], v) not in copies
    ]
    if refused:
        raise Conflict(
            f"{len(refused)} object(s) belong to another delegation: a new version of an object is accepted only "
            "from the delegation that first submitted it, or from the mediator; nothing was stored",
            errors=[{**p.as_error(), "code": "another-delegations-object"} for p in refused],
            objects=sorted({p.stix_id for p in refused if p.stix_id}),
        )


def _record_versions(uow: UnitOfWork, item: IntelItem, content: stix.Checked) -> None:
    """The item's object versions, now before the mediator (submitted, or published by the mediator)."""
    rows = [
        {"stix_id": o["id"], "version": v, "item_id": item.id, "delegation": item.delegation}
        for o, v in zip(content.objects, content.versions, strict=True)
        if v is not None
    ]
    if rows:
        uow.session.execute(insert(IntelVersion), rows)


def _others_objects(cell: Cell, session: Any, item: IntelItem) -> dict[str, str]:
    """The objects the item holds new versions of that are another delegation's, each with that delegation (none
    for the mediator's own items; a copy of a released version is no new version)."""
    if _is_mediator(cell, item.delegation):
        return {}
    content = _stored(item)
    versioned = [(o, v) for o, v in zip(content.objects, content.versions, strict=True) if v is not None]
    owners = _owners(session, {o["id"] for o, _ in versioned})
    theirs = [(o, v) for o, v in versioned if owners.get(o["id"], item.delegation) != item.delegation]
    copies = _copies(session, [o for o, _ in theirs], None)
    return {o["id"]: owners[o["id"]] for o, v in theirs if (o["id"], v) not in copies}


@dataclass(frozen=True)
class Rival:
    """Another delegation's submission of the same object, not released: the mediator's choice between them."""

    delegation: str
    item: int


@dataclass(frozen=True)
class Supersession:
    """One of an item's object versions, where the object was submitted before, as the item's page shows it."""

    stix_id: str
    version: str  # the item's
    owner: str | None  # whose the object is (its submission was released first); None: none released, or partial
    base_item: int  # the item holding the version this one is set against
    base_version: str  # the newest released version before this one; else the newest submitted before it
    base_state: str  # that item's state: released, redacted, revoked (recalled), submitted, declined
    order: str  # "newer", "same" or "older" than base_version
    changes: list[stix.Change]  # from base_version to this one
    rivals: list[Rival]  # other delegations' submissions of the object, pending, when none is released
    not_theirs: bool  # a new version of another delegation's object: the item cannot be released
    partial: bool  # the reader sees its own delegation's submissions only: nothing of whose the object is


def supersessions(*, cell: Cell, principal: Principal, item: IntelItem) -> list[Supersession]:
    """For each of the item's object versions whose object was submitted before, how it differs from the version
    its readers hold (the newest released before it; else the newest submitted before it), whose the object is and
    who else submitted it. The mediator sees every submission; a delegation sees its own only, so that nothing the
    other party does, or the mediator decides about it, shows on its pages."""
    content = _stored(item)
    mine = [(o, v) for o, v in zip(content.objects, content.versions, strict=True) if v is not None]
    if not mine:
        return []
    sees_all = can_read(principal, resolve_audience(MEDIATOR, cell.charter.roster))
    result = []
    with cell.reading() as session:
        history: dict[str, list[Any]] = {}
        query = (
            select(IntelVersion, IntelItem.state, IntelItem.release_id)
            .join(IntelItem, IntelItem.id == IntelVersion.item_id)
            .where(IntelVersion.stix_id.in_({o["id"] for o, _ in mine}))
            .order_by(IntelVersion.id)
        )
        if not sees_all:
            query = query.where(IntelVersion.delegation == item.delegation)
        for row in session.execute(query):
            history.setdefault(row.IntelVersion.stix_id, []).append(row)
        owners = _owners(session, set(history)) if sees_all else {}
        copies = _copies(session, [o for o, _ in mine], None)
        held: dict[int, dict[tuple[str, str | None], dict[str, Any]]] = {}  # each earlier item's objects, read once
        for obj, version in mine:
            stix_id = obj["id"]
            rows = history.get(stix_id, [])
            own = next((r.IntelVersion.id for r in rows if (r.IntelVersion.item_id, r.IntelVersion.version) ==
                        (item.id, version)), None)  # fmt: skip
            others = [r for r in rows if r.IntelVersion.item_id != item.id]
            before = [r for r in others if own is None or r.IntelVersion.id < own]
            owner = owners.get(stix_id)
            rivals = [
                Rival(r.IntelVersion.delegation, r.IntelVersion.item_id)
                for r in others
                if owner is None and r.state == "submitted" and r.IntelVersion.delegation != item.delegation
            ]
            chosen = [r for r in before if r.release_id is not None] or before
            if not chosen and not rivals:
                continue
            candidates = chosen or [r for r in others if r.IntelVersion.item_id in {v.item for v in rivals}]
            newest = max(candidates, key=lambda r: (r.IntelVersion.version, r.IntelVersion.id))
            base = newest.IntelVersion
            if base.item_id not in held:
                objects = json.loads(session.get(IntelItem, base.item_id).objects)  # type: ignore[union-attr]
                held[base.item_id] = {(o["id"], stix.version_of(o)): o for o in objects}
            earlier = held[base.item_id].get((stix_id, base.version), {})
            order = "newer" if version > base.version else "same" if version == base.version else "older"
            not_theirs = (
                owner is not None
                and owner != item.delegation
                and not _is_mediator(cell, item.delegation)
                and (stix_id, version) not in copies
            )
            result.append(
                Supersession(
                    stix_id,
                    version,
                    owner,
                    base.item_id,
                    base.version,
                    newest.state,
                    order,
                    stix.differences(earlier, obj),
                    rivals,
                    not_theirs,
                    not sees_all,
                )  # fmt: skip
            )
    return result


# ---- reading the queue --------------------------------------------------------------------------------------


def _may_read_item(cell: Cell, principal: Principal, delegation: str) -> bool:
    """An item is read by those who read its submission's entry: the submitting delegation and the mediator."""
    return can_read(principal, home_audience(delegation, cell.charter.roster))


def get_item(*, cell: Cell, principal: Principal, item_id: int) -> IntelItem:
    """An item, for the submitting delegation; for the mediator once it is submitted (a draft is the delegation's
    own work until then)."""
    with cell.reading() as session:
        item = session.get(IntelItem, item_id)
    if (
        item is None
        or not _may_read_item(cell, principal, item.delegation)
        or (item.state in DRAFT_STATES and principal.delegation != item.delegation)
    ):
        raise NotFound(f"no intelligence item {item_id} that you may read")
    return item


def list_items(*, cell: Cell, principal: Principal, state: str | None, limit: int = 200) -> list[IntelItem]:
    """Newest first: the mediator's review queue, or a delegation's own submissions with their status."""
    # ties in time go by ledger index, the order of the entries (ids are random)
    query = select(IntelItem).order_by(IntelItem.submitted_at.desc(), IntelItem.ledger_index.desc()).limit(limit)
    if not can_read(principal, resolve_audience(MEDIATOR, cell.charter.roster)):
        if principal.delegation is None or not _may_read_item(cell, principal, principal.delegation):
            return []
        query = query.where(IntelItem.delegation == principal.delegation)
    else:  # the queue: others' drafts are theirs until submitted
        query = query.where(
            or_(IntelItem.state.not_in(DRAFT_STATES), IntelItem.delegation == (principal.delegation or ""))
        )
    if state is not None:
        query = query.where(IntelItem.state == state)
    with cell.reading() as session:
        return list(session.execute(query).scalars())


# ---- the mediator's decision --------------------------------------------------------------------------------


def _before_the_mediator(uow: UnitOfWork, item_id: int) -> IntelItem:
    """The item, locked for the mediator's decision on it; a draft is its delegation's own, not there for the
    mediator at all (as get_item has it)."""
    item = uow.session.get(IntelItem, item_id, with_for_update=True)
    if item is None or item.state in DRAFT_STATES:
        raise NotFound(f"no intelligence item {item_id}")
    return item


def _pending(uow: UnitOfWork, item_id: int) -> IntelItem:
    item = _before_the_mediator(uow, item_id)
    if item.state != "submitted":
        raise Conflict(
            f"item {item_id} is already {item.state}; only a submitted item can be decided", state=item.state
        )
    return item


def _release_audience(cell: Cell, label: str, level: Tlp) -> Audience:
    audience = resolve_audience(label, cell.charter.roster)
    # TLP:RED is for named recipients only: one party with the mediator, or the mediator alone
    if level is Tlp.RED and not (label == MEDIATOR or label.startswith(MEDIATED_PREFIX)):
        raise Conflict(
            f"a TLP:RED item goes to named recipients only ('mediated:<delegation>' or 'mediator'), not {label!r}",
            field="audience",
        )
    return audience


def _as_released(cell: Cell, item: IntelItem, level: Tlp) -> list[dict[str, Any]]:
    """The objects as recipients receive them: marked `level` (where lower), the mediator's identity as source
    unless the submitter allowed its own, the submitter's identity objects left out."""
    objects: list[dict[str, Any]] = json.loads(item.objects)
    mediator = mediator_identity(cell)
    authors = set() if item.share_identity else {o.get("created_by_ref") for o in objects} - {None}
    if authors:  # every reference to an author becomes the mediator's, so the mediator's identity goes along
        objects = [mediator, *(_standing_in(o, authors, mediator["id"]) for o in objects if o["id"] not in authors)]
    released = []
    for obj in objects:
        current = tlp_of(obj)
        if obj["type"] != "marking-definition" and (current is None or current < level):
            obj = with_tlp(obj, level)
        released.append(obj)
    return released


def _standing_in(value: Any, hidden: set[str], mediator_id: str) -> Any:
    """The value with every reference to a hidden identity (created_by_ref, source_ref, object_refs,
    where_sighted_refs, anywhere) made a reference to the mediator's."""
    if isinstance(value, str):
        return mediator_id if value in hidden else value
    if isinstance(value, list):
        return [_standing_in(v, hidden, mediator_id) for v in value]
    if isinstance(value, dict):
        return {k: _standing_in(v, hidden, mediator_id) for k, v in value.items()}
    return value


def _rows(item_id: int, audience: str, objects: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "item_id": item_id,
            "audience": audience,
            "stix_id": o["id"],
            "type": o["type"],
            "spec_version": o.get("spec_version", "2.1"),
            "version": _version(o, now),
            "date_added": now,
            "raw": json.dumps(o, ensure_ascii=False, separators=(",", ":")),
        }
        for o in objects
    ]


def _store(uow: UnitOfWork, audience: str, rows: list[dict[str, Any]]) -> None:
    """Add object versions to an audience's collection; versions it already holds stay as they are."""
    present = set(
        uow.session.execute(
            select(IntelObject.stix_id, IntelObject.version).where(
                IntelObject.audience == audience, IntelObject.stix_id.in_({r["stix_id"] for r in rows})
            )
        ).all()
    )
    fresh = []
    for row in rows:
        key = (row["stix_id"], row["version"])
        if key not in present:
            present.add(key)
            fresh.append(row)
    if fresh:
        uow.session.execute(insert(IntelObject), fresh)


def _write_release(
    cell: Cell,
    uow: UnitOfWork,
    principal: Principal,
    item: IntelItem,
    target: Audience,
    level: Tlp,
    redactions: dict[str, Redaction] | None = None,
) -> list[dict[str, Any]]:
    """Put the item's objects in the audience's collection as recipients receive them (redacted where the
    mediator says), decide the item, and record the release."""
    uow.next_ledger_index()  # the ledger head first: commands that add objects commit in the order they add them
    _claim(uow, item)
    now = cell.clock.now()
    objects = _as_released(cell, item, level)
    if item.kind == "sighting":
        objects = _published(objects, now)
    if redactions:
        objects = _redact(objects, redactions, now)
    if item.kind == "sighting":
        _sighting_audience(cell, uow, objects, target)
    rows = _rows(item.id, target.label, objects, now)
    _store(uow, target.label, rows)
    item.state = "redacted" if redactions else "released"
    item.audience = target.label
    item.released_tlp = int(level)
    item.release_id = str(uuid.uuid4())
    item.decided_at = now
    item.decided_by = principal.username
    uow.record(
        action="intel.released",
        actor=principal,
        audience=target,
        subject=f"intel-release:{item.release_id}",
        content={
            "release": item.release_id,
            "tlp": level.label,
            "redacted": sorted(redactions or {}),
            "objects": [[r["stix_id"], r["version"]] for r in rows],
            "sha256": stix.sha256("\n".join(r["raw"] for r in rows)),
        },
    )
    return rows


# Properties a redaction may not touch: what makes the object the same object, and its marking (set by `tlp`).
UNREDACTABLE = frozenset(
    {"type", "id", "spec_version", "created", "modified", "created_by_ref", "object_marking_refs", "granular_markings"}
)


@dataclass(frozen=True)
class Redaction:
    remove: tuple[str, ...] = ()
    replace: dict[str, Any] | None = None


def _redact(objects: list[dict[str, Any]], redactions: dict[str, Redaction], now: datetime) -> list[dict[str, Any]]:
    """Each named object as a new STIX version: the properties removed or replaced, `modified` moved on."""
    known = {o["id"]: o for o in objects}
    problems = []
    for stix_id, redaction in redactions.items():
        touched = set(redaction.remove) | set(redaction.replace or {})
        if stix_id not in known:
            problems.append({"field": f"redactions.{stix_id}", "reason": "no object of this item has this id"})
        elif "modified" not in known[stix_id]:
            problems.append({"field": f"redactions.{stix_id}", "reason": "this object has no versions to redact"})
        for name in sorted(touched & UNREDACTABLE):
            problems.append({"field": f"redactions.{stix_id}.{name}", "reason": f"{name} cannot be redacted"})
    if problems:
        raise InvalidInput(
            "the redactions cannot apply", errors=[{"pointer": "", "code": "redaction", **p} for p in problems]
        )
    result = []
    for obj in objects:
        redaction = redactions.get(obj["id"])
        if redaction is not None:
            # a version at the last instant STIX writes (stored before timestamps were bounded) keeps it
            modified = stix.next_modified(obj, now) or obj["modified"]
            obj = {k: v for k, v in obj.items() if k not in redaction.remove}
            obj.update(redaction.replace or {})
            obj["modified"] = modified
            _, found = stix.check_object(("redactions", obj["id"]), obj)
            if not found:  # a time put in by the mediator keeps to the range a submitted one does
                at = ("redactions", obj["id"])
                found = [p for p in stix.out_of_range(at, obj, now) if p.at[len(at)] in (redaction.replace or {})]
            if not found:  # and the text the mediator puts in keeps to the text rule, as a submission's does
                found = [p for p in stix.text_problems(at, obj) if p.at[len(at)] in (redaction.replace or {})]
            if not found and not stix.encodable(obj):
                found = [stix.Problem(("redactions", obj["id"]), obj["id"], stix.LONE_SURROGATE)]
            if found:
                raise InvalidInput("the redacted object would not be valid STIX", errors=[p.as_error() for p in found])
        result.append(obj)
    return result


def release(
    *,
    cell: Cell,
    uow: UnitOfWork,
    principal: Principal,
    item_id: int,
    audience: str,
    tlp: Tlp | None,
    redactions: list[tuple[str, Redaction]] | None = None,
) -> IntelItem:
    """Release the item to an audience, whole or (`redactions`) with new versions of the named objects."""
    authorize(principal, Permission.RELEASE_INTEL, cell.charter.roster)
    named = dict(redactions or [])
    if len(named) != len(redactions or []):
        raise InvalidInput("an object is named twice in redactions", field="redactions")
    item = _pending(uow, item_id)
    uow.next_ledger_index()  # the head's lock first: whose an object is cannot change before this release claims
    others = _others_objects(cell, uow.session, item)
    if others:
        listed = [f"{stix_id} (first submitted by {by})" for stix_id, by in sorted(others.items())]
        named_objects = ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")
        raise Conflict(
            f"item {item_id} holds new versions of objects another delegation first submitted: {named_objects}; only "
            f"that delegation or the mediator may version an object, so the item cannot be released: decline it",
            objects=others,
        )
    submitted = Tlp(item.tlp)
    level = submitted if tlp is None else tlp
    if level < submitted:
        raise Conflict(
            f"the item is marked {submitted.label}; a release may keep or raise the marking, not lower it to "
            f"{level.label}",
            field="tlp",
            submitted=submitted.label,
        )
    _write_release(cell, uow, principal, item, _release_audience(cell, audience, level), level, named)
    return item


def _sighting_audience(cell: Cell, uow: UnitOfWork, objects: list[dict[str, Any]], target: Audience) -> None:
    """A sighting goes only to those who were given the object it sights (as released, redactions and all):
    released wider, it would tell others of an object they never had."""
    for sighting in (o for o in objects if o["type"] == "sighting"):
        held = set(
            uow.session.execute(
                select(_O.c.audience).where(_O.c.stix_id == sighting["sighting_of_ref"]).distinct()
            ).scalars()
        )
        readers = set().union(*(resolve_audience(label, cell.charter.roster).members for label in held))
        if not target.members <= readers:
            raise Conflict(
                f"this sighting is of an object only {', '.join(sorted(readers)) or 'no one'} were given; release "
                f"it to an audience within those, not {target.label!r}",
                field="audience",
            )


def publish(*, cell: Cell, uow: UnitOfWork, principal: Principal, audience: str, body: Any) -> list[dict[str, Any]]:
    """The mediator's own intelligence, released straight to an audience (its TAXII collection): one item,
    decided as it is made, one ledger entry. Returns the objects as released."""
    authorize(principal, Permission.RELEASE_INTEL, cell.charter.roster)
    content = checked(cell, body)
    target = _release_audience(cell, audience, content.tlp)
    now = cell.clock.now()
    earlier = uow.session.execute(
        select(IntelItem).where(
            IntelItem.delegation == (principal.delegation or ""),
            IntelItem.objects_sha256 == content.sha256,
            IntelItem.audience == target.label,
            IntelItem.state == "released",
        )
    ).scalar()
    if earlier is not None:  # the same envelope again: what it released then, nothing new
        return _rows(earlier.id, target.label, _as_released(cell, earlier, Tlp(earlier.released_tlp or 0)), now)
    item = _new_item(uow, principal, content, now, state="released", share_identity=True)
    _record_versions(uow, item, content)
    return _write_release(cell, uow, principal, item, target, content.tlp)


def decline(*, cell: Cell, uow: UnitOfWork, principal: Principal, item_id: int, reason: str) -> IntelItem:
    authorize(principal, Permission.RELEASE_INTEL, cell.charter.roster)
    item = _pending(uow, item_id)
    item.state = "declined"
    item.reason = reason
    item.decided_at = cell.clock.now()
    item.decided_by = principal.username
    uow.record(
        action="intel.declined",
        actor=principal,
        audience=home_audience(item.delegation, cell.charter.roster),
        # its own subject, never the item's: a decision is the mediator's act, not a step of the submission
        subject=f"intel-decision:{uuid.uuid4()}",
        content={"item": item.id, "reason": reason},
    )
    return item


# ---- what recipients read ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectPage:
    rows: list[IntelObject]
    next_after: str | None  # the page token for the next page (fusioncell.pagetokens); None: this is the last


def released_objects(*, cell: Cell, principal: Principal, after: str | None, limit: int) -> ObjectPage:
    """Released objects in the audiences the principal may read, in the order they were added, after the page
    token `after` (None, or "0" as clients sent before tokens, for the first page). Rows are numbered across all
    audiences, so the position goes out sealed: in the clear it would count what other audiences were given."""
    tokens = page_tokens(cell)
    bound = bound_to("intel.objects", principal.username)
    position = 0 if after in (None, "", "0") else tokens.open(after, bound_to=bound)
    audiences = readable_audiences(principal, cell.charter.roster)
    if not audiences:
        return ObjectPage([], None)
    with cell.reading() as session:
        rows = list(
            session.execute(
                select(IntelObject)
                .where(IntelObject.audience.in_(audiences), IntelObject.id > position)
                .order_by(IntelObject.id)
                .limit(limit + 1)
            ).scalars()
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return ObjectPage(rows, tokens.seal(rows[-1].id, bound_to=bound) if more else None)


# ---- TAXII: a collection's objects, by the filters TAXII 2.1 defines -------------------------------------------


@dataclass(frozen=True)
class ObjectFilter:
    """TAXII 2.1 §3.5: added_after and match[id|type|version|spec_version] (each a set of values, OR-ed)."""

    added_after: datetime | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)  # "last", "first", "all" or versions (normalised timestamps)
    spec_versions: tuple[str, ...] = ()


_O = IntelObject.__table__


def _version_clause(versions: tuple[str, ...]) -> Any:
    if "all" in versions:
        return true()
    newer = _O.alias("newer")
    clauses = []
    if "last" in versions:
        clauses.append(
            ~exists().where(
                newer.c.audience == _O.c.audience, newer.c.stix_id == _O.c.stix_id, newer.c.version > _O.c.version
            )
        )
    if "first" in versions:
        clauses.append(
            ~exists().where(
                newer.c.audience == _O.c.audience, newer.c.stix_id == _O.c.stix_id, newer.c.version < _O.c.version
            )
        )
    exact = [v for v in versions if v not in ("last", "first")]
    if exact:
        clauses.append(_O.c.version.in_(exact))
    return or_(*clauses)


def collection_rows(
    *, cell: Cell, audience: str, flt: ObjectFilter, after_id: int, limit: int, stix_id: str | None = None
) -> list[Any]:
    """Rows (id, stix_id, type, version, spec_version, date_added, raw) of one audience's collection, in the
    order they were added, after the keyset `after_id`. The caller has established the reader may read it."""
    query = (
        select(_O.c.id, _O.c.stix_id, _O.c.type, _O.c.version, _O.c.spec_version, _O.c.date_added, _O.c.raw)
        .where(_O.c.audience == audience, _O.c.id > after_id, _version_clause(flt.versions))
        .order_by(_O.c.id)
        .limit(limit)
    )
    if stix_id is not None:
        query = query.where(_O.c.stix_id == stix_id)
    if flt.added_after is not None:
        query = query.where(_O.c.date_added > flt.added_after)
    if flt.ids:
        query = query.where(_O.c.stix_id.in_(flt.ids))
    if flt.types:
        query = query.where(_O.c.type.in_(flt.types))
    if flt.spec_versions:
        query = query.where(_O.c.spec_version.in_(flt.spec_versions))
    with cell.reading() as session:
        return list(session.execute(query))


def withdraw(
    *, cell: Cell, uow: UnitOfWork, principal: Principal, audience: str, stix_id: str, flt: ObjectFilter
) -> int:
    """Take an object (the versions the filter names; all by default) out of an audience's collection (mediator).
    Readers who fetched it keep what they fetched: this stops serving it, and the ledger says so."""
    authorize(principal, Permission.RELEASE_INTEL, cell.charter.roster)
    target = resolve_audience(audience, cell.charter.roster)
    held = (_O.c.audience == target.label, _O.c.stix_id == stix_id)
    query = select(_O.c.id, _O.c.version).where(*held, _version_clause(flt.versions)).order_by(_O.c.version)
    if flt.spec_versions:  # TAXII 2.1 §5.7: versions of those specification versions only
        query = query.where(_O.c.spec_version.in_(flt.spec_versions))
    found = uow.session.execute(query).all()
    if not found:
        if uow.session.execute(select(_O.c.id).where(*held).limit(1)).first() is None:
            raise NotFound(f"no object {stix_id} in this collection")
        return 0  # the object is there, and no version of it matches: nothing is taken out, nothing recorded
    ids, removed = [r.id for r in found], [r.version for r in found]
    uow.session.execute(delete(_O).where(_O.c.id.in_(ids)))
    uow.record(
        action="intel.withdrawn",
        actor=principal,
        audience=target,
        # its own subject: one naming the object (its type and id) would tell those outside the audience of it
        subject=f"intel-withdrawal:{uuid.uuid4()}",
        content={"object": stix_id, "versions": removed},
    )
    return len(ids)


# ---- after release: recall, sightings ----------------------------------------------------------------------------


def revoke(*, cell: Cell, uow: UnitOfWork, principal: Principal, item_id: int, reason: str) -> IntelItem:
    """Recall a released item from every recipient: each of its versioned objects gets a new version with
    `revoked: true` (STIX 2.1 §3.6); its cyber-observables, which have no versions, stop being served."""
    authorize(principal, Permission.RELEASE_INTEL, cell.charter.roster)
    item = _before_the_mediator(uow, item_id)
    if item.state not in ("released", "redacted") or item.audience is None:
        raise Conflict(f"item {item_id} is {item.state}; only a released item can be recalled", state=item.state)
    uow.next_ledger_index()  # the ledger head first, as for a release
    now = cell.clock.now()
    mediator = mediator_identity(cell)["id"]
    served = uow.session.execute(
        select(_O.c.id, _O.c.stix_id, _O.c.raw).where(
            _O.c.item_id == item.id, _O.c.audience == item.audience, _version_clause(("last",))
        )
    ).all()
    revoked, withdrawn = [], []
    for row in served:
        obj = json.loads(row.raw)
        if obj["id"] == mediator or obj["type"] == "marking-definition":
            continue  # shared with other releases: not this item's to recall
        modified = stix.next_modified(obj, now) if "modified" in obj else None
        if modified is not None:
            revoked.append({**obj, "revoked": True, "modified": modified})
        else:  # no versions, or (stored before timestamps were bounded) at the last instant STIX writes
            withdrawn.append(row.id)
    rows = _rows(item.id, item.audience, revoked, now)
    _store(uow, item.audience, rows)
    if withdrawn:
        uow.session.execute(delete(_O).where(_O.c.id.in_(withdrawn)))
    item.state = "revoked"
    item.reason = reason
    uow.record(
        action="intel.revoked",
        actor=principal,
        audience=resolve_audience(item.audience, cell.charter.roster),
        subject=f"intel-recall:{uuid.uuid4()}",  # its own: the release's would say which release was recalled
        content={
            "release": item.release_id,
            "reason": reason,
            "revoked": [[r["stix_id"], r["version"]] for r in rows],
            "withdrawn": len(withdrawn),
        },
    )
    return item


def report_sighting(
    *,
    cell: Cell,
    uow: UnitOfWork,
    principal: Principal,
    sighting_of: str,
    count: int | None,
    first_seen: datetime | None,
    last_seen: datetime | None,
    description: str | None,
) -> IntelItem:
    """A party's report that it saw a released object, made a STIX sighting and put before the mediator like any
    submission. Released, it reaches its audience as the mediator's and dated at its release (`_published`), so
    neither its source nor its time ties it to the report, whose ledger entry only the reporter's delegation and
    the mediator read. The reporter's note goes along as the sighting's description, which the mediator vets like
    any submitted text and may redact."""
    authorize(principal, Permission.SUBMIT_INTEL, cell.charter.roster)
    audiences = readable_audiences(principal, cell.charter.roster)
    copies = uow.session.execute(
        select(_O.c.audience, _O.c.raw)
        .where(_O.c.stix_id == sighting_of, _O.c.audience.in_(audiences), _version_clause(("last",)))
        .order_by(_O.c.id)
    ).all()
    if not copies:
        raise NotFound(f"no released object {sighting_of} that you may read")
    target = copies[0]
    now = cell.clock.now()
    stamp = stix.stamp_text(now)
    # marked as the most restrictive copy the reporter reads; the mediator may raise it on release
    level = max((tlp_of(json.loads(c.raw)) or Tlp.CLEAR for c in copies), default=Tlp.CLEAR)
    sighting: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "sighting_of_ref": sighting_of,
        "created_by_ref": mediator_identity(cell)["id"],
        "object_marking_refs": [level.marking_id],
    }
    if count is not None:
        sighting["count"] = count
    for name, moment in (("first_seen", first_seen), ("last_seen", last_seen)):
        if moment is not None:
            try:
                sighting[name] = stix.stamp_text(moment)  # as the mediator writes its own times: milliseconds
            except OverflowError:  # year 1 east of UTC, year 9999 west of it
                raise InvalidInput(f"{name} is outside the years 1 to 9999 in UTC", field=name) from None
    if description:
        sighting["description"] = description
    _, problems = stix.check_object(("sighting",), sighting)
    if problems:
        raise InvalidInput("the sighting is not valid STIX", errors=[p.as_error() for p in problems])
    problems = stix.out_of_range((), sighting, now)  # first_seen and last_seen, where the request has them
    if problems:
        raise InvalidInput("a time of the sighting is out of range", errors=[p.as_error() for p in problems])
    text = stix.encode([sighting])
    content = stix.Checked([sighting], level, [stix.version_of(sighting)], text, stix.sha256(text))
    item = _new_item(uow, principal, content, now, state="submitted", share_identity=False, kind="sighting")
    _record_versions(uow, item, content)
    uow.record(
        action="intel.submitted",  # as any submission: the header every member reads does not say "sighting"
        actor=principal,
        audience=home_audience(item.delegation, cell.charter.roster),  # the reporter's own and the mediator's
        subject=f"intel-submission:{item.id}",
        content={
            "item": item.id,
            "kind": "sighting",
            "tlp": level.label,
            "share_identity": False,
            "objects": [[sighting["id"], content.versions[0]]],
            "sha256": content.sha256,
            "seen_in": target.audience,
        },
    )
    return item


def _published(objects: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A reported sighting as the mediator publishes it: created and modified at its release, not at the report
    (whose ledger header every member reads)."""
    stamp = stix.stamp_text(now)
    return [{**o, "created": stamp, "modified": stamp} if o["type"] == "sighting" else o for o in objects]

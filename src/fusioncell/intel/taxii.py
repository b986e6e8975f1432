"""TAXII 2.1 (OASIS, 2021) at /taxii2/: discovery, one API root, the collections a user may use, objects,
manifest, versions and status, with TAXII's media types and error resources, HTTP Basic or bearer tokens.

Collections are the audiences: each audience the user may read is a readable collection holding what the mediator
released to it (the mediator may also write there: its own intelligence, released as it is added). A party's
analysts also get a write-only "submissions" collection: what they add goes to the mediator's review queue, and
reaches no one else until released. Every read goes through `policy`: a collection the user may not read does not
exist for them (404).

Pages are keyset pages in the order objects were added; `next` is a page token (fusioncell.pagetokens): the last
row's key sealed for this reader and these filters, so any instance serves the next page, the token tells nothing
of other collections, and one used by another user or with other filters is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fusioncell.auth import service as auth_service
from fusioncell.auth.models import USERNAME_LENGTH
from fusioncell.cell import Cell
from fusioncell.errors import DomainError, Unauthorized
from fusioncell.intel import service, stix
from fusioncell.intel.models import IntelStatus
from fusioncell.pagetokens import bound_to, page_tokens
from fusioncell.policy import (
    JOINT,
    MEDIATED_PREFIX,
    MEDIATOR,
    Permission,
    Principal,
    has_permission,
    readable_audiences,
)
from fusioncell.problems import Failure

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
ROOT = "/taxii2/"
API_ROOT = "/taxii2/cell/"
MAX_PAGE = 1000
DEFAULT_PAGE = 100
_NAMESPACE = uuid.UUID("5d3f2a6c-8e0b-4b1f-a7d4-0c2e9f1b6a37")

router = APIRouter(include_in_schema=False)


# ---- errors: TAXII's error resource, not problem+json (what TAXII clients read) --------------------------------


class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str, **details: Any) -> None:
        super().__init__(description)
        self.status, self.title, self.description, self.details = status, title, description, details

    def response(self) -> Response:
        return _error_message(self.status, self.title, self.description, self.details)


_DETAILS = ("errors", "field", "state")  # what of a failure's extensions a TAXII client is told


def error_message(failure: Failure) -> Response:
    """Any failure under /taxii2/ that is not a TaxiiError (a service's refusal, an invalid parameter, an unknown
    path or method, a body over the limit, a server error) as TAXII 2.1's error message (§3.6.1), as TAXII
    clients expect every error, never as problem+json."""
    details = {k: v for k, v in failure.extensions.items() if k in _DETAILS}
    return _error_message(failure.status, failure.title, failure.detail, details, failure.headers)


def _error_message(
    status: int, title: str, description: str, details: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"title": title, "description": description, "http_status": str(status)}
    if details:
        body["details"] = details
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="fusioncell TAXII", charset="UTF-8", Bearer'
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=TAXII, headers=headers)


def _objects_envelope(envelope: dict[str, Any], rows: list[Any], headers: dict[str, str]) -> Response:
    """An envelope of stored objects: their JSON as stored, spliced in, never decoded and encoded again. Without
    any, the envelope has no `objects` at all: TAXII sends no empty list (§2)."""
    if not rows:
        return _json(envelope, headers=headers)
    return Response(stix.with_objects(envelope, (r.raw for r in rows)), 200, headers, media_type=TAXII)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status, headers, media_type=TAXII)


def _check_accept(request: Request) -> None:
    """TAXII 2.1 §1.6.8: the client asks for TAXII 2.1 JSON (the version may be left out); nothing else is served."""
    for item in request.headers.get("accept", "").split(","):
        media, *params = [p.strip().lower() for p in item.split(";")]
        version = next((p.split("=", 1)[1].strip() for p in params if p.startswith("version=")), "2.1")
        if media == "application/taxii+json" and version == "2.1":
            return
    raise TaxiiError(406, "Not acceptable", f"this server answers only {TAXII}: send Accept: {TAXII}")


def _check_content_type(request: Request) -> None:
    media, *params = [p.strip().lower() for p in request.headers.get("content-type", "").split(";")]
    version = next((p.split("=", 1)[1].strip() for p in params if p.startswith("version=")), "2.1")
    if media != "application/taxii+json" or version != "2.1":
        raise TaxiiError(415, "Unsupported media type", f"send the envelope as Content-Type: {TAXII}")


# ---- who is asking: HTTP Basic (as stock TAXII clients do) or a bearer token ---------------------------------


@dataclass
class _Verified:
    password_hash: str  # what the password was checked against; the account itself is read afresh each time
    until: float


_BASIC_KEY = secrets.token_bytes(32)  # keys the cache, so no password is held in memory as itself


_BASIC_TTL = 60.0  # seconds a checked username and password is trusted before Argon2 runs again
_BASIC_CACHE_MAX = 4096


def _principal(request: Request, cell: Cell) -> Principal:
    # a refusal (401, or 429 with its Retry-After) goes out as any failure under /taxii2/ does: error_message
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return auth_service.authenticate(cell=cell, raw_token=value.strip())
    if scheme.lower() == "basic" and value:
        return _basic(request, cell, value.strip())
    raise Unauthorized("sign in with HTTP Basic (username, password) or a bearer token")


def _basic(request: Request, cell: Cell, value: str) -> Principal:
    try:
        username, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Basic credentials are not base64 of username:password") from None
    if not sep or not username or "\x00" in username + password:
        raise Unauthorized("the Basic credentials are not username:password")
    if len(username) > USERNAME_LENGTH:  # no account's name is longer: nothing to look up, nor to record
        raise Unauthorized("invalid username or password")
    cache: dict[bytes, _Verified] = cell.derived("taxii-basic", dict)
    key = hmac.new(_BASIC_KEY, f"{username}\x00{password}".encode(), "sha256").digest()
    known = cache.get(key)
    if known and known.until > time.monotonic():
        current = auth_service.principal_if_unchanged(cell=cell, username=username, password_hash=known.password_hash)
        if current is not None:
            return current
        cache.pop(key, None)
    client = request.client.host if request.client else None
    principal, password_hash = auth_service.password_principal(
        cell=cell, username=username, password=password, client=client
    )
    if len(cache) >= _BASIC_CACHE_MAX:
        cache.clear()
    cache[key] = _Verified(password_hash, time.monotonic() + _BASIC_TTL)
    return principal


# ---- collections -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    audience: str | None  # the audience it holds; None for a submissions collection
    can_read: bool
    can_write: bool

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": [STIX],
        }


def _collection_id(cell: Cell, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{cell.charter.mechanism.log_origin}/{name}"))


def _audience_title(cell: Cell, label: str) -> tuple[str, str]:
    names = {d.code: d.names.get("en") or next(iter(d.names.values())) for d in cell.charter.delegations}
    if label == JOINT:
        return "Joint", "Released by the mediator to every party (and the observers the charter names)"
    if label == MEDIATOR:
        return "Mediator only", "The mediator's own holdings"
    code = label.removeprefix(MEDIATED_PREFIX)
    return f"{code} and the mediator", f"Released by the mediator to {names.get(code, code)} alone"


def collections_for(cell: Cell, principal: Principal) -> list[Collection]:
    roster = cell.charter.roster
    may_publish = has_permission(principal, Permission.RELEASE_INTEL, roster)
    found = []
    for label in readable_audiences(principal, roster):
        title, description = _audience_title(cell, label)
        found.append(
            Collection(_collection_id(cell, f"audience/{label}"), title, description, label, True, may_publish)
        )
    if principal.delegation and has_permission(principal, Permission.SUBMIT_INTEL, roster) and not may_publish:
        found.append(
            Collection(
                _collection_id(cell, f"submissions/{principal.delegation}"),
                f"{principal.delegation} submissions",
                "Objects added here go to the mediator's review queue; nothing reaches another party before release",
                None,
                False,
                True,
            )
        )
    return found


def _collection(cell: Cell, principal: Principal, collection_id: str) -> Collection:
    for collection in collections_for(cell, principal):
        if collection.id == collection_id:
            return collection
    raise TaxiiError(404, "Not found", f"no collection {collection_id} that you may use")


# ---- query parameters --------------------------------------------------------------------------------------------


def _values(request: Request, name: str) -> tuple[str, ...]:
    return tuple(v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip())


def _filters(request: Request, *, versions_default: tuple[str, ...] = ("last",)) -> service.ObjectFilter:
    added_after = request.query_params.get("added_after")
    try:
        after = stix.stix_time(added_after) if added_after else None
        versions = tuple(
            v if v in ("last", "first", "all") else stix.version_text(stix.stix_time(v))
            for v in _values(request, "match[version]")
        )
    except ValueError:
        raise TaxiiError(
            400, "Bad request", "added_after and match[version] take RFC 3339 timestamps ending in Z"
        ) from None
    known = {"added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise TaxiiError(400, "Bad request", f"unknown parameter(s): {', '.join(unknown)}")
    return service.ObjectFilter(
        added_after=after,
        ids=_values(request, "match[id]"),
        types=_values(request, "match[type]"),
        versions=versions or versions_default,
        spec_versions=_values(request, "match[spec_version]"),
    )


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise TaxiiError(400, "Bad request", "limit is a positive whole number")
    return min(int(raw), MAX_PAGE)


def _filter_digest(collection: Collection, flt: service.ObjectFilter, stix_id: str | None) -> str:
    parts = [collection.id, stix_id or "", flt.added_after.isoformat() if flt.added_after else ""]
    parts += [",".join(sorted(v)) for v in (flt.ids, flt.types, flt.versions, flt.spec_versions)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _stamp(moment: datetime) -> str:
    return stix.version_text(moment)


def _page(  # type: ignore[no-untyped-def]
    request: Request,
    cell: Cell,
    principal: Principal,
    collection: Collection,
    flt: service.ObjectFilter,
    stix_id: str | None = None,
):
    """One page of rows and the envelope fields and headers that go with it. `next` is a page token
    (fusioncell.pagetokens) made for this reader and these filters: the row it names is numbered across every
    audience, so in the clear it would count what the collections this reader cannot read were given."""
    if not collection.can_read or collection.audience is None:
        raise TaxiiError(403, "Forbidden", "this collection takes objects for review; it cannot be read")
    limit = _limit(request)
    tokens = page_tokens(cell)
    bound = bound_to("taxii.objects", principal.username, _filter_digest(collection, flt, stix_id))
    token = request.query_params.get("next")
    rows = service.collection_rows(
        cell=cell,
        audience=collection.audience,
        flt=flt,
        after_id=tokens.open(token, bound_to=bound) if token else 0,
        limit=limit + 1,
        stix_id=stix_id,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    envelope: dict[str, Any] = {"more": more}
    if more:
        envelope["next"] = tokens.seal(rows[-1].id, bound_to=bound)
    headers = {}
    if rows:
        headers = {
            "X-TAXII-Date-Added-First": _stamp(rows[0].date_added),
            "X-TAXII-Date-Added-Last": _stamp(rows[-1].date_added),
        }
    return rows, envelope, headers


def _must_hold(cell: Cell, collection: Collection, object_id: str) -> None:
    """404 unless the collection holds some version of the object (a filter that leaves none of it is an empty
    page, not a missing object)."""
    assert collection.audience is not None  # _page has refused the write-only collections
    held = service.collection_rows(
        cell=cell, audience=collection.audience, flt=service.ObjectFilter(versions=("all",)), after_id=0, limit=1,
        stix_id=object_id,
    )  # fmt: skip
    if not held:
        raise TaxiiError(404, "Not found", f"no object {object_id} in this collection")


# ---- endpoints ---------------------------------------------------------------------------------------------------


def _run(request: Request, work) -> Response:  # type: ignore[no-untyped-def]
    try:
        _check_accept(request)
        return work(request.app.state.cell)
    except TaxiiError as error:
        return error.response()
    except DomainError as error:
        return error_message(Failure.of(error))


async def _serve(request: Request, work) -> Response:  # type: ignore[no-untyped-def]
    return await run_in_threadpool(_run, request, work)


@router.get(ROOT, name="taxii_discovery")
async def discovery(request: Request) -> Response:
    def work(cell: Cell) -> Response:
        _principal(request, cell)
        base = str(request.base_url).rstrip("/")
        return _json(
            {
                "title": f"{cell.charter.mechanism.name.get('en') or cell.charter.mechanism.log_origin} (TAXII)",
                "description": "Intelligence the mediator released to you, and your delegation's submissions",
                "default": base + API_ROOT,
                "api_roots": [base + API_ROOT],
            }
        )

    return await _serve(request, work)


@router.get(API_ROOT, name="taxii_api_root")
async def api_root(request: Request) -> Response:
    def work(cell: Cell) -> Response:
        _principal(request, cell)
        return _json(
            {
                "title": "fusioncell",
                "description": "One collection per audience you read; a submissions collection for your analysts",
                "versions": [TAXII],
                "max_content_length": cell.settings.max_body_bytes,
            }
        )

    return await _serve(request, work)


@router.get(API_ROOT + "collections/", name="taxii_collections")
async def collections(request: Request) -> Response:
    def work(cell: Cell) -> Response:
        found = collections_for(cell, _principal(request, cell))
        return _json({"collections": [c.resource() for c in found]} if found else {})

    return await _serve(request, work)


@router.get(API_ROOT + "collections/{collection_id}/", name="taxii_collection")
async def collection(request: Request, collection_id: str) -> Response:
    def work(cell: Cell) -> Response:
        return _json(_collection(cell, _principal(request, cell), collection_id).resource())

    return await _serve(request, work)


@router.get(API_ROOT + "collections/{collection_id}/objects/", name="taxii_objects")
async def get_objects(request: Request, collection_id: str) -> Response:
    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        found = _collection(cell, principal, collection_id)
        rows, envelope, headers = _page(request, cell, principal, found, _filters(request))
        return _objects_envelope(envelope, rows, headers)

    return await _serve(request, work)


@router.post(API_ROOT + "collections/{collection_id}/objects/", name="taxii_add_objects")
async def add_objects(request: Request, collection_id: str) -> Response:
    raw = await request.body()

    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        found = _collection(cell, principal, collection_id)
        _check_content_type(request)
        if not found.can_write:
            raise TaxiiError(403, "Forbidden", "you may read this collection, not add to it")
        try:
            envelope = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise TaxiiError(400, "Bad request", f"the body is not JSON: {error}") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
            raise TaxiiError(400, "Bad request", 'send a TAXII envelope: {"objects": [...]}')
        return _json(_add(cell, principal, found, envelope["objects"]), status=202)

    return await _serve(request, work)


def _add(cell: Cell, principal: Principal, found: Collection, objects: list[Any]) -> dict[str, Any]:
    """Add an envelope's objects: all of them, or (any invalid) none, with every problem listed."""
    status_id = str(uuid.uuid4())
    now = cell.clock.now()
    try:
        return _added(cell, principal, found, objects, status_id, now)
    except DomainError as refused:  # its pointers name places in the envelope a TAXII client sent
        for error in refused.extensions.get("errors") or []:
            pointer = error.get("pointer") if isinstance(error, dict) else None
            if isinstance(pointer, str) and (pointer == "/stix" or pointer.startswith("/stix/")):
                error["pointer"] = "/objects" + pointer[len("/stix") :]
            field = error.get("field") if isinstance(error, dict) else None
            if isinstance(field, str) and (field == "stix" or field.startswith("stix.")):
                error["field"] = "objects" + field[len("stix") :]
        raise


def _added(
    cell: Cell, principal: Principal, found: Collection, objects: list[Any], status_id: str, now: datetime
) -> dict[str, Any]:
    with cell.command() as uow:
        if found.audience is None:
            submission = service.submit(cell=cell, uow=uow, principal=principal, body=objects, share_identity=False)
            added = [{"id": stix_id, "version": version} for stix_id, version in submission.versions]
        else:
            rows = service.publish(cell=cell, uow=uow, principal=principal, audience=found.audience, body=objects)
            submitted = {o["id"] for o in objects if isinstance(o, dict)}
            added = [{"id": r["stix_id"], "version": r["version"]} for r in rows if r["stix_id"] in submitted]
        status = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": _stamp(now),
            "total_count": len(objects),
            "success_count": len(added),
            "successes": added,  # never empty: an envelope without objects is refused, and all are added or none
            "failure_count": 0,
            "pending_count": 0,
        }
        uow.session.add(IntelStatus(id=status_id, username=principal.username, created_at=now, body=json.dumps(status)))
    return status


@router.get(API_ROOT + "collections/{collection_id}/manifest/", name="taxii_manifest")
async def manifest(request: Request, collection_id: str) -> Response:
    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        found = _collection(cell, principal, collection_id)
        rows, envelope, headers = _page(request, cell, principal, found, _filters(request))
        if rows:  # no empty list (§2): an empty page has no `objects`
            envelope["objects"] = [
                {"id": r.stix_id, "date_added": _stamp(r.date_added), "version": r.version, "media_type": STIX}
                for r in rows
            ]
        return _json(envelope, headers=headers)

    return await _serve(request, work)


@router.get(API_ROOT + "collections/{collection_id}/objects/{object_id}/", name="taxii_object")
async def get_object(request: Request, collection_id: str, object_id: str) -> Response:
    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        found = _collection(cell, principal, collection_id)
        rows, envelope, headers = _page(request, cell, principal, found, _filters(request), stix_id=object_id)
        if not rows:
            _must_hold(cell, found, object_id)
        return _objects_envelope(envelope, rows, headers)

    return await _serve(request, work)


@router.delete(API_ROOT + "collections/{collection_id}/objects/{object_id}/", name="taxii_delete_object")
async def delete_object(request: Request, collection_id: str, object_id: str) -> Response:
    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        found = _collection(cell, principal, collection_id)
        if not (found.can_read and found.can_write) or found.audience is None:
            raise TaxiiError(403, "Forbidden", "only the mediator takes objects out of a collection")
        flt = _filters(request, versions_default=("all",))
        with cell.command() as uow:
            service.withdraw(
                cell=cell, uow=uow, principal=principal, audience=found.audience, stix_id=object_id, flt=flt
            )
        return Response(status_code=200, media_type=TAXII)

    return await _serve(request, work)


@router.get(API_ROOT + "collections/{collection_id}/objects/{object_id}/versions/", name="taxii_versions")
async def versions(request: Request, collection_id: str, object_id: str) -> Response:
    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        found = _collection(cell, principal, collection_id)
        if request.query_params.get("match[version]"):
            raise TaxiiError(400, "Bad request", "match[version] does not apply to versions")
        rows, envelope, headers = _page(
            request, cell, principal, found, _filters(request, versions_default=("all",)), stix_id=object_id
        )
        if not rows:
            _must_hold(cell, found, object_id)
        if rows:  # no empty list (§2)
            envelope["versions"] = [r.version for r in rows]
        return _json(envelope, headers=headers)

    return await _serve(request, work)


@router.get(API_ROOT + "status/{status_id}/", name="taxii_status")
async def status(request: Request, status_id: str) -> Response:
    def work(cell: Cell) -> Response:
        principal = _principal(request, cell)
        with cell.reading() as session:
            found = session.get(IntelStatus, status_id[:36])
        if found is None or found.username != principal.username:
            raise TaxiiError(404, "Not found", f"no status {status_id} of yours")
        return Response(found.body, 200, media_type=TAXII)

    return await _serve(request, work)

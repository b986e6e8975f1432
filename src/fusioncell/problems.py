"""Rendering every error as RFC 9457 application/problem+json, and the request body size limit.

A protocol with an error format of its own answers every error under its path prefix in that format instead
(TAXII's error message under /taxii2/): each handler here describes the failure once, as a `Failure`, and the
request's path picks how it is written, whatever raised it (a service, validation, routing, the body limit, a bug)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fusioncell.errors import PROBLEM_BASE, DomainError, TooManyRequests

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extensions.items() if v is not None})
    return ProblemResponse(body, status_code=status, headers=headers)


@dataclass(frozen=True)
class Failure:
    """An error to answer, before it is written in the format of the path it answers."""

    status: int
    slug: str
    title: str
    detail: str
    headers: dict[str, str] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, error: DomainError) -> Failure:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
        if error.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return cls(error.status, error.slug, error.title, error.detail, headers, dict(error.extensions))


# how a protocol writes a failure, by the path prefix it serves
ErrorFormats = Mapping[str, Callable[[Failure], Response]]


def answer(failure: Failure, path: str, formats: ErrorFormats) -> Response:
    """The failure as the protocol serving `path` writes errors: a problem, unless a format claims the path."""
    for prefix, write in formats.items():
        if path.startswith(prefix):
            return write(failure)
    return problem(
        failure.status,
        slug=failure.slug,
        title=failure.title,
        detail=failure.detail,
        instance=path,
        headers=failure.headers,
        **failure.extensions,
    )


def json_pointer(parts: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) to the value at these keys and indices ("" for the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _pointer(loc: tuple[Any, ...]) -> str:
    """A JSON Pointer into the request body, or the parameter's location."""
    if not loc:
        return ""
    where, *rest = loc
    if where == "body":
        return json_pointer(rest)
    return f"{where}:" + ".".join(str(p) for p in rest)


def _validation_failure(exc: RequestValidationError) -> Failure:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "the body is not valid JSON")
        return Failure(400, "malformed-json", "Malformed JSON", f"The request body is not valid JSON: {reason}")
    items = []
    for e in errors:
        loc = tuple(e.get("loc", ()))
        items.append(
            {
                "pointer": _pointer(loc),
                "field": ".".join(str(p) for p in loc[1:]) or str(loc[0] if loc else ""),
                "reason": e.get("msg", "invalid"),
                "code": e.get("type", "invalid"),
            }
        )
    summary = "; ".join(f"{i['field'] or 'body'}: {i['reason']}" for i in items[:5])
    return Failure(422, "validation-error", "Invalid request", summary, extensions={"errors": items})


def _http_failure(request: Request, exc: StarletteHTTPException) -> Failure:
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
    detail = (
        exc.detail
        if isinstance(exc.detail, str) and exc.detail != phrase
        else {
            404: f"There is no resource at {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, phrase)
    )
    slug = phrase.lower().replace(" ", "-").replace("'", "")
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:  # RFC 9110 §15.5.6: Allow lists every method the resource supports
        allowed = _allowed_methods(request)
        if allowed:  # else (static files, which say it themselves) the exception's own Allow stands
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return Failure(exc.status_code, slug, phrase, detail, headers)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this request's path, each tried against the app's routes (the
    router's own 405 names the methods of the first route that matched the path only). Mounted apps are left to
    say it themselves: a mount matches its whole prefix for every method."""
    scope = {**request.scope, "root_path": request.scope.get("app_root_path", "")}  # as the app's router saw it
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [m for m in _METHODS if any(r.matches({**scope, "method": m})[0] is Match.FULL for r in routes)]


# A page of the web (a browser navigating, or the pages' own script) answers an error with a page of its own:
# returns None for a request that is not a page's.
PageErrors = Callable[[Request, Failure], Response | None]


def install_problem_handlers(
    app: FastAPI, *, formats: ErrorFormats | None = None, pages: PageErrors | None = None
) -> None:
    """Every error the app raises, answered as a problem or in the format of the protocol its path belongs to; a
    page's error as a page, when `pages` says the request is a page's."""
    formats = formats or {}

    def respond(request: Request, failure: Failure) -> Response:
        page = pages(request, failure) if pages is not None else None
        return page if page is not None else answer(failure, request.url.path, formats)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return respond(request, Failure.of(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, _validation_failure(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return respond(request, _http_failure(request, exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
        failure = Failure(
            500,
            "internal-error",
            "Internal Server Error",
            "The server failed to handle this request; it has been logged.",
        )
        return respond(request, failure)


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, formats: ErrorFormats | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.formats = formats or {}  # the refusal is written as the path's protocol writes errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        too_big = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_big = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Once the body is known to be too large, whatever the app makes of the interrupted read
            # (FastAPI answers 400) is dropped in favour of the 413 below.
            nonlocal started
            if too_big:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_big:
                raise
        if too_big and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        failure = Failure(
            413,
            "payload-too-large",
            "Content Too Large",
            f"The request body exceeds the limit of {self.max_bytes} bytes.",
            extensions={"max_bytes": self.max_bytes},
        )
        await answer(failure, str(scope.get("path", "")), self.formats)(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised into the app's body read when the limit is passed."""


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": "Which kind of problem, as a URI.",
            "examples": [PROBLEM_BASE + "forbidden"],
        },
        "title": {"type": "string", "description": "The kind of problem, in words.", "examples": ["Forbidden"]},
        "status": {"type": "integer", "description": "The HTTP status.", "examples": [403]},
        "detail": {
            "type": "string",
            "description": "What went wrong this time, and who may act where it is a permission.",
            "examples": ["sy.liaison may not send an INSTRUCTION: only the mediator may"],
        },
        "instance": {
            "type": "string",
            "description": "The path of the request that failed.",
            "examples": ["/api/v1/messages"],
        },
    },
    "additionalProperties": True,
}

VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "description": "A request that is not valid: every problem, by field.",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "description": "One per problem found.",
                    "examples": [
                        [
                            {
                                "pointer": "/precedence",
                                "field": "precedence",
                                "reason": "Input should be 'FLASH', 'IMMEDIATE', 'PRIORITY' or 'ROUTINE'",
                                "code": "enum",
                            }
                        ]
                    ],
                    "items": {
                        "type": "object",
                        "required": ["pointer", "field", "reason", "code"],
                        "properties": {
                            "pointer": {
                                "type": "string",
                                "description": "JSON Pointer into the body, or `query:<name>` / `path:<name>`.",
                                "examples": ["/precedence"],
                            },
                            "field": {
                                "type": "string",
                                "description": "The field, dotted.",
                                "examples": ["precedence"],
                            },
                            "reason": {
                                "type": "string",
                                "description": "Why it was refused.",
                                "examples": ["Input should be 'FLASH', 'IMMEDIATE', 'PRIORITY' or 'ROUTINE'"],
                            },
                            "code": {
                                "type": "string",
                                "description": "A stable code.",
                                "examples": ["enum"],
                            },
                        },
                    },
                }
            },
        },
    ],
}

_BODY_ERRORS = {"400": "Malformed JSON", "413": "Request body too large"}


# What each status's problem says in the docs' example, where the response's own description does not say it best
_EXAMPLE_TITLES = {
    400: ("malformed-json", "Malformed JSON"),
    401: ("unauthorized", "Not authenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Content Too Large"),
    422: ("validation-error", "Invalid request"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unhealthy", "Service Unavailable"),
}
_EXAMPLE_DETAILS = {
    400: "The request body is not valid JSON: Expecting ',' delimiter",
    401: "send a bearer token: Authorization: Bearer <token from POST /api/v1/auth/token>",
    413: "The request body exceeds the limit of 1048576 bytes.",
    429: "too many failed logins for 'sy.liaison' from this address; try again in 900 s (an account with a one-time "
    "code signs in now with its password and current code)",
    503: "database unreachable: OperationalError",
}
_EXAMPLE_PATH_IDS = {"{message_id}": "194672045", "{item_id}": "1736002418", "{index}": "1844"}


def _problem_example(schema: dict[str, Any], path: str, operation: dict[str, Any], status: int) -> dict[str, Any]:
    """A problem as this operation sends it with this status, for the docs (not one status's example everywhere)."""
    slug, title = _EXAMPLE_TITLES.get(status, ("error", HTTPStatus(status).phrase))
    description = operation["responses"][str(status)].get("description", title)
    detail = _EXAMPLE_DETAILS.get(status, description)
    if status == 400 and description != _BODY_ERRORS["400"]:
        slug, title, detail = "invalid-page-token", "Invalid page token", description
    if status == 401 and operation.get("operationId") == "auth_issue_token":
        detail = "invalid username or password"
    instance = path
    for name, value in _EXAMPLE_PATH_IDS.items():
        instance = instance.replace(name, value)
    example: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    example["instance"] = instance
    if status == 429:
        example["retry_after"] = 900
    if status == 422:
        error = _validation_example(schema, operation)
        example["detail"] = f"{error['field']}: {error['reason']}"
        example["errors"] = [error]
    return example


def _validation_example(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, str]:
    """One refusal of this operation's input: a missing body field, else a parameter out of bounds."""
    for media in (operation.get("requestBody") or {}).get("content", {}).values():
        body = media.get("schema", {})
        if "$ref" in body:
            body = schema["components"]["schemas"].get(body["$ref"].rsplit("/", 1)[1], {})
        fields = body.get("required") or list(body.get("properties", {}))
        if fields:
            return {"pointer": f"/{fields[0]}", "field": fields[0], "reason": "Field required", "code": "missing"}
    for parameter in operation.get("parameters", []):
        options = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
        where = f"{parameter['in']}:{parameter['name']}"
        if limit := next((o["maximum"] for o in options if "maximum" in o), None):
            reason, code = f"Input should be less than or equal to {limit}", "less_than_equal"
        elif limit := next((o["maxLength"] for o in options if "maxLength" in o), None):
            reason, code = f"String should have at most {limit} characters", "string_too_long"
        elif choices := next((o["enum"] for o in options if "enum" in o), None):
            reason, code = f"Input should be {' or '.join(repr(c) for c in choices)}", "literal_error"
        elif any(o.get("format") == "date-time" for o in options):
            reason, code = "Input should have timezone info", "timezone_aware"
        else:
            continue
        return {"pointer": where, "field": parameter["name"], "reason": reason, "code": code}
    return {"pointer": "", "field": "body", "reason": "Field required", "code": "missing"}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the server sends: every 4xx/5xx is application/problem+json, with an
    example of what this operation sends with that status."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = PROBLEM_SCHEMA
    components["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for code, description in _BODY_ERRORS.items():
                    responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code[0] in "45":
                    ref = "ValidationProblem" if code == "422" else "Problem"
                    response["content"] = {
                        PROBLEM_MEDIA_TYPE: {
                            "schema": {"$ref": f"#/components/schemas/{ref}"},
                            "example": _problem_example(schema, path, operation, int(code)),
                        }
                    }
    return schema

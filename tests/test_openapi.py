"""The OpenAPI schema and its docs page, and a bounded schemathesis run against the schema, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from fusioncell.app import create_app
from fusioncell.auth import passwords
from fusioncell.auth import service as auth_service
from fusioncell.cell import Cell
from fusioncell.clock import ManualClock
from fusioncell.problems import PROBLEM_MEDIA_TYPE
from fusioncell.schemas import BIG_MAX, ROW_ID_MAX
from fusioncell.settings import Settings
from tests.conftest import START, TEST_PASSWORD, Backend, Template, add_user, bearer, make_cell, pg_copy

SCHEMA_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"
ASSETS_PREFIX = "/api/v1/docs/assets/"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
TRAFFIC_OPERATIONS = {
    # what a real liaison may legitimately get back from each, with any input schemathesis makes up
    "messages_send": {201, 200, 403, 409, 422},
    "messages_list": {200, 422},
    "messages_inbox": {200},
    "messages_read": {200, 404},
    "messages_acknowledge": {200, 403, 404, 409, 422},
    "messages_readback_verdict": {200, 403, 404, 409, 422},
    "alerts_list": {200},
    "ledger_entries": {200, 422},
    "ledger_entry_content": {200, 404},
    "ledger_checkpoint": {200},
    "ledger_inclusion_proof": {200, 422},
    "ledger_consistency_proof": {200, 422},
    "ledger_checkpoints": {200, 422},
    "ledger_leaves": {200, 422},
    "ledger_contents": {200, 422},
    "ledger_evidence": {200, 404, 409, 422},  # 404: a subject with no entry the fuzz user may read
    # the fuzz user is SY's liaison and analyst: it submits (STIX rules refuse made-up content), never releases
    "intel_submit": {200, 201, 422},  # 200: exactly this content was submitted before
    "intel_items": {200, 422},
    "intel_item": {200, 404},
    "intel_release": {403, 422},
    "intel_decline": {403, 422},
    "intel_objects": {200, 400, 422},  # 400: a made-up page token
    "intel_revoke": {403, 422},
    "intel_report_sighting": {404, 422},  # nothing is released in the fuzz cell: no object to sight
    "intel_revise_draft": {200, 404, 409, 422},  # the fuzz user's own drafts, if its content ever passes
    "intel_submit_draft": {200, 404, 409},
    "intel_discard_draft": {200, 404, 409},
    "alerts_handle": {200, 403, 404, 409, 422},  # random ids: no alert, mostly
    "watch_board": {200},
    "watch_take": {201, 409, 422},  # the fuzz user holds SY's watch after the first; 422: the text rule
    "watch_hand_over": {200, 409, 422},  # a made-up successor is no colleague
    "watch_shifts": {200, 404},  # another party's log, or a made-up delegation: not found
    "me_update": {200, 422},  # a made-up language or zone is refused
}
DEESCALATION_OPERATIONS = {
    # de-escalation: the fuzz user is SY's liaison (it notifies; it neither proposes nor accepts zones)
    "zones_list": {200, 422},
    "zone_versions": {200, 404, 422},
    "zone_propose": {403, 422},
    "zone_accept": {403, 422},
    "activity_notify": {201, 409, 422},  # 409: a made-up volume meeting a zone's rule, or a short notice
    "activity_check": {200, 404, 422},  # 404: amending a made-up activity
    "activities_list": {200, 422},
    "activity_read": {200, 404},
    "activity_amend": {200, 404, 409, 422},
    "activity_cancel": {200, 404, 409, 422},
    "activity_end": {200, 404, 409, 422},
    "activity_versions": {200, 404},
    "activity_conflicts": {200, 404},
    "incident_report": {201, 422},
    "incidents_list": {200, 422},
    "incident_read": {200, 404},
    "incident_evidence": {404, 422},
    "map_export": {200, 422},
}
TRAFFIC_OPERATIONS |= DEESCALATION_OPERATIONS
DISPUTE_OPERATIONS = {
    # disputes: the fuzz user is SY's liaison: it opens cases, answers those against SY, never decides
    "dispute_open": {201, 403, 409, 422},  # 403: an audience it does not read
    "disputes_list": {200, 422},
    "disputes_metrics": {200},
    "dispute_read": {200, 404},
    "dispute_acknowledge": {200, 403, 404, 409, 422},
    "dispute_respond": {200, 403, 404, 409, 422},
    "dispute_review": {403, 422},
    "dispute_finding": {403, 422},
    "dispute_escalate": {403, 422},
    "dispute_withdraw": {200, 403, 404, 409, 422},
    "dispute_statement": {201, 403, 404, 409, 422},
    "dispute_request_information": {403, 422},
    "dispute_evidence": {404, 422},
}
TRAFFIC_OPERATIONS |= DISPUTE_OPERATIONS
AGREEMENT_OPERATIONS = {
    # keys and agreements: the fuzz user signs nothing, proposes nothing, attests nothing; it reads
    "key_register": {403, 422},
    "keys_list": {200, 422},
    "key_read": {200, 404, 422},
    "key_approve": {403, 422},
    "key_revoke": {403, 404, 422},
    "agreement_propose": {403, 422},
    "agreement_propose_timeline": {403, 404, 422},  # 404: a timeline the charter does not have
    "agreements_list": {200},
    "agreement_read": {200, 404},
    "agreement_amend": {403, 422},
    "agreement_version": {200, 404, 422},
    "agreement_sign": {403, 422},
    "milestone_attest": {403, 422},
    "attestation_evidence": {404, 422},
    "agreement_evidence": {404, 422},
    "agreement_report": {404, 422},
}
TRAFFIC_OPERATIONS |= AGREEMENT_OPERATIONS
# bodies that carry evidence files (base64, up to five of 512 KiB): made-up invalid ones run past the body limit (413,
# rightly); the dispute tests send every kind of bad file by hand
EVIDENCE_BODIES = {"dispute_open", "dispute_respond", "dispute_statement", "milestone_attest"}
# (me_update: a language of the charter, a time zone the server's tz database knows)
CHARTER_RULED = {
    "messages_send",
    "messages_acknowledge",
    "messages_readback_verdict",
    "intel_submit",
    "me_update",
    # geometry inside a theatre, the charter's activity types and equipment, a window still to come
    "activity_notify",
    "activity_check",
    "activity_amend",
    "zone_propose",
    "incident_report",  # evidence checked by its bytes, a place inside a theatre, a time not yet come
    "zones_list",  # `at` as a date-time with its offset
    "zone_versions",
    # a party of the charter as respondent, one of its languages, evidence checked by its bytes
    "dispute_open",
    "dispute_respond",
    "dispute_statement",
}
# free text held to the text rule (fusioncell.text: no control characters, no bidirectional overrides), which a
# JSON Schema does not state: schema-valid notes made of such characters are rightly 422
TEXT_RULED = {"alerts_handle", "watch_take", "watch_hand_over", "activity_cancel", "activity_end",
              "dispute_acknowledge", "dispute_review", "dispute_escalate", "dispute_withdraw",
              "agreement_propose", "agreement_amend", "key_revoke", "milestone_attest"}  # fmt: skip
STATE_RULED = {
    "ledger_inclusion_proof",
    "ledger_consistency_proof",
    "ledger_evidence",
    "intel_report_sighting",
    "intel_objects",
}  # sizes up to the log's size, page tokens the server made: unknown to the schema
OPERATION_IDS = {
    "auth_issue_token",
    "auth_logout",
    "auth_logout_everywhere",
    "me_read",
    "ops_health",
    "ops_metrics",
    "ledger_log_info",
    *TRAFFIC_OPERATIONS,
}
SECURED_OPERATIONS = ["auth_logout", "auth_logout_everywhere", "me_read"]
FUZZ_USER = "sy.fuzz"
FUZZ_MEDIATOR = "us.fuzz"


# -- one app on a fresh SQLite cell for this module --------------------------------------------------------


@dataclass
class Api:
    cell: Cell
    app: FastAPI

    def mediator_token(self) -> str:
        return auth_service.login(
            cell=self.cell, username=FUZZ_MEDIATOR, password=TEST_PASSWORD, otp=None, client="schemathesis"
        ).access_token

    def fresh_token(self) -> str:
        """A real login of a real user (logout revokes tokens, so each example gets its own)."""
        return auth_service.login(
            cell=self.cell, username=FUZZ_USER, password=TEST_PASSWORD, otp=None, client="schemathesis"
        ).access_token


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One cell per database for the whole module: the fuzzer's findings differ by database (PostgreSQL's
    columns are narrower than SQLite's), so every test here runs on both."""
    template: Template = request.getfixturevalue("pg_template" if request.param == "postgres" else "sqlite_template")
    data = tmp_path_factory.mktemp("openapi") / "data"
    shutil.copytree(template.data, data)
    if request.param == "sqlite":
        yield from _api(request.param, data, None)
        return
    with pg_copy(template) as url:
        yield from _api(request.param, data, url)


def _api(backend: str, data: Path, url: str | None) -> Iterator[Api]:
    settings = Settings(data=data, database_url=url, scheduler_enabled=False)
    cell = make_cell(Backend(backend, settings, {}), ManualClock(START))
    with pytest.MonkeyPatch.context() as mp:
        # Argon2id at its production cost takes ~0.3 s a login here, and the fuzzer logs in ~100 times:
        # use the cheapest parameters for this module (the same code path; only the cost differs).
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        mp.setattr(passwords, "_hasher", cheap)
        mp.setattr(passwords, "_DUMMY_HASH", cheap.hash("fusioncell-not-a-real-password"))
        add_user(cell, FUZZ_USER, "SY", "liaison", "analyst")
        add_user(cell, FUZZ_MEDIATOR, "US", "mediator")
        yield Api(cell, create_app(cell, run_scheduler=False))
    cell.db.dispose()


@pytest.fixture(scope="module")
def http(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def api_schema(api: Api, http: TestClient):  # type: ignore[no-untyped-def]
    # The app runs once for the module (the `http` client holds its lifespan); schemathesis would start and stop
    # it again around every test, a second a time on PostgreSQL (its notification listener's wait).
    return schemathesis.openapi.from_asgi(SCHEMA_URL, _running(api.app))


def _running(app: FastAPI) -> ASGIApp:
    """The app, answering lifespan events itself: requests reach the app that is already running."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return application


# -- the schema ------------------------------------------------------------------------------------------


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_openapi_is_served(http):
    r = http.get(SCHEMA_URL)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    document = r.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "fusioncell"
    assert document["info"]["version"]


def test_every_operation_has_a_stable_id_and_a_summary(http):
    document = http.get(SCHEMA_URL).json()
    operations = _operations(document)
    ids = [operation.get("operationId") for _, _, operation in operations]
    assert len(ids) == len(set(ids)), f"duplicate operation ids: {ids}"
    assert set(ids) == OPERATION_IDS
    for method, path, operation in operations:
        summary = operation.get("summary")
        assert isinstance(summary, str) and summary.strip(), f"{method.upper()} {path} has no summary"
        # Explicit names, not FastAPI's generated `<function>_<path>_<method>` mash.
        assert not operation["operationId"].endswith(f"_{method}"), operation["operationId"]


def test_secured_operations_declare_bearer_auth(http):
    document = http.get(SCHEMA_URL).json()
    schemes = document["components"]["securitySchemes"]
    bearer_schemes = {name for name, s in schemes.items() if s.get("type") == "http" and s.get("scheme") == "bearer"}
    assert bearer_schemes
    by_id = {operation["operationId"]: operation for _, _, operation in _operations(document)}
    for operation_id in SECURED_OPERATIONS:
        security = by_id[operation_id].get("security") or []
        assert any(set(requirement) & bearer_schemes for requirement in security), operation_id
        assert "401" in by_id[operation_id]["responses"], operation_id


def test_error_responses_are_documented_as_problem_json(http):
    """The schema must say what the server sends: every documented 4xx is application/problem+json.

    FastAPI documents 422 as `application/json` `HTTPValidationError` ({"detail": [...]}), but the server
    answers RFC 9457 problems; clients generated from the schema would parse errors wrongly. An operation that
    takes a JSON body also answers 400 for malformed JSON, which the schema must list.
    """
    document = http.get(SCHEMA_URL).json()
    wrong = []
    for method, path, operation in _operations(document):
        if "requestBody" in operation and "400" not in operation["responses"]:
            wrong.append(f"{method.upper()} {path} 400 (malformed JSON) is not documented")
        for status, response in operation["responses"].items():
            if not status.startswith("4"):
                continue
            content = response.get("content") or {}
            if set(content) != {PROBLEM_MEDIA_TYPE}:
                wrong.append(f"{method.upper()} {path} {status}: {sorted(content) or 'no content'}")
    assert not wrong, "4xx responses not documented as application/problem+json:\n" + "\n".join(wrong)


def _inputs(document: dict) -> Iterator[tuple[str, dict]]:
    """Every schema of what a client sends, with where it is: parameters, and request bodies to their leaves."""

    def leaves(where: str, schema: Any) -> Iterator[tuple[str, dict]]:
        if isinstance(schema, dict):
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[1]
                yield from leaves(name, document["components"]["schemas"][name])
                return
            yield where, schema
            for key, value in schema.items():
                if key in ("properties", "patternProperties"):
                    for name, sub in value.items():
                        yield from leaves(f"{where}.{name}", sub)
                elif key in ("items", "additionalProperties", "propertyNames"):
                    yield from leaves(f"{where}[]", value)
                elif key in ("anyOf", "oneOf", "allOf"):
                    for sub in value:
                        yield from leaves(where, sub)

    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            yield from leaves(f"{method.upper()} {path} {parameter['in']}:{parameter['name']}", parameter["schema"])
        for media in (operation.get("requestBody") or {}).get("content", {}).values():
            yield from leaves(f"{method.upper()} {path} body", media["schema"])


def _bounded_pattern(pattern: str) -> bool:
    return re._parser.parse(pattern).getwidth()[1] < re._constants.MAXREPEAT  # type: ignore[attr-defined]


ROW_ID_INPUTS = ("path:message_id", "path:item_id", ".reply_to")
LEDGER_CURSORS = ("/messages query:after", "/alerts query:after")  # lists of what is recorded page by ledger index


def test_inputs_are_bounded_by_what_their_columns_hold(http):
    """PostgreSQL's columns are narrower than SQLite's: the schema bounds every number and string a client sends,
    and every row id (path, query or body) by the 32-bit key it is looked up in, so a larger one is invalid input
    to the client, the fuzzer and the server alike."""
    document = http.get(SCHEMA_URL).json()
    unbounded, row_ids, cursors = [], {}, {}
    for where, schema in _inputs(document):
        kind = schema.get("type")
        if kind == "integer" and "maximum" not in schema:
            unbounded.append(where)
        if kind == "string" and not (
            "maxLength" in schema
            or {"enum", "const", "format"} & schema.keys()
            or _bounded_pattern(schema.get("pattern", ".*"))
        ):
            unbounded.append(where)
        if kind == "integer" and where.endswith(ROW_ID_INPUTS):
            row_ids[where] = schema["maximum"]
        if kind == "integer" and where.endswith(LEDGER_CURSORS):
            cursors[where] = (schema["minimum"], schema["maximum"])
    assert not unbounded, unbounded
    assert len(row_ids) >= 10, row_ids
    assert set(row_ids.values()) == {ROW_ID_MAX}, row_ids
    assert len(cursors) == 2 and set(cursors.values()) == {(-1, BIG_MAX)}, cursors


# -- the docs page ---------------------------------------------------------------------------------------


def test_docs_use_local_assets_only(http):
    r = http.get(DOCS_URL)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert SCHEMA_URL in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I), "docs load from a CDN"
    assert not re.search(r"https?://", html, re.I), "docs reference an absolute URL"
    assets = set(re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html))
    assert assets, html
    assert all(url.startswith(ASSETS_PREFIX) for url in assets), assets
    assert any(url.endswith(".js") for url in assets) and any(url.endswith(".css") for url in assets), assets
    for url in assets:
        asset = http.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


def test_missing_asset_is_404_problem(http):
    r = http.get(ASSETS_PREFIX + "no-such-file.js")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


# -- schemathesis ----------------------------------------------------------------------------------------


# Checks that hold for legitimate behaviour of this app (schemathesis' built-ins, plus errors_are_problems):
#  - not_a_server_error: no 5xx, ever;
#  - response_schema_conformance, response_headers_conformance: bodies and headers match what is documented;
#  - negative_data_rejection, positive_data_acceptance, missing_required_header, ignored_auth: invalid input
#    is refused with a 4xx, valid input is not, and the bearer requirement is not ignored;
#  - unsupported_method, allow_header_conformance: an undocumented method is 405 with a correct Allow header;
#  - status_code_conformance and content_type_conformance: every status the server answers is documented,
#    errors as application/problem+json (malformed JSON 400 and 413 included).
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    ignored_auth,
    unsupported_method,
    allow_header_conformance,
    status_code_conformance,
    content_type_conformance,
]


def errors_are_problems(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """Every error response is an RFC 9457 problem (whatever the schema documents for it)."""
    if response.status_code < 400:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM_MEDIA_TYPE, (
        f"{response.status_code} answered as {content_type!r}, not {PROBLEM_MEDIA_TYPE}"
    )
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == response.status_code, body


FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
# Bodies with GeoJSON inside take schemathesis a long time to make up: fewer of them, as the de-escalation tests
# try the same routes with every kind of bad input by hand.
FUZZ_GEO = settings(FUZZ, max_examples=12)


def checks_for(mode: GenerationMode) -> dict:
    return {"checks": CHECKS, "additional_checks": [errors_are_problems]}


def _operation(api_schema, operation_id: str):  # type: ignore[no-untyped-def]
    # schemathesis.pytest.from_fixture(...).parametrize() breaks under pytest 9 (it sets Function._nodeid),
    # so operations are looked up here and fuzzed with Hypothesis directly.
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") == operation_id:
            return operation
    raise AssertionError(f"no operation {operation_id!r} in the schema")


@pytest.mark.parametrize(
    ("operation_id", "mode"),
    # anonymous: every operation is refused on its header alike; de-escalation's by one of its routes
    [
        (operation_id, GenerationMode.POSITIVE)
        for operation_id in sorted(OPERATION_IDS - set(DEESCALATION_OPERATIONS) | {"activities_list"})
    ]
    # Only operations that take input (a body or the bearer header) have invalid input to generate.
    + [
        (operation_id, GenerationMode.NEGATIVE)
        for operation_id in ("auth_issue_token", *SECURED_OPERATIONS, *sorted(TRAFFIC_OPERATIONS))
        if operation_id not in DEESCALATION_OPERATIONS and operation_id not in EVIDENCE_BODIES
    ],
    ids=lambda value: value.value if isinstance(value, GenerationMode) else value,
)
# On SQLite alone: an anonymous request is refused on its headers or its body before it reads a row, so the
# database behind it does not change the answer (the authenticated runs below fuzz both databases).
@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
def test_api_anonymous(api_schema, operation_id, mode):
    """Every operation, with whatever headers and bodies schemathesis makes up: never a 5xx."""
    operation = _operation(api_schema, operation_id)
    seen: Counter[int] = Counter()

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        seen[case.call_and_validate(**checks_for(mode)).status_code] += 1

    run()
    # The run was not vacuous (an operation without input has a single distinct case), and what came back is
    # what an anonymous caller should get.
    assert sum(seen.values()) >= (1 if operation_id in ("ops_health", "ops_metrics", "ledger_log_info") else 10), seen
    expected = {
        "auth_issue_token": {401, 422, 429} if mode is GenerationMode.POSITIVE else {400, 422},
        "auth_logout": {401},
        "auth_logout_everywhere": {401},
        "me_read": {401},
        "ops_health": {200},
        "ledger_log_info": {200},  # public: what a witness needs to know
        "ops_metrics": {401},  # the scrape token or a mediator only
        # a body that is not JSON at all is refused before the token is looked at
        **{
            operation: {401} if mode is GenerationMode.POSITIVE else {400, 401, 422} for operation in TRAFFIC_OPERATIONS
        },
    }[operation_id]
    assert set(seen) <= expected, seen


@pytest.mark.parametrize("operation_id", SECURED_OPERATIONS)
def test_api_authenticated(api, api_schema, operation_id):
    """The secured operations with a valid bearer token of a real user, so they run past authentication."""
    operation = _operation(api_schema, operation_id)
    calls = 0

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        nonlocal calls
        # sent as the caller's own headers: schemathesis then knows the token is real (not one it generated) and
        # probes the operation without it and with a made-up one, which must be refused
        response = case.call_and_validate(headers=bearer(api.fresh_token()), **checks_for(GenerationMode.POSITIVE))
        calls += 1
        if operation_id == "me_read":
            assert response.status_code == 200, response.text
            assert response.json()["username"] == FUZZ_USER
        else:
            assert response.status_code == 204, response.text

    run()
    assert calls >= 10


@pytest.mark.parametrize("operation_id", sorted(TRAFFIC_OPERATIONS))
def test_traffic_api_authenticated(api, api_schema, http, operation_id):
    """Traffic and ledger operations with a real liaison's token: no 5xx, only the answers that make sense."""
    # something to find: a joint message from the mediator, addressed to SY
    mediator = bearer(api.mediator_token())
    http.post(
        "/api/v1/messages",
        json={
            "track": "de-escalation",
            "audience": "joint",
            "precedence": "FLASH",
            "marker": "WARNING",
            "subject": "fuzz target",
            "body": "Convoy near the buffer zone.",
            "lang": "en",
            "readback_required": True,
        },
        headers=mediator,
    )
    operation = _operation(api_schema, operation_id)
    token = api.fresh_token()
    seen: Counter[int] = Counter()

    @(FUZZ_GEO if operation_id in DEESCALATION_OPERATIONS else FUZZ)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        checks = checks_for(GenerationMode.POSITIVE)
        if operation_id in CHARTER_RULED | STATE_RULED | TEXT_RULED:
            # Word limits per precedence, a read-back the message requires, a reply to a message one cannot see,
            # a proof for a tree larger than the log: charter and state rules no JSON Schema can state, rightly
            # answered 422 to schema-valid input.
            checks = {**checks, "excluded_checks": [positive_data_acceptance]}
        seen[case.call_and_validate(headers=bearer(token), **checks).status_code] += 1

    run()
    assert sum(seen.values()) >= (
        1 if operation_id == "messages_inbox" else 10 if operation_id not in DEESCALATION_OPERATIONS else 6
    ), seen
    assert not set(seen) - TRAFFIC_OPERATIONS[operation_id], seen
    assert set(seen) <= TRAFFIC_OPERATIONS[operation_id], seen

"""The API docs (/api/v1/docs) as their reader meets them: every operation and field explained, examples in the
charter's words that the cell accepts when pressed Execute, Authorize with a username and password (the OAuth2
password flow, which the token operation now also takes as a form), and the WebSocket stream described frame by
frame as the server sends it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from pydantic import BaseModel

from fusioncell import examples, text
from fusioncell.auth import schemas as auth_schemas
from fusioncell.auth import service as auth_service
from fusioncell.auth.models import AccessToken, LoginAttempt
from fusioncell.charter.model import Precedence
from fusioncell.intel import schemas as intel_schemas
from fusioncell.ledger import schemas as ledger_schemas
from fusioncell.policy import Role, audience_labels
from fusioncell.problems import PROBLEM_MEDIA_TYPE
from fusioncell.stream import frames
from fusioncell.stream.frames import FRAME_EXAMPLES, FrameType
from fusioncell.traffic import schemas as traffic_schemas
from fusioncell.traffic.schemas import Marker
from tests.conftest import CLI_ACTOR, TEST_PASSWORD, add_user, bearer, ledger_size, login, table_count

SCHEMA_URL = "/api/v1/openapi.json"
TOKEN_URL = "/api/v1/auth/token"
FORM = "application/x-www-form-urlencoded"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
SRC = Path(__file__).resolve().parent.parent / "src" / "fusioncell"


def _document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200, response.text
    return response.json()


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


# -- every operation and field explained ----------------------------------------------------------------------


def test_every_operation_says_what_it_does(client) -> None:
    operations = _operations(_document(client))
    assert len(operations) == 87
    for operation_id, operation in operations.items():
        assert operation.get("summary"), operation_id
        description = operation.get("description") or ""
        # who may call it and what it does for them, in sentences, not a restatement of the summary
        assert len(description) >= 80 and description.count(".") >= 1, (operation_id, description)
        for parameter in operation.get("parameters", []):
            assert parameter.get("description") or parameter["schema"].get("description"), (operation_id, parameter)


def _fields(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every property of every component schema, nested ones included: (component, dotted path, its schema)."""

    def walk(component: str, schema: dict[str, Any], where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for key in ("allOf", "anyOf", "oneOf"):
            for option in schema.get(key, []):
                yield from walk(component, option, where)
        if isinstance(schema.get("items"), dict):
            yield from walk(component, schema["items"], where + "[]")
        for name, sub in schema.get("properties", {}).items():
            yield component, f"{where}{name}", sub
            yield from walk(component, sub, f"{where}{name}.")

    for name, schema in document["components"]["schemas"].items():
        yield from walk(name, schema, "")


def _holds_components(schema: dict[str, Any]) -> bool:
    """A field whose example is made of the examples of the components it holds (as Swagger UI composes it)."""
    options = [schema, *schema.get("anyOf", [])]
    return any("$ref" in s or "$ref" in (s.get("items") or {}) for s in options)


def test_every_field_has_a_description_and_an_example(client) -> None:
    document = _document(client)
    missing = []
    for component, field, schema in _fields(document):
        if not schema.get("description"):
            missing.append(f"{component}.{field}: no description")
        if not schema.get("examples") and not _holds_components(schema):
            missing.append(f"{component}.{field}: no example")
    assert not missing, "\n".join(missing)
    for name, schema in document["components"]["schemas"].items():
        assert schema.get("description"), f"component {name} has no description"


def _composed(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The example a reader sees for a schema, built as Swagger UI builds it: each field's first example."""
    if schema.get("examples"):
        return schema["examples"][0]
    if "$ref" in schema:
        return _composed(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "anyOf" in schema:
        return _composed(document, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][0]
    if "properties" in schema:
        return {name: _composed(document, sub) for name, sub in schema["properties"].items()}
    if "items" in schema:
        return [_composed(document, schema["items"])]
    raise AssertionError(f"no example in {schema}")


MODELS: dict[str, type[BaseModel]] = {
    name: model
    for module in (auth_schemas, traffic_schemas, ledger_schemas, intel_schemas)
    for name, model in vars(module).items()
    if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == module.__name__
}


def test_each_schemas_example_is_one_it_accepts(client) -> None:
    """Composed from its fields' examples, every request and response example passes its own model: bounds,
    patterns, and the text rule of request bodies (fusioncell.text)."""
    document = _document(client)
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        if name in MODELS and "properties" in schema:
            MODELS[name].model_validate(_composed(document, schema))
            checked += 1
    assert checked >= 30, checked


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every example value in the document, with the name of the field (or key) it stands for."""

    def values(name: str, value: Any) -> Iterator[tuple[str, Any]]:
        yield name, value
        if isinstance(value, dict):
            for key, sub in value.items():
                yield from values(key, sub)
        elif isinstance(value, list):
            for sub in value:
                yield from values(name, sub)

    for _component, field, schema in _fields(document):
        for value in schema.get("examples", []):
            yield from values(field.rsplit(".", 1)[-1].removesuffix("[]"), value)
    for operation in _operations(document).values():
        for parameter in operation.get("parameters", []):
            for value in parameter["schema"].get("examples", []):
                yield from values(parameter["name"], value)
        for media in (operation.get("requestBody") or {}).get("content", {}).values():
            for example in media.get("examples", {}).values():
                yield from values("", example["value"])


# what a value that is not prose may look like: hashes, keys, tokens, times, ids, codes
MACHINE_FORMATS = [
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z",  # a UTC time
    r"[0-9a-f]{64}",  # a SHA-256 or a salt, hex
    r"[A-Za-z0-9+/]{43}=",  # a Merkle hash, base64
    r"(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?",  # a file, base64 (evidence)
    r"fct_[A-Za-z0-9_-]{43}",  # a bearer token
    r"[A-Za-z0-9_-]{50}",  # a page token
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",  # a UUID
    r"[a-z0-9./-]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}",  # a verifier key (Go note format)
    r"[0-9]+",  # a one-time code
    r"[0-9]+(\.[0-9]+)+",  # a version (STIX's spec_version)
    r"",  # what an OAuth2 client leaves empty
]
PROSE = re.compile(r"(?<![^\W_])[^\W\d_]{3,}(?![^\W_])")  # a word of three letters or more


def test_examples_speak_the_charters_words(client, cell) -> None:
    """No example is made up at random: people, delegations, tracks, audiences and languages are the example
    charter's, and every other text is prose or a value of a known shape (as the ids, hashes and tokens the cell
    sends), which the text rule accepts."""
    charter = cell.charter
    codes = set(charter.roster.delegations)
    languages = set(charter.languages.supported)
    roles = {role.value for role in Role}
    rules: dict[str, Any] = {
        "track": lambda v: v in charter.track_ids,
        "audience": lambda v: v in audience_labels(charter.roster),
        "lang": lambda v: v in languages,
        "precedence": lambda v: v in {p.value for p in Precedence},
        "marker": lambda v: v in {m.value for m in Marker},
        "translations": lambda v: set(v) <= languages,
        "wordings": lambda v: set(v) <= languages,
    }
    for field in ("delegation", "sender_delegation", "actor_delegation", "@actor_delegation", "target", "addressed"):
        rules[field] = lambda v: v is None or v in codes
    for field in ("username", "sender", "submitted_by", "delivered_to", "acknowledged_by", "opened_by", "actor"):
        rules[field] = lambda v: (
            v is None
            or ((m := re.fullmatch(r"([a-z]+)\.([a-z]+)", v)) is not None and m[1].upper() in codes and m[2] in roles)
        )
    seen: set[str] = set()
    for name, value in _examples(_document(client)):
        if name in rules and not isinstance(value, list):
            assert rules[name](value), f"{name}: {value!r} is not the example charter's"
            seen.add(name)
        if isinstance(value, str):
            assert text.refusal(value, lines=True) is None, (name, value)
            shaped = any(re.fullmatch(f, value) for f in MACHINE_FORMATS) or value in codes | languages
            assert PROSE.search(value) or shaped, f"{name}: {value!r} looks made up"
    assert {"track", "audience", "lang", "delegation", "username", "sender", "marker", "precedence"} <= seen, seen
    # the docs' own example of the issue: a random username, and a party's INSTRUCTION
    assert "[.U7z'+~8=0" not in json.dumps(_document(client))


def test_each_error_response_shows_a_problem_of_its_own_status(client) -> None:
    """Not one problem (a 403) under every status: each response's example is what the operation sends with it."""
    document = _document(client)
    for operation_id, operation in _operations(document).items():
        for code, response in operation["responses"].items():
            if code[0] not in "45":
                continue
            example = response["content"][PROBLEM_MEDIA_TYPE]["example"]
            assert example["status"] == int(code) and example["detail"], (operation_id, code, example)
            if code == "422":
                [error] = example["errors"]
                body = (operation.get("requestBody") or {}).get("content", {})
                fields = {
                    f"/{name}"
                    for media in body.values()
                    for name in document["components"]["schemas"][media["schema"]["$ref"].rsplit("/", 1)[1]][
                        "properties"
                    ]
                } | {f"{p['in']}:{p['name']}" for p in operation.get("parameters", [])}
                assert error["pointer"] in fields, (operation_id, error)


# -- the request examples work when pressed Execute ----------------------------------------------------------


def _body(document: dict[str, Any], operation_id: str, name: str, media: str = "application/json") -> Any:
    return _operations(document)[operation_id]["requestBody"]["content"][media]["examples"][name]["value"]


def test_request_examples_succeed_for_the_member_they_name(client, cell, crew) -> None:
    """Every whole-body example, sent as the docs would send it by the member its summary names, is accepted."""
    document = _document(client)
    documented = {
        (operation_id, media, name)
        for operation_id, operation in _operations(document).items()
        for media, content in (operation.get("requestBody") or {}).get("content", {}).items()
        for name in content.get("examples", {})
    }
    sent: set[tuple[str, str, str]] = set()

    def execute(method: str, url: str, operation_id: str, name: str, headers: dict, media: str = "application/json"):  # type: ignore[no-untyped-def]
        body = _body(document, operation_id, name, media)
        sent.add((operation_id, media, name))
        if media == FORM:
            response = client.request(method, url, data=body, headers=headers)
        else:
            response = client.request(method, url, json=body, headers=headers)
        assert 200 <= response.status_code < 300, (operation_id, name, response.text)
        return response.json()

    # sign in as Syria's liaison officer, with the password the example shows
    with cell.command() as uow:
        auth_service.reset_password(
            cell=cell, uow=uow, actor=CLI_ACTOR, username=examples.SY_LIAISON, password=examples.PASSWORD
        )
    execute("POST", TOKEN_URL, "auth_issue_token", "oauth2-password-grant", {}, FORM)
    sy = bearer(execute("POST", TOKEN_URL, "auth_issue_token", "sign-in", {})["access_token"])
    il, us, sy_analyst = crew["il"].headers, crew["us"].headers, crew["sy_analyst"].headers
    add_user(cell, examples.IL_ANALYST, "IL", "analyst")
    il_analyst = bearer(login(client, examples.IL_ANALYST))

    # the FLASH warning's closed loop: read back wrong, rejected with a note, read back again, confirmed
    flash = execute("POST", "/api/v1/messages", "messages_send", "flash-warning", sy)
    assert flash["subject"] == examples.SUBJECT and flash["glossary"], flash
    request = execute("POST", "/api/v1/messages", "messages_send", "mediated-request", sy)
    at = f"/api/v1/messages/{flash['id']}"
    execute("POST", f"{at}/ack", "messages_acknowledge", "read-back", il)
    negative = execute("POST", f"{at}/readback-verdict", "messages_readback_verdict", "negative", sy)
    assert negative["clarifications"][0]["note"] == examples.NOTE
    execute("POST", f"{at}/ack", "messages_acknowledge", "read-back", il)
    confirmed = execute("POST", f"{at}/readback-verdict", "messages_readback_verdict", "confirmed", sy)
    assert {d["delegation"]: d["state"] for d in confirmed["deliveries"]}["IL"] == "confirmed"
    execute("POST", f"/api/v1/messages/{request['id']}/ack", "messages_acknowledge", "acknowledge", us)

    # the indicator: submitted, released without its source, sighted by Israel, the sighting declined
    item = execute("POST", "/api/v1/intel/items", "intel_submit", "indicator", sy_analyst)
    released = execute("POST", f"/api/v1/intel/items/{item['id']}/release", "intel_release", "redacted", us)
    assert released["state"] == "redacted"
    sighting = execute("POST", "/api/v1/intel/sightings", "intel_report_sighting", "sighting", il_analyst)
    execute("POST", f"/api/v1/intel/items/{sighting['id']}/decline", "intel_decline", "reason", us)
    # a draft: revised, submitted, released whole, then recalled
    draft = {**examples.RELAY_INDICATOR, "name": "Relay (unconfirmed)"}
    made = client.post("/api/v1/intel/items", json={"stix": draft, "draft": True}, headers=sy_analyst)
    assert made.status_code == 201, made.text
    at = f"/api/v1/intel/items/{made.json()['id']}"
    execute("PUT", at, "intel_revise_draft", "one-object", sy_analyst)
    assert client.post(f"{at}/submit", headers=sy_analyst).status_code == 200
    execute("POST", f"{at}/release", "intel_release", "whole", us)
    execute("POST", f"{at}/revoke", "intel_revoke", "reason", us)

    # de-escalation: Syria's air patrol checked, notified, then amended
    execute("POST", "/api/v1/activities/check", "activity_check", "patrol", sy)
    patrol = execute("POST", "/api/v1/activities", "activity_notify", "patrol", sy)
    execute("PUT", f"/api/v1/activities/{patrol['id']}", "activity_amend", "patrol", sy)

    assert sent == documented, f"documented but not tried: {documented - sent}"


# -- Authorize: the OAuth2 password flow ------------------------------------------------------------------


def test_secured_operations_offer_the_password_flow_and_the_bearer_header(client) -> None:
    document = _document(client)
    schemes = document["components"]["securitySchemes"]
    flows = {name: s["flows"]["password"] for name, s in schemes.items() if s["type"] == "oauth2"}
    assert [flow["tokenUrl"] for flow in flows.values()] == [TOKEN_URL]
    bearers = {name for name, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"}
    assert bearers
    for operation_id, operation in _operations(document).items():
        if operation_id == "auth_issue_token" or "401" not in operation["responses"]:
            assert "security" not in operation, operation_id  # public: health, the log's keys
            continue
        offered = {name for requirement in operation["security"] for name in requirement}
        assert offered >= set(flows) | bearers, (operation_id, offered)
        assert all(len(requirement) == 1 for requirement in operation["security"]), operation_id  # either one


def test_authorize_signs_in_with_username_and_password(client, crew) -> None:
    """What Swagger UI's Authorize sends: the OAuth2 password grant as a form, with an empty scope and, unless told
    otherwise, empty client credentials in a Basic header. The answer is an OAuth2 token response."""
    response = client.post(
        TOKEN_URL,
        data={"grant_type": "password", "scope": "", "username": "il.liaison", "password": TEST_PASSWORD},
        headers={"Authorization": "Basic Og==", "X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 12 * 3600 and token["expires_at"] == "2026-03-02T18:00:00Z"
    assert response.headers["cache-control"] == "no-store"
    me = client.get("/api/v1/me", headers=bearer(token["access_token"]))
    assert me.status_code == 200 and me.json()["username"] == "il.liaison"
    # the JSON body answers the same, as before
    assert set(client.post(TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD}).json()) == set(token)


def test_a_wrong_password_on_the_form_is_a_401_problem(client, cell, crew) -> None:
    tokens = table_count(cell, AccessToken)
    form = client.post(TOKEN_URL, data={"grant_type": "password", "username": "il.liaison", "password": "not-mine"})
    assert form.status_code == 401
    assert form.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert form.headers["www-authenticate"] == "Bearer"
    problem = form.json()
    assert problem["status"] == 401 and problem["detail"] == "invalid username or password"
    # what Swagger UI's Authorize dialog shows (RFC 6749 §5.2)
    assert problem["error"] == "invalid_grant" and problem["error_description"] == problem["detail"]
    # the JSON path answers as it always did
    json_path = client.post(TOKEN_URL, json={"username": "il.liaison", "password": "not-mine"})
    assert json_path.status_code == 401 and json_path.headers["www-authenticate"] == "Bearer"
    assert {k: v for k, v in problem.items() if not k.startswith("error")} == json_path.json()
    assert table_count(cell, AccessToken) == tokens


@pytest.mark.parametrize(
    ("form", "pointer"),
    [
        ({"username": "il.liaison", "password": TEST_PASSWORD}, "/grant_type"),
        ({"grant_type": "client_credentials", "username": "il.liaison", "password": TEST_PASSWORD}, "/grant_type"),
        ({"grant_type": "password", "password": TEST_PASSWORD}, "/username"),
        ({"grant_type": "password", "username": "il.liaison", "password": TEST_PASSWORD, "role": "mediator"}, "/role"),
        ({"grant_type": "password", "username": "il.\u202eliaison", "password": TEST_PASSWORD}, "/username"),
        ({"grant_type": "password", "username": "il.liaison", "password": TEST_PASSWORD, "otp": "12ab56"}, "/otp"),
        ("grant_type=password&username=il.liaison&username=sy.liaison&password=x", "/username"),
    ],
    ids=["no-grant", "other-grant", "no-username", "unknown-field", "text-rule", "bad-otp", "twice"],
)
def test_a_bad_form_is_a_422_problem_and_changes_nothing(client, cell, crew, form, pointer) -> None:
    before = table_count(cell, AccessToken), table_count(cell, LoginAttempt), ledger_size(cell)
    if isinstance(form, str):
        response = client.post(TOKEN_URL, content=form, headers={"Content-Type": FORM})
    else:
        response = client.post(TOKEN_URL, data=form)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()
    assert (table_count(cell, AccessToken), table_count(cell, LoginAttempt), ledger_size(cell)) == before


def test_the_form_is_throttled_as_the_json_body_is(client, crew) -> None:
    wrong = {"grant_type": "password", "username": "il.liaison", "password": "guess-number-n"}
    for _ in range(5):
        assert client.post(TOKEN_URL, data=wrong).status_code == 401
    held = client.post(TOKEN_URL, data={**wrong, "password": TEST_PASSWORD})
    assert held.status_code == 429, held.text
    assert held.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert int(held.headers["retry-after"]) > 0
    assert held.json()["error_description"] == held.json()["detail"]
    # one hold for both ways in
    assert client.post(TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD}).status_code == 429


def test_a_one_time_code_goes_in_otp_or_right_after_the_password(client, cell) -> None:
    add_user(cell, "il.liaison", "IL", "liaison")
    with cell.command() as uow:
        totp = pyotp.parse_uri(auth_service.enroll_totp(cell=cell, uow=uow, actor=CLI_ACTOR, username="il.liaison"))
    grant = {"grant_type": "password", "username": "il.liaison", "password": TEST_PASSWORD}

    no_code = client.post(TOKEN_URL, data=grant)
    assert no_code.status_code == 401 and no_code.json()["otp_required"] is True
    # the Authorize dialog has no box for the code: typed after the password
    code = totp.at(cell.clock.now())
    typed_after = client.post(TOKEN_URL, data={**grant, "password": TEST_PASSWORD + code})
    assert typed_after.status_code == 200, typed_after.text
    # the JSON body takes the password as typed: a code after it is a wrong password
    cell.clock.advance(timedelta(seconds=30))
    code = totp.at(cell.clock.now())
    as_json = client.post(TOKEN_URL, json={"username": "il.liaison", "password": TEST_PASSWORD + code})
    assert as_json.status_code == 401 and as_json.json()["detail"] == "invalid username or password"
    as_field = client.post(TOKEN_URL, data={**grant, "otp": code})
    assert as_field.status_code == 200, as_field.text


def test_a_password_ending_in_digits_is_read_whole_without_a_second_factor(client, cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison", password="quneitra-night-watch-060000")
    grant = {"grant_type": "password", "username": "sy.liaison", "password": "quneitra-night-watch-060000"}
    assert client.post(TOKEN_URL, data=grant).status_code == 200


# -- the stream, documented frame by frame -------------------------------------------------------------------


def test_the_stream_is_documented_frame_by_frame(client, cell, crew) -> None:
    description = _document(client)["info"]["description"]
    assert "/api/v1/stream?after=<ledger index>" in description
    for words in ("Authorization: Bearer", "?access_token=", "after=-1", "4401", "4400", "logout", "disabled"):
        assert words in description, words
    documented = re.findall(r"^- \*\*`(\w+)`\*\*", description, re.MULTILINE)
    assert documented == [t.value for t in FrameType]  # every type the code has, in the order they come
    for frame_type in FrameType:
        assert json.dumps(FRAME_EXAMPLES[frame_type], ensure_ascii=False, indent=1).splitlines()[1] in description
    # the code names frame types through FrameType only
    for module in ("routes.py", "hub.py"):
        assert not re.search(r"""["']type["']\s*:\s*["']""", (SRC / "stream" / module).read_text()), module

    # what the server really sends has the documented shape, type by type
    received: dict[str, dict[str, Any]] = {}
    with client.websocket_connect(f"/api/v1/stream?after={ledger_size(cell) - 2}", headers=crew["il"].headers) as ws:
        while "live" not in received:
            frame = ws.receive_json()
            received.setdefault(frame["type"], frame)
        sent = client.post("/api/v1/messages", json=examples.SEND_FLASH_WARNING, headers=crew["sy"].headers)
        assert sent.status_code == 201, sent.text
        while "heartbeat" not in received:
            frame = ws.receive_json()
            received.setdefault(frame["type"], frame)
            if frame["type"] == "event" and frame["action"] == "message.sent":
                received["event"] = frame
    with client.websocket_connect("/api/v1/stream?after=-5", headers=crew["il"].headers) as ws:
        received["error"] = ws.receive_json()  # at once: no hello for a stream that cannot start
    assert set(received) == {t.value for t in FrameType}
    for frame_type, frame in received.items():
        assert set(frame) == set(FRAME_EXAMPLES[FrameType(frame_type)]), (frame_type, frame)
    assert set(received["event"]["content"]) == set(FRAME_EXAMPLES[FrameType.EVENT]["content"])
    assert set(received["event"]["content"]["message"]) == set(FRAME_EXAMPLES[FrameType.EVENT]["content"]["message"])
    assert received["error"]["status"] == 400 and str(frames.CLOSE_BAD_REQUEST) in description

"""Sending: who may send what, word limits, idempotent resends, and bad input that changes nothing."""

from __future__ import annotations

import pytest

from fusioncell.scheduler.models import Job
from fusioncell.traffic.models import Message
from tests.conftest import ledger_size, table_count
from tests.traffic.helpers import draft


class Unchanged:
    """Assert that a block wrote nothing: ledger, messages, jobs."""

    def __init__(self, cell) -> None:  # type: ignore[no-untyped-def]
        self.cell = cell

    def counts(self) -> tuple[int, int, int]:
        return ledger_size(self.cell), table_count(self.cell, Message), table_count(self.cell, Job)

    def __enter__(self) -> Unchanged:
        self.before = self.counts()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.counts() == self.before


def test_instruction_is_for_the_mediator_only(client, cell, crew) -> None:
    with Unchanged(cell):
        r = client.post("/api/v1/messages", json=draft(marker="INSTRUCTION"), headers=crew["sy"].headers)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    ok = client.post("/api/v1/messages", json=draft(marker="INSTRUCTION"), headers=crew["us"].headers)
    assert ok.status_code == 201 and ok.json()["marker"] == "INSTRUCTION"


def test_flash_over_200_words_is_refused_in_every_language(client, cell, crew) -> None:
    words = " ".join(["word"] * 200)
    assert client.post("/api/v1/messages", json=draft(body=words), headers=crew["sy"].headers).status_code == 201
    with Unchanged(cell):
        r = client.post("/api/v1/messages", json=draft(body=words + " more"), headers=crew["sy"].headers)
        assert r.status_code == 422
        assert r.json()["words"] == 201 and r.json()["limit"] == 200 and "FLASH" in r.json()["detail"]
        arabic = " ".join(["كلمة"] * 201)
        r = client.post(
            "/api/v1/messages",
            json=draft(precedence="IMMEDIATE", body="short", translations={"ar": {"subject": "قافلة", "body": arabic}}),
            headers=crew["sy"].headers,
        )
        assert r.status_code == 422 and r.json()["field"] == "translations.ar.body"
    # PRIORITY has no word limit
    long = client.post(
        "/api/v1/messages", json=draft(precedence="PRIORITY", body=words * 3), headers=crew["sy"].headers
    )
    assert long.status_code == 201


def test_same_client_txn_id_twice_is_one_message_and_one_entry(client, cell, crew) -> None:
    body = draft(client_txn_id="sy-duty-2026-03-02-0001")
    first = client.post("/api/v1/messages", json=body, headers=crew["sy"].headers)
    assert first.status_code == 201
    with Unchanged(cell):
        again = client.post("/api/v1/messages", json=body, headers=crew["sy"].headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["ledger_index"] == first.json()["ledger_index"]
    with Unchanged(cell):
        changed = client.post("/api/v1/messages", json={**body, "body": "something else"}, headers=crew["sy"].headers)
    assert changed.status_code == 409 and changed.json()["message_id"] == first.json()["id"]
    # another person may use the same id for their own message
    other = client.post("/api/v1/messages", json=body, headers=crew["il"].headers)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"track": "naval"}, 422, "unknown track 'naval'"),
        ({"audience": "mediated:IL"}, 403, "cannot write into audience"),
        ({"audience": "mediator"}, 403, "cannot write into audience"),
        ({"audience": "everyone"}, 422, "unknown audience"),
        ({"audience": "mediated:ZZ"}, 422, "names no delegation"),
        ({"precedence": "URGENT"}, 422, "precedence"),
        ({"marker": "ORDER"}, 422, "marker"),
        ({"lang": "fr"}, 422, "not one of the charter's"),
        ({"translations": {"en": {"subject": "x", "body": "y"}}}, 422, "another of the charter's languages"),
        ({"subject": 5}, 422, "subject"),
        ({"readback_required": "perhaps"}, 422, "readback_required"),
        ({"priority": "high"}, 422, "priority"),
        ({"reply_to": 999999}, 422, "names no message you can read"),
        ({"body": ""}, 422, "body"),
    ],
)
def test_bad_input_is_a_problem_and_writes_nothing(client, cell, crew, change, status, needle) -> None:
    with Unchanged(cell):
        r = client.post("/api/v1/messages", json=draft(**change), headers=crew["sy"].headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert needle in r.text


def test_malformed_and_oversized_bodies_write_nothing(client, cell, crew) -> None:
    headers = {**crew["sy"].headers, "content-type": "application/json"}
    with Unchanged(cell):
        assert (
            client.post("/api/v1/messages", content=b'{"track": "de-escalation",', headers=headers).status_code == 400
        )
        huge = draft(precedence="ROUTINE", body="x " * 600_000)
        r = client.post("/api/v1/messages", json=huge, headers=crew["sy"].headers)
        assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
        assert client.post("/api/v1/messages", json=[draft()], headers=crew["sy"].headers).status_code == 422


def test_who_may_acknowledge(client, cell, crew) -> None:
    message = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()
    hidden = client.post("/api/v1/messages", json=draft(audience="mediated:SY"), headers=crew["sy"].headers).json()
    with Unchanged(cell):
        # the sender's own delegation is not addressed; an observer reads but does not acknowledge
        assert (
            client.post(f"/api/v1/messages/{message['id']}/ack", json={}, headers=crew["sy"].headers).status_code == 403
        )
        assert (
            client.post(f"/api/v1/messages/{message['id']}/ack", json={}, headers=crew["undof"].headers).status_code
            == 403
        )
        # and a message IL cannot see is 404, not 403
        assert (
            client.post(f"/api/v1/messages/{hidden['id']}/ack", json={}, headers=crew["il"].headers).status_code == 404
        )
    assert client.post(f"/api/v1/messages/{message['id']}/ack", json={}, headers=crew["il"].headers).status_code == 200
    with Unchanged(cell):
        again = client.post(f"/api/v1/messages/{message['id']}/ack", json={}, headers=crew["il"].headers)
        assert again.status_code == 409
        verdict = client.post(
            f"/api/v1/messages/{message['id']}/readback-verdict",
            json={"verdict": "confirmed"},
            headers=crew["il"].headers,
        )
        assert verdict.status_code == 403  # only the sending delegation judges
        verdict = client.post(
            f"/api/v1/messages/{message['id']}/readback-verdict",
            json={"verdict": "confirmed"},
            headers=crew["sy"].headers,
        )
        assert verdict.status_code == 409  # no read-back awaits a verdict

"""What a party learns from the identifiers it reads: nothing it could not count from what it may read. Messages,
clarifications and alerts have random ids (a sequence would count, by its gaps, what went to audiences the reader
may not read), and their lists page by ledger index, which every delegation reads in the public headers anyway."""

from __future__ import annotations

from fusioncell.traffic import service as traffic_service
from tests.conftest import ledger_size
from tests.traffic.helpers import draft


def send(client, member, **fields):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/messages", json=draft(precedence="ROUTINE", **fields), headers=member.headers)
    assert r.status_code == 201, r.text
    return r.json()


def page(client, member, path: str, after: int | None = None, limit: int = 1):  # type: ignore[no-untyped-def]
    query = f"?limit={limit}" + (f"&after={after}" if after is not None else "")
    r = client.get(f"/api/v1/{path}{query}", headers=member.headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_message_ids_do_not_count_what_another_party_was_sent(client, cell, crew) -> None:
    sy, il, us = crew["sy"], crew["il"], crew["us"]
    first = send(client, sy, subject="Convoy at 0600Z")
    hidden = [send(client, us, audience="mediated:IL", subject=f"Proximity note {n}") for n in range(6)]
    hidden += [send(client, il, audience="mediated:IL", subject=f"Reply {n}") for n in range(6)]
    second = send(client, sy, subject="Convoy delayed to 0700Z")

    ids = [m["id"] for m in (first, *hidden, second)]
    # not a sequence: neither in the order sent nor with a step (14 random draws: 1 in 14! to be in order)
    assert ids != sorted(ids) and len(set(ids)) == len(ids)
    assert abs(second["id"] - first["id"]) != len(hidden) + 1

    # SY's list holds its two, in the order sent, one per page; the cursor is the ledger index of the last one
    got, after = [], None
    while True:
        listed = page(client, sy, "messages", after)
        got += [m["id"] for m in listed["items"]]
        if listed["next_after"] is None:
            break
        assert listed["next_after"] == listed["items"][-1]["ledger_index"]
        after = listed["next_after"]
    assert got == [first["id"], second["id"]]
    # which tells SY only what the ledger's public headers do: every index in between is an entry it may witness
    start, end = first["ledger_index"] + 1, second["ledger_index"]
    headers = client.get(f"/api/v1/ledger/entries?start={start}&end={end}", headers=sy.headers).json()["items"]
    assert [h["index"] for h in headers] == list(range(start, end))
    assert {h["audience"] for h in headers} == {"mediated:IL"}
    # the mediator's list, paged the same way, holds all fourteen in the order sent
    everything = page(client, us, "messages", limit=100)["items"]
    assert [m["id"] for m in everything] == ids


def test_clarification_and_alert_ids_do_not_count_either(client, cell, crew) -> None:
    sy, il, us = crew["sy"], crew["il"], crew["us"]
    ids: dict[str, list[int]] = {"clarification": [], "alert": []}
    for n in range(3):
        message = send(client, sy, subject=f"Convoy {n}", readback_required=True)
        acked = client.post(
            f"/api/v1/messages/{message['id']}/ack", json={"readback": "Four vehicles at 0700Z"}, headers=il.headers
        )
        assert acked.status_code == 200, acked.text
        judged = client.post(
            f"/api/v1/messages/{message['id']}/readback-verdict",
            json={"verdict": "negative", "note": "0600Z"},
            headers=sy.headers,
        ).json()
        ids["clarification"] += [c["id"] for c in judged["clarifications"]]
    alerts = page(client, us, "alerts", limit=100)["items"]
    ids["alert"] = [a["id"] for a in alerts]
    assert [f"'Convoy {n}'" in a["summary"] for n, a in enumerate(alerts)] == [True] * 3  # in the order raised
    for kind, drawn in ids.items():
        steps = {b - a for a, b in zip(drawn, drawn[1:], strict=False)}
        assert len(drawn) == 3 and steps != {1}, (kind, drawn)
    # paged by ledger index, one at a time
    one = page(client, us, "alerts")
    assert [a["id"] for a in one["items"]] == ids["alert"][:1] and one["next_after"] == alerts[0]["ledger_index"]
    rest = page(client, us, "alerts", after=one["next_after"], limit=100)
    assert [a["id"] for a in rest["items"]] == ids["alert"][1:] and rest["next_after"] is None


def test_an_id_already_taken_is_drawn_again(client, cell, crew, monkeypatch) -> None:
    sy = crew["sy"]
    taken = send(client, sy, subject="First")["id"]
    draws = iter([taken, taken, 12345])
    monkeypatch.setattr(traffic_service, "random_row_id", lambda: next(draws))
    before = ledger_size(cell)
    second = send(client, sy, subject="Second", client_txn_id="second-1")
    assert second["id"] == 12345 and ledger_size(cell) == before + 1
    # the first is as it was, and the second is there under its own id
    assert client.get(f"/api/v1/messages/{taken}", headers=sy.headers).json()["subject"] == "First"
    assert client.get("/api/v1/messages/12345", headers=sy.headers).json()["subject"] == "Second"
    # a client_txn_id used again is still the resend it always was, not a new draw
    draws = iter([777])
    again = client.post(
        "/api/v1/messages",
        json=draft(precedence="ROUTINE", subject="Second", client_txn_id="second-1"),
        headers=sy.headers,
    )
    assert again.status_code in (200, 201) and again.json()["id"] == 12345

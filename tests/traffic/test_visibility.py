"""A message reaches exactly its audience, by every read path: list, get, inbox, stream replay and live, ledger
content one by one and in bulk."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ledger_size
from tests.traffic.helpers import StreamReader, draft
from tests.web.pages import browser, signed_in

# The rule, stated plainly for the Paris charter: who may read each audience (UNDOF reads joint).
READERS = {
    "joint": {"sy", "il", "us", "undof", "sy_analyst"},
    "mediated:SY": {"sy", "us", "sy_analyst"},
    "mediated:IL": {"il", "us"},
    "mediated:UNDOF": {"undof", "us"},
    "mediator": {"us"},
}
SENDERS = {"sy": ["joint", "mediated:SY"], "il": ["joint", "mediated:IL"], "us": list(READERS)}


def read_paths(client, member, message_id, ledger_index):  # type: ignore[no-untyped-def]
    """What one person sees of one message on each REST read path."""
    listed = any(
        m["id"] == message_id for m in client.get("/api/v1/messages?limit=500", headers=member.headers).json()["items"]
    )
    got = client.get(f"/api/v1/messages/{message_id}", headers=member.headers).status_code
    content = client.get(f"/api/v1/ledger/entries/{ledger_index}/content", headers=member.headers).status_code
    bulk = client.get(f"/api/v1/ledger/contents?start={ledger_index}&end={ledger_index + 1}", headers=member.headers)
    revealed = [item["index"] for item in bulk.json()["items"]] == [ledger_index]
    return listed, got, content, revealed


def test_mediated_message_never_reaches_the_other_party(client, cell, crew) -> None:
    sy, il, us = crew["sy"], crew["il"], crew["us"]
    secret_body = "Proximity note for the mediator only: our red line on the withdrawal timeline."
    with client.websocket_connect(f"/api/v1/stream?after={ledger_size(cell) - 1}", headers=il.headers) as il_live:
        live = StreamReader(il_live)
        live.replay()
        sent = client.post(
            "/api/v1/messages",
            json=draft(
                audience="mediated:SY",
                track="diplomatic",
                body=secret_body,
                precedence="PRIORITY",
                marker="INFORMATION",
            ),
            headers=sy.headers,
        )
        assert sent.status_code == 201, sent.text
        message = sent.json()
        assert [d["delegation"] for d in message["deliveries"]] == ["US"]
        # a joint message after it proves the live stream is flowing for IL
        joint = client.post("/api/v1/messages", json=draft(subject="joint marker"), headers=sy.headers).json()
        events = live.until(lambda ev: any(e["subject"] == f"message:{joint['id']}" for e in ev))
        assert all(e["subject"] != f"message:{message['id']}" for e in events)
        assert secret_body not in str(live.frames)

    # REST: list, get (404, as for a message that does not exist), inbox, ledger content
    assert read_paths(client, il, message["id"], message["ledger_index"]) == (False, 404, 404, False)
    assert all(m["id"] != message["id"] for m in client.get("/api/v1/inbox", headers=il.headers).json())
    assert (
        client.get("/api/v1/messages/999999", headers=il.headers).json()["detail"]
        == (client.get(f"/api/v1/messages/{message['id']}", headers=il.headers).json()["detail"])
    )
    for reader in (sy, us, crew["sy_analyst"]):
        assert read_paths(client, reader, message["id"], message["ledger_index"]) == (True, 200, 200, True)
    # the public header is readable by all; its content is not
    header = client.get(
        f"/api/v1/ledger/entries?start={message['ledger_index']}&end={message['ledger_index'] + 1}", headers=il.headers
    ).json()["items"][0]
    assert header["audience"] == "mediated:SY" and "content" not in header
    # nor do the ledger's bulk and signed views carry it: leaves (headers with commitments), checkpoints
    for path in ("/api/v1/ledger/leaves?start=0", "/api/v1/ledger/checkpoint", "/api/v1/ledger/checkpoints"):
        r = client.get(path, headers=il.headers)
        assert r.status_code == 200 and secret_body not in r.text, path
    # nor the web pages IL's officer reads (they show what policy lets IL read, in every language)
    web = signed_in(browser(client), il.username)
    for path in ("/ledger", "/ledger/live", "/ledger?lang=ar"):
        r = web.get(path)
        assert r.status_code == 200 and secret_body not in r.text, path

    # stream replay from the beginning
    with client.websocket_connect("/api/v1/stream?after=-1", headers=il.headers) as il_replay:
        replay = StreamReader(il_replay)
        replay.replay()
        assert all(e["audience"] in ("joint", "mediated:IL") for e in replay.events)
        assert secret_body not in str(replay.frames)
    # and the mediator does receive it in replay
    with client.websocket_connect("/api/v1/stream?after=-1", headers=us.headers) as us_replay:
        replay = StreamReader(us_replay)
        replay.replay()
        assert any(e["subject"] == f"message:{message['id']}" and e["action"] == "message.sent" for e in replay.events)


def test_admin_role_alone_reads_no_traffic(client, cell, crew) -> None:
    sent = client.post("/api/v1/messages", json=draft(audience="mediated:SY"), headers=crew["sy"].headers).json()
    admin = crew["sy_admin"]
    assert read_paths(client, admin, sent["id"], sent["ledger_index"]) == (False, 404, 404, False)
    with client.websocket_connect("/api/v1/stream?after=-1", headers=admin.headers) as ws:
        reader = StreamReader(ws)
        reader.replay()
        assert reader.events == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sends=st.lists(st.sampled_from([(s, a) for s, auds in SENDERS.items() for a in auds]), min_size=1, max_size=3),
    track=st.sampled_from(["intelligence", "de-escalation", "diplomatic", "commercial", "humanitarian"]),
)
def test_what_each_user_reads_equals_the_audience_rule_on_every_path(client, cell, crew, sends, track) -> None:
    start = ledger_size(cell) - 1
    sent = []
    for sender, audience in sends:
        r = client.post(
            "/api/v1/messages",
            json=draft(audience=audience, track=track, precedence="ROUTINE", marker="INFORMATION"),
            headers=crew[sender].headers,
        )
        assert r.status_code == 201, r.text
        sent.append((r.json(), audience))
    for key, member in crew.items():
        with client.websocket_connect(f"/api/v1/stream?after={start}", headers=member.headers) as ws:
            reader = StreamReader(ws)
            reader.replay()
        streamed = {e["content"]["message"]["id"] for e in reader.events if e["action"] == "message.sent"}
        assert all(e["audience"] in {a for a, who in READERS.items() if key in who} for e in reader.events)
        for message, audience in sent:
            may = key in READERS[audience]
            expected = (True, 200, 200, True) if may else (False, 404, 404, False)
            assert read_paths(client, member, message["id"], message["ledger_index"]) == expected, (key, audience)
            assert (message["id"] in streamed) == may, (key, audience)

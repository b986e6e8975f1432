"""The stream for the pages: the session cookie signs the WebSocket in, and only a page of this site may use it
(its Origin is checked, as a form's is); nothing reaches a page of another site."""

from __future__ import annotations

from fusioncell.web.session import SESSION_COOKIE
from tests.traffic.helpers import StreamReader, draft
from tests.web.pages import signed_in

STREAM = "/api/v1/stream"


# The app's own client signs in (a second TestClient would run the socket in an event loop of its own, apart from
# the hub's, which wakes only its own loop's subscribers).


def test_the_session_cookie_opens_the_stream_for_this_sites_pages(client, cell, crew) -> None:
    page = signed_in(client, "il.liaison")
    with page.websocket_connect(f"{STREAM}?after=-1", headers={"Origin": "http://testserver"}) as ws:
        reader = StreamReader(ws)
        assert reader.hello["username"] == "il.liaison"
        client.post("/api/v1/messages", json=draft(subject="Seen by IL's page"), headers=crew["sy"].headers)
        events = reader.until(lambda ev: any(e["action"] == "message.sent" for e in ev))
        sent = [e["content"]["message"]["subject"] for e in events if e["action"] == "message.sent"]
        assert sent == ["Seen by IL's page"]


def test_another_sites_page_may_not_use_the_cookie(client, crew) -> None:
    page = signed_in(client, "il.liaison")
    assert page.cookies.get(SESSION_COOKIE)
    with page.websocket_connect(STREAM, headers={"Origin": "http://evil.example"}) as ws:
        frame = ws.receive_json()
        assert frame == {
            "type": "error",
            "status": 403,
            "detail": "a page of http://evil.example may not use this site's session",
        }
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 4403


def test_without_a_session_the_stream_asks_for_one(client) -> None:
    with client.websocket_connect(STREAM, headers={"Origin": "http://testserver"}) as ws:
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["status"] == 401 and "sign in" in frame["detail"]

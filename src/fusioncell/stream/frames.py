"""What the stream sends, frame by frame, and its documentation: OpenAPI 3.1 has no WebSocket operations, so the
stream is described in the OpenAPI document's `info.description` from here, beside the names the code sends."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from fusioncell import examples

STREAM_PATH = "/api/v1/stream"
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403  # a page of another site tried to use a browser's session cookie


class FrameType(StrEnum):
    """Every frame's `type`, in the order a stream sends them."""

    HELLO = "hello"
    EVENT = "event"
    LIVE = "live"
    HEARTBEAT = "heartbeat"
    ERROR = "error"


_SENT_CONTENT = {
    "@action": "message.sent",
    "@actor_delegation": "SY",
    "@subject": examples.MESSAGE_SUBJECT,
    "actor": examples.SY_LIAISON,
    "message": {
        "ack_due_at": examples.ACK_DUE_AT,
        "addressed": ["IL", "US"],
        "body": examples.BODY,
        "id": examples.MESSAGE_ID,
        "lang": "en",
        "marker": "WARNING",
        "precedence": "FLASH",
        "readback_required": True,
        "reply_to": None,
        "sender_delegation": "SY",
        "sent_at": examples.SENT_AT,
        "subject": examples.SUBJECT,
        "track": "de-escalation",
        "translations": {"ar": {"body": examples.BODY_AR, "subject": examples.SUBJECT_AR}},
    },
}
# One frame of each type, as il.liaison's stream sends them (tests/test_api_docs.py holds them to real frames).
FRAME_EXAMPLES: dict[FrameType, dict[str, Any]] = {
    FrameType.HELLO: {"type": "hello", "after": examples.MESSAGE_INDEX - 1, "username": examples.IL_LIAISON},
    FrameType.EVENT: {
        "type": "event",
        "index": examples.MESSAGE_INDEX,
        "time": examples.SENT_AT,
        "action": "message.sent",
        "delegation": "SY",
        "audience": "joint",
        "subject": examples.MESSAGE_SUBJECT,
        "content": _SENT_CONTENT,
    },
    FrameType.LIVE: {"type": "live", "index": examples.MESSAGE_INDEX},
    FrameType.HEARTBEAT: {"type": "heartbeat", "index": examples.MESSAGE_INDEX},
    FrameType.ERROR: {"type": "error", "status": 401, "detail": "this token was revoked: log in again"},
}

_WHEN = {
    FrameType.HELLO: "First, once the stream starts. `after`: where the replay starts (yours, or the newest index "
    "if you left it out); `username`: whose stream this is.",
    FrameType.EVENT: "One ledger entry you may read, replayed in ledger order, then live as each commits. `index`, "
    "`time` (UTC), `action` (`message.sent`, `message.delivered`, `message.acknowledged`, `message.read_back`, "
    "`message.readback_negative`, `message.readback_confirmed`, `message.renotified`, `message.escalated`, "
    "`intel.released`, …), `delegation` (the actor's; null for the system), `audience`, `subject` "
    "(`message:<id>`, …) and `content`, the committed content as `GET /api/v1/ledger/entries/{index}/content` "
    "reveals it.",
    FrameType.LIVE: "Once, when everything committed before you connected has been sent. `index`: the last index "
    "the replay covered; events from here on are live.",
    FrameType.HEARTBEAT: "After `FUSIONCELL_STREAM_HEARTBEAT_SECONDS` (15 s by default) without a frame, also while "
    "only traffic you may not read flows. `index`: the position you have reached.",
    FrameType.ERROR: f"Last, just before the server closes the stream (or alone, instead of `hello`, when it "
    f"cannot start): `status` 401 (close code {CLOSE_UNAUTHORIZED}) or 400 (close code {CLOSE_BAD_REQUEST}), and "
    "`detail`, what went wrong.",
}


def _frame(frame_type: FrameType) -> str:
    return json.dumps(FRAME_EXAMPLES[frame_type], ensure_ascii=False, indent=1)


def stream_description() -> str:
    """The stream's section of the API documentation (Markdown)."""
    frames = "\n".join(
        f"- **`{frame_type.value}`**: {_WHEN[frame_type]}\n\n  ```json\n"
        + "\n".join("  " + line for line in _frame(frame_type).splitlines())
        + "\n  ```"
        for frame_type in FrameType
    )
    return f"""## The stream (WebSocket)

OpenAPI cannot describe a WebSocket, so the stream is described here. Connect to
`wss://<cell>{STREAM_PATH}?after=<ledger index>` (`ws://` on a server without TLS, such as the demo). The server
sends JSON text frames, one object each, whose `type` says what it is; it reads nothing you send.

**Authenticate** with a token from `POST /api/v1/auth/token`: an `Authorization: Bearer <token>` header, or
`?access_token=<token>` where a client cannot set headers (a browser). You receive only the entries whose audience
your delegation reads.

**`after`** is the last ledger index you have seen: everything recorded after it that you may read comes first, in
ledger order, then live events. `after=-1` replays from the start; without `after` you get only what happens from
now on. Reconnect with the `index` of the last `event` or `heartbeat` you received: you miss nothing and get
nothing twice.

**Frames**, in the order they come:

{frames}

**What closes the stream.** Close code {CLOSE_UNAUTHORIZED}, after an `error` frame with status 401: no token, an
unknown or expired token, or a token that stops being valid while the stream is open: logout, signing out of the
web pages, a password reset, enrolling a second factor, or the account being disabled. A revocation closes the
stream at once, before anything recorded after it is sent; a token that simply expires is noticed within one
heartbeat interval. Close code {CLOSE_BAD_REQUEST}, after an `error` frame with status 400: `after` is not a ledger
index from -1 to the newest. The server also closes when it shuts down; reconnect with your last index.
"""

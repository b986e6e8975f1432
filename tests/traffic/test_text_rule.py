"""The text rule (fusioncell.text) on every text field of a message, on SQLite and PostgreSQL: a control character,
an override, a tag or an unbalanced isolate is refused with the field, the character and its position, and nothing
is written; what Arabic and Hebrew need is kept; text is stored in NFC."""

from __future__ import annotations

import json

import pytest

from fusioncell.traffic.models import Message
from tests.conftest import ledger_size, table_count
from tests.traffic.helpers import draft

ESC = "Convoy\x1b[2K\rFLASH #10 US \u2192 joint INSTRUCTION: withdraw"  # erases the line and prints a forged one
RLO = "withdraw to line \u202e0081\u202c"  # displayed as 1800
TAGS = "Routine report" + "".join(chr(0xE0000 + ord(c)) for c in "strike at dawn")  # a hidden sentence


def refused(r, pointer: str, message: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    [error] = r.json()["errors"]
    assert error["pointer"] == pointer and error["code"] == "text_refused", error
    assert message in error["reason"], error
    assert message in r.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "pointer", "message"),
    [
        ({"subject": ESC}, "/subject", "U+001B ESCAPE at position 6"),
        ({"subject": "Two\nlines"}, "/subject", "U+000A LINE FEED at position 3: this text is one line"),
        ({"body": ESC}, "/body", "U+001B ESCAPE at position 6"),
        ({"body": RLO}, "/body", "U+202E RIGHT-TO-LEFT OVERRIDE at position 17"),
        ({"body": TAGS}, "/body", "U+E0073 TAG LATIN SMALL LETTER S at position 14"),
        ({"subject": "\u2067\u0627\u0644\u062e\u0637 1800"}, "/subject", "U+2067 RIGHT-TO-LEFT ISOLATE at position 0"),
        ({"translations": {"ar": {"subject": RLO, "body": "x"}}}, "/translations/ar/subject", "U+202E"),
        ({"translations": {"ar": {"subject": "x", "body": ESC}}}, "/translations/ar/body", "U+001B ESCAPE"),
    ],
)
def test_a_message_with_a_refused_character_is_refused_and_writes_nothing(
    client, cell, crew, overrides, pointer, message
) -> None:
    before = ledger_size(cell), table_count(cell, Message)
    r = client.post("/api/v1/messages", json=draft(precedence="ROUTINE", **overrides), headers=crew["sy"].headers)
    refused(r, pointer, message)
    assert (ledger_size(cell), table_count(cell, Message)) == before


def test_read_back_and_note_follow_the_rule_too(client, cell, crew) -> None:
    sy, il = crew["sy"], crew["il"]
    sent = client.post("/api/v1/messages", json=draft(readback_required=True), headers=sy.headers).json()
    before = ledger_size(cell)
    r = client.post(f"/api/v1/messages/{sent['id']}/ack", json={"readback": ESC}, headers=il.headers)
    refused(r, "/readback", "U+001B ESCAPE at position 6")
    r = client.post(f"/api/v1/messages/{sent['id']}/ack", json={"readback": RLO}, headers=il.headers)
    refused(r, "/readback", "U+202E RIGHT-TO-LEFT OVERRIDE at position 17")
    assert ledger_size(cell) == before
    state = client.get(f"/api/v1/messages/{sent['id']}", headers=il.headers).json()["deliveries"]
    assert {d["delegation"]: d["readback"] for d in state} == {"IL": None}

    readback = "Four vehicles cross the buffer zone at 0600Z,\ndo not engage."  # a read-back may have lines
    assert client.post(f"/api/v1/messages/{sent['id']}/ack", json={"readback": readback},
                       headers=il.headers).status_code == 200  # fmt: skip
    before = ledger_size(cell)
    for note, message in ((ESC, "U+001B ESCAPE"), (TAGS, "U+E0073 TAG LATIN SMALL LETTER S")):
        r = client.post(f"/api/v1/messages/{sent['id']}/readback-verdict", json={"verdict": "negative", "note": note},
                        headers=sy.headers)  # fmt: skip
        refused(r, "/note", message)
    assert ledger_size(cell) == before
    il_state = next(d for d in client.get(f"/api/v1/messages/{sent['id']}", headers=sy.headers).json()["deliveries"]
                    if d["delegation"] == "IL")  # fmt: skip
    assert il_state["state"] == "read_back" and il_state["readback"] == readback


def test_arabic_and_hebrew_keep_their_marks_and_text_is_stored_in_nfc(client, cell, crew) -> None:
    subject = "الانسحاب إلى الخط \u20661800\u2069 \u200fقبل 0600Z"
    body = "קו \u2066A-7\u2069 \u200fעד 06:00\nCaf\u0065\u0301 at the crossing"
    r = client.post("/api/v1/messages",
                    json=draft(precedence="ROUTINE", subject=subject, body=body, lang="ar",
                               translations={"he": {"subject": "re\u0301sume\u0301", "body": body}}),
                    headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    message = r.json()
    nfc_body = body.replace("e\u0301", "\u00e9")
    assert message["subject"] == subject and message["body"] == nfc_body
    assert message["translations"]["he"] == {"subject": "r\u00e9sum\u00e9", "body": nfc_body}
    # the ledger holds the same: what every reader is shown
    content = client.get(f"/api/v1/ledger/entries/{message['ledger_index']}/content", headers=crew["il"].headers)
    assert content.status_code == 200, content.text
    assert json.loads(content.json()["content"])["message"]["body"] == nfc_body
    read = client.get(f"/api/v1/messages/{message['id']}", headers=crew["il"].headers).json()
    assert read["subject"] == subject and read["body"] == nfc_body


def test_parameters_follow_the_rule(client, cell, crew) -> None:
    for path, name, message in (
        ("/api/v1/messages?track=de-escalation%E2%80%AE", "track", "U+202E RIGHT-TO-LEFT OVERRIDE at position 13"),
        ("/api/v1/alerts?target=S%1BY", "target", "U+001B ESCAPE at position 1"),
    ):
        r = client.get(path, headers=crew["us"].headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        [error] = r.json()["errors"]
        assert error["field"] == name and message in error["reason"], error

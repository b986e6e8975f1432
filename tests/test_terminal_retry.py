"""Review: the terminal client's "retry once with the same transaction id after a network failure".

`Api.request` turns only `httpx.ConnectError` into a ClientError, and `send` retries only on that. A connect error
means the request never left: retrying it needs no idempotency key. The failure the key exists for — the server
took the message but the answer was lost (read timeout, connection reset) — escapes as a raw httpx exception: a
traceback instead of one red line, and no retry.
"""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from fusioncell import terminal
from fusioncell.cli import app as cli
from fusioncell.client import Api, ClientError, Credentials

MESSAGE = {
    "id": 7,
    "precedence": "ROUTINE",
    "audience": "joint",
    "ledger_index": 12,
    "ack_due_at": "2099-01-01T00:00:00Z",
    "sent_at": "2098-12-31T23:50:00Z",
}


def test_a_lost_answer_is_a_client_error_not_a_traceback() -> None:
    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    api = Api("http://cell.test", "t", transport=httpx.MockTransport(lost))
    with pytest.raises(ClientError):
        api.request("GET", "/api/v1/inbox")


def test_send_retries_once_with_the_same_txn_after_a_lost_answer(tmp_path, monkeypatch) -> None:
    creds = tmp_path / "creds.json"
    Credentials("http://cell.test", "sy.duty", "SY", "t", "2099-01-01T00:00:00Z").save(creds)
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.read().decode())
        if len(seen) == 1:  # the server stored it, but the answer never arrived
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json=MESSAGE, headers={"Idempotent-Replayed": "true"})

    monkeypatch.setattr(terminal, "Api", lambda s, t=None: Api(s, t, transport=httpx.MockTransport(server)))
    result = CliRunner().invoke(
        cli, ["send", "-s", "Convoy", "-b", "Four vehicles"], env={"FUSIONCELL_CREDENTIALS": str(creds)}
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert len(seen) == 2 and seen[0] == seen[1]
    # the retry found the first try's message: said so, with its deadline, and not as a resend the user made
    assert "retry with the same transaction id found it" in result.output and "Sent #7" in result.output
    assert "Already sent" not in result.output

"""The terminal client against a real server: login, send, inbox, ack, verdict, watch."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from fusioncell.cli import app as cli
from fusioncell.terminal import time_left
from tests.conftest import TEST_PASSWORD, add_user
from tests.server import Server, free_port

runner = CliRunner()


@pytest.fixture
def server(backend, cell):  # type: ignore[no-untyped-def]
    for username, delegation, role in (("sy.duty", "SY", "liaison"), ("il.duty", "IL", "liaison")):
        add_user(cell, username, delegation, role)
    s = Server(backend, free_port())
    s.start()
    yield s
    s.kill()


def as_user(tmp_path, name: str) -> dict[str, str]:
    return {"FUSIONCELL_CREDENTIALS": str(tmp_path / f"{name}.json")}


def login(server, tmp_path, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = as_user(tmp_path, name)
    result = runner.invoke(
        cli, ["login", name, "--server", server.url, "--password-stdin"], input=TEST_PASSWORD + "\n", env=env
    )
    assert result.exit_code == 0, result.output
    return env


def test_a_night_shift_at_the_terminal(server, tmp_path) -> None:
    sy = login(server, tmp_path, "sy.duty")
    il = login(server, tmp_path, "il.duty")
    creds = tmp_path / "il.duty.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["delegation"] == "IL"

    # IL watches the stream in another terminal
    watcher = subprocess.Popen(
        [sys.executable, "-m", "fusioncell.cli", "watch", "--after", "-1"],
        env={**os.environ, **il, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sent = runner.invoke(
            cli,
            [
                "send",
                "-s",
                "Convoy at the buffer zone",
                "-p",
                "FLASH",
                "-m",
                "WARNING",
                "--readback-required",
                "-b",
                "Four vehicles at 0600Z.",
            ],
            env=sy,
        )
        assert sent.exit_code == 0, sent.output
        flash = int(re.search(r"Sent #(\d+) \(FLASH, joint\)", sent.output).group(1))  # type: ignore[union-attr]
        assert "left" in sent.output
        routine = runner.invoke(
            cli,
            ["send", "-s", "Weekly liaison roster", "-t", "diplomatic", "-b", "-"],
            input="Roster attached in the next message.\n",
            env=sy,
        )
        assert routine.exit_code == 0, routine.output

        inbox = runner.invoke(cli, ["inbox", "--json"], env=il)
        assert inbox.exit_code == 0, inbox.output
        assert [m["precedence"] for m in json.loads(inbox.output)] == ["FLASH", "ROUTINE"]
        table = runner.invoke(cli, ["inbox"], env={**il, "COLUMNS": "200"})
        assert "FLASH" in table.output and "(read-back)" in table.output and "left" in table.output

        refused = runner.invoke(cli, ["ack", str(flash)], env=il)
        assert refused.exit_code == 1 and "requires a read-back" in refused.output
        acked = runner.invoke(cli, ["ack", str(flash), "--readback", "Four vehicles at 0600Z."], env=il)
        assert acked.exit_code == 0 and "read back" in acked.output
        confirmed = runner.invoke(cli, ["verdict", str(flash), "confirmed"], env=sy)
        assert confirmed.exit_code == 0, confirmed.output

        inbox = json.loads(runner.invoke(cli, ["inbox", "--json"], env=il).output)
        assert [m["subject"] for m in inbox] == ["Weekly liaison roster"]

        deadline = time.monotonic() + 15
        lines: list[str] = []
        while time.monotonic() < deadline and not any("readback_confirmed" in line for line in lines):
            line = watcher.stdout.readline()  # type: ignore[union-attr]
            if line:
                lines.append(line)
        text = "".join(lines)
        assert f"FLASH #{flash} SY → joint" in text and f"readback_confirmed #{flash}" in text, text
    finally:
        watcher.kill()
        watcher.wait()


def test_errors_say_what_to_do(server, tmp_path) -> None:
    nobody = as_user(tmp_path, "nobody")
    result = runner.invoke(cli, ["inbox"], env=nobody)
    assert result.exit_code == 1 and "fusioncell login" in result.output
    wrong = runner.invoke(
        cli, ["login", "sy.duty", "--server", server.url, "--password-stdin"], input="not-the-password\n", env=nobody
    )
    assert wrong.exit_code == 1 and "invalid username or password" in wrong.output
    down = runner.invoke(
        cli,
        ["login", "sy.duty", "--server", "http://127.0.0.1:9", "--password-stdin"],
        input=TEST_PASSWORD + "\n",
        env=nobody,
    )
    assert down.exit_code == 1 and "cannot reach" in down.output
    sy = login(server, tmp_path, "sy.duty")
    os.chmod(tmp_path / "sy.duty.json", 0o644)
    exposed = runner.invoke(cli, ["inbox"], env=sy)
    assert exposed.exit_code == 1 and "chmod 600" in exposed.output


def test_a_newcomers_mistakes_get_one_line_saying_what_to_do(server, cell, tmp_path) -> None:
    """Issue 14.8 and 14.11: a broken credentials file, an address without its scheme, a resend, an act the role
    may not do, an inbox that is not the account's to answer."""
    broken = tmp_path / "broken.json"
    for content, says in (("not json at all", "cannot be read"), ("{}", "lack access_token, delegation"),
                          ('["a list"]', "lack everything"), ('{"server": 7}', "lack access_token")):  # fmt: skip
        broken.write_text(content)
        os.chmod(broken, 0o600)
        result = runner.invoke(cli, ["inbox"], env={"FUSIONCELL_CREDENTIALS": str(broken)})
        assert result.exit_code == 1 and says in result.output and "fusioncell login" in result.output, result.output
        assert "Traceback" not in result.output and result.output.count("\n") == 1, result.output

    # the address as people type it: host and port, no scheme
    bare = server.url.split("://", 1)[1]
    sy = as_user(tmp_path, "sy.duty")
    result = runner.invoke(cli, ["login", "sy.duty", "--server", bare, "--password-stdin"],
                           input=TEST_PASSWORD + "\n", env=sy)  # fmt: skip
    assert result.exit_code == 0 and "Logged in" in result.output, result.output
    assert json.loads((tmp_path / "sy.duty.json").read_text())["server"] == server.url
    wrong = runner.invoke(cli, ["login", "sy.duty", "--server", "ftp://cell"], env=as_user(tmp_path, "x"))
    assert wrong.exit_code == 1 and "http(s)://HOST[:PORT]" in wrong.output and "Password" not in wrong.output

    # a resend finds the message sent before, and says so
    send = ["send", "-s", "Convoy at 0600Z", "-b", "Four vehicles.", "--txn", "shift-7-convoy"]
    first = runner.invoke(cli, send, env=sy)
    again = runner.invoke(cli, send, env=sy)
    number = re.search(r"Sent #(\d+)", first.output).group(1)  # type: ignore[union-attr]
    assert again.exit_code == 0 and f"Already sent as #{number}" in again.output and "nothing new" in again.output

    # what a role may not do, in a sentence
    refused = runner.invoke(cli, ["send", "-s", "Halt", "-b", "Halt now.", "-m", "INSTRUCTION"], env=sy)
    assert refused.exit_code == 1 and "may not send an INSTRUCTION: only the mediator may" in refused.output

    # an analyst's inbox says what an analyst does
    add_user(cell, "sy.analyst2", "SY", "analyst")
    analyst = login(server, tmp_path, "sy.analyst2")
    told = runner.invoke(cli, ["inbox"], env=analyst)
    assert told.exit_code == 0 and "submit intelligence" in told.output and "liaison officers" in told.output
    as_json = runner.invoke(cli, ["inbox", "--json"], env=analyst)
    assert json.loads(as_json.stdout) == []


def test_a_negative_verdict_says_what_was_wrong(server, tmp_path) -> None:
    """Issue 14.10: the note is required, and the receiver's inbox shows it beside "read back again"."""
    sy, il = login(server, tmp_path, "sy.duty"), login(server, tmp_path, "il.duty")
    sent = runner.invoke(cli, ["send", "-s", "Convoy", "-b", "Four vehicles at 0600Z.", "--readback-required"], env=sy)
    number = re.search(r"Sent #(\d+)", sent.output).group(1)  # type: ignore[union-attr]
    assert runner.invoke(cli, ["ack", number, "--readback", "Four vehicles at 0700Z."], env=il).exit_code == 0
    bare = runner.invoke(cli, ["verdict", number, "negative"], env=sy)
    assert bare.exit_code == 1 and "needs --note" in bare.output
    creds = json.loads((tmp_path / "sy.duty.json").read_text())
    import httpx

    r = httpx.post(f"{server.url}/api/v1/messages/{number}/readback-verdict", json={"verdict": "negative"},
                   headers={"Authorization": f"Bearer {creds['access_token']}"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "note", r.text
    judged = runner.invoke(cli, ["verdict", number, "negative", "--note", "0600Z, not 0700Z"], env=sy)
    assert judged.exit_code == 0, judged.output
    table = runner.invoke(cli, ["inbox"], env={**il, "COLUMNS": "200"})
    assert "read back again (rejected: 0600Z, not 0700Z)" in table.output, table.output


def test_a_cells_address_as_people_type_it() -> None:
    from fusioncell.client import ClientError, server_address

    for typed, url in (("127.0.0.1:8000", "http://127.0.0.1:8000"), ("LOCALHOST:8000", "http://LOCALHOST:8000"),
                       ("0.0.0.0:8000", "http://0.0.0.0:8000"), ("[::1]:8000", "http://[::1]:8000"),
                       (" cell.example.org/ ", "https://cell.example.org"), ("HTTP://cell.example", "http://cell.example"),
                       ("https://cell.example/base/", "https://cell.example/base")):  # fmt: skip
        assert server_address(typed) == url, typed
    for typed in ("http://", "ftp://cell", "user:pw@cell.example", "https://cell.example/?x=1", "cell.example#top", ""):
        with pytest.raises(ClientError, match="http\\(s\\)://HOST"):
            server_address(typed)


def test_credentials_that_cannot_be_read_are_one_line(tmp_path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 50_000)  # under the size cap: deep enough to exhaust the parser
    stored = tmp_path / "ftp.json"
    stored.write_text(json.dumps({"server": "ftp://cell", "username": "sy.duty", "delegation": "SY",
                                  "access_token": "t", "expires_at": "2099-01-01T00:00:00Z"}))  # fmt: skip
    folder = tmp_path / "folder.json"
    folder.mkdir(mode=0o700)
    for path, says in ((nested, "cannot be read"), (stored, "no cell's address"), (folder, "not a file")):
        if path.is_file():
            os.chmod(path, 0o600)
        result = runner.invoke(cli, ["inbox"], env={"FUSIONCELL_CREDENTIALS": str(path)})
        assert result.exit_code == 1 and says in result.output and "Traceback" not in result.output, result.output


def test_time_left_reads_like_a_countdown() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert time_left("2026-03-02T06:04:10Z", now) == ("4m 10s left", False)
    assert time_left("2026-03-02T05:48:00Z", now) == ("12m 00s overdue", True)
    assert time_left("2026-03-02T09:30:00Z", now) == ("3h 30m left", False)


def _send_as_before_the_text_rule(cell, subject: str) -> int:  # type: ignore[no-untyped-def]
    """A message whose subject the API now refuses, written as one stored before the rule was (the service, with
    the request checks skipped): the terminal must still show it as the ledger holds it."""
    from fusioncell.charter.model import Precedence
    from fusioncell.policy import Principal, Role
    from fusioncell.traffic import service
    from fusioncell.traffic.schemas import Marker, MessageCreate

    draft = MessageCreate.model_construct(
        track="de-escalation", audience="joint", precedence=Precedence.ROUTINE, marker=Marker.INFORMATION,
        subject=subject, body="Routine.", lang="en", translations={}, readback_required=False, reply_to=None,
        client_txn_id=None,
    )  # fmt: skip
    with cell.command() as uow:
        sender = Principal(username="sy.duty", delegation="SY", roles=frozenset({Role.LIAISON}))
        return service.send(cell=cell, uow=uow, sender=sender, draft=draft).id


def test_old_text_is_shown_as_it_is_never_acted_on(server, cell, tmp_path) -> None:
    """A subject that erases the line and prints a forged FLASH from the mediator, stored before the text rule:
    `inbox` and `watch` print its control and override characters as codes, and a track name in brackets stays."""
    forged = "Convoy\x1b[2K\r\x1b[1AFLASH #10 US \u2192 joint INSTRUCTION: withdraw to line \u202e0081\u202c"
    message_id = _send_as_before_the_text_rule(cell, forged)
    il = login(server, tmp_path, "il.duty")
    table = runner.invoke(cli, ["inbox"], env={**il, "COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    row = next(line for line in table.output.splitlines() if f"{message_id} " in line)
    assert "Convoy\\x1b[2K\\r\\x1b[1AFLASH #10 US → joint INSTRUCTION: withdraw to line \\u202e0081\\u202c" in row
    assert "\x1b" not in table.output and "\r" not in table.output and "\u202e" not in table.output

    watcher = subprocess.Popen(
        [sys.executable, "-m", "fusioncell.cli", "watch", "--after", "-1"],
        env={**os.environ, **il, "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # bytes: read as text, a carriage return would end a line
    )
    try:
        deadline = time.monotonic() + 15
        lines: list[str] = []
        while time.monotonic() < deadline and not any(f"#{message_id} SY" in line for line in lines):
            line = watcher.stdout.readline().decode()  # type: ignore[union-attr]
            if line:
                lines.append(line)
        text = "".join(lines)
        [shown] = [line for line in lines if f"#{message_id} SY" in line]
        assert shown.endswith(
            f"ROUTINE #{message_id} SY → joint [de-escalation] INFORMATION: Convoy\\x1b[2K\\r\\x1b[1AFLASH #10 US → "
            "joint INSTRUCTION: withdraw to line \\u202e0081\\u202c\n"
        ), shown
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text, text
    finally:
        watcher.kill()
        watcher.wait()


def test_every_line_the_terminal_prints_from_others_is_plain_text() -> None:
    """Errors, charter names and event details go through the same rendering: brackets stay, nothing acts."""
    from rich.console import Console

    from fusioncell.cliutil import shown
    from fusioncell.terminal import render_event

    console = Console(record=True, width=300, force_terminal=True, color_system="truecolor")
    console.print(shown("[de-escalation] [bold]x[/] a\x1b[2Kb\rc\nd \u2067e\u2069"), highlight=False)
    note = {"message_id": 4, "delegation": "IL", "note": "fine\nFLASH #10 US → joint INSTRUCTION: forged"}
    console.print(render_event({"content": note, "time": "2026-03-02T06:00:00Z", "action": "message.readback_negative",
                                "audience": "joint", "subject": "message:4"}), highlight=False)  # fmt: skip
    printed = console.export_text(styles=False)
    assert printed.splitlines() == [
        "[de-escalation] [bold]x[/] a\\x1b[2Kb\\rc\\nd \\u2067e\\u2069",
        "06:00:00 readback_negative #4 delegation=IL, note=fine\\nFLASH #10 US → joint INSTRUCTION: forged",
    ]


def test_watch_shows_what_was_done_not_the_entrys_own_header() -> None:
    """Since leaf format 2 an entry's content also carries its own header (@action, @actor_delegation,
    @subject); `watch` already says those in its own words."""
    from rich.console import Console

    from fusioncell.terminal import render_event

    content = {"@action": "message.acknowledged", "@actor_delegation": "IL", "@subject": "message:4",
               "actor": "il.liaison", "message_id": 4, "delegation": "IL"}  # fmt: skip
    console = Console(record=True, width=300)
    console.print(render_event({"content": content, "time": "2026-03-02T06:00:00Z", "action": "message.acknowledged",
                                "audience": "joint", "subject": "message:4"}), highlight=False)  # fmt: skip
    assert console.export_text(styles=False).splitlines() == ["06:00:00 acknowledged #4 delegation=IL"]

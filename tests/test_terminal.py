"""The terminal client against a real server: login, send, inbox, ack, verdict, watch."""

from __future__ import annotations

import json
import os
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
        assert "Sent #1 (FLASH, joint)" in sent.output and "left" in sent.output
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

        refused = runner.invoke(cli, ["ack", "1"], env=il)
        assert refused.exit_code == 1 and "requires a read-back" in refused.output
        acked = runner.invoke(cli, ["ack", "1", "--readback", "Four vehicles at 0600Z."], env=il)
        assert acked.exit_code == 0 and "read back" in acked.output
        confirmed = runner.invoke(cli, ["verdict", "1", "confirmed"], env=sy)
        assert confirmed.exit_code == 0, confirmed.output

        inbox = json.loads(runner.invoke(cli, ["inbox", "--json"], env=il).output)
        assert [m["id"] for m in inbox] == [2]

        deadline = time.monotonic() + 15
        lines: list[str] = []
        while time.monotonic() < deadline and not any("readback_confirmed" in line for line in lines):
            line = watcher.stdout.readline()  # type: ignore[union-attr]
            if line:
                lines.append(line)
        text = "".join(lines)
        assert "FLASH #1 SY → joint" in text and "readback_confirmed #1" in text, text
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


def test_time_left_reads_like_a_countdown() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert time_left("2026-03-02T06:04:10Z", now) == ("4m 10s left", False)
    assert time_left("2026-03-02T05:48:00Z", now) == ("12m 00s overdue", True)
    assert time_left("2026-03-02T09:30:00Z", now) == ("3h 30m left", False)

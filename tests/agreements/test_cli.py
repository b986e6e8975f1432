"""A signatory at the terminal, against a real server: a key made on their own machine (the private half never sent),
registered, approved by the mediator, and the agreement fetched, shown, checked and signed offline; wrong input is
refused with what to do next."""

from __future__ import annotations

import json
import stat

import httpx
from typer.testing import CliRunner

from fusioncell.cli import app as cli
from tests.agreements.helpers import draft
from tests.conftest import TEST_PASSWORD, add_user
from tests.server import Server, free_port
from tests.test_terminal import as_user

runner = CliRunner()


def test_make_register_and_sign_at_the_terminal(backend, cell, crew, tmp_path) -> None:
    for username, delegation in (("sy.signatory", "SY"), ("il.signatory", "IL")):
        add_user(cell, username, delegation, "signatory")
    server = Server(backend, free_port())
    server.start()
    try:
        token = httpx.post(
            f"{server.url}/api/v1/auth/token", json={"username": "us.mediator", "password": TEST_PASSWORD}
        )
        us = {"Authorization": f"Bearer {token.json()['access_token']}"}
        r = httpx.post(f"{server.url}/api/v1/agreements", json=draft(), headers=us)
        assert r.status_code == 201, r.text
        agreement = r.json()["id"]
        for name in ("sy.signatory", "il.signatory"):
            env = as_user(tmp_path, name)
            out = runner.invoke(cli, ["login", name, "--server", server.url, "--password-stdin"],
                                input=TEST_PASSWORD + "\n", env=env)  # fmt: skip
            assert out.exit_code == 0, out.output
            key = tmp_path / f"{name}.key"
            made = runner.invoke(cli, ["keys", "new", "--signatory", "--out", str(key)], env=env)
            assert made.exit_code == 0, made.output
            assert stat.S_IMODE(key.stat().st_mode) == 0o600 and "keys register" in made.output
            assert key.read_text().startswith(f"PRIVATE+KEY+{name}+")
            again = runner.invoke(cli, ["keys", "new", "--signatory", "--out", str(key)], env=env)
            assert again.exit_code == 2 and "never overwritten" in again.output  # a key is never replaced
            # signing before the key is registered, then before it is approved: refused, with the reason
            early = runner.invoke(cli, ["sign", "--agreement", str(agreement), "--version", "1", "--key", str(key),
                                        "--yes"], env=env)  # fmt: skip
            assert early.exit_code == 1 and "not registered" in early.output, early.output
            registered = runner.invoke(cli, ["keys", "register", "--key", str(key)], env=env)
            assert registered.exit_code == 0 and "awaits the mediator" in registered.output, registered.output
            key_id = registered.output.split("Registered ")[1].split(" ")[0]
            early = runner.invoke(cli, ["sign", "--agreement", str(agreement), "--version", "1", "--key", str(key),
                                        "--yes"], env=env)  # fmt: skip
            assert early.exit_code == 1 and "approval" in early.output, early.output
            assert httpx.post(f"{server.url}/api/v1/keys/{key_id}/approve", headers=us).status_code == 200
            # the signatory reads the text before signing; declining signs nothing
            declined = runner.invoke(cli, ["sign", "--agreement", str(agreement), "--version", "1", "--key", str(key)],
                                     input="n\n", env=env)  # fmt: skip
            assert declined.exit_code == 1 and "Nothing signed" in declined.output
            assert "Phased withdrawal timeline" in declined.output and "Israel withdraws" in declined.output
            signed = runner.invoke(cli, ["sign", "--agreement", str(agreement), "--version", "1", "--key", str(key)],
                                   input="y\n", env=env)  # fmt: skip
            assert signed.exit_code == 0, signed.output
            assert ("now binds" in signed.output) == (name == "il.signatory"), signed.output
        state = httpx.get(f"{server.url}/api/v1/agreements/{agreement}", headers=us).json()
        assert state["binds"] is True and state["in_force"] == 1
        # the cell holds each key's public half, never its private one
        held = httpx.get(f"{server.url}/api/v1/keys", headers=us).text
        for name in ("sy.signatory", "il.signatory"):
            seed = (tmp_path / f"{name}.key").read_text().strip().split("+", 4)[4]  # base64 may hold a '+' itself
            assert seed not in held and json.loads(held)["items"]

        # wrong input at the terminal: a missing key file, another's key, a version that does not exist
        env = as_user(tmp_path, "sy.signatory")
        missing = runner.invoke(cli, ["sign", "--agreement", str(agreement), "--version", "1", "--key",
                                      str(tmp_path / "nowhere.key"), "--yes"], env=env)  # fmt: skip
        assert missing.exit_code == 1 and "cannot read the key file" in missing.output
        other = runner.invoke(cli, ["keys", "register", "--key", str(tmp_path / "il.signatory.key")], env=env)
        assert other.exit_code == 1 and "register your own" in other.output
        absent = runner.invoke(cli, ["sign", "--agreement", str(agreement), "--version", "9", "--key",
                                     str(tmp_path / "sy.signatory.key"), "--yes"], env=env)  # fmt: skip
        assert absent.exit_code == 1 and "no version 9" in absent.output
    finally:
        server.kill()

"""Who is asking (fusioncell.proxies): the rule as pure functions, the middleware, and the setting refused at start."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fusioncell.cli import app as cli
from fusioncell.proxies import ForwardedHeaders, client_address, parse_trusted
from fusioncell.settings import Settings

TRUSTED = parse_trusted("10.0.0.5, 10.1.0.0/16 fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy: the header is the client's own words
        ("10.0.0.5", [], "10.0.0.5"),  # a proxy asking for itself
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["192.0.2.1, 198.51.100.1"], "198.51.100.1"),  # the right-most hop, not what the client wrote
        ("10.0.0.5", ["192.0.2.1", "198.51.100.1"], "198.51.100.1"),  # several header lines are one list
        ("10.0.0.5", ["192.0.2.1, 198.51.100.1, 10.1.4.4"], "198.51.100.1"),  # through two trusted proxies
        ("10.0.0.5", ["10.1.0.9, 10.1.4.4"], "10.1.0.9"),  # every hop trusted: the left-most
        ("10.0.0.5", ["192.0.2.1, unknown, 10.1.4.4"], "10.1.4.4"),  # a hop that is no address ends the walk
        ("10.0.0.5", [" , ,198.51.100.1 "], "198.51.100.1"),
        ("10.0.0.5", ["198.51.100.1:5123"], "198.51.100.1"),
        ("10.0.0.5", ["[2001:DB8::0:1]:443"], "2001:db8::1"),
        ("10.0.0.5", ["fe80::1%eth0"], "fe80::1"),
        ("10.0.0.5", ["::ffff:198.51.100.1"], "198.51.100.1"),
        ("::ffff:10.0.0.5", ["198.51.100.1"], "198.51.100.1"),  # a dual-stack socket's spelling of the proxy
        ("fd00::7", ["198.51.100.1"], "198.51.100.1"),
        ("testclient", ["198.51.100.1"], "testclient"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(peer, forwarded_for, client) -> None:
    assert client_address(peer, forwarded_for, TRUSTED) == client


def test_with_no_trusted_proxy_no_header_is_read() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"
    assert Settings().trusted_proxies == ()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address or CIDR network"),
        ("10.0.0.5, proxy.internal", "'proxy.internal' is not an IP address or CIDR network"),
        ("10.0.0.1/24", "host bits are set, the network is 10.0.0.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0 is far too wide"),
        ("::/0", "::/0 is far too wide"),
        ("::ffff:0:0/96", "is far too wide"),
    ],
)
def test_a_bad_proxy_setting_is_refused_with_the_entry(value, reason) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_trusted(value)


def test_a_bad_proxy_setting_stops_the_server_from_starting(tmp_path) -> None:
    result = CliRunner().invoke(
        cli,
        ["serve", "--data", str(tmp_path / "never-made")],
        env={"FUSIONCELL_TRUSTED_PROXIES": "10.0.0.5, 10.0.0.0/33"},
    )
    assert result.exit_code == 2
    assert "bad setting FUSIONCELL_TRUSTED_PROXIES: '10.0.0.0/33' is not an IP address or CIDR network" in (
        " ".join(result.output.split())
    )
    assert not (tmp_path / "never-made").exists()


def test_the_middleware_sets_client_and_scheme_from_a_trusted_proxy_only() -> None:
    app = FastAPI()

    @app.get("/who")
    def who(request: Request) -> dict[str, str | None]:
        return {"client": request.client.host if request.client else None, "scheme": request.url.scheme}

    wrapped = ForwardedHeaders(app, TRUSTED)
    forwarded = {"X-Forwarded-For": "192.0.2.1, 198.51.100.1", "X-Forwarded-Proto": "https"}
    with TestClient(wrapped, client=("10.0.0.5", 4000)) as proxy:
        assert proxy.get("/who", headers=forwarded).json() == {"client": "198.51.100.1", "scheme": "https"}
        assert proxy.get("/who", headers={"X-Forwarded-Proto": "gopher"}).json() == {
            "client": "10.0.0.5",
            "scheme": "http",
        }
    with TestClient(wrapped, client=("203.0.113.9", 4000)) as direct:
        assert direct.get("/who", headers=forwarded).json() == {"client": "203.0.113.9", "scheme": "http"}
    with TestClient(wrapped, client=("::ffff:203.0.113.9", 4000)) as mapped:
        assert mapped.get("/who").json()["client"] == "203.0.113.9"

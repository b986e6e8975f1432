"""Who is asking: the client's address, behind reverse proxies the operator names and no others.

The rule. A request's client is the address of the TCP peer. Only when that peer is one of the trusted proxies
(FUSIONCELL_TRUSTED_PROXIES: addresses and CIDR networks; default none) is `X-Forwarded-For` read, from the right:
each proxy appends the address it was connected from, so the right-most hop that is not itself a trusted proxy is
the client, and everything to its left is whatever that client chose to send. A hop that is not an IP address
(garbled, `unknown`) ends the walk: the client is then the trusted proxy that passed it on. With every hop trusted,
the client is the left-most. `X-Forwarded-Proto` (one value, http or https) is taken from a trusted proxy too.

Nothing else may set these: `fusioncell serve` turns uvicorn's own proxy-header handling off, which would otherwise
trust `X-Forwarded-For` from any local process. Addresses come out normalised (`::ffff:10.0.0.1` is `10.0.0.1`,
IPv6 compressed, no zone, no port), so a client cannot vary its spelling, and fit in 45 characters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")  # IPv4 written as IPv6
_MAX_HOPS = 32  # a longer chain of trusted proxies is not a deployment: the walk stops at the proxy it reached


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it (`10.0.0.1`, `10.0.0.1:5000`, `2001:db8::1`, `[2001:db8::1]:443`,
    `fe80::1%eth0`), normalised; None if it is not one."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not (text[end + 1 :] == "" or text[end + 1 :].startswith(":")):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    text = text.partition("%")[0]  # an IPv6 zone names the proxy's interface, not the client
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_trusted(value: str | Iterable[str] | None) -> tuple[IPNetwork, ...]:
    """The trusted proxies from a setting: addresses and CIDR networks, separated by commas or spaces. Raises
    ValueError naming the first entry that is not one, or one that would trust everybody."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    networks: list[IPNetwork] = []
    for item in items:
        text = str(item).strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            hint = ""
            if "has host bits set" in str(exc):
                hint = f": host bits are set, the network is {ipaddress.ip_network(text, strict=False)}"
            raise ValueError(
                f"{text!r} is not an IP address or CIDR network{hint} "
                "(write addresses and networks separated by commas, e.g. 10.0.0.5, 10.1.0.0/16, fd00::/8)"
            ) from None
        if network.version == 6 and network.network_address.ipv4_mapped is not None and network.prefixlen > 96:
            # clients are matched as IPv4 (parse_address unmaps them), so their proxies are too
            network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
        if network.prefixlen == 0 or (network.version == 6 and network.supernet_of(_MAPPED)):
            raise ValueError(
                f"{text} is far too wide: anyone could then choose the address they sign in from; "
                "name the proxies themselves"
            )
        networks.append(network)
    return tuple(networks)


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str | None:
    """The client of a request whose TCP peer is `peer` and whose `X-Forwarded-For` lines are `forwarded_for`, by
    the rule above. A peer that is not an IP address (a test transport, a Unix socket) is returned as it is."""
    if peer is None:
        return None
    nearest = parse_address(peer)
    if nearest is None:
        return peer
    if not trusted or not _trusted(nearest, trusted):
        return str(nearest)
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops[-_MAX_HOPS:]):
        address = parse_address(hop)
        if address is None:
            break
        if not _trusted(address, trusted):
            return str(address)
        nearest = address
    return str(nearest)


class ForwardedHeaders:
    """ASGI middleware: sets the request's client (and scheme) by the rule above, before anything reads them."""

    def __init__(self, app: Any, trusted: Sequence[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            host, port = scope["client"]
            peer = parse_address(host)
            if peer is not None and self.trusted and _trusted(peer, self.trusted):
                forwarded_for: list[str] = []
                proto = ""
                for name, value in scope.get("headers", ()):
                    if name == b"x-forwarded-for":
                        forwarded_for.append(value.decode("latin-1"))
                    elif name == b"x-forwarded-proto":
                        proto = value.decode("latin-1").strip().lower()
                client = client_address(host, forwarded_for, self.trusted)
                scope["client"] = (client, port if client == str(peer) else 0)
                if proto in ("http", "https"):
                    scope["scheme"] = proto.replace("http", "ws") if scope["type"] == "websocket" else proto
            elif peer is not None and str(peer) != host:
                scope["client"] = (str(peer), port)  # one spelling per address
        await self.app(scope, receive, send)

"""The terminal client's plumbing: the stored credentials and an HTTP client that speaks problem+json."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from fusioncell.files import write_owner_only


class ClientError(Exception):
    """Something the user can act on: the message says what went wrong and what to do."""


class Unreachable(ClientError):
    """The request never reached the server."""


class AnswerLost(ClientError):
    """The request went out but no answer came back (timeout, reset): it may have been carried out."""


MAX_CREDENTIALS_BYTES = 64 * 1024  # what login writes is well under 1 KiB


def credentials_path() -> Path:
    explicit = os.environ.get("FUSIONCELL_CREDENTIALS")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "fusioncell" / "credentials.json"


def _on_this_machine(host: str) -> bool:
    """localhost, a loopback address (127.0.0.0/8, ::1) or the unspecified one a local server listens on."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def server_address(typed: str) -> str:
    """The cell's address as the user typed it, made a URL: `127.0.0.1:8000` is http://127.0.0.1:8000 (this
    machine), `cell.example.org` is https://cell.example.org. Anything else than http(s)://HOST[:PORT][/PATH] (a
    user name or password in it, a query, a fragment, another scheme) is refused, saying what to type."""
    value = typed.strip()
    scheme, sep, rest = value.partition("://")
    if sep:
        value = f"{scheme.lower()}://{rest}"
    else:
        try:
            host = httpx.URL("http://" + value).host
        except httpx.InvalidURL:
            host = ""
        value = ("http://" if _on_this_machine(host) else "https://") + value
    try:
        parts = httpx.URL(value)
    except httpx.InvalidURL:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.host
        or parts.userinfo
        or parts.query
        or parts.fragment
        or "#" in value
        or "?" in value
    ):
        raise ClientError(
            f"{typed!r} is not a cell's address: give it as http(s)://HOST[:PORT], for example http://127.0.0.1:8000"
        )
    return value.rstrip("/")


@dataclass
class Credentials:
    server: str
    username: str
    delegation: str
    access_token: str
    expires_at: str

    def save(self, path: Path | None = None) -> Path:
        path = path or credentials_path()
        write_owner_only(path, json.dumps(asdict(self)))  # the token never sits readable by others
        return path

    @classmethod
    def load(cls, path: Path | None = None) -> Credentials:
        path = path or credentials_path()
        again = f"log in again to replace it: `fusioncell login --server URL USERNAME` (it is {path})"
        try:
            if not path.exists():
                raise ClientError("not logged in: run `fusioncell login --server URL USERNAME` first")
            if not path.is_file():
                raise ClientError(f"the stored credentials are not a file: {again}")
            info = path.stat()
            if info.st_mode & 0o077:
                raise ClientError(f"{path} is readable by others: run `chmod 600 {path}` (or log in again)")
            if info.st_size > MAX_CREDENTIALS_BYTES:
                raise ClientError(f"the stored credentials are {info.st_size:,} bytes, not what login writes: {again}")
            stored = json.loads(path.read_text(encoding="utf-8"))
        except ClientError:
            raise
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ClientError(f"the stored credentials cannot be read ({exc.__class__.__name__}): {again}") from None
        fields = {name: stored.get(name) for name in cls.__dataclass_fields__} if isinstance(stored, dict) else {}
        missing = sorted(name for name, value in fields.items() if not isinstance(value, str) or not value)
        if not fields or missing:
            raise ClientError(f"the stored credentials lack {', '.join(missing) or 'everything'}: {again}")
        try:
            fields["server"] = server_address(fields["server"])
        except ClientError:
            raise ClientError(f"the stored credentials name no cell's address: {again}") from None
        return cls(**fields)


def problem_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") or body.get("title") or f"HTTP {response.status_code}"
    return f"{detail} (HTTP {response.status_code})"


class Api:
    def __init__(self, server: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=15, transport=transport)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise Unreachable(f"cannot reach {self.http.base_url}: {exc}. Is the server running?") from None
        except httpx.TransportError as exc:
            # the request may or may not have been carried out: resending with the same idempotency key is safe
            raise AnswerLost(
                f"no answer from {self.http.base_url} ({exc.__class__.__name__}): it may have been done"
            ) from None
        if response.status_code == 401:
            raise ClientError(f"{problem_message(response)}: run `fusioncell login` again")
        if response.status_code >= 400:
            raise ClientError(problem_message(response))
        return response

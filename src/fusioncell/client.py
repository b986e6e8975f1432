"""The terminal client's plumbing: the stored credentials and an HTTP client that speaks problem+json."""

from __future__ import annotations

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


def credentials_path() -> Path:
    explicit = os.environ.get("FUSIONCELL_CREDENTIALS")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "fusioncell" / "credentials.json"


_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def server_address(typed: str) -> str:
    """The cell's address as the user typed it, made a URL: `127.0.0.1:8000` is http://127.0.0.1:8000 (this
    machine), `cell.example.org` is https://cell.example.org; anything but http(s) is refused, saying what to type."""
    value = typed.strip().rstrip("/")
    if "://" not in value:
        host = value.split("/", 1)[0].rsplit(":", 1)[0] if not value.startswith("[") else value.split("]")[0] + "]"
        value = ("http://" if host in _LOOPBACK else "https://") + value
    try:
        parts = httpx.URL(value) if value.split("://", 1)[0] in ("http", "https") else None
    except httpx.InvalidURL:
        parts = None
    if parts is None or not parts.host:
        raise ClientError(
            f"{typed!r} is not a cell's address: give it as http(s)://HOST[:PORT], for example http://127.0.0.1:8000"
        )
    return value


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
        if not path.exists():
            raise ClientError("not logged in: run `fusioncell login --server URL USERNAME` first")
        mode = path.stat().st_mode & 0o077
        if mode:
            raise ClientError(f"{path} is readable by others: run `chmod 600 {path}` (or log in again)")
        again = f"log in again to replace it: `fusioncell login --server URL USERNAME` (it is {path})"
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ClientError(f"the stored credentials cannot be read ({exc.__class__.__name__}): {again}") from None
        fields = {name: stored.get(name) for name in cls.__dataclass_fields__} if isinstance(stored, dict) else {}
        missing = sorted(name for name, value in fields.items() if not isinstance(value, str) or not value)
        if not fields or missing:
            raise ClientError(f"the stored credentials lack {', '.join(missing) or 'everything'}: {again}")
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

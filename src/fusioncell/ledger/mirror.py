"""`fusioncell witness mirror`: fetch every entry of the log, recompute the Merkle root, and compare it with the
log's signed checkpoint and with what this witness cosigned; open every content the party may read and check it
against its commitment; keep the leaves, so a later run names any entry rewritten since.

Each finding says exactly what is wrong and where; the run fails on the first one that makes the log
untrustworthy.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fusioncell.ledger import merkle
from fusioncell.ledger.note import NoteError, Verifier, open_checkpoint
from fusioncell.ledger.witness import WitnessState

PAGE = 16_384  # a power of two: each full page is a perfect subtree of the log, hashed as one
DEPTH = 2  # pages asked for ahead: the log always has the next one queued
_INDEX = b'"index":'


class MirrorFailure(Exception):
    """The log is not what it signed: the message says what and where."""


class FetchError(httpx.HTTPError):
    """A page of the log could not be read (a network error or a status other than 200)."""


class PageFetcher:
    """GETs the bulk pages (megabytes each) with the standard library's HTTP client, one keep-alive connection per
    thread: it reads a body in one C call, where httpx's parser spends about a microsecond an entry on the core the
    mirror hashes on. TLS trusts what httpx trusts. Through a proxy, the mirror uses httpx instead (`for_url` says
    which)."""

    def __init__(self, base_url: str, token: str, timeout: float = 60.0) -> None:
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise FetchError(f"not an http(s) URL: {base_url}")
        self.https = url.scheme == "https"
        self.host, self.port = url.hostname, url.port or (443 if self.https else 80)
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}", "User-Agent": "fusioncell-witness-mirror"}
        self._tls = httpx.create_ssl_context() if self.https else None  # the trust httpx gives the checkpoint
        self._local = threading.local()
        self._opened: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    @staticmethod
    def for_url(base_url: str, token: str) -> PageFetcher | None:
        """A fetcher for the log at `base_url`, or None when the environment names a proxy for it (httpx then
        carries the pages, with the proxy's credentials and scheme)."""
        url = urllib.parse.urlsplit(base_url)
        proxies = urllib.request.getproxies()
        proxy = proxies.get(url.scheme) or proxies.get("all")
        if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
            return None
        return PageFetcher(base_url, token)

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        with self._lock:
            self._opened.add(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            self._opened.discard(conn)

    def get(self, path: str, params: dict[str, int]) -> bytes:
        target = f"{self.prefix}{path}?{urllib.parse.urlencode(params)}"
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._local.conn = self._connect()
            try:
                conn.request("GET", target, headers=self.headers)
                response = conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop(conn)
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: once more on a new one
                raise FetchError(f"GET {path} failed: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise FetchError(f"GET {path} failed: {exc}") from None
            if response.status != 200:
                raise FetchError(f"GET {path} answered {response.status} {response.reason}: {body[:300]!r}")
            return body
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


@dataclass
class MirrorReport:
    origin: str
    size: int
    root: bytes
    contents_checked: int
    seconds: float
    cosigned_size: int | None = None
    waited: float = 0.0  # seconds spent waiting for the log (the rest is this side's hashing)

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else float("inf")


def _index_of(line: bytes) -> int:
    at = line.find(_INDEX)
    if at < 0:
        raise ValueError("no index")
    at += len(_INDEX)
    end = line.find(b",", at)
    return int(line[at:end])


class LeafStore:
    """The leaf hashes this mirror saw last time, 32 bytes each, in index order."""

    def __init__(self, directory: Path, origin: str) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"leaves-{hashlib.sha256(origin.encode()).hexdigest()[:32]}.bin"
        self.previous = self.path.read_bytes() if self.path.exists() else b""
        self._tmp = self.path.with_suffix(".tmp")
        self._out = open(self._tmp, "wb")  # noqa: SIM115 - closed by commit() or abandon()

    def seen(self, index: int) -> bytes | None:
        at = index * 32
        return self.previous[at : at + 32] if at + 32 <= len(self.previous) else None

    def add(self, hashes: list[bytes]) -> None:
        self._out.write(b"".join(hashes))

    def commit(self) -> None:
        self._out.close()
        self._tmp.replace(self.path)

    def abandon(self) -> None:
        self._out.close()
        self._tmp.unlink(missing_ok=True)


def mirror(
    *,
    log_url: str,
    token: str,
    log_key: Verifier,
    state: Path,
    contents: bool = True,
    http: httpx.Client | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> MirrorReport:
    """Check the whole log. Raises MirrorFailure with the first finding."""
    started = time.perf_counter()
    client = http or httpx.Client(base_url=log_url.rstrip("/"), timeout=60.0)
    pager: PageFetcher | None = None
    auth = {"Authorization": f"Bearer {token}"}
    try:
        r = client.get("/api/v1/ledger/checkpoint", headers=auth)
        r.raise_for_status()
        try:
            checkpoint, _ = open_checkpoint(r.text, log_key, log_key.name)
        except NoteError as exc:
            raise MirrorFailure(f"the log's checkpoint does not verify with its key: {exc}") from None
        size, origin = checkpoint.size, checkpoint.origin
        cosigned = WitnessState(state).latest(origin)
        if cosigned is not None and cosigned.size > size:
            raise MirrorFailure(
                f"the log's newest checkpoint has {size} entries, but this witness cosigned {cosigned.size}: "
                "the log has rolled back"
            )
        store = LeafStore(state / "mirror", origin)
        report = MirrorReport(origin, size, checkpoint.root, 0, 0.0, cosigned.size if cosigned else None)
        compact = merkle.CompactRange()
        pages = [(a, min(a + PAGE, size)) for a in range(0, size, PAGE)]

        if http is None:
            pager = PageFetcher.for_url(log_url, token)

        def get(path: str, params: dict[str, int]) -> bytes:
            if pager is not None:
                return pager.get(path, params)
            r = client.get(path, params=params, headers=auth)
            r.raise_for_status()
            return r.content

        def fetch(page: tuple[int, int]) -> tuple[bytes, list[dict[str, Any]]]:
            a, b = page
            body = get("/api/v1/ledger/leaves", {"start": a, "end": b})
            items: list[dict[str, Any]] = []
            if contents:
                items = json.loads(get("/api/v1/ledger/contents", {"start": a, "end": b}))["items"]
            return body, items

        # the next pages are fetched while this one is hashed: the server works on one core, the mirror on the other
        with ThreadPoolExecutor(DEPTH) as pool:
            try:
                ahead = [pool.submit(fetch, p) for p in pages[:DEPTH]]
                for n, (start, end) in enumerate(pages):
                    _w = time.perf_counter()
                    body, items = ahead.pop(0).result()
                    report.waited += time.perf_counter() - _w
                    if n + DEPTH < len(pages):
                        ahead.append(pool.submit(fetch, pages[n + DEPTH]))
                    lines = body.split(b"\n")
                    if lines and lines[-1] == b"":
                        lines.pop()
                    hashes = _check_page(lines, start, end, store)
                    cut = cosigned.size - start if cosigned is not None and start < cosigned.size <= end else None
                    if cut is not None:
                        assert cosigned is not None
                        compact.extend(hashes[:cut])
                        if compact.root() != cosigned.root:
                            raise MirrorFailure(
                                f"the first {cosigned.size} entries do not hash to the root this witness cosigned: "
                                "entries were changed after they were witnessed"
                            )
                        compact.extend(hashes[cut:])
                    elif len(hashes) == PAGE and start % PAGE == 0:
                        compact.append_subtree(merkle.subtree_root(hashes), PAGE.bit_length() - 1)
                    else:
                        compact.extend(hashes)
                    store.add(hashes)
                    report.contents_checked += _check_contents(items, lines, start, end)
                    progress(end, size)
                if compact.root() != checkpoint.root:
                    raise MirrorFailure(
                        f"the {size} entries the log serves do not hash to the root of its signed checkpoint: "
                        "an entry was changed, removed or reordered"
                    )
            except BaseException:
                for future in ahead:
                    future.cancel()
                store.abandon()
                raise
        store.commit()
        report.seconds = time.perf_counter() - started
        return report
    finally:
        if pager is not None:
            pager.close()  # after the pool has stopped: no fetch is still using a connection
        if http is None:
            client.close()


def _check_page(lines: list[bytes], start: int, end: int, store: LeafStore) -> list[bytes]:
    """The page's leaf hashes, after checking it holds entries start..end-1 in order and nothing the mirror saw
    before has changed. The common case is checked a page at a time; a page that fails is scanned entry by entry
    to name the place."""
    if len(lines) == end - start and _index_of(lines[0]) == start and _index_of(lines[-1]) == end - 1:
        sha = hashlib.sha256
        hashes = [sha(b"\x00" + line).digest() for line in lines]
        before = store.previous[start * 32 : end * 32]
        if not before or b"".join(hashes[: len(before) // 32]) == before:
            return hashes
    return _locate(lines, start, end, store)


def _locate(lines: list[bytes], start: int, end: int, store: LeafStore) -> list[bytes]:
    """The slow path: every entry checked for its place and against what the mirror saw before."""
    hashes = []
    for position, line in enumerate(lines, start):
        try:
            found = _index_of(line)
        except ValueError:
            raise MirrorFailure(f"entry {position}: the log served a malformed leaf") from None
        if found != position:
            if found > position:
                raise MirrorFailure(f"entry {position} is missing (the log served entry {found} in its place)")
            raise MirrorFailure(f"entry {position} is out of place: the log served entry {found} there")
        h = hashlib.sha256(b"\x00" + line).digest()
        before = store.seen(position)
        if before is not None and before != h:
            raise MirrorFailure(f"entry {position} has changed since this mirror last saw it")
        hashes.append(h)
    if len(lines) < end - start:
        raise MirrorFailure(f"entries {start + len(lines)}–{end - 1} are missing")
    if len(lines) > end - start:
        raise MirrorFailure(f"the log served more entries than asked for at {end}")
    return hashes


_COMMITMENT = b'"commitment":"'


def _check_contents(items: list[dict[str, Any]], lines: list[bytes], start: int, end: int) -> int:
    sha = hashlib.sha256
    for item in items:
        index = item["index"]
        if not start <= index < end:
            raise MirrorFailure(f"the log revealed entry {index} outside the range asked for")
        line = lines[index - start]
        at = line.find(_COMMITMENT) + len(_COMMITMENT)
        committed = line[at : at + 64].decode()
        if sha(bytes.fromhex(item["salt"]) + item["content"].encode("utf-8")).hexdigest() != committed:
            raise MirrorFailure(f"entry {index}: its content does not match its commitment (the content was rewritten)")
    return len(items)

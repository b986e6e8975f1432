"""`fusioncell witness mirror`: fetch every entry of the log, recompute the Merkle root, and compare it with the
log's signed checkpoint and with what this witness cosigned; open every content the party may read and check it
against its commitment; keep the leaves, so a later run names any entry rewritten since.

Each finding says exactly what is wrong and where; the run fails on the first one that makes the log
untrustworthy.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fusioncell.ledger import merkle
from fusioncell.ledger.entries import commitment_of
from fusioncell.ledger.note import NoteError, Verifier, open_checkpoint
from fusioncell.ledger.witness import WitnessState

PAGE = 10_000
_INDEX = b'"index":'


class MirrorFailure(Exception):
    """The log is not what it signed: the message says what and where."""


@dataclass
class MirrorReport:
    origin: str
    size: int
    root: bytes
    contents_checked: int
    seconds: float
    cosigned_size: int | None = None
    notes: list[str] = field(default_factory=list)

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
        try:
            start = 0
            while start < size:
                end = min(start + PAGE, size)
                r = client.get("/api/v1/ledger/leaves", params={"start": start, "end": end}, headers=auth)
                r.raise_for_status()
                lines = r.content.split(b"\n")
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
                else:
                    compact.extend(hashes)
                store.add(hashes)
                if contents:
                    report.contents_checked += _check_contents(client, auth, lines, start, end)
                start = end
                progress(start, size)
            if compact.root() != checkpoint.root:
                raise MirrorFailure(
                    f"the {size} entries the log serves do not hash to the root of its signed checkpoint: "
                    "an entry was changed, removed or reordered"
                )
        except BaseException:
            store.abandon()
            raise
        store.commit()
        report.seconds = time.perf_counter() - started
        return report
    finally:
        if http is None:
            client.close()


def _check_page(lines: list[bytes], start: int, end: int, store: LeafStore) -> list[bytes]:
    if len(lines) != end - start:
        # find the first index that is not where it should be
        for position, line in enumerate(lines, start):
            try:
                found = _index_of(line)
            except ValueError:
                raise MirrorFailure(f"entry {position}: the log served a malformed leaf") from None
            if found != position:
                raise MirrorFailure(f"entry {position} is missing (the log served entry {found} in its place)")
        raise MirrorFailure(f"entries {start + len(lines)}–{end - 1} are missing")
    hashes = []
    sha = hashlib.sha256
    for position, line in enumerate(lines, start):
        try:
            found = _index_of(line)
        except ValueError:
            raise MirrorFailure(f"entry {position}: the log served a malformed leaf") from None
        if found != position:
            raise MirrorFailure(f"entry {position} is out of place: the log served entry {found} there")
        h = sha(b"\x00" + line).digest()
        before = store.seen(position)
        if before is not None and before != h:
            raise MirrorFailure(f"entry {position} has changed since this mirror last saw it")
        hashes.append(h)
    return hashes


def _check_contents(client: httpx.Client, auth: dict[str, str], lines: list[bytes], start: int, end: int) -> int:
    r = client.get("/api/v1/ledger/contents", params={"start": start, "end": end}, headers=auth)
    r.raise_for_status()
    items = r.json()["items"]
    for item in items:
        index = item["index"]
        if not start <= index < end:
            raise MirrorFailure(f"the log revealed entry {index} outside the range asked for")
        header = json.loads(lines[index - start])
        salt = bytes.fromhex(item["salt"])
        if commitment_of(salt, item["content"].encode("utf-8")) != header["commitment"]:
            raise MirrorFailure(f"entry {index}: its content does not match its commitment (the content was rewritten)")
    return len(items)

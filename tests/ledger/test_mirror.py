"""`witness mirror` on SQLite and PostgreSQL: an honest log checks out; every way of rewriting the database
directly (the append-only triggers dropped first, as an attacker with the database would) is caught and named."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from fusioncell.ledger import log
from fusioncell.ledger.mirror import FetchError, MirrorFailure, PageFetcher, mirror
from fusioncell.ledger.models import LedgerEntry
from tests.ledger.test_log import send_some


def run_mirror(client, cell, member, state: Path, **kw):  # type: ignore[no-untyped-def]
    return mirror(
        log_url="http://testserver", token=member.token, log_key=log.log_signer(cell).verifier, state=state,
        http=client, **kw,
    )  # fmt: skip


def tamper(cell, statement: str, **params) -> None:  # type: ignore[no-untyped-def]
    """What a database administrator could do: switch the append-only triggers off, then write."""
    with cell.db.engine.begin() as conn:
        if cell.db.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_entries_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_entries_no_delete"))
        else:
            conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
        assert conn.execute(text(statement), params).rowcount == 1


def a_message_entry(cell, audience: str = "joint") -> int:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return (
            session.execute(
                select(LedgerEntry.index).where(LedgerEntry.action == "message.sent", LedgerEntry.audience == audience)
            )
            .scalars()
            .first()
        )


@pytest.fixture
def logged(client, cell, crew):  # type: ignore[no-untyped-def]
    send_some(client, crew, 12)
    log.sign_checkpoint(cell)
    return cell


def test_an_honest_log_checks_out(client, logged, crew, tmp_path: Path) -> None:
    seen = []
    report = run_mirror(client, logged, crew["sy"], tmp_path, progress=lambda d, t: seen.append((d, t)))
    checkpoint = log.latest(logged)
    assert (report.size, report.root) == (checkpoint.size, checkpoint.root)
    assert report.contents_checked > 0 and seen[-1] == (checkpoint.size, checkpoint.size)
    # IL opens fewer contents than the mediator: only what its audience includes
    il = run_mirror(client, logged, crew["il"], tmp_path / "il").contents_checked
    us = run_mirror(client, logged, crew["us"], tmp_path / "us").contents_checked
    assert 0 < il < us


def test_full_pages_hash_as_subtrees_and_a_cosigned_size_inside_a_page(
    client, logged, crew, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pages of four, a log of dozens of entries takes the full-page path (each page one perfect subtree),
    the partial last page, and a cosigned size that falls inside a page, where the root the witness cosigned is
    checked part-way through the page."""
    from fusioncell.ledger import mirror as mirror_module
    from fusioncell.ledger.note import Checkpoint
    from fusioncell.ledger.witness import WitnessState

    monkeypatch.setattr(mirror_module, "PAGE", 4)
    while log.latest(logged).size % 4 in (0, 3):  # the cut inside a page, and a partial page after it
        send_some(client, crew, 1, tag=f"x{log.latest(logged).size}")
        log.sign_checkpoint(logged)
    signed = log.latest(logged)
    cosigned = Checkpoint(logged.charter.mechanism.log_origin, signed.size, signed.root)

    def witnessed(directory: Path) -> Path:  # a witness state that has cosigned `cosigned` and seen no leaves
        state = WitnessState(directory)
        with state.locked(cosigned.origin) as d:
            state.store(d, cosigned, signed.note)
        return directory

    send_some(client, crew, 9, tag="later")
    log.sign_checkpoint(logged)
    report = run_mirror(client, logged, crew["sy"], witnessed(tmp_path / "a"))
    assert report.cosigned_size == cosigned.size and report.size > cosigned.size + 4
    assert report.root == log.latest(logged).root

    k = a_message_entry(logged)
    assert k < cosigned.size
    tamper(logged, """UPDATE ledger_entries SET audience = 'mediated:IL' WHERE "index" = :k""", k=k)
    with pytest.raises(MirrorFailure, match=f"first {cosigned.size} entries do not hash to the root this witness"):
        run_mirror(client, logged, crew["sy"], witnessed(tmp_path / "b"))


def test_a_rewritten_content_is_caught(client, logged, crew, tmp_path: Path) -> None:
    k = a_message_entry(logged)
    tamper(
        logged,
        """UPDATE ledger_entries SET content = replace(content, 'Four vehicles', 'Forty tanks') WHERE "index" = :k""",
        k=k,
    )
    with pytest.raises(MirrorFailure, match=f"entry {k}: its content does not match its commitment"):
        run_mirror(client, logged, crew["sy"], tmp_path)


def test_a_changed_header_is_caught_and_named_on_a_second_run(client, logged, crew, tmp_path: Path) -> None:
    run_mirror(client, logged, crew["sy"], tmp_path)  # the mirror keeps the leaves it saw
    k = a_message_entry(logged)
    tamper(logged, """UPDATE ledger_entries SET audience = 'mediated:IL' WHERE "index" = :k""", k=k)
    with pytest.raises(MirrorFailure, match=f"entry {k} has changed since this mirror last saw it"):
        run_mirror(client, logged, crew["sy"], tmp_path)
    with pytest.raises(MirrorFailure, match="do not hash to the root of its signed checkpoint"):
        run_mirror(client, logged, crew["il"], tmp_path / "fresh")  # a first run still catches it


def test_a_deleted_entry_is_caught(client, logged, crew, tmp_path: Path) -> None:
    k = a_message_entry(logged)
    tamper(logged, 'DELETE FROM ledger_entries WHERE "index" = :k', k=k)
    with pytest.raises(MirrorFailure, match=f"entry {k} is missing"):
        run_mirror(client, logged, crew["sy"], tmp_path)


def test_reordered_entries_are_caught(client, logged, crew, tmp_path: Path) -> None:
    k = a_message_entry(logged)
    tamper(logged, 'UPDATE ledger_entries SET "index" = -1 WHERE "index" = :k', k=k)
    tamper(logged, 'UPDATE ledger_entries SET "index" = :k WHERE "index" = :j', k=k, j=k + 1)
    tamper(logged, 'UPDATE ledger_entries SET "index" = :j WHERE "index" = -1', j=k + 1)
    with pytest.raises(MirrorFailure, match="do not hash to the root"):
        run_mirror(client, logged, crew["sy"], tmp_path)


def test_a_log_that_rolled_back_below_what_was_cosigned(client, logged, crew, tmp_path: Path) -> None:
    from fusioncell.ledger.note import Checkpoint
    from fusioncell.ledger.witness import WitnessState

    state = WitnessState(tmp_path)
    current = log.latest(logged)
    ahead = Checkpoint(logged.charter.mechanism.log_origin, current.size + 5, bytes(32))
    with state.locked(ahead.origin) as d:
        state.store(d, ahead, ahead.text)
    with pytest.raises(MirrorFailure, match="rolled back"):
        run_mirror(client, logged, crew["sy"], tmp_path)


def test_pages_go_through_httpx_when_a_proxy_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert PageFetcher.for_url("http://log.example", "t") is None
    monkeypatch.setenv("NO_PROXY", "log.example")
    assert isinstance(PageFetcher.for_url("http://log.example", "t"), PageFetcher)


def test_the_mirror_command(backend, logged, crew, tmp_path: Path) -> None:
    """`fusioncell witness mirror` against a running server: it checks out, then names the rewritten entry."""
    import subprocess
    import sys

    from tests.conftest import TEST_PASSWORD
    from tests.server import Server, free_port

    server = Server(backend, free_port())
    server.start()
    try:
        login = {"username": crew["sy"].username, "password": TEST_PASSWORD}
        token = httpx.post(server.url + "/api/v1/auth/token", json=login).json()["access_token"]
        args = [sys.executable, "-m", "fusioncell.cli", "witness", "mirror", "--state", str(tmp_path), "--log",
                server.url, "--log-key", str(log.log_signer(logged).verifier), "--token", token]  # fmt: skip
        ok = subprocess.run(args, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
        assert "The log checks out" in " ".join(ok.stdout.split()) and "entries/s" in ok.stderr
        k = a_message_entry(logged)
        tamper(logged, """UPDATE ledger_entries SET audience = 'mediated:IL' WHERE "index" = :k""", k=k)
        bad = subprocess.run(args, capture_output=True, text=True)
        assert bad.returncode == 1
        assert f"entry {k} has changed since this mirror last saw it" in " ".join(bad.stderr.split())

        # the bulk pages come over the standard library's client: its failures are precise too
        pager = PageFetcher(server.url, "not-a-token")
        with pytest.raises(FetchError, match="answered 401"):
            pager.get("/api/v1/ledger/leaves", {"start": 0, "end": 5})
        pager.close()
        good = PageFetcher(server.url + "/", token)
        assert good.get("/api/v1/ledger/leaves", {"start": 0, "end": 3}).count(b"\n") == 3
        good._local.conn.sock.shutdown(socket.SHUT_RDWR)  # as if the idle keep-alive connection had dropped
        assert good.get("/api/v1/ledger/leaves", {"start": 0, "end": 2}).count(b"\n") == 2
        assert len(good._opened) == 1  # the dead connection is not kept
        good.close()
        with pytest.raises(FetchError, match="failed"):
            PageFetcher(f"http://127.0.0.1:{free_port()}", token).get("/api/v1/ledger/leaves", {"start": 0})
        with pytest.raises(FetchError, match="not an http"):
            PageFetcher("ftp://example.org", token)
    finally:
        server.kill()

"""Group commit: commands that arrive together share one transaction, yet each keeps its own entry and fails
alone; the head moves once; events go out after the commit, for what was committed only."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fusioncell.auth import service
from fusioncell.auth.models import User
from fusioncell.db import LedgerEntryMissing
from fusioncell.errors import Conflict
from fusioncell.ledger.entries import verify_commitment
from fusioncell.ledger.models import LedgerEntry
from tests.conftest import CLI_ACTOR, TEST_PASSWORD, ledger_size, table_count


def _add(cell, username: str):  # type: ignore[no-untyped-def]
    return lambda uow: service.add_user(
        cell=cell,
        uow=uow,
        actor=CLI_ACTOR,
        username=username,
        delegation="SY",
        roles=["liaison"],
        password=TEST_PASSWORD,
    )


def _entries(cell) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return list(session.execute(select(LedgerEntry).order_by(LedgerEntry.index)).scalars())


def _hold_the_writer(cell):  # type: ignore[no-untyped-def]
    """Occupy the writer with a command that waits, so that what is submitted next queues up as one group."""
    entered, release = threading.Event(), threading.Event()

    def blocker(uow):  # type: ignore[no-untyped-def]
        entered.set()
        assert release.wait(30)
        return _add(cell, "sy.first")(uow)

    first = cell.group_commit.submit(blocker)
    assert entered.wait(30)
    return first, release


def test_commands_submitted_together_commit_together_with_one_entry_each(cell) -> None:
    before = ledger_size(cell)
    published = []
    cell.bus.subscribe(published.append)
    first, release = _hold_the_writer(cell)
    batches = cell.group_commit.batches
    futures = [cell.group_commit.submit(_add(cell, f"sy.officer{i}")) for i in range(5)]
    release.set()
    first.result(30)
    [f.result(30) for f in futures]

    assert cell.group_commit.batches == batches + 2  # the held one, then the five queued behind it together
    created = _entries(cell)[before:]
    assert [e.action for e in created] == ["account.created"] * 6
    assert [e.index for e in created] == list(range(before, before + 6))
    assert ledger_size(cell) == before + 6
    assert all(verify_commitment(salt_hex=e.salt, content=e.content, commitment=e.commitment) for e in created)
    assert [e.index for e in published] == list(range(before, before + 6))


def test_a_failing_command_rolls_back_alone(cell) -> None:
    before = ledger_size(cell)
    published = []
    cell.bus.subscribe(published.append)
    first, release = _hold_the_writer(cell)

    def changes_without_an_entry(uow):  # type: ignore[no-untyped-def]
        now = cell.clock.now()
        uow.session.add(
            User(
                username="sy.ghost",
                delegation="SY",
                roles=["liaison"],
                password_hash="x",
                created_at=now,
                updated_at=now,
            )
        )

    ok_before = cell.group_commit.submit(_add(cell, "sy.alpha"))
    duplicate = cell.group_commit.submit(_add(cell, "sy.first"))  # the held command creates it first: 409
    no_entry = cell.group_commit.submit(changes_without_an_entry)
    ok_after = cell.group_commit.submit(_add(cell, "sy.omega"))
    release.set()
    first.result(30)
    ok_before.result(30)
    ok_after.result(30)
    with pytest.raises(Conflict):
        duplicate.result(30)
    with pytest.raises(LedgerEntryMissing):
        no_entry.result(30)

    created = _entries(cell)[before:]
    assert len(created) == 3 and ledger_size(cell) == before + 3  # gapless: the failures left no hole
    assert [e.index for e in created] == list(range(before, before + 3))
    with cell.reading() as session:
        usernames = set(session.execute(select(User.username)).scalars())
    assert {"sy.first", "sy.alpha", "sy.omega"} <= usernames and "sy.ghost" not in usernames
    assert [e.index for e in published] == list(range(before, before + 3))


def test_when_the_commit_fails_every_command_in_the_group_fails_and_nothing_is_written(cell, monkeypatch) -> None:
    before, users = ledger_size(cell), table_count(cell, User)
    published = []
    cell.bus.subscribe(published.append)
    first, release = _hold_the_writer(cell)
    futures = [cell.group_commit.submit(_add(cell, f"sy.doomed{i}")) for i in range(3)]
    real_commit = Session.commit

    def failing_commit(self):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(Session, "commit", failing_commit)
    release.set()
    with pytest.raises(OSError):
        first.result(30)
    for future in futures:
        with pytest.raises(OSError):
            future.result(30)
    monkeypatch.setattr(Session, "commit", real_commit)
    assert ledger_size(cell) == before and table_count(cell, User) == users
    assert published == []
    # and the writer goes on afterwards
    cell.group_commit.submit(_add(cell, "sy.after")).result(30)
    assert ledger_size(cell) == before + 1


def test_the_writer_stops_cleanly_and_starts_again(cell) -> None:
    before = ledger_size(cell)
    futures = [cell.group_commit.submit(_add(cell, f"sy.queued{i}")) for i in range(4)]
    cell.close()  # what was queued is finished first
    assert all(f.done() and f.exception() is None for f in futures)
    cell.group_commit.call(_add(cell, "sy.later"))
    assert ledger_size(cell) == before + 5


def test_plain_table_writes_are_held_to_the_same_rule(cell) -> None:
    """The hot path writes with plain INSERT/UPDATE statements; the unit of work still sees what they touch."""
    from sqlalchemy import insert, update

    from fusioncell.scheduler.models import Job

    before, users = ledger_size(cell), table_count(cell, User)
    now = cell.clock.now()
    row = {"username": "sy.plain", "delegation": "SY", "roles": ["liaison"], "password_hash": "x"}
    with pytest.raises(LedgerEntryMissing), cell.command() as uow:
        uow.session.execute(insert(User.__table__), {**row, "created_at": now, "updated_at": now})
    with pytest.raises(LedgerEntryMissing), cell.command() as uow:
        uow.session.execute(update(User.__table__).values(disabled=True))
    assert ledger_size(cell) == before and table_count(cell, User) == users
    # bookkeeping tables (jobs, tokens) need no entry
    job = Job.new(kind="k", key="plain:1", subject="s", due_at=now, payload={}, created_at=now)
    with cell.command() as uow:
        uow.session.execute(insert(Job.__table__), [job])
    assert table_count(cell, Job) == 1 and ledger_size(cell) == before


def test_a_command_refused_with_unflushed_changes_leaves_nothing_behind(cell) -> None:
    """Review: a command that changes an object and is refused before anything reaches the database must not
    have its change committed by the commands after it (there are no savepoints; the attempt is run again)."""
    first, release = _hold_the_writer(cell)

    def changes_then_refuses(uow):  # type: ignore[no-untyped-def]
        user = uow.session.execute(select(User).where(User.username == "sy.first")).scalar_one_or_none()
        target = user or uow.session.execute(select(User)).scalars().first()
        target.disabled = True  # dirty, not flushed
        raise Conflict("refused after changing something in memory")

    refused = cell.group_commit.submit(changes_then_refuses)
    after = cell.group_commit.submit(_add(cell, "sy.after"))
    release.set()
    first.result(30)
    with pytest.raises(Conflict):
        refused.result(30)
    after.result(30)
    with Session(cell.db.engine) as session:
        assert not any(u.disabled for u in session.execute(select(User)).scalars())
        assert session.execute(select(User).where(User.username == "sy.after")).scalar_one()

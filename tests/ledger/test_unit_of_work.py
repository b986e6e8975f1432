"""One write path: every command leaves exactly one ledger entry in its own transaction, or nothing."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
import rfc8785
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from fusioncell.auth import service
from fusioncell.auth.models import User
from fusioncell.db import LedgerEntryMissing
from fusioncell.ledger.entries import verify_commitment
from fusioncell.ledger.models import LedgerEntry, LedgerHead
from tests.conftest import CLI_ACTOR, TEST_PASSWORD, add_user, ledger_size, table_count


def entries(cell) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return list(session.execute(select(LedgerEntry).order_by(LedgerEntry.index)).scalars())


def head_size(cell) -> int:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return session.execute(select(LedgerHead.size)).scalar_one()


COMMANDS = {
    "account.created": lambda cell, uow: service.add_user(
        cell=cell,
        uow=uow,
        actor=CLI_ACTOR,
        username="sy.second",
        delegation="SY",
        roles=["analyst"],
        password=TEST_PASSWORD,
    ),
    "account.disabled": lambda cell, uow: service.disable_user(
        cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.liaison"
    ),
    "account.password_reset": lambda cell, uow: service.reset_password(
        cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.liaison", password="another-long-passphrase"
    ),
    "account.totp_enrolled": lambda cell, uow: service.enroll_totp(
        cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.liaison"
    ),
}


@pytest.mark.parametrize("action", sorted(COMMANDS))
def test_each_command_leaves_exactly_one_entry(cell, action) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    before = entries(cell)
    with cell.command() as uow:
        COMMANDS[action](cell, uow)
    after = entries(cell)
    assert len(after) == len(before) + 1
    new = after[-1]
    assert (new.index, new.action, new.audience, new.actor_delegation) == (len(before), action, "mediated:SY", None)
    assert head_size(cell) == len(after)


@pytest.mark.parametrize("action", sorted(COMMANDS))
def test_forced_failure_after_state_change_leaves_neither_state_nor_entry(cell, action) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    with cell.reading() as session:
        snapshot = [
            (u.username, u.disabled, u.password_hash, u.totp_secret) for u in session.execute(select(User)).scalars()
        ]
    before = ledger_size(cell)
    with pytest.raises(RuntimeError, match="forced"), cell.command() as uow:
        COMMANDS[action](cell, uow)
        assert len(uow.entries) == 1  # state changed and entry appended inside the transaction...
        raise RuntimeError("forced failure after the state change")
    # ...and both are gone
    assert ledger_size(cell) == before == head_size(cell)
    with cell.reading() as session:
        assert [
            (u.username, u.disabled, u.password_hash, u.totp_secret) for u in session.execute(select(User)).scalars()
        ] == snapshot


def test_database_failure_at_commit_rolls_back_state_and_entry(cell) -> None:
    """A constraint violation raised by the database itself also takes the entry with it."""
    add_user(cell, "sy.liaison", "SY", "liaison")
    before = ledger_size(cell)
    with pytest.raises(IntegrityError), cell.command() as uow:
        service.add_user(
            cell=cell,
            uow=uow,
            actor=CLI_ACTOR,
            username="sy.other",
            delegation="SY",
            roles=["liaison"],
            password=TEST_PASSWORD,
        )
        # a second row with the same username only fails in the database, at flush
        uow.session.add(
            User(
                username="sy.other",
                delegation="SY",
                roles=["liaison"],
                password_hash="x",
                disabled=False,
                created_at=cell.clock.now(),
                updated_at=cell.clock.now(),
            )
        )
    assert ledger_size(cell) == before
    assert table_count(cell, User) == 1


def test_state_change_without_entry_is_refused(cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    with pytest.raises(LedgerEntryMissing), cell.command() as uow:
        user = uow.session.execute(select(User)).scalar_one()
        user.disabled = True
    with cell.reading() as session:
        assert session.execute(select(User.disabled)).scalar_one() is False


def test_one_entry_per_command(cell) -> None:
    with pytest.raises(RuntimeError, match="one ledger entry"), cell.command() as uow:
        COMMANDS["account.created"](cell, uow)
        service.add_user(
            cell=cell,
            uow=uow,
            actor=CLI_ACTOR,
            username="sy.third",
            delegation="SY",
            roles=["analyst"],
            password=TEST_PASSWORD,
        )
    assert table_count(cell, User) == 0


def test_entries_are_canonical_and_committed(cell) -> None:
    add_user(cell, "il.liaison", "IL", "liaison")
    for entry in entries(cell):
        parsed = json.loads(entry.content)
        assert rfc8785.dumps(parsed).decode() == entry.content  # RFC 8785 canonical form
        assert len(entry.salt) == 64
        assert entry.commitment == hashlib.sha256(bytes.fromhex(entry.salt) + entry.content.encode()).hexdigest()
        assert verify_commitment(salt_hex=entry.salt, content=entry.content, commitment=entry.commitment)
        assert not verify_commitment(salt_hex=entry.salt, content=entry.content + " ", commitment=entry.commitment)
        assert parsed["actor"] == entry.actor
    salts = [e.salt for e in entries(cell)]
    assert len(set(salts)) == len(salts)


def test_ledger_is_append_only_in_the_database(cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    with pytest.raises(DBAPIError, match="append-only"), cell.db.write_engine.begin() as conn:
        conn.execute(update(LedgerEntry).where(LedgerEntry.index == 1).values(action="account.forged"))
    with pytest.raises(DBAPIError, match="append-only"), cell.db.write_engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries"))
    assert [e.action for e in entries(cell)] == ["charter.adopted", "account.created"]


def test_events_are_published_only_after_commit(cell) -> None:
    seen = []

    def subscriber(event) -> None:  # type: ignore[no-untyped-def]
        # at publication time the entry is visible to any other connection: it is committed
        seen.append((event.index, event.action, ledger_size(cell)))

    cell.bus.subscribe(subscriber)
    with pytest.raises(RuntimeError), cell.command() as uow:
        COMMANDS["account.created"](cell, uow)
        assert seen == []
        raise RuntimeError("rolled back")
    assert seen == []
    with cell.command() as uow:
        COMMANDS["account.created"](cell, uow)
        assert seen == []
    assert seen == [(1, "account.created", 2)]


def test_concurrent_commands_get_gapless_indices(cell) -> None:
    """Two writers at once: indices stay unique, contiguous and in commit order."""
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            for i in range(8):
                with cell.command() as uow:
                    service.add_user(
                        cell=cell,
                        uow=uow,
                        actor=CLI_ACTOR,
                        username=f"{prefix}{i}",
                        delegation="IL",
                        roles=["liaison"],
                        password=TEST_PASSWORD,
                    )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("il.a", "il.b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = entries(cell)
    assert [e.index for e in got] == list(range(17))
    assert head_size(cell) == 17
    with cell.reading() as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() == 16


def test_bulk_update_of_shared_state_without_entry_is_refused(cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    with pytest.raises(LedgerEntryMissing), cell.command() as uow:
        uow.session.execute(update(User).values(disabled=True))
    with cell.reading() as session:
        assert session.execute(select(User.disabled)).scalar_one() is False

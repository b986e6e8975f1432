"""The scheduler acts on stored due_at values, moved by the injected clock, exactly once across instances."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from fusioncell.app import create_app
from fusioncell.ledger.models import LedgerEntry
from fusioncell.policy import JOINT, Principal, resolve_audience
from fusioncell.scheduler.models import Job
from fusioncell.scheduler.service import MAX_ATTEMPTS, Scheduler, SchedulerLoop, schedule
from tests.conftest import ledger_size, make_cell

SYSTEM = Principal.system("scheduler")


def fire_entry(cell, uow, job) -> None:  # type: ignore[no-untyped-def]
    """A handler whose effect is a command on the shared record."""
    uow.record(
        action="test.deadline_passed",
        actor=SYSTEM,
        audience=resolve_audience(JOINT, cell.charter.roster),
        subject=job.subject,
        content={"job": job.key},
    )


def schedule_one(cell, *, key="deadline:1", after=timedelta(minutes=10)) -> None:  # type: ignore[no-untyped-def]
    with cell.command() as uow:
        schedule(uow, kind="test.deadline", key=key, subject="test:1", due_at=cell.clock.now() + after)


def fired_entries(cell) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return list(session.execute(select(LedgerEntry).where(LedgerEntry.action == "test.deadline_passed")).scalars())


def job(cell, key="deadline:1") -> Job:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return session.execute(select(Job).where(Job.key == key)).scalar_one()


def test_fires_when_the_clock_reaches_due_at_and_only_once(cell) -> None:
    scheduler = Scheduler(cell)
    scheduler.register("test.deadline", fire_entry)
    schedule_one(cell)
    assert scheduler.run_due() == 0
    cell.clock.advance(timedelta(minutes=9, seconds=59))
    assert scheduler.run_due() == 0
    cell.clock.advance(timedelta(seconds=1))
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0
    cell.clock.advance(timedelta(hours=1))
    assert scheduler.run_due() == 0
    assert len(fired_entries(cell)) == 1
    done = job(cell)
    assert (done.status, done.attempts, done.fired_at, done.fired_by) == (
        "done",
        1,
        cell.clock.now() - timedelta(hours=1),
        scheduler.instance,
    )


def test_same_key_is_one_job(cell) -> None:
    schedule_one(cell)
    schedule_one(cell, after=timedelta(minutes=30))
    with cell.reading() as session:
        assert len(session.execute(select(Job)).scalars().all()) == 1


def test_due_jobs_fire_in_due_order(cell) -> None:
    order = []
    scheduler = Scheduler(cell)
    scheduler.register("test.deadline", lambda c, u, j: order.append(j.key))
    for key, minutes in (("c", 30), ("a", 10), ("b", 20)):
        schedule_one(cell, key=key, after=timedelta(minutes=minutes))
    cell.clock.advance(timedelta(hours=1))
    assert scheduler.run_due() == 3
    assert order == ["a", "b", "c"]


def test_failing_handler_leaves_no_effect_and_retries_with_backoff(cell) -> None:
    calls = []

    def flaky(c, uow, j) -> None:  # type: ignore[no-untyped-def]
        fire_entry(c, uow, j)
        calls.append(c.clock.now())
        if len(calls) < 3:
            raise RuntimeError("downstream unavailable")

    scheduler = Scheduler(cell)
    scheduler.register("test.deadline", flaky)
    schedule_one(cell, after=timedelta(0))
    before = ledger_size(cell)
    assert scheduler.run_due() == 0
    assert ledger_size(cell) == before  # the failed attempt's entry was rolled back with it
    failed = job(cell)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert "downstream unavailable" in failed.last_error
    assert failed.due_at == cell.clock.now() + timedelta(seconds=30)
    cell.clock.advance(timedelta(seconds=30))
    assert scheduler.run_due() == 0
    assert job(cell).due_at == cell.clock.now() + timedelta(seconds=60)
    cell.clock.advance(timedelta(seconds=60))
    assert scheduler.run_due() == 1
    assert len(fired_entries(cell)) == 1
    assert job(cell).status == "done"


def test_gives_up_after_max_attempts(cell) -> None:
    scheduler = Scheduler(cell)
    scheduler.register("test.deadline", lambda c, u, j: (_ for _ in ()).throw(ValueError("bad payload")))
    schedule_one(cell, after=timedelta(0))
    for _ in range(MAX_ATTEMPTS):
        scheduler.run_due()
        cell.clock.advance(timedelta(hours=1))
    assert scheduler.run_due() == 0
    assert (job(cell).status, job(cell).attempts) == ("failed", MAX_ATTEMPTS)


def test_background_loop_fires_due_jobs(cell) -> None:
    scheduler = Scheduler(cell)
    scheduler.register("test.deadline", fire_entry)
    schedule_one(cell, after=timedelta(minutes=1))
    loop = SchedulerLoop(scheduler, interval=0.02)
    loop.start()
    try:
        time.sleep(0.1)
        assert fired_entries(cell) == []
        cell.clock.advance(timedelta(minutes=1))
        deadline = time.monotonic() + 10
        while not fired_entries(cell) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        loop.stop()
    assert len(fired_entries(cell)) == 1


def test_two_app_instances_fire_a_due_job_exactly_once(backend, clock) -> None:
    """Two apps, each with its own engine and scheduler, race for the same due jobs on one database."""
    cells = [make_cell(backend, clock), make_cell(backend, clock)]
    apps = [create_app(c, run_scheduler=False) for c in cells]
    fired_by: list[str] = []
    lock = threading.Lock()

    def slow_handler(c, uow, j) -> None:  # type: ignore[no-untyped-def]
        fire_entry(c, uow, j)
        with lock:
            fired_by.append(j.key)
        time.sleep(0.05)  # hold the claim while the other instance looks

    for app in apps:
        app.state.scheduler.register("test.deadline", slow_handler)
    for i in range(6):
        schedule_one(cells[0], key=f"deadline:{i}", after=timedelta(minutes=5))
    clock.advance(timedelta(minutes=5))

    barrier = threading.Barrier(2)
    counts = [0, 0]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                counts[i] += apps[i].state.scheduler.run_due()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        assert sorted(fired_by) == [f"deadline:{i}" for i in range(6)]  # each job's handler ran once
        assert sum(counts) == 6
        assert len(fired_entries(cells[0])) == 6
        with cells[0].reading() as session:
            jobs = session.execute(select(Job)).scalars().all()
        assert {j.status for j in jobs} == {"done"} and all(j.attempts == 1 for j in jobs)
        if backend.name == "postgres":
            # SKIP LOCKED lets both instances work at once rather than queue behind each other
            assert {j.fired_by for j in jobs} <= {a.state.scheduler.instance for a in apps}
    finally:
        for c in cells:
            c.db.dispose()


@pytest.mark.parametrize("offset", [timedelta(seconds=-1), timedelta(0)])
def test_job_due_now_or_in_the_past_fires(cell, offset) -> None:
    scheduler = Scheduler(cell)
    scheduler.register("test.deadline", fire_entry)
    schedule_one(cell, after=offset)
    assert scheduler.run_due() == 1

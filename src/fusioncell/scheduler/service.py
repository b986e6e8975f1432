"""Scheduling deadlines and firing them exactly once.

A due job is claimed with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL) or under SQLite's single writer
lock, run in the same unit of work as its effects, and marked done before that transaction commits: the
effects and the "done" commit together or not at all, and no two instances can hold the same job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from fusioncell.cell import Cell
from fusioncell.db import UnitOfWork
from fusioncell.scheduler.models import Job

log = logging.getLogger(__name__)

Handler = Callable[[Cell, UnitOfWork, Job], None]

MAX_ATTEMPTS = 5


def schedule(
    uow: UnitOfWork,
    *,
    kind: str,
    key: str,
    subject: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> Job:
    """Store a deadline in the caller's transaction; the same key twice returns the existing job."""
    existing = uow.session.execute(select(Job).where(Job.key == key)).scalar_one_or_none()
    if existing is not None:
        return existing
    job = Job(
        kind=kind,
        key=key,
        subject=subject,
        payload=payload or {},
        due_at=due_at,
        status="pending",
        attempts=0,
        created_at=uow.clock.now(),
    )
    uow.session.add(job)
    uow.session.flush()
    return job


def schedule_many(uow: UnitOfWork, jobs: list[dict[str, Any]]) -> None:
    """Store deadlines whose keys cannot exist yet (they name something created in this transaction): one
    multi-row insert, no lookups. A clash would be a programming error and fails the command."""
    if jobs:
        uow.session.execute(insert(Job.__table__), jobs)


def cancel(uow: UnitOfWork, *, key: str) -> bool:
    """Cancel a pending job. One the scheduler holds at this moment (firing it) is left alone rather than waited for:
    its handler finds what it acts on changed and does nothing (waiting could deadlock against a handler that waits
    for a row this command holds)."""
    job = uow.session.execute(
        select(Job).where(Job.key == key, Job.status == "pending").with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if job is None:
        return False
    job.status = "cancelled"
    return True


class Scheduler:
    def __init__(self, cell: Cell, *, instance: str | None = None) -> None:
        self.cell = cell
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.handlers: dict[str, Handler] = {}
        self.on_fired: Callable[[str, str], None] | None = None

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self.handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        self.handlers[kind] = handler

    def run_due(self, *, limit: int = 500) -> int:
        """Fire every job due by the clock's now (up to `limit`); returns how many this instance fired."""
        fired = 0
        while fired < limit:
            outcome = self._fire_one()
            if outcome is None:
                break
            if outcome:
                fired += 1
        return fired

    def _fire_one(self) -> bool | None:
        """Claim and run one due job. None: nothing due; True: fired; False: failed and rescheduled."""
        now = self.cell.clock.now()
        job_id = kind = None
        try:
            with self.cell.command() as uow:
                job = uow.session.execute(
                    select(Job)
                    .where(Job.status == "pending", Job.due_at <= now, Job.kind.in_(list(self.handlers)))
                    .order_by(Job.due_at, Job.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                if job is None:
                    return None
                job_id, kind = job.id, job.kind
                self.handlers[job.kind](self.cell, uow, job)
                job.status = "done"
                job.attempts += 1
                job.fired_at = now
                job.fired_by = self.instance
            self._count(kind, "fired")
            return True
        except Exception as exc:
            if job_id is None:
                raise
            log.exception("scheduled job failed", extra={"job_id": job_id, "kind": kind})
            self._record_failure(job_id, exc, now)
            self._count(kind or "?", "failed")
            return False

    def _record_failure(self, job_id: int, exc: Exception, now: datetime) -> None:
        with self.cell.command() as uow:
            job = uow.session.get(Job, job_id, with_for_update=True)
            if job is None or job.status != "pending":
                return
            job.attempts += 1
            job.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if job.attempts >= MAX_ATTEMPTS:
                job.status = "failed"
            else:
                job.due_at = now + timedelta(seconds=30 * 2 ** (job.attempts - 1))

    def _count(self, kind: str, outcome: str) -> None:
        if self.on_fired:
            self.on_fired(kind, outcome)


class SchedulerLoop:
    """Run a scheduler in a background thread until stopped (the app's lifespan owns it)."""

    def __init__(self, scheduler: Scheduler, *, interval: float) -> None:
        self.scheduler = scheduler
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fusioncell-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scheduler.run_due()
            except Exception:
                log.exception("scheduler pass failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

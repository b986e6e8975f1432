"""Review: an acknowledgement racing the escalation job must not deadlock.

The scheduler locks the job row (FOR UPDATE SKIP LOCKED), then its handler locks the delivery row (FOR UPDATE).
`acknowledge` locks the delivery row, then UPDATEs the pending jobs of that delivery — the job row. Opposite
lock order: on PostgreSQL one of the two is killed by the deadlock detector (the liaison's acknowledgement gets a
500 at the very moment it is overdue, or the escalation fails and is retried). The interleaving is forced with
threads: the scheduler claims the due job, the acknowledgement starts, then the handler runs.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from fusioncell.auth.service import authenticate
from fusioncell.scheduler.models import Job
from fusioncell.traffic import escalation, service
from tests.traffic.helpers import draft


# SQLite serialises whole write transactions: no lock-order inversion there
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_acknowledge_while_the_escalation_job_runs(backend, client, cell, crew) -> None:
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    message_id = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()["id"]
    cell.clock.advance(timedelta(minutes=11))  # FLASH: 10 min to acknowledge

    errors: dict[str, BaseException] = {}

    def acknowledge() -> None:
        try:
            with cell.command() as uow:
                service.acknowledge(cell=cell, uow=uow, principal=il, message_id=message_id, readback=None)
        except BaseException as exc:  # noqa: BLE001
            errors["acknowledge"] = exc

    try:
        with cell.command() as uow:  # what Scheduler._fire_one does, with the acknowledgement in between
            job = uow.session.execute(
                select(Job)
                .where(Job.status == "pending", Job.subject == f"delivery:{message_id}:IL")
                .with_for_update(skip_locked=True)
            ).scalar_one()
            ack = threading.Thread(target=acknowledge)
            ack.start()
            time.sleep(0.5)  # the acknowledgement holds the delivery and waits for the job row
            escalation.handle_ack_overdue(cell, uow, job)
            job.status = "done"
    except BaseException as exc:  # noqa: BLE001
        errors["scheduler"] = exc
    ack.join(timeout=30)
    assert not errors, f"deadlock between acknowledgement and escalation: {errors!r}"

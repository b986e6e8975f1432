"""Operations: health, metrics, structured logs, migrations that match the models."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from fusioncell.app import create_app
from fusioncell.cell import Cell
from fusioncell.db import Database
from fusioncell.deescalation.models import BOX_INDEX, BOX_TABLES
from fusioncell.migrate import current_revision, head_revision
from fusioncell.models import metadata
from fusioncell.ops import JsonFormatter
from tests.conftest import START, add_user, bearer, login


def test_healthz_checks_the_database(client, cell) -> None:
    ok = client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json() == {
        "status": "ok",
        "database": cell.db.url.get_backend_name(),
        "mechanism": "fusioncell.example/paris-2026",
    }


def test_healthz_reports_an_unreachable_database(cell, tmp_path) -> None:
    broken = Cell(
        settings=cell.settings,
        charter=cell.charter,
        db=Database("postgresql+psycopg://nobody@127.0.0.1:1/none"),
        clock=cell.clock,
    )
    with TestClient(create_app(broken, run_scheduler=False)) as client:
        r = client.get("/healthz")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "database unreachable" in r.json()["detail"]


def test_metrics_count_requests_and_ledger(client, cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    add_user(cell, "us.mediator", "US", "mediator")
    login(client, "sy.liaison")
    mediator = login(client, "us.mediator")
    client.get("/api/v1/nowhere")
    text = client.get("/metrics", headers=bearer(mediator)).text
    assert 'fusioncell_http_requests_total{method="POST",route="/api/v1/auth/token",status="200"} 2.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "fusioncell_ledger_size 3.0" in text  # charter adoption + two accounts


def test_metrics_are_for_the_monitoring_system_and_the_mediator_only(client, cell) -> None:
    """Traffic counts by precedence and track are content: a party, or anyone without a token, gets none."""
    add_user(cell, "il.liaison", "IL", "liaison")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(login(client, "il.liaison"))).status_code == 403
    cell.settings.metrics_token = "scrape-secret-of-the-operator"
    try:
        assert client.get("/metrics", headers=bearer("scrape-secret-of-the-operator")).status_code == 200
        assert client.get("/metrics", headers=bearer("wrong-secret")).status_code == 401
    finally:
        cell.settings.metrics_token = None


def test_request_ids_are_echoed_and_logged(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="fusioncell.access"):
        r = client.get("/healthz", headers={"X-Request-ID": "shift-42"})
    assert r.headers["x-request-id"] == "shift-42"
    record = next(rec for rec in caplog.records if getattr(rec, "request_id", None) == "shift-42")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["status"] == 200 and line["path"] == "/healthz"
    assert line["level"] == "info" and line["time"].endswith("Z")


def _declared(name: str | None, kind: str, _parent: object) -> bool:
    """What the models declare: the activities' two-dimensional box index is the migration's alone (an R*Tree on
    SQLite, a GiST expression index on PostgreSQL), which no declaration can say for both."""
    return not (kind == "table" and name in BOX_TABLES) and not (kind == "index" and name == BOX_INDEX)


def test_migrations_match_the_models(cell) -> None:
    assert current_revision(cell.db) == head_revision()
    with cell.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _declared})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_the_box_index_exists_and_is_used(cell) -> None:
    """The deconfliction check's first filter is the box index: without it a check reads half the table."""
    from sqlalchemy import select, text

    from fusioncell.deescalation.models import Activity, live_near

    dialect = cell.db.engine.dialect.name
    where = live_near(dialect, "golan", (0.0, 0.0, 1.0, 1.0), START, START + timedelta(hours=1))
    with cell.db.engine.connect() as conn:
        statement = select(Activity.id).where(*where).compile(conn, compile_kwargs={"literal_binds": True})
        if dialect == "sqlite":
            plan = " ".join(str(row[3]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
            assert "activity_boxes VIRTUAL TABLE" in plan and "INTEGER PRIMARY KEY" in plan, plan
        else:
            conn.execute(text("SET enable_seqscan = off"))  # an empty table: make the planner show the index
            plan = " ".join(row[0] for row in conn.execute(text(f"EXPLAIN {statement}")))
            assert BOX_INDEX in plan, plan


def test_a_server_settles_its_heap_once_built() -> None:
    import gc

    from fusioncell.ops import GC_YOUNG_THRESHOLD, settle_heap

    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD and gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's passes
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

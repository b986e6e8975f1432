"""Fixtures: an isolated, initialised cell per test, on SQLite and on PostgreSQL.

A template is migrated and initialised once per run and per backend; each test gets a copy (a file copy
for SQLite, CREATE DATABASE … TEMPLATE for PostgreSQL) and the copy is dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from fusioncell.app import create_app
from fusioncell.cell import Cell
from fusioncell.charter import load_charter
from fusioncell.clock import ManualClock
from fusioncell.db import Database
from fusioncell.events import EventBus
from fusioncell.ledger.models import LedgerEntry
from fusioncell.policy import Principal
from fusioncell.settings import Settings
from fusioncell.setup import init_cell

# CI explores the same examples on every run (HYPOTHESIS_PROFILE=ci, set by .ci/run), so a red CI is reproducible; a
# developer's `make test` draws new ones each time, which is how the rule's edge cases keep being found.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CHARTER = ROOT / "charters" / "paris-2026.yaml"
PG_URL = os.environ.get("FUSIONCELL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("FUSIONCELL_REQUIRE_POSTGRES") == "1"
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
TEST_PASSWORD = "night-shift-passphrase-7"
CLI_ACTOR = Principal.system("cli:test")

for name in ("FUSIONCELL_DATA", "FUSIONCELL_DATABASE_URL"):
    os.environ.pop(name, None)


def _pg_problem() -> str | None:
    try:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        where = make_url(PG_URL).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} unreachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_available() -> bool:
    problem = _pg_problem()
    if problem and REQUIRE_PG:
        pytest.fail(f"FUSIONCELL_REQUIRE_POSTGRES=1 but {problem}", pytrace=False)
    if problem:
        pytest.skip(f"PostgreSQL half skipped: {problem} (set FUSIONCELL_REQUIRE_POSTGRES=1 to make this fatal)")
    return True


def _pg_admin():  # type: ignore[no-untyped-def]
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _db_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@dataclass
class Template:
    backend: str
    data: Path
    url: str | None  # None: SQLite under data
    tokens: dict[str, str] = field(default_factory=dict)


CREW = {
    "sy": ("sy.liaison", "SY", ("liaison",)),
    "il": ("il.liaison", "IL", ("liaison",)),
    "us": ("us.mediator", "US", ("mediator", "liaison")),
    "undof": ("undof.observer", "UNDOF", ("observer",)),
    "sy_analyst": ("sy.analyst", "SY", ("analyst",)),
    "sy_admin": ("sy.admin", "SY", ("admin",)),
}


def _build_template(settings: Settings, *, with_crew: bool) -> dict[str, str]:
    """Initialise from the example charter; with the crew, also their accounts and tokens issued at START."""
    from fusioncell.auth import service

    clock = ManualClock(START)
    cell = init_cell(settings, EXAMPLE_CHARTER, actor=CLI_ACTOR, clock=clock)
    tokens = {}
    if with_crew:
        for key, (username, delegation, roles) in CREW.items():
            add_user(cell, username, delegation, *roles)
            tokens[key] = service.login(
                cell=cell, username=username, password=TEST_PASSWORD, otp=None, client="testclient"
            ).access_token
    cell.db.dispose()
    return tokens


def _sqlite_template(factory: pytest.TempPathFactory, *, with_crew: bool) -> Template:
    data = factory.mktemp("template-sqlite")
    tokens = _build_template(Settings(data=data), with_crew=with_crew)
    return Template("sqlite", data, None, tokens)


def _pg_template(factory: pytest.TempPathFactory, *, with_crew: bool) -> Iterator[Template]:
    name = f"fc_tmpl_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    data = factory.mktemp("template-pg")
    tokens = _build_template(Settings(data=data, database_url=_db_url(name)), with_crew=with_crew)
    yield Template("postgres", data, _db_url(name), tokens)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _sqlite_template(tmp_path_factory, with_crew=False)


@pytest.fixture(scope="session")
def sqlite_crew_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _sqlite_template(tmp_path_factory, with_crew=True)


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory, pg_available: bool) -> Iterator[Template]:
    yield from _pg_template(tmp_path_factory, with_crew=False)


@pytest.fixture(scope="session")
def pg_crew_template(tmp_path_factory: pytest.TempPathFactory, pg_available: bool) -> Iterator[Template]:
    yield from _pg_template(tmp_path_factory, with_crew=True)


@dataclass
class Backend:
    name: str
    settings: Settings
    tokens: dict[str, str]

    def database(self) -> Database:
        return Database(self.settings.resolved_database_url())


def _test_settings(data: Path, url: str | None = None) -> Settings:
    return Settings(data=data, database_url=url, scheduler_enabled=False, stream_heartbeat_seconds=0.2)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh initialised data directory and database, copied from the backend's template.

    Tests that use `crew` get the template that already holds the crew's accounts and tokens.
    """
    data = tmp_path / "data"
    crew = "crew" in request.fixturenames
    if request.param == "sqlite":
        template: Template = request.getfixturevalue("sqlite_crew_template" if crew else "sqlite_template")
        shutil.copytree(template.data, data)
        yield Backend("sqlite", _test_settings(data), template.tokens)
        return
    template = request.getfixturevalue("pg_crew_template" if crew else "pg_template")
    shutil.copytree(template.data, data)
    with pg_copy(template) as url:
        yield Backend("postgres", _test_settings(data, url), template.tokens)


@contextmanager
def pg_copy(template: Template) -> Iterator[str]:
    """A new PostgreSQL database copied from the template's (CREATE DATABASE … TEMPLATE), dropped afterwards."""
    assert template.url is not None
    name = f"fc_t_{uuid.uuid4().hex[:12]}"
    template_name = make_url(template.url).database
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield _db_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_cell(backend: Backend, clock: ManualClock) -> Cell:
    return Cell(
        settings=backend.settings,
        charter=load_charter(backend.settings.charter_path),
        db=backend.database(),
        clock=clock,
        bus=EventBus(),
    )


@pytest.fixture
def cell(backend: Backend, clock: ManualClock) -> Iterator[Cell]:
    c = make_cell(backend, clock)
    yield c
    c.db.dispose()


@pytest.fixture
def client(cell: Cell) -> Iterator[TestClient]:
    with TestClient(create_app(cell, run_scheduler=False), raise_server_exceptions=False) as c:
        yield c


def ledger_size(cell: Cell) -> int:
    with cell.reading() as session:
        return session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()


def table_count(cell: Cell, model: type) -> int:
    with cell.reading() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def add_user(cell: Cell, username: str, delegation: str, *roles: str, password: str = TEST_PASSWORD) -> None:
    from fusioncell.auth import service

    with cell.command() as uow:
        service.add_user(
            cell=cell,
            uow=uow,
            actor=CLI_ACTOR,
            username=username,
            delegation=delegation,
            roles=list(roles),
            password=password,
        )


def login(client: TestClient, username: str, password: str = TEST_PASSWORD, **extra: str) -> str:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password, **extra})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An empty data directory and an empty database, as environment variables for the CLI."""
    data = tmp_path / "fresh"
    if request.param == "sqlite":
        yield {"FUSIONCELL_DATA": str(data)}
        return
    request.getfixturevalue("pg_available")
    name = f"fc_e_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {"FUSIONCELL_DATA": str(data), "FUSIONCELL_DATABASE_URL": _db_url(name)}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Member:
    username: str
    delegation: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture
def crew(backend: Backend) -> dict[str, Member]:
    """Signed-in people of every delegation: sy, il, us (mediator), undof (observer), sy_analyst, sy_admin.

    Their accounts and tokens come with the database template, issued at START (valid 12 hours of clock).
    """
    return {key: Member(CREW[key][0], CREW[key][1], token) for key, token in backend.tokens.items()}

"""The FastAPI factory: routers, problem handlers, limits, docs; the lifespan runs the scheduler."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from fusioncell import __version__
from fusioncell.agreements import pages as agreement_pages
from fusioncell.agreements import service as agreement_service
from fusioncell.agreements.routes import router as agreements_router
from fusioncell.auth import pages as account_pages
from fusioncell.auth.routes import BODY_MODELS as AUTH_BODY_MODELS
from fusioncell.auth.routes import router as auth_router
from fusioncell.cell import Cell
from fusioncell.charter import Charter, load_charter
from fusioncell.clock import Clock, SystemClock
from fusioncell.db import Database
from fusioncell.deescalation import pages as deescalation_pages
from fusioncell.deescalation.routes import router as deescalation_router
from fusioncell.deps import refuse_bad_text
from fusioncell.disputes import pages as dispute_pages
from fusioncell.disputes import service as dispute_service
from fusioncell.disputes.routes import router as disputes_router
from fusioncell.events import EventBus
from fusioncell.intel import pages as intel_pages
from fusioncell.intel.routes import router as intel_router
from fusioncell.intel.stix import close_pool
from fusioncell.intel.taxii import error_message as taxii_error_message
from fusioncell.intel.taxii import router as taxii_router
from fusioncell.ledger.log import Checkpointer
from fusioncell.ledger.routes import router as ledger_router
from fusioncell.ops import Metrics, RequestLog
from fusioncell.ops import router as ops_router
from fusioncell.policy import audience_labels
from fusioncell.problems import BodySizeLimit, document_problems, install_problem_handlers
from fusioncell.proxies import ForwardedHeaders
from fusioncell.scheduler.service import Scheduler, SchedulerLoop
from fusioncell.schemas import document_models, document_text_rule
from fusioncell.settings import Settings
from fusioncell.signing.routes import router as keys_router
from fusioncell.stream.frames import stream_description
from fusioncell.stream.hub import StreamHub
from fusioncell.stream.routes import router as stream_router
from fusioncell.traffic import escalation
from fusioncell.traffic import pages as traffic_pages
from fusioncell.traffic import service as traffic_service
from fusioncell.traffic.metrics import install_traffic_metrics
from fusioncell.traffic.receipts import ReceiptRecorder
from fusioncell.traffic.routes import router as traffic_router
from fusioncell.web import routes as web
from fusioncell.web.pages import error_page

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


DESCRIPTION = """Closed-loop traffic, vetted intelligence, deconfliction, disputes, binding timelines and a record \
that every party witnesses. Errors are RFC 9457 `application/problem+json`.

## Signing in from these docs

Press **Authorize**. Under *OAuth2Password* type your username and password (with a second factor, type your \
one-time code right after your password; leave client_id and client_secret empty) and press Authorize: every \
request you try from here then carries your token. Or paste a token from `POST /api/v1/auth/token` under \
*BearerToken*. What you may read and do follows from your delegation and roles (`GET /api/v1/me`).

The examples tell one night shift of the example charter (`charters/paris-2026.yaml`): at 0548Z Syria's liaison \
officer (`sy.liaison`) sends a FLASH warning that four vehicles will cross the buffer zone at 0600Z; Israel's \
(`il.liaison`) reads it back with the wrong time; the mediator (`us.mediator`) is alerted. The request examples \
are ones the cell accepts from the member they name.

## Lists and resends

Lists of what is recorded (messages, alerts) come in the order recorded: pass a page's `next_after` as `after` \
for the next page. A message sent with a `client_txn_id` may be sent again safely: the same id from the same \
account returns the original message (200, `Idempotent-Replayed: true`).
"""

OPENAPI_TAGS = [
    {"name": "auth", "description": "Sign in and out; who you are."},
    {
        "name": "traffic",
        "description": "The communication cell: messages by track and precedence, acknowledgement and read-back, "
        "the sender's verdict, alerts to the mediator.",
    },
    {
        "name": "ledger",
        "description": "The record no one can rewrite: entry headers every delegation reads, contents for their "
        "audience, signed checkpoints, Merkle proofs (RFC 9162) and evidence bundles.",
    },
    {
        "name": "intel",
        "description": "Intelligence sharing: STIX 2.1 submitted by a party, released by the mediator (whole or "
        "redacted) or declined; released objects, also over TAXII 2.1 at /taxii2/.",
    },
    {
        "name": "de-escalation",
        "description": "The agreed zones and their rules, activity pre-notified as 4D volumes and checked at once "
        "against zones, notice periods, suspension commitments and every other party's activity.",
    },
    {
        "name": "disputes",
        "description": "One shared case per dispute: every side's statements and evidence on one record, a "
        "deadline for each stage, the mediator's finding; a stage overdue is escalated to the diplomatic track.",
    },
    {
        "name": "agreements",
        "description": "Binding timelines: versioned text co-signed offline by every signatory it names with keys "
        "the mediator approved, milestones whose status follows from the verifier's attestations and the clock.",
    },
    {"name": "operations", "description": "Health and metrics for those who run the cell."},
]


def _operation_id(route: APIRoute) -> str:
    # Stable operation ids: the route's explicit name, never a generated path+method mash.
    return route.name


def _docs_assets() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).parent / "static"
    return path if (path / "swagger-ui-bundle.js").exists() else None


def open_cell(settings: Settings, *, clock: Clock | None = None) -> Cell:
    """Load the charter from the data directory and connect the database (no schema changes here)."""
    charter = load_charter(settings.charter_path)
    db = Database(settings.resolved_database_url())
    return Cell(settings=settings, charter=charter, db=db, clock=clock or SystemClock(), bus=EventBus())


def app_from_environment() -> FastAPI:
    """The app of one worker process when `fusioncell serve --workers N` runs several (settings from the
    environment, as the parent had them)."""
    from fusioncell.intel.stix import warm_pool
    from fusioncell.ops import configure_logging, settle_heap
    from fusioncell.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    app = create_app(open_cell(settings))
    warm_pool(settings.resolved_stix_workers())
    settle_heap()
    return app


def create_app(cell: Cell, *, run_scheduler: bool | None = None) -> FastAPI:
    settings = cell.settings
    scheduler = Scheduler(cell)
    metrics = Metrics()
    scheduler.on_fired = lambda kind, outcome: metrics.jobs_fired.labels(kind, outcome).inc()
    cell.bus.subscribe(lambda entry: metrics.ledger_entries.labels(entry.action).inc())
    start_loop = settings.scheduler_enabled if run_scheduler is None else run_scheduler

    scheduler.register(traffic_service.ACK_OVERDUE, escalation.handle_ack_overdue)
    scheduler.register(dispute_service.STAGE_OVERDUE, dispute_service.handle_stage_overdue)
    scheduler.register(agreement_service.MILESTONE_OVERDUE, agreement_service.handle_milestone_overdue)
    hub = StreamHub(cell)
    receipts = ReceiptRecorder(cell)
    install_traffic_metrics(cell, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop_checkpoints = cell.db.start_checkpointer()
        # background duties (the scheduler, the checkpoint signer) run unless turned off, as in tests that
        # drive them step by step
        checkpointer = Checkpointer(cell) if start_loop else None
        if checkpointer:
            checkpointer.start()
        await hub.start()
        await receipts.start()
        loop = SchedulerLoop(scheduler, interval=settings.scheduler_interval_seconds) if start_loop else None
        if loop:
            loop.start()
        # what exists now (modules, charter, routes) lives as long as the process: keep the collector off it
        gc.freeze()
        log.info(
            "fusioncell started",
            extra={"mechanism": cell.charter.mechanism.log_origin, "database": cell.db.url.get_backend_name()},
        )
        try:
            yield
        finally:
            if loop:
                loop.stop()
            await hub.stop()
            await receipts.stop()
            if checkpointer:
                await asyncio.to_thread(checkpointer.stop)
            await asyncio.to_thread(cell.close)  # queued commands finish before the process goes
            await asyncio.to_thread(close_pool)
            stop_checkpoints()

    app = FastAPI(
        dependencies=[Depends(refuse_bad_text)],
        title="fusioncell",
        version=__version__,
        summary="The software of a mediated joint coordination cell.",
        description=DESCRIPTION + "\n" + stream_description(),
        openapi_tags=OPENAPI_TAGS,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.cell = cell
    app.state.scheduler = scheduler
    app.state.metrics = metrics
    app.state.hub = hub
    app.state.receipts = receipts

    # under /taxii2/ every error is TAXII's error message, whatever raised it
    error_formats = {"/taxii2/": taxii_error_message}
    install_problem_handlers(app, formats=error_formats, pages=error_page)
    _install_openapi(app, cell)
    app.include_router(auth_router)
    app.include_router(traffic_router)
    app.include_router(ledger_router)
    app.include_router(intel_router)
    app.include_router(deescalation_router)
    app.include_router(disputes_router)
    app.include_router(keys_router)
    app.include_router(agreements_router)
    app.include_router(taxii_router)
    app.include_router(stream_router)
    app.include_router(ops_router)
    _install_docs(app)
    app.include_router(traffic_pages.router)
    app.include_router(account_pages.router)
    app.include_router(intel_pages.router)
    app.include_router(deescalation_pages.router)
    app.include_router(dispute_pages.router)
    app.include_router(agreement_pages.router)
    web.install(app)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, formats=error_formats)
    app.add_middleware(RequestLog, metrics=metrics)
    # outermost: every layer below, the request log included, sees the client by the trusted-proxy rule
    app.add_middleware(ForwardedHeaders, trusted=settings.trusted_proxies)
    return app


def document_charter(schema: dict, charter: Charter) -> dict:
    """The charter is data: the schema names this mechanism's tracks, audiences and languages as enums."""
    enums = {
        "track": sorted(charter.track_ids),
        "audience": audience_labels(charter.roster),
        "lang": list(charter.languages.supported),
    }
    create = schema.get("components", {}).get("schemas", {}).get("MessageCreate", {}).get("properties", {})
    for field, values in enums.items():
        if field in create:
            create[field]["enum"] = values
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] == "track":
                    target = parameter["schema"]
                    for option in target.get("anyOf", [target]):
                        if option.get("type") == "string":
                            option["enum"] = enums["track"]
    return schema


def _install_openapi(app: FastAPI, cell: Cell) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            document_models(schema, AUTH_BODY_MODELS)  # read by the token operation itself: JSON or a form
            app.openapi_schema = document_text_rule(document_charter(document_problems(schema), cell.charter))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_docs(app: FastAPI) -> None:
    assets = _docs_assets()
    if assets is not None:
        app.mount(f"{API_PREFIX}/docs/assets", StaticFiles(directory=assets), name="docs_assets")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False, name="docs")
    def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(
                "<p>The API documentation assets are not installed: run <code>make install</code>. "
                f"The schema is at <a href='{API_PREFIX}/openapi.json'>{API_PREFIX}/openapi.json</a>.</p>",
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="fusioncell API",
            swagger_js_url=f"{API_PREFIX}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{API_PREFIX}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{API_PREFIX}/docs/assets/favicon.png",
        )

"""What every page shares: its templates, the reader's language and time zone, the navigation, the security
headers. A capability's pages (traffic/pages.py, intel/pages.py) render through `render` with templates of their
own, registered with `add_templates`, and name their place in the navigation with `add_nav`.

Pages are rendered on the server in the reader's language; htmx swaps in the parts that change. Every page asks
the same services as the API, as the signed-in person, so the one visibility rule in `policy` decides what a page
may show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from fusioncell.cell import Cell
from fusioncell.policy import Principal
from fusioncell.web import i18n
from fusioncell.web.marks import visible
from fusioncell.web.session import LANG_COOKIE, WebSession, optional_session

HERE = Path(__file__).parent
STATIC = HERE / "static"

# Front-end packages, served from node_modules as package-lock.json pinned them (`make install` puts them there).
VENDOR = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    # the map: Leaflet, its drawing tools, and the offline basemap (Natural Earth borders as TopoJSON)
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "images/layers.png": "leaflet/dist/images/layers.png",
    "images/layers-2x.png": "leaflet/dist/images/layers-2x.png",
    "images/marker-icon.png": "leaflet/dist/images/marker-icon.png",
    "images/marker-icon-2x.png": "leaflet/dist/images/marker-icon-2x.png",
    "images/marker-shadow.png": "leaflet/dist/images/marker-shadow.png",
    "leaflet-geoman.js": "@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js",
    "leaflet-geoman.css": "@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",
    "topojson-client.js": "topojson-client/dist/topojson-client.min.js",
    "countries-10m.json": "world-atlas/countries-10m.json",
}
VENDOR_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}

SECURITY_HEADERS = {
    # scripts and styles from this site only: no inline script can run, even if some text slipped through escaping
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_loader = FileSystemLoader([HERE / "templates"])
_templates = Environment(
    loader=_loader,
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["visible"] = visible  # text a client wrote, as the ledger holds it (web/marks.py)


def msg(source: str) -> str:
    """A string shown on a page, named here and translated where it is shown (`_(...)` in a template): the
    catalogues' test finds it by this call."""
    return source


def add_templates(directory: Path) -> None:
    """A capability's own templates, found after the shared ones (a capability names its templates uniquely)."""
    if str(directory) not in _loader.searchpath:
        _loader.searchpath.append(str(directory))


def template_directories() -> list[Path]:
    return [Path(p) for p in _loader.searchpath]


@dataclass(frozen=True)
class NavItem:
    """A section in the navigation: its label (a source string), its path, who sees it, and a count beside it (the
    alerts awaiting the reader, say)."""

    label: str
    path: str
    order: int
    shown: Callable[[Cell, Principal], bool] = lambda cell, principal: True
    count: Callable[[Cell, Principal], int] | None = None


_nav: dict[str, NavItem] = {}


def add_nav(item: NavItem) -> None:
    _nav[item.path] = item


def vendor_root() -> Path:
    """node_modules of the checkout this package runs from (an editable install, as `make install` makes)."""
    return HERE.parents[2] / "node_modules"


def reader_language(request: Request, session: WebSession | None = None) -> tuple[i18n.Language, bool]:
    """The reader's language: ?lang= (then remembered by the browser), else the account's, else the cookie, else
    Accept-Language. The second value says it was chosen on this request."""
    asked = request.query_params.get("lang")
    if asked in i18n.LANGUAGES:
        return i18n.language(asked), True
    if session is not None and session.lang in i18n.LANGUAGES:
        return i18n.language(session.lang), False
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in i18n.LANGUAGES:
        return i18n.language(remembered), False
    return i18n.language(i18n.negotiate(request.headers.get("accept-language"))), False


def display_name(names: dict[str, str], cell: Cell, lang: i18n.Language) -> str:
    """A name the charter gives in several languages, in the reader's (else the authoritative one's)."""
    return names.get(lang.code) or names.get(cell.charter.languages.authoritative) or next(iter(names.values()))


def translate(request: Request, text: str, session: WebSession | None = None) -> str:
    """A string of the pages in the reader's language."""
    return reader_language(request, session)[0].gettext(text)


def _in_language(request: Request, code: str) -> str:
    """This page in another language (its query kept); after a form, the page the form came from is gone, so
    the sign-in page or the home page."""
    if request.method != "GET":
        return f"{'/login' if request.url.path == '/login' else '/'}?lang={code}"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", code)]
    return f"{request.url.path}?{urlencode(query)}"


def _navigation(cell: Cell, session: WebSession | None, path: str) -> list[dict[str, Any]]:
    if session is None:
        return []
    items = []
    for item in sorted(_nav.values(), key=lambda i: i.order):
        if not item.shown(cell, session.principal):
            continue
        items.append(
            {
                "label": item.label,
                "path": item.path,
                "current": path == item.path or path.startswith(item.path.rstrip("/") + "/"),
                "count": item.count(cell, session.principal) if item.count else None,
            }
        )
    return items


def render(
    request: Request,
    template: str,
    *,
    cell: Cell,
    status: int = 200,
    remember: bool = True,
    **context: Any,
) -> HTMLResponse:
    """A page in the reader's language; a language chosen with ?lang= is remembered by this browser (a cookie),
    unless `remember` is off (an error page writes nothing). The account's language is not changed by a link: it
    is saved from the account page's form (a POST), never from a GET."""
    session: WebSession | None = context.get("session")
    lang, chosen = reader_language(request, session)
    page = _templates.get_template(template).render(
        _=lang.gettext,
        lang=lang,
        languages=[(i18n.language(code), _in_language(request, code)) for code in i18n.LANGUAGES],
        mechanism=display_name(cell.charter.mechanism.name, cell, lang),
        path=request.url.path,
        nav=_navigation(cell, session, request.url.path),
        time_zone=session.time_zone if session is not None else None,
        server_now=cell.clock.now(),
        **context,
    )
    response = HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)
    if chosen and remember:
        response.set_cookie(LANG_COOKIE, lang.code, max_age=365 * 86400, path="/", samesite="lax")
    return response


def live_context(cell: Cell) -> dict[str, Any]:
    """What a page that follows the stream (`_live_shell.html`) needs: where its stream starts (the ledger's head as
    the page is drawn) and the heartbeat its watchdog waits for."""
    from fusioncell.ledger import service as ledger_service

    return {"after": ledger_service.size(cell) - 1, "heartbeat": cell.settings.stream_heartbeat_seconds}


# ---- errors as pages -------------------------------------------------------------------------------------------

NOT_PAGES = ("/api/", "/taxii2/", "/static/", "/healthz", "/metrics")
ERROR_TITLES = {
    400: msg("This request is not valid"),
    401: msg("Sign in first"),
    403: msg("Not for this account"),
    404: msg("Not found"),
    405: msg("Not here"),
    409: msg("It changed meanwhile"),
    413: msg("Too large"),
    422: msg("Not valid"),
    429: msg("Too many requests"),
}
ERROR_LINES = {
    400: msg("The page could not read this request. Go back and try again."),
    401: msg("Your session has ended. Sign in again to go on."),
    403: msg("Your account may not do this."),
    404: msg("There is nothing at this address, or nothing you may read."),
    405: msg("This address does not take that kind of request."),
    409: msg("What you acted on changed in the meantime. Reload the page and look again."),
    413: msg("What you sent is larger than the cell takes."),
    422: msg("This address or form holds something the cell does not take."),
    429: msg("Too many attempts. Wait a few minutes and try again."),
    500: msg("Something went wrong on the server. It has been logged; try again in a moment."),
}


def is_page_request(request: Request) -> bool:
    """A browser's page (not the API, TAXII or a static file; not a client that asked for JSON)."""
    if request.url.path.startswith(NOT_PAGES) or request.scope.get("type") != "http":
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "json" not in accept


def error_page(request: Request, failure: Any) -> HTMLResponse | None:
    """An error on a web path as a page in the reader's language, with a way on; None for any other request."""
    if not is_page_request(request):
        return None
    cell: Cell = request.app.state.cell
    status = failure.status if failure.status in ERROR_LINES else 500
    title = ERROR_TITLES.get(status, msg("Something went wrong"))
    session = None
    if status < 500:  # a server in trouble (its database, say) answers without reading the session again
        try:
            session = optional_session(request, cell)
        except Exception:  # noqa: BLE001 - the error page must not fail: without the session, then
            session = None
    lang, _ = reader_language(request, session)
    page = {"title": lang.gettext(title), "message": lang.gettext(ERROR_LINES[status]),
            "detail": failure.detail if status < 500 else ""}  # fmt: skip
    try:
        response = render(request, "error.html", cell=cell, session=session, status=failure.status, remember=False,
                          **page)  # fmt: skip
    except Exception:  # noqa: BLE001 - the navigation's counts read the database: a page without them
        response = render(request, "error.html", cell=cell, session=None, status=failure.status, remember=False,
                          **page)  # fmt: skip
    for name, value in (failure.headers or {}).items():
        response.headers[name] = value
    return response

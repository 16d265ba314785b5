"""Part B: the control plane under /_mock. Each handler parses the request, makes one call to
the control plane's door (``mock_sprinto.control.ControlPlane``) and serializes the result."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import yarl
import yarl._url as yarl_url
from aiohttp import web
from aiohttp.typedefs import Handler

from ..budget import CONTROL_REMEDY
from ..codes import INVALID_PARAMETER, NOT_FOUND
from ..control import MAX_OVERVIEW_PAGES, MAX_OVERVIEW_SESSIONS, OVERVIEW_PAGES, OVERVIEW_SESSIONS
from ..errors import ApiError, int_param
from ..payload import SizeLimit, parse_json
from ..resources import doc_pages, readme_text
from ..service import JOURNAL_OPERATIONS
from ..settings.values import did_you_mean
from ..steps import stepped
from .body import read_body
from .common import CONTROL, CONTROL_PREFIX, json_response, query_value, stream_json, stream_parts

P = CONTROL_PREFIX
ONE = P + "/integrations/{integration_id}"
MAX_LIST = 1_000_000
CONTROL_BODY = "the /_mock request body"
# Only a flag or the environment sets max_scenario_bytes (a config file is read under it).
_RAISE_SCENARIO_LIMIT = "start the emulator with a larger --max-scenario-bytes (or MOCK_SPRINTO_MAX_SCENARIO_BYTES)"


async def _json_body(request: web.Request, document: str = CONTROL_BODY) -> Any:
    """Any JSON value (a scenario PUT takes a string or an object), at most max_scenario_bytes."""
    return parse_json(await _control_body(request, document), request.app[CONTROL].emulator.settings.max_json_depth)


async def _control_body(request: web.Request, document: str = CONTROL_BODY) -> bytes:
    """A control-plane body, decoded: at most ``max_scenario_bytes`` on the wire and once decoded
    (a gzip body cannot take a scenario past it), read under the memory budget. Its 413 names that
    setting and ``document``, never a vendor page's ``max_request_bytes``."""
    emulator = request.app[CONTROL].emulator
    settings = emulator.settings
    bound = SizeLimit(
        settings.max_scenario_bytes,
        "max_scenario_bytes",
        document,
        f"send a smaller one, or {_RAISE_SCENARIO_LIMIT}",
    )
    body = await read_body(
        request,
        settings,
        strict_media_type=False,
        budget=emulator.budget,
        remedy=CONTROL_REMEDY,
        limits=(bound, bound),
    )
    return body.decoded


async def _json_object(request: web.Request, required: bool = False) -> dict[str, Any]:
    if not request.body_exists:
        if required:
            raise ApiError.of(INVALID_PARAMETER, "this call needs a JSON object body")
        return {}
    decoded = await _control_body(request)
    if not decoded and not required:  # empty is no body; white space alone is not JSON (400)
        return {}
    value = parse_json(decoded, request.app[CONTROL].emulator.settings.max_json_depth)
    if not isinstance(value, dict):
        raise ApiError.of(INVALID_PARAMETER, "the body must be a JSON object")
    return value


def _named(request: web.Request) -> str | None:
    """The integration a route names, or None for the server-wide variant of the route."""
    return request.match_info.get("integration_id")


def _one(request: web.Request) -> str:
    return request.match_info["integration_id"]


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    return int_param(name, query_value(request, name), default, low, high)


def _no_content() -> web.Response:
    return web.Response(status=204)


def _page_headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


# The dashboard module is imported by its three handlers, not at start: its page and script (read
# from dashboard.js) are built on the first view, which most runs (CI, tests) never make.


async def dashboard(request: web.Request) -> web.Response:
    from .dashboard import CSP, DASHBOARD_HTML

    return web.Response(text=DASHBOARD_HTML, content_type="text/html", headers=_page_headers(CSP))


async def dashboard_js(request: web.Request) -> web.Response:
    from .dashboard import CSP, DASHBOARD_JS

    return web.Response(text=DASHBOARD_JS, content_type="text/javascript", headers=_page_headers(CSP))


_DOCS: dict[str, str] = {}  # each page rendered once, on first view
_DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _doc_response(key: str, render: Callable[[], str]) -> web.Response:
    if key not in _DOCS:
        _DOCS[key] = render()
    return web.Response(text=_DOCS[key], content_type="text/html", headers=_page_headers(_DOCS_CSP))


async def readme(request: web.Request) -> web.Response:
    """The README, rendered (its links into docs/ lead to /_mock/docs/{page})."""
    from .dashboard import doc_html

    return _doc_response("README.md", lambda: doc_html("README.md", readme_text(), frozenset(doc_pages())))


async def doc_page(request: web.Request) -> web.Response:
    """One page of docs/, rendered, found by its name (never read as a path)."""
    from .dashboard import doc_html

    pages = doc_pages()
    name = request.match_info["page"]
    if name not in pages and name.removesuffix(".md") in pages:  # the file's name, as a checkout shows it
        name = name.removesuffix(".md")
    if name not in pages:
        raise ApiError.of(NOT_FOUND, f"no docs page named {name[:64]!r} (pages: {', '.join(pages) or 'none'})")
    path = pages[name]
    return _doc_response(
        f"docs/{name}.md",
        lambda: doc_html(f"docs/{name}.md", path.read_text(encoding="utf-8"), frozenset(pages)),
    )


async def health(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].health())


async def settings(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].settings())


def _drop_url_caches() -> None:
    """yarl's public ``cache_clear`` leaves the caches of the URLs the parser builds (yarl 1.18+:
    ``pre_encoded_url``, ``build_pre_encoded_url``, 128 each); cleared by name where they exist."""
    yarl.cache_clear()
    for name in ("pre_encoded_url", "build_pre_encoded_url", "encode_url"):
        clear = getattr(getattr(yarl_url, name, None), "cache_clear", None)
        if clear is not None:
            clear()


async def reset(request: web.Request) -> web.Response:
    # yarl caches the URLs aiohttp's parser builds (a few hundred small objects). Made during a
    # run, between the run's short-lived objects, they kept ~30 otherwise empty 1 MiB pymalloc
    # arenas alive after a reset (issue 21: RSS 2.2x a fresh server's); dropped before the
    # emulator's reset so the heap it trims is free.
    _drop_url_caches()
    return json_response(request.app[CONTROL].reset())


CREATE_MEMBERS = ("id", "api_key")


async def create_integration(request: web.Request) -> web.Response:
    body = await _json_object(request)
    _refuse_unknown_members(body, CREATE_MEMBERS)
    return json_response(request.app[CONTROL].create_integration(body.get("id"), body.get("api_key")), 201)


def _refuse_unknown_members(body: dict[str, Any], known: tuple[str, ...]) -> None:
    """400 naming a member the call does not read: ignored, a typo (``idd``) made an integration
    with a made-up id and answered 201, so the test went on against the wrong one."""
    _refuse_unknown(body, known, "member")


def _refuse_unknown_query(request: web.Request, known: tuple[str, ...]) -> None:
    """400 naming a query parameter the call does not read: ignored, a typo read as no parameter
    at all (``/journal?integration=a`` answered every integration's requests; ``?limt=0``, every record)."""
    _refuse_unknown(request.query, known, "query parameter")


def _refuse_unknown(names: Iterable[str], known: tuple[str, ...], kind: str) -> None:
    """400 ``invalid_parameter`` naming the first of ``names`` not ``known``, and the closest known."""
    for name in names:
        if name not in known:
            shown = name[:60]
            reads = ", ".join(known) or f"no {kind}"
            raise ApiError.of(
                INVALID_PARAMETER,
                f"unknown {kind} {shown!r}{did_you_mean(name, known)} (this call reads {reads})",
                parameter=shown,
            )


async def list_integrations(request: web.Request) -> web.StreamResponse:
    return await stream_parts(request, request.app[CONTROL].integrations_parts())


async def get_integration(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].integration(_one(request)))


async def delete_integration(request: web.Request) -> web.Response:
    request.app[CONTROL].delete_integration(_one(request))
    return _no_content()


async def get_clock(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].clock(_named(request)))


async def advance_clock(request: web.Request) -> web.Response:
    body = await _json_object(request, required=True)
    return json_response(request.app[CONTROL].advance_clock(body.get("seconds"), _named(request)))


async def set_clock(request: web.Request) -> web.Response:
    body = await _json_object(request, required=True)
    return json_response(request.app[CONTROL].set_clock(body.get("now"), _named(request)))


async def sessions(request: web.Request) -> web.StreamResponse:
    return await stream_parts(request, request.app[CONTROL].sessions_parts(_one(request)))


async def session_detail(request: web.Request) -> web.StreamResponse:
    parts = request.app[CONTROL].session_parts(_one(request), request.match_info["session_id"])
    return await stream_parts(request, parts)


async def datasets(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].datasets(_one(request)))


async def records(request: web.Request) -> web.StreamResponse:
    offset = _query_int(request, "offset", 0, 0, MAX_LIST)
    limit = _query_int(request, "limit", MAX_LIST, 0, MAX_LIST)
    opening, window, closing = request.app[CONTROL].records_parts(
        _one(request), request.match_info["entity_type"], offset, limit
    )
    return await stream_json(request, opening, window, closing)


async def get_scenario(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].scenario(_named(request)))


async def put_scenario(request: web.Request) -> web.Response:
    """Body: a JSON string naming a shipped scenario, or an inline scenario object."""
    value = await _json_body(request, "the scenario")
    return json_response(request.app[CONTROL].put_scenario(value, _named(request)))


async def delete_scenario(request: web.Request) -> web.Response:
    request.app[CONTROL].set_scenario(None, _named(request))
    return _no_content()


async def scenarios(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].shipped_scenarios())


async def get_integration_settings(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].integration_settings(_one(request)))


async def put_integration_settings(request: web.Request) -> web.Response:
    """Body: {setting: value, ...}, replacing the integration's own overrides."""
    overrides = await _json_object(request, required=True)
    return json_response(request.app[CONTROL].put_integration_settings(_one(request), overrides))


async def delete_integration_settings(request: web.Request) -> web.Response:
    request.app[CONTROL].delete_integration_settings(_one(request))
    return _no_content()


async def overview(request: web.Request) -> web.Response:
    """What the dashboard shows of one integration, in one read that never creates it: the newest
    ``sessions`` sessions with their last ``pages`` pages (the full views are ``.../sessions``)."""
    offset = _query_int(request, "offset", 0, 0, MAX_LIST)
    limit = _query_int(request, "limit", 20, 0, 1000)
    sessions = _query_int(request, "sessions", OVERVIEW_SESSIONS, 0, MAX_OVERVIEW_SESSIONS)
    pages = _query_int(request, "pages", OVERVIEW_PAGES, 0, MAX_OVERVIEW_PAGES)
    entity_type = query_value(request, "entity_type") or None
    steps = request.app[CONTROL].overview_steps(_one(request), entity_type, offset, limit, sessions, pages)
    return json_response(await stepped(steps))


async def report(request: web.Request) -> web.Response:
    return json_response((await stepped(request.app[CONTROL].report_steps(_one(request)))).public())


def _journal_filters(request: web.Request) -> tuple[str | None, str | None, int | None]:
    """integration_id, operation and status; the two strings are left out when empty, while
    ``status`` is a whole number when given at all (``status=`` is 400, as ``limit=`` is). An
    operation the journal never records is 400 naming those it does: filtered by it, a typo
    (``push``) read as "no such requests" (200, empty)."""
    status = query_value(request, "status")
    operation = query_value(request, "operation") or None
    if operation is not None and operation not in JOURNAL_OPERATIONS:
        raise ApiError.of(
            INVALID_PARAMETER,
            f"'operation' {operation[:60]!r} is not one the journal records"
            f"{did_you_mean(operation, JOURNAL_OPERATIONS)} (operations: {', '.join(JOURNAL_OPERATIONS)})",
            parameter="operation",
        )
    return (
        query_value(request, "integration_id") or None,
        operation,
        None if status is None else int_param("status", status, 0, 0, 599),
    )


async def journal(request: web.Request) -> web.StreamResponse:
    control = request.app[CONTROL]
    limit = _query_int(request, "limit", 100, 1, control.emulator.settings.journal_size)
    integration_id, operation, status = _journal_filters(request)
    return await stream_parts(request, control.journal_parts(integration_id, limit, operation, status))


async def activity(request: web.Request) -> web.StreamResponse:
    """The whole activity log, oldest first (not a vendor request: not journaled, no scenario)."""
    return await stream_parts(request, request.app[CONTROL].activity_parts(_one(request)))


async def journal_har(request: web.Request) -> web.StreamResponse:
    """The journal as HAR 1.2, to open in a browser's developer tools (``?redact=false`` keeps the
    api-key, Authorization and cookies as sent)."""
    control = request.app[CONTROL]
    limit = _query_int(
        request, "limit", control.emulator.settings.journal_size, 1, control.emulator.settings.journal_size
    )
    redact = query_value(request, "redact")
    if redact is None:
        redact = "true"
    if redact not in ("true", "false"):
        raise ApiError.of(INVALID_PARAMETER, "redact is true or false")
    integration_id, operation, status = _journal_filters(request)
    origin = f"{request.scheme}://{request.host}"
    opening, entries, closing = control.journal_har_parts(
        integration_id, origin, limit, redact == "true", operation, status
    )
    # The id comes from the query: only characters an integration id can hold reach the header
    # (a control byte in a header is refused by aiohttp as it writes, dropping the connection).
    safe = "".join(c for c in (integration_id or "all") if c.isascii() and (c.isalnum() or c in "._:-"))[:128]
    name = f"mock-sprinto-{safe or 'all'}.har"
    headers = {"Content-Disposition": f'inline; filename="{name}"'}
    return await stream_json(request, opening, entries, closing, headers)


def add_read(router: web.UrlDispatcher, path: str, handler: Handler, *query: str) -> None:
    """A control read (GET) taking the ``query`` parameters named: any other is refused."""

    async def reading(request: web.Request) -> web.StreamResponse:
        _refuse_unknown_query(request, query)
        return await handler(request)

    router.add_get(path, reading, allow_head=False)


def add_routes(app: web.Application) -> None:
    r = app.router
    read = functools.partial(add_read, r)
    read(P + "/", dashboard, "token")  # the banner's ?token=ADMIN_TOKEN (the admin guard takes a right one)
    read(P + "/dashboard.js", dashboard_js)
    read(P + "/readme", readme)
    read(P + "/docs/{page}", doc_page)
    read(P + "/health", health)
    read(P + "/settings", settings)
    r.add_post(P + "/reset", reset)
    r.add_post(P + "/integrations", create_integration)
    read(P + "/integrations", list_integrations)
    read(ONE, get_integration)
    r.add_delete(ONE, delete_integration)
    for base in (P, ONE):
        read(base + "/clock", get_clock)
        r.add_post(base + "/clock/advance", advance_clock)
        r.add_post(base + "/clock/set", set_clock)
    read(ONE + "/sessions", sessions)
    read(ONE + "/sessions/{session_id}", session_detail)
    read(ONE + "/records", datasets)
    read(ONE + "/records/{entity_type}", records, "offset", "limit")
    read(P + "/journal", journal, "integration_id", "operation", "status", "limit")
    read(P + "/journal.har", journal_har, "integration_id", "operation", "status", "limit", "redact")
    read(ONE + "/report", report)
    read(ONE + "/activity", activity)
    read(ONE + "/overview", overview, "entity_type", "offset", "limit", "sessions", "pages")
    read(P + "/scenarios", scenarios)
    read(ONE + "/settings", get_integration_settings)
    r.add_put(ONE + "/settings", put_integration_settings)
    r.add_delete(ONE + "/settings", delete_integration_settings)
    for base in (P, ONE):
        read(base + "/scenario", get_scenario)
        r.add_put(base + "/scenario", put_scenario)
        r.add_delete(base + "/scenario", delete_scenario)

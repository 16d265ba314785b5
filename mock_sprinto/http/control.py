"""Part B: the control plane under /_mock, for tests and developers to drive and observe."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import __version__
from ..clock import OffsetClock, format_time, parse_time
from ..errors import bad_request, not_found
from ..faults.engine import counters
from ..faults.scenario import ScenarioError, load_scenario_file, parse_scenario, shipped_by_name, shipped_scenarios
from ..payload import parse_json
from ..service import Emulator, int_param
from ..settings import describe
from ..store import Dataset, Tenant
from .app import CONTROL_PREFIX, EMULATOR, json_response
from .body import read_body
from .dashboard import DASHBOARD_HTML

P = CONTROL_PREFIX
MAX_LIST = 1_000_000


async def _json_object(request: web.Request, required: bool = False) -> dict[str, Any]:
    settings = request.app[EMULATOR].settings
    if not request.body_exists:
        if required:
            raise bad_request("invalid_parameter", "this call needs a JSON object body")
        return {}
    body = await read_body(request, settings, strict_media_type=False)
    if not body.decoded.strip() and not required:
        return {}
    value = parse_json(body.decoded, settings.max_json_depth)
    if not isinstance(value, dict):
        raise bad_request("invalid_parameter", "the body must be a JSON object")
    return value


def _tenant(request: web.Request) -> Tenant:
    return request.app[EMULATOR].tenant(request.match_info["integration_id"])


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    return int_param(name, request.query.get(name), default, low, high)


async def health(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "integrations": len(emulator.tenants),
            "now": format_time(emulator.clock.now()),
        }
    )


async def settings(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    return json_response(
        {
            "settings": emulator.settings.public(),
            "reference": describe(),
            "entity_types": {
                name: {"key_field": schema.key_field, "source": schema.source}
                for name, schema in sorted(emulator.registry.types.items())
            },
            "integrations_declared": sorted(emulator.declared),
            "auto_create_integrations": emulator.auto_create,
        }
    )


async def dashboard(request: web.Request) -> web.Response:
    return web.Response(text=DASHBOARD_HTML, content_type="text/html")


async def reset(request: web.Request) -> web.Response:
    request.app[EMULATOR].reset()
    return json_response({"reset": True})


def _integration_summary(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "api_key_bound": tenant.api_key is not None,
        "active_session_id": tenant.active_session_id,
        "sessions": dict(tenant.state_counts),
        "staged_bytes": tenant.staged_bytes,
        "datasets": {name: len(ds.records) for name, ds in tenant.datasets.items()},
        "clock_offset_seconds": tenant.clock.offset,
    }


async def create_integration(request: web.Request) -> web.Response:
    body = await _json_object(request)
    ident, key = body.get("id"), body.get("api_key")
    for name, value in (("id", ident), ("api_key", key)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 512):
            raise bad_request("invalid_parameter", f"'{name}' must be a non-empty string", parameter=name)
    tenant = request.app[EMULATOR].create_integration(ident, key)
    return json_response({**_integration_summary(tenant), "api_key": tenant.api_key}, 201)


async def list_integrations(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    for tenant in emulator.tenants.values():
        emulator.settle(tenant)
    return json_response({"integrations": [_integration_summary(t) for t in emulator.tenants.values()]})


async def get_integration(request: web.Request) -> web.Response:
    return json_response(_integration_summary(_tenant(request)))


async def delete_integration(request: web.Request) -> web.Response:
    request.app[EMULATOR].delete_integration(request.match_info["integration_id"])
    return web.Response(status=204)


def _clock_view(clock: OffsetClock, frozen: bool, integration_id: str | None = None) -> dict[str, Any]:
    now = clock.now()
    view: dict[str, Any] = {
        "now": format_time(now),
        "epoch_seconds": now,
        "offset_seconds": clock.offset,
        "frozen": frozen,
    }
    if integration_id is not None:
        view["integration_id"] = integration_id
    return view


def _clock_of(request: web.Request) -> tuple[OffsetClock, str | None]:
    if "integration_id" in request.match_info:
        tenant = _tenant(request)
        return tenant.clock, tenant.id
    return request.app[EMULATOR].clock, None


async def get_clock(request: web.Request) -> web.Response:
    clock, ident = _clock_of(request)
    return json_response(_clock_view(clock, request.app[EMULATOR].settings.frozen_clock, ident))


async def advance_clock(request: web.Request) -> web.Response:
    body = await _json_object(request, required=True)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise bad_request(
            "invalid_parameter", "'seconds' must be a number, e.g. {\"seconds\": 3600}", parameter="seconds"
        )
    clock, ident = _clock_of(request)
    clock.advance(float(seconds))
    return await _after_clock_move(request, clock, ident)


async def set_clock(request: web.Request) -> web.Response:
    body = await _json_object(request, required=True)
    raw = body.get("now")
    try:
        when = parse_time(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None:
        raise bad_request(
            "invalid_parameter", "'now' must be an RFC 3339 time such as 2030-01-01T00:00:00Z", parameter="now"
        )
    clock, ident = _clock_of(request)
    clock.set(when)
    return await _after_clock_move(request, clock, ident)


async def _after_clock_move(request: web.Request, clock: OffsetClock, ident: str | None) -> web.Response:
    emulator = request.app[EMULATOR]
    if ident is not None:
        emulator.settle(emulator.tenants[ident])
    return json_response(_clock_view(clock, emulator.settings.frozen_clock, ident))


async def sessions(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return json_response(
        {"integration_id": tenant.id, "sessions": [session.detail() for session in tenant.sessions.values()]}
    )


async def session_detail(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    session = tenant.sessions.get(request.match_info["session_id"])
    if session is None:
        raise not_found("session_not_found", f"integration {tenant.id!r} has no such session")
    return json_response(session.detail())


async def datasets(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return json_response(
        {
            "integration_id": tenant.id,
            "datasets": {name: len(ds.records) for name, ds in sorted(tenant.datasets.items())},
        }
    )


async def records(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    entity_type = request.match_info["entity_type"]
    offset = _query_int(request, "offset", 0, 0, MAX_LIST)
    limit = _query_int(request, "limit", MAX_LIST, 0, MAX_LIST)
    dataset = tenant.datasets.get(entity_type)
    if dataset is None:  # nothing applied yet: an empty dataset of that type
        dataset = Dataset(entity_type, request.app[EMULATOR].registry.key_field(entity_type))
    return json_response(dataset.describe(offset, limit))


def _scenario_view(emulator: Emulator, tenant: Tenant | None) -> dict[str, Any]:
    if tenant is None:
        scenario = emulator.scenario
        return {"scenario": None if scenario is None else scenario.public(), "applies_to": "global"}
    own = tenant.own_scenario
    effective = own or emulator.scenario
    return {
        "integration_id": tenant.id,
        "scenario": None if effective is None else effective.public(),
        "applies_to": "integration" if own is not None else ("global" if effective is not None else None),
        "rules": counters(tenant.faults),
        "effective_settings": tenant.settings.public(),
    }


def _scenario_target(request: web.Request) -> Tenant | None:
    return _tenant(request) if "integration_id" in request.match_info else None


async def get_scenario(request: web.Request) -> web.Response:
    return json_response(_scenario_view(request.app[EMULATOR], _scenario_target(request)))


async def put_scenario(request: web.Request) -> web.Response:
    """Body: a JSON string naming a shipped scenario, or an inline scenario object."""
    emulator = request.app[EMULATOR]
    body = await read_body(request, emulator.settings, strict_media_type=False)
    value = parse_json(body.decoded, emulator.settings.max_json_depth)
    try:
        if isinstance(value, str):
            scenario = shipped_by_name(value)
        elif isinstance(value, dict):
            scenario = parse_scenario(value, "scenario")
        else:
            raise bad_request(
                "invalid_scenario",
                'send a shipped scenario name ("rate-limited") or a scenario object',
                errors=[{"path": "", "line": None, "message": "expected a string or an object"}],
            )
    except ScenarioError as exc:
        raise bad_request(
            "invalid_scenario",
            f"the scenario has {len(exc.problems)} problem(s)",
            errors=[p.public() for p in exc.problems],
        ) from None
    target = _scenario_target(request)
    emulator.set_scenario(scenario, target)
    return json_response(_scenario_view(emulator, target))


async def delete_scenario(request: web.Request) -> web.Response:
    request.app[EMULATOR].set_scenario(None, _scenario_target(request))
    return web.Response(status=204)


async def scenarios(request: web.Request) -> web.Response:
    listed = []
    for name, path in shipped_scenarios().items():
        scenario = load_scenario_file(path)
        listed.append({"name": name, "description": scenario.description})
    return json_response({"scenarios": listed})


def _settings_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "integration_id": tenant.id,
        "overrides": dict(tenant.settings_overrides),
        "effective": tenant.settings.public(),
    }


async def get_integration_settings(request: web.Request) -> web.Response:
    return json_response(_settings_view(_tenant(request)))


async def put_integration_settings(request: web.Request) -> web.Response:
    """Body: {setting: value, ...}, replacing the integration's own overrides."""
    tenant = _tenant(request)
    request.app[EMULATOR].set_integration_settings(tenant, await _json_object(request, required=True))
    return json_response(_settings_view(tenant))


async def delete_integration_settings(request: web.Request) -> web.Response:
    request.app[EMULATOR].set_integration_settings(_tenant(request), {})
    return web.Response(status=204)


async def journal(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    limit = _query_int(request, "limit", 100, 1, emulator.settings.journal_size)
    integration_id = request.query.get("integration_id") or None
    return json_response(
        {"entries": emulator.journal.recent(integration_id, limit), "total_recorded": emulator.journal.total}
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(P + "/", dashboard, allow_head=False)
    r.add_get(P + "/health", health, allow_head=False)
    r.add_get(P + "/settings", settings, allow_head=False)
    r.add_post(P + "/reset", reset)
    r.add_post(P + "/integrations", create_integration)
    r.add_get(P + "/integrations", list_integrations, allow_head=False)
    r.add_get(P + "/integrations/{integration_id}", get_integration, allow_head=False)
    r.add_delete(P + "/integrations/{integration_id}", delete_integration)
    for base in (P, P + "/integrations/{integration_id}"):
        r.add_get(base + "/clock", get_clock, allow_head=False)
        r.add_post(base + "/clock/advance", advance_clock)
        r.add_post(base + "/clock/set", set_clock)
    one = P + "/integrations/{integration_id}"
    r.add_get(one + "/sessions", sessions, allow_head=False)
    r.add_get(one + "/sessions/{session_id}", session_detail, allow_head=False)
    r.add_get(one + "/records", datasets, allow_head=False)
    r.add_get(one + "/records/{entity_type}", records, allow_head=False)
    r.add_get(P + "/journal", journal, allow_head=False)
    r.add_get(P + "/scenarios", scenarios, allow_head=False)
    r.add_get(one + "/settings", get_integration_settings, allow_head=False)
    r.add_put(one + "/settings", put_integration_settings)
    r.add_delete(one + "/settings", delete_integration_settings)
    for base in (P, one):
        r.add_get(base + "/scenario", get_scenario, allow_head=False)
        r.add_put(base + "/scenario", put_scenario)
        r.add_delete(base + "/scenario", delete_scenario)

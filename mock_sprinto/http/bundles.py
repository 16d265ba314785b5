"""Part B, carrying a run home: state bundles (``/_mock/state``, ``/_mock/integrations/{id}/state``,
``/_mock/state/save``), verification of an integration's journal (``.../verify``) and the judge on
captured traffic (``/_mock/judge``). Each handler parses, makes one call to the control plane's
door, and serializes, as ``control.py``'s do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from aiohttp import web

from ..budget import CONTROL_REMEDY
from ..codes import MALFORMED_BODY
from ..coding import damage_said
from ..errors import ApiError
from ..payload import Body, SizeLimit
from ..steps import SMALL_HEAVY_BODY_BYTES, heavy_bodies, heavy_turn, let_go, off_loop, stepped
from .body import content_encoding, declared_coding, read_body
from .common import CONTROL, CONTROL_PREFIX, json_response, query_value, stream_parts
from .control import ONE, _json_object, _named, add_read
from .server import decodes_bodies_itself

P = CONTROL_PREFIX


# What a document's own module says of a body that arrived whole but whose content coding does not
# decode, given the coding and why: each is imported when one is refused, bundle.py and the judge
# being off serve's start path (tests/unit/test_startup.py).
Damaged = Callable[[str, str], ApiError]


def _damaged_bundle(encoding: str, why: str) -> ApiError:
    from ..bundle import damaged_coding

    return damaged_coding(encoding, why)


def _damaged_har(encoding: str, why: str) -> ApiError:
    from ..report.har import damaged_coding

    return damaged_coding(encoding, why)


async def _large_body(request: web.Request, setting: str, document: str, damaged: Damaged) -> Body:
    """A body of up to the ``setting``'s bytes (``max_state_bytes``, ``max_har_bytes``), on the wire
    and decoded. Over it: 413 ``payload_too_large`` naming that setting, not ``max_request_bytes``
    (a vendor page's limit, which raising would not help).

    A document arrived whole whose content coding does not decode (a corrupt or truncated ``.gz``
    sent with ``Content-Encoding: gzip``, as ``state import`` sends a bundle) is refused as a
    document that cannot be read, as the same bytes sent as they are: ``damaged``, its own module's
    refusal (400 ``invalid_state`` for a bundle, ``invalid_har`` for a HAR), told the coding and why
    (the vendor API's advice, "send the compressed page alone", left out: no document is a page). A
    body that did not arrive whole, or that a host app's aiohttp decoded itself, stays 400
    ``malformed_body``: the request is to blame, not the document."""
    emulator = request.app[CONTROL].emulator
    bound = SizeLimit.of_setting(getattr(emulator.settings, setting), setting, document)
    budget, limits = emulator.budget, (bound, bound)
    arrived: list[int] = []  # the size on the wire, once the whole body is read (before decoding)
    try:
        # a 507 here tells the developer what frees room (not a vendor client's "close this session")
        return await read_body(
            request,
            emulator.settings,
            strict_media_type=False,
            budget=budget,
            limits=limits,
            remedy=CONTROL_REMEDY,
            wire_read=arrived.append,
        )
    except ApiError as error:
        if not arrived or error.code != MALFORMED_BODY.code or decodes_bodies_itself(request):
            raise
        encoding = content_encoding(request)
        raise damaged(encoding, damage_said(error, encoding)) from None


@asynccontextmanager
async def _heavy_job(request: web.Request, setting: str, document: str, damaged: Damaged) -> AsyncIterator[Body]:
    """The body (``_large_body``), then the heavy turn (``steps.heavy_turn``) for the job made of it.
    The body is read first, within its own deadline from its first byte: a client trickling its body
    while holding the turn made every later job wait, each one's deadline starting only when its
    turn came (three such clients: 15 s with a 5 s deadline). A large body takes one of
    ``HEAVY_BODIES`` places first, until its job's end, so the bodies read and waiting for the turn
    stay few; a small one sent as it is (a HAR of a few requests) needs none."""
    declared = request.content_length
    placeless = declared is not None and (
        declared > getattr(request.app[CONTROL].emulator.settings, setting)  # refused unread (413)
        or (
            declared <= SMALL_HEAVY_BODY_BYTES
            # compressed, 64 KiB could be max_state_bytes; an unknown coding is refused by read_body
            and declared_coding(request) in ("", "identity")
        )
    )
    async with AsyncExitStack() as places:
        if not placeless:
            await places.enter_async_context(heavy_bodies())
        body = await _large_body(request, setting, document, damaged)
        async with heavy_turn():
            yield body


async def get_state(request: web.Request) -> web.StreamResponse:
    integration_id = _named(request)
    name = f"mock-sprinto-state-{integration_id or 'all'}.json"  # the id was matched by the route: safe
    parts = request.app[CONTROL].state_parts(integration_id)
    return await stream_parts(request, parts, {"Content-Disposition": f'inline; filename="{name}"'})


async def put_state(request: web.Request) -> web.Response:
    """Checked and built off the loop (a full journal's bundle: ~1-2 s), swapped in on it."""
    control = request.app[CONTROL]
    integration_id = _named(request)
    async with _heavy_job(request, "max_state_bytes", "the state bundle", _damaged_bundle) as body:
        restoration = await off_loop(control.checked_state, body.decoded, integration_id, control.import_base())
    answer = json_response(control.restore_state(restoration, integration_id))
    let_go(restoration.pushed_out)  # freed off the loop, as it was built
    return answer


async def save_state(request: web.Request) -> web.Response:
    return json_response(request.app[CONTROL].save_state())


async def verify(request: web.Request) -> web.Response:
    """200 when the journal holds what the body expects; else the control plane raises 422 with the diff."""
    expectations = await _json_object(request)
    steps = request.app[CONTROL].verify_steps(request.match_info["integration_id"], expectations)
    return json_response(await stepped(steps))


async def judge(request: web.Request) -> web.Response:
    """The HAR in the body judged: every integration it holds, or only ``?integration_id=``'s (400
    ``invalid_parameter`` when the HAR holds none of its requests)."""
    control = request.app[CONTROL]
    integration_id = query_value(request, "integration_id") or None
    async with _heavy_job(request, "max_har_bytes", "the HAR", _damaged_har) as body:
        return json_response(await off_loop(control.judge_har, body.decoded, integration_id))


def add_routes(app: web.Application) -> None:
    r = app.router
    for base in (P, ONE):
        add_read(r, base + "/state", get_state)
        r.add_put(base + "/state", put_state)
    r.add_post(P + "/state/save", save_state)
    r.add_post(ONE + "/verify", verify)
    r.add_post(P + "/judge", judge)

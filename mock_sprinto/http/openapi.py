"""``GET /_mock/openapi.json``: the shipped OpenAPI document, completed for this server.

The document is built on the first request (``http/openapi_document.py``); this module is only
the route, so ``mock-sprinto serve`` does not compile the builder before it answers. The builder's
names stay importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .common import CONTROL_PREFIX, EMULATOR, json_response
from .control import add_read

if TYPE_CHECKING:
    from .openapi_document import build_document, document_path, shipped_document

OPENAPI_PATH = CONTROL_PREFIX + "/openapi.json"
# Built on first request (most test apps never ask), kept in a holder set before the app starts.
DOCUMENT: web.AppKey[dict[str, Any]] = web.AppKey("openapi_document", dict)


async def openapi_json(request: web.Request) -> web.Response:
    from .openapi_document import build_document  # imported here: see above

    holder = request.app[DOCUMENT]
    if "doc" not in holder:
        emulator = request.app[EMULATOR]
        holder["doc"] = build_document(emulator.registry, emulator.settings)
    return json_response(holder["doc"])


def add_routes(app: web.Application) -> None:
    app[DOCUMENT] = {}
    add_read(app.router, OPENAPI_PATH, openapi_json)


def __getattr__(name: str) -> Any:
    if name in ("build_document", "document_path", "shipped_document"):
        from . import openapi_document  # imported here: see above

        return getattr(openapi_document, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OPENAPI_PATH", "add_routes", "build_document", "document_path", "shipped_document"]

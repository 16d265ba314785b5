"""What a hostile web page cannot do to an emulator on the developer's machine.

* **DNS rebinding**: a page on ``evil.example`` that re-resolves its own name to 127.0.0.1 talks to
  the emulator as a same-origin page. Its requests carry ``Host: evil.example``: only loopback
  names, the configured ``host`` and the setting ``allowed_hosts`` are served; any other name gets
  421 ``host_not_allowed``.
* **Cross-site requests**: a page on any site can make the browser send a POST without asking
  first (no CORS preflight) when it has no body or a form / ``text/plain`` body. The control
  plane refuses what only such a page sends: a request whose ``Origin`` is not the emulator's own,
  or whose ``Sec-Fetch-Site`` says another site (403 ``cross_site_request``; a top-level
  navigation to a read, a link to the dashboard, is let through), and a state-changing body that
  is not JSON (415 ``unsupported_media_type``), which a browser cannot send cross-origin without a
  preflight the emulator never grants. ``curl -X POST .../_mock/reset`` (no body, no Origin) and
  the dashboard (same origin) are unaffected.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from ..codes import CROSS_SITE_REQUEST, HOST_NOT_ALLOWED, UNSUPPORTED_MEDIA_TYPE
from ..errors import ApiError
from ..naming import is_loopback
from ..settings import Settings

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_SITES = frozenset({"same-origin", "none"})
_CACHE_LIMIT = 1024  # distinct Host values remembered (a flood of random names cannot grow it)


def host_name(value: str) -> str:
    """The name in a Host header, lower case, without its port: ``[::1]:80`` → ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, colon, port = value.rpartition(":")
    return name if colon and port.isdigit() else value


class HostCheck:
    """Which Host headers this server answers: loopback ones, ``host``, ``allowed_hosts``."""

    def __init__(self, settings: Settings) -> None:
        extra = [item.strip() for item in (settings.allowed_hosts or "").split(",") if item.strip()]
        self.any = "*" in extra
        self.names = {host_name(item) for item in extra if item != "*"}
        configured = host_name(settings.host)
        if configured not in ("", "0.0.0.0", "::"):
            self.names.add(configured)
        self._seen: dict[str, bool] = {}

    def allows(self, header: str | None) -> bool:
        if header is None or self.any:  # HTTP/1.0 without a Host: no browser sends that
            return True
        known = self._seen.get(header)
        if known is None:
            name = host_name(header)
            known = name in self.names or is_loopback(name)  # localhost names (RFC 6761), loopback addresses
            if len(self._seen) >= _CACHE_LIMIT:
                self._seen.clear()
            self._seen[header] = known
        return known

    def refusal(self, header: str) -> ApiError:
        return ApiError.of(
            HOST_NOT_ALLOWED,
            f"this emulator does not serve the host name {host_name(header)[:100]!r}; use 127.0.0.1 or "
            "localhost, or add the name to the setting allowed_hosts",
        )


def cross_site_refusal(request: web.BaseRequest) -> ApiError | None:
    """Why a control-plane request looks like one a page on another site made, or None."""
    headers = request.headers
    site = headers.get("Sec-Fetch-Site")
    write = request.method not in _READS
    if site is not None and site.lower() not in _SAFE_SITES:
        navigation = not write and headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
        if not navigation:
            return _cross_site(f"Sec-Fetch-Site is {site[:40]!r}")
    if not write:
        return None
    origin = headers.get(hdrs.ORIGIN)
    if origin is not None:
        host = headers.get(hdrs.HOST)
        if host is None or origin.strip().lower() != f"http://{host.strip().lower()}":
            return _cross_site(f"the request comes from {origin[:100]!r}")
    if request.body_exists and request.content_length != 0 and not _json(request):
        shown = headers.get(hdrs.CONTENT_TYPE, "")[:80]
        return ApiError.of(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {shown!r} is not accepted here; send the body with 'Content-Type: application/json' "
            "(a web page on another site could send this one)",
            setting_applies=False,  # missing_content_type is the vendor API's, about a missing header
        )
    return None


def _json(request: web.BaseRequest) -> bool:
    if hdrs.CONTENT_TYPE not in request.headers:
        return True  # read as JSON; a browser sending a body without a type also sends Origin
    mime = request.content_type.lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def _cross_site(why: str) -> ApiError:
    return ApiError.of(
        CROSS_SITE_REQUEST,
        f"the control API refuses requests a web page on another site made ({why}); call it from the "
        "dashboard, a test or curl",
    )

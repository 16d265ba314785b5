"""What a hostile web page cannot do to an emulator on the developer's machine.

* **DNS rebinding**: a page on ``evil.example`` that re-resolves its own name to 127.0.0.1 talks to
  the emulator as a same-origin page. Its requests carry ``Host: evil.example``: only loopback
  names, the configured ``host`` and the setting ``allowed_hosts`` are served; any other name gets
  421 ``host_not_allowed``. Bound beyond loopback (``host`` 0.0.0.0, as in the container image) and
  with ``allowed_hosts`` unset, the server also answers the names other machines and containers
  reach it by, none of which a page can rebind: a single-label name (a compose or CI service name
  such as ``mock-sprinto``; only a top-level domain's operator could make one resolve in public
  DNS), an IP address (a literal is never looked up), and this machine's own host name. Setting
  ``allowed_hosts`` replaces that default with its list (docs/container.md).
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

import ipaddress
import re
import socket

from aiohttp import hdrs, web

from ..codes import CROSS_SITE_REQUEST, HOST_NOT_ALLOWED, UNSUPPORTED_MEDIA_TYPE
from ..errors import ApiError
from ..naming import is_loopback
from ..settings import Settings
from .common import declared_media, is_json_media

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_SITES = frozenset({"same-origin", "none"})
_CACHE_LIMIT = 1024  # distinct Host values remembered (a flood of random names cannot grow it)
# A name without a dot, as a compose service, a CI service label or a container's host name is.
_SINGLE_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})\Z")


def host_name(value: str) -> str:
    """The name in a Host header, lower case, without its port: ``[::1]:80`` → ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, colon, port = value.rpartition(":")
    return name if colon and port.isdigit() else value


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """Which Host headers this server answers: loopback ones, ``host``, ``allowed_hosts``; bound
    beyond loopback with ``allowed_hosts`` unset, also single-label names, IP addresses and the
    machine's host name (``hostname``: ``socket.gethostname()`` unless given)."""

    def __init__(self, settings: Settings, hostname: str | None = None) -> None:
        extra = [item.strip() for item in (settings.allowed_hosts or "").split(",") if item.strip()]
        self.any = "*" in extra
        self.names = {host_name(item) for item in extra if item != "*"}
        configured = host_name(settings.host)
        if configured not in ("", "0.0.0.0", "::"):
            self.names.add(configured)
        # Reachable from other machines (the banner warns): serve the names they use, none of
        # which a web page can rebind. An explicit allowed_hosts says exactly which names instead.
        bound = settings.host.strip().strip("[]")  # an address to bind, no port: not host_name's input
        self.beyond_loopback = settings.allowed_hosts is None and not is_loopback(bound)
        self.hostname = host_name(socket.gethostname() if hostname is None else hostname)
        if self.beyond_loopback and self.hostname:
            self.names.add(self.hostname)
        self._seen: dict[str, bool] = {}

    def served(self) -> str:
        """The names served, as the banner lists them."""
        if self.any:
            return "any (allowed_hosts '*')"
        kinds = ["loopback ones"]
        names = self.names
        if self.beyond_loopback:
            kinds += ["single-label names (service names such as mock-sprinto)", "IP addresses"]
            if self.hostname:
                kinds.append(f"this machine's name ({self.hostname})")
                names = names - {self.hostname}
        return ", ".join(kinds + sorted(names))

    def allows(self, header: str | None) -> bool:
        if header is None or self.any:  # HTTP/1.0 without a Host: no browser sends that
            return True
        known = self._seen.get(header)
        if known is None:
            name = host_name(header)
            known = (
                name in self.names
                or is_loopback(name)  # localhost names (RFC 6761), loopback addresses
                or (self.beyond_loopback and (_SINGLE_LABEL.match(name) is not None or _is_address(name)))
            )
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
            setting=False,  # missing_content_type is the vendor API's, about a missing header
        )
    return None


def _json(request: web.BaseRequest) -> bool:
    declared = declared_media(request)  # none: read as JSON; a browser sending a body without a type also sends Origin
    return declared is None or is_json_media(declared[0])


def _cross_site(why: str) -> ApiError:
    return ApiError.of(
        CROSS_SITE_REQUEST,
        f"the control API refuses requests a web page on another site made ({why}); call it from the "
        "dashboard, a test or curl",
        setting=False,  # no setting turns this check off or widens it (allowed_hosts is about Host names)
    )

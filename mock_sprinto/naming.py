"""Names the emulator recognises: an integration id, and a host name that stays on this machine.

The lowest module of the package (nothing here imports the rest), so the config file reader,
the service, the control plane, the command line, the probe and the Host check share one
definition of each.
"""

from __future__ import annotations

import ipaddress
import re

# 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit: safe in a URL path,
# a file name and a log line as it is.
INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
# What no header value can carry: a control character but the tab (RFC 9110's field-value), or DEL.
# One search in C: every test's integration is made with a key (a generator over its characters was
# ~60 Python steps of each one-request test, issue 21).
UNSENDABLE_IN_A_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def api_key_problem(key: str) -> str | None:
    """Why no client could ever send ``key`` in its ``api-key`` header (None: one could). HTTP
    refuses a control character in a header's value (NUL, CR, LF...) and strips the white space
    around it, so an integration bound to such a key could never be called."""
    if UNSENDABLE_IN_A_HEADER.search(key) is not None:
        return "holds a control character (NUL, CR, LF...), which no HTTP header can carry"
    if key != key.strip(" \t"):
        return "starts or ends with white space, which HTTP strips from a header's value"
    return None


def is_loopback(host: str) -> bool:
    """A host that names this machine: ``localhost`` or a name ending in ``.localhost`` (RFC 6761
    reserves them for loopback; any case), or a loopback IP literal (127.0.0.0/8, ``::1``).

    ``host`` is a bare name or address, as ``urlsplit(...).hostname`` and ``guards.host_name`` give
    it: no port, no brackets around an IPv6 address (``[::1]`` is not an address, so not loopback).
    """
    name = host.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def reachable_here(host: str) -> str:
    """The address a client on this machine uses for a server bound to ``host``: itself, or
    loopback for an address that binds every interface (``0.0.0.0``, ``::``, ``::0``...): a client
    cannot use those (a browser refuses 0.0.0.0, and a Host header naming it meets allowed_hosts)."""
    bare = host.strip().strip("[]")
    if not bare:
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return host
    if not address.is_unspecified:
        return host
    return "127.0.0.1" if address.version == 4 else "::1"

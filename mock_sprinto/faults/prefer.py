"""``Prefer: code=429, retry_after=3`` or ``Prefer: fault=reset``: one request's answer, forced by the
request itself (as Prism's ``Prefer: code=``), for poking the emulator with curl and for clients
that cannot reach ``/_mock``. It forces that one answer for that one request, never the next;
the journal names it like a scenario rule. Setting ``prefer_header`` switches it off.

Only the preferences below are read; any other (``return=minimal``, RFC 7240's own) is left alone.
"""

from __future__ import annotations

from ..codes import INVALID_PREFER
from ..errors import ApiError
from .engine import PREFER_RULE, Decision
from .vocabulary import TRANSPORT_FAULTS, Respond, TransportFault

KNOWN = ("code", "retry_after", "fault")


def parse_prefer(values: list[str]) -> Decision | None:
    """The forced answer the ``Prefer`` header values ask for, or None; 400 when one of the
    emulator's preferences has a value it cannot use, or they contradict each other (one given
    twice with different values, or code beside fault): which one was meant would be a guess."""
    asked: dict[str, str] = {}
    for value in values:
        for part in value.replace(";", ",").split(","):
            name, _, raw = part.strip().partition("=")
            name = name.strip().lower()
            if name not in KNOWN:
                continue
            raw = raw.strip().strip('"')
            if asked.setdefault(name, raw) != raw:
                raise _refused(f"{name}={asked[name][:40]} and {name}={raw[:40]} contradict each other: send one")
    if not asked:
        return None
    shown = ", ".join(f"{name}={raw}" for name, raw in asked.items())
    fault = asked.get("fault")
    if fault is not None and fault not in TRANSPORT_FAULTS:
        raise _refused(f"fault={fault[:40]!r} is not one of {', '.join(TRANSPORT_FAULTS)}")
    if fault is not None and "code" in asked:
        raise _refused(
            f"code={asked['code'][:40]} and fault={fault}: a request gets an answer (code) "
            "or a broken connection (fault), not both"
        )
    status = _whole(asked, "code", 400, 599, " (an error: the emulator's own answers are the successes)")
    retry_after = _whole(asked, "retry_after", 0, 86400)
    if retry_after is not None and status is None:
        raise _refused("retry_after needs code (e.g. 'Prefer: code=429, retry_after=3')")
    respond = None if status is None else Respond(status=status, retry_after=retry_after)
    transport: TransportFault | None = fault
    return Decision(rules=[PREFER_RULE + shown], respond=respond, transport=transport)


def _whole(asked: dict[str, str], name: str, low: int, high: int, why: str = "") -> int | None:
    raw = asked.get(name)
    if raw is None:
        return None
    # "0503" is no status anyone writes: a leading zero is a typo, not a way to spell 503.
    if not (raw.isascii() and raw.isdigit()) or raw != str(int(raw)) or not low <= int(raw) <= high:
        raise _refused(f"{name}={raw[:40]!r} must be a whole number from {low} to {high}{why}")
    return int(raw)


def _refused(problem: str) -> Exception:
    return ApiError.of(
        INVALID_PREFER,
        f"the Prefer header asks for what the emulator cannot do: {problem}; "
        "it understands code=NNN, retry_after=N and fault=reset|close|truncated_body|malformed_body",
        parameter="Prefer",
    )

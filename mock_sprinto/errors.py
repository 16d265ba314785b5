"""The exception base of mock-sprinto, and the errors a client can act on.

``MockSprintoError`` is the base of every error mock-sprinto raises on purpose (a refused request,
an invalid scenario, settings or schema file, a control call a test handle made that failed...):
catch it to catch them all, one of its subclasses to catch one kind.

The HTTP layer renders every ApiError as an RFC 9457 problem object; the domain never imports
aiohttp, so these are plain exceptions.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from .codes import INVALID_PARAMETER, SHUTTING_DOWN, ErrorCode
from .rules import basis_of


class MockSprintoError(Exception):
    """The base of every error mock-sprinto raises on purpose (``mock_sprinto.MockSprintoError``).

    Its subclasses keep the built-in base callers relied on before it existed (``ScenarioError``
    is still a ``ValueError``)."""


class ApiError(MockSprintoError):
    """An error a client can act on: ``status`` + stable ``code`` + a human ``detail``.

    Raised from the catalogue (``ApiError.of(SESSION_NOT_FOUND, detail)``); the constructor is for
    an answer whose status and code are not the emulator's own (a scenario rule's ``respond``, a
    refusal of aiohttp's)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        setting: str | bool = True,
        basis: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra: dict[str, Any] = extra or {}
        self.headers: dict[str, str] = headers or {}
        # The setting the problem names: True, its rule's; False when the rule's setting would not
        # change this answer (a 415 for a declared text/plain is not what missing_content_type is
        # about); a name when another setting governs it (a 408 for a late body: body_timeout_seconds).
        self.setting = setting
        # The basis when it is not the code's rule's: a refusal only a setting's default makes (a
        # close with no status is Sprinto's 400, read as apply under lenient_close) is "mock".
        self.basis = basis

    @classmethod
    def of(
        cls,
        error: ErrorCode,
        detail: str,
        /,
        *,
        headers: dict[str, str] | None = None,
        setting: str | bool = True,
        basis: str | None = None,
        **extra: Any,
    ) -> ApiError:
        """The catalogue entry's answer: its status and code, ``detail``, and ``extra`` as members
        of the problem object (``active_session_id=...``) beside the standard ones."""
        if error.status is None:  # http_error, injected_fault: the status is the caller's to give
            raise TypeError(f"{error.code!r} has no status of its own: build it with ApiError(status, ...)")
        return cls(error.status, error.code, detail, extra=extra, headers=headers, setting=setting, basis=basis)

    @property
    def title(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem object; ``extra`` members sit beside the standard ones."""
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            **basis_of(self.code),  # whether Sprinto's docs say so, or the emulator chose (and its setting)
        }
        if self.basis is not None:
            body["basis"] = self.basis
        if self.setting is False:
            body.pop("setting", None)
        elif isinstance(self.setting, str):
            body["setting"] = self.setting
        body.update(self.extra)
        return body


def let_go_of_frames(error: BaseException) -> None:
    """Drop the tracebacks of a handled ``error`` and of the exceptions it was raised from, and
    the links between them.

    A traceback holds every frame the error passed through, and a frame holds its locals: where
    one of them names the error (``error = rate_limited(...); raise error``, a refusal checked then
    raised, a body deadline's error kept to be raised later) the error and its frames form a cycle
    that only the garbage collector frees, and with the frames the request, its headers and its
    body. A well-behaved client throttled all day made thousands of them; under a long soak they
    outlived the young collections and every full collection then freed them at once (24-69 ms
    pauses, issue 21). Once the error is answered its frames are of no use: letting go of them
    frees the lot by reference counting, at once.

    The links go too: an error raised while handling another keeps it as its context, and the other
    may hold it in turn (a body deadline's ``BodyInterrupted`` carries the 408 it becomes, and stays
    set on the request's payload, where aiohttp's lingering read raises it again after the answer,
    with new frames). Such a pair is a cycle of its own that held a whole request (issue 21's soak:
    every body deadline)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        each = pending.pop()
        if each is None or id(each) in seen:
            continue
        seen.add(id(each))
        each.__traceback__ = None
        pending += (each.__cause__, each.__context__)
        each.__cause__ = each.__context__ = None


def int_param(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within bounds, or 400 ``invalid_parameter`` naming it."""
    if raw is None:
        return default
    try:  # ASCII digits only: int() would also take '+5', ' 5', '1_0' and other scripts' digits
        value = int(raw, 10) if raw.isascii() and raw.isdigit() else low - 1
    except ValueError:  # more digits than int() converts
        value = low - 1
    if not low <= value <= high:
        raise ApiError.of(
            INVALID_PARAMETER,
            f"'{name}' must be a whole number from {low} to {high}, got {raw[:40]!r}",
            parameter=name,
        )
    return value


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 record``, ``2 records`` (``plural`` for a noun that takes more than an s): counts in
    messages a person reads."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def repeated_parameter(name: str, times: int) -> ApiError:
    """A query parameter sent more than once: refused rather than read as one of its values (which
    one was meant is a guess, and the other may be the client's bug)."""
    return ApiError.of(
        INVALID_PARAMETER, f"query parameter {name[:60]!r} was sent {times} times; send it once", parameter=name[:60]
    )


SHUTDOWN_RETRY_AFTER = 1


def shutting_down() -> ApiError:
    """A request the emulator could not finish because it is stopping (a body cut short, a
    scenario's delay ended early): the client may retry against the next server."""
    return ApiError.of(
        SHUTTING_DOWN,
        "the emulator is stopping; this request was not finished. Start it again and retry",
        retry_after_seconds=SHUTDOWN_RETRY_AFTER,
        headers={"Retry-After": str(SHUTDOWN_RETRY_AFTER)},
        setting="shutdown_timeout_seconds",
    )

"""Near-miss help for a path the API does not have: the closest real endpoint, so a 404 says
"did you mean ..." instead of leaving a client author to diff URLs by eye.

The usual misses, seen in clients written from Sprinto's docs: the base URL without
``/api/external/push`` (or with part of it), no ``v1`` segment, a trailing slash, a singular
``session``/``entity``, and a ``status`` under a session (a session's status is the session itself,
``GET .../sessions/{session_id}``; ``/status`` is the integration's).
"""

from __future__ import annotations

from .common import API_PREFIX

# (method, path below the base URL); a word in braces stands for any one segment
ENDPOINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("POST", ("v1", "integrations", "{integration_id}", "sessions")),
    ("GET", ("v1", "integrations", "{integration_id}", "sessions", "{session_id}")),
    ("POST", ("v1", "integrations", "{integration_id}", "sessions", "{session_id}", "entities")),
    ("POST", ("v1", "integrations", "{integration_id}", "sessions", "{session_id}", "close")),
    ("GET", ("v1", "integrations", "{integration_id}", "status")),
    ("GET", ("v1", "integrations", "{integration_id}", "activity")),
)
_SIMILAR = 0.7  # how alike a misspelt word must be to its real one ("entity" ~ "entities", "sesions" ~ "sessions")
_MAX_SEGMENTS = 12


def _tail(path: str) -> list[str] | None:
    """The segments from ``v1`` (or ``integrations``, the version missing) on, whatever came before."""
    segments = [s for s in path.split("/") if s][: _MAX_SEGMENTS * 2]
    for i, segment in enumerate(segments):
        if _alike(segment, "integrations"):  # the version before it, if any, is put right as v1
            return ["v1", "integrations", *segments[i + 1 :]]
    return None


def _alike(word: str, real: str) -> bool:
    import difflib  # here: only a 404 pays for it, not serve's start-up

    return difflib.SequenceMatcher(None, word.lower(), real).ratio() >= _SIMILAR


def _fit(segments: list[str], template: tuple[str, ...]) -> list[str] | None:
    """The request's segments with every literal word put right, or None if they do not fit."""
    if len(segments) != len(template):
        return None
    fitted = []
    for segment, word in zip(segments, template, strict=True):
        if word.startswith("{"):
            fitted.append(segment)
        elif segment == word or _alike(segment, word):
            fitted.append(word)
        else:
            return None
    return fitted


def closest_endpoint(method: str, path: str) -> str | None:
    """``"POST /api/external/push/v1/..."`` for a path the API does not have, or None."""
    segments = _tail(path)
    if segments is None or len(segments) > _MAX_SEGMENTS:
        return None
    if len(segments) == 6 and segments[3] in ("sessions", "session") and segments[5].lower() == "status":
        segments = segments[:5]  # a session's status is the session itself
    matches = [(m, fitted) for m, template in ENDPOINTS if (fitted := _fit(segments, template)) is not None]
    if not matches:
        return None
    endpoint_method, fitted = next(((m, f) for m, f in matches if m == method.upper()), matches[0])
    suggestion = f"{API_PREFIX}/{'/'.join(fitted)}"
    if suggestion == path and endpoint_method == method.upper():
        return None
    return f"{endpoint_method} {suggestion}"

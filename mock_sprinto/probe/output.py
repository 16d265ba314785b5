"""The probe's output: the table printed side by side, and the settings file written."""

from __future__ import annotations

from datetime import datetime, timezone

from .. import __version__
from ..settings import shown
from .client import Target
from .plan import Seen

DEFAULT_OUT = "probe-settings.yaml"

# (key, what the table calls it, the setting it writes or None: reported only)
ASSUMPTIONS: tuple[tuple[str, str, str | None], ...] = (
    ("close", 'close without "status" ("action", no body)', "lenient_close"),
    ("close_status", "close status code on success", None),
    ("inactivity", "inactivity timeout (expires_at - updated_at)", "inactivity_timeout_seconds"),
    ("page_hint", "page_hint echoed (integer, string)", None),
    ("unknown_fields", 'User + unknown field "department"', "unknown_fields"),
    ("required", "User without employmentType", None),
    ("duplicate_names", "repeated member name in an object", "duplicate_names"),
    ("unknown_entity_types", "type with no schema (Widget)", "unknown_entity_types"),
    ("empty_pages", "page with no records (User: [])", "empty_pages"),
    ("missing_content_type", "page without Content-Type", "missing_content_type"),
    ("max_page_items", "records in one page", "max_page_items"),
    ("max_request_bytes", "request size limit", "max_request_bytes"),
)


def _written(seen: Seen, setting: str | None) -> str:
    if setting is None:
        return "- (reported)"
    if not seen.written:
        return f"- ({seen.note or 'not determined'})"
    return f"{setting}: {shown(seen.value)}"


def table(emulator: dict[str, Seen], probed: dict[str, Seen]) -> str:
    missing = Seen("-", note="not probed")
    rows: list[tuple[str, ...]] = [("assumption", "emulator (defaults)", "probed server", "setting written")]
    for key, label, setting in ASSUMPTIONS:
        theirs = probed.get(key, missing)
        rows.append((label, emulator.get(key, missing).shown, theirs.shown, _written(theirs, setting)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rows.insert(1, tuple("-" * width for width in widths))
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def settings_file(probed: dict[str, Seen], target: Target, integration_id: str, name: str = DEFAULT_OUT) -> str:
    """The ``settings:`` mapping ``--config`` reads, each value with what the server answered."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# Written by mock-sprinto probe {__version__} at {stamp}",
        f"# from {target.shown} (integration {integration_id}).",
        f"# Use: mock-sprinto serve --config {name}",
        "settings:",
    ]
    skipped: list[str] = []
    for key, label, setting in ASSUMPTIONS:
        if setting is None:
            continue
        seen = probed.get(key, Seen("-", note="not probed"))
        said = _comment(f"{label}: {seen.shown}" + (f"; {seen.note}" if seen.note else ""))
        if seen.written:
            lines.append(f"  {f'{setting}: {shown(seen.value)}':36} # {said}")
        else:
            skipped.append(f"#   {setting} ({said})")
    if skipped:
        lines += ["# not written (the emulator's default stays):", *skipped]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return " ".join(text.split())

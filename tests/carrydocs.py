"""The three pages of issue 23 as their tests read them (docs/bundles.md, docs/verify.md,
docs/judge-har.md): each fenced block by its ``<!-- test:NAME -->`` tag."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("docs/bundles.md", "docs/verify.md", "docs/judge-har.md")
FENCE = re.compile(r"(?:<!-- ([^>]*?) -->\n)?^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


def fenced(page: str) -> list[tuple[str | None, str]]:
    """(tag or None, body) of every fenced block of a page."""
    text = (ROOT / page).read_text(encoding="utf-8")
    return [(match.group(1), match.group(3)) for match in FENCE.finditer(text)]


def block(name: str) -> str:
    """The body of the block tagged ``<!-- test:NAME -->`` on one of the pages."""
    found = [body for page in PAGES for tag, body in fenced(page) if tag == f"test:{name}"]
    assert len(found) == 1, f"expected one '<!-- test:{name} -->' block, found {len(found)}"
    return found[0]

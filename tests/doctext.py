"""The docs as the tests read them: README.md and docs/*.md, their tagged code blocks and their
generated tables (the conventions: docs/development.md, "Writing the docs")."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A fenced block and the comment on the line before it, if any: (tag, info string, body).
FENCE = re.compile(r"(?:<!-- ([^>]*?) -->\n)?^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


@cache
def pages() -> dict[str, str]:
    """Every page by its path from the checkout's root: README.md, then docs/*.md."""
    found = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in sorted((ROOT / "docs").glob("*.md")):
        found[f"docs/{path.name}"] = path.read_text(encoding="utf-8")
    return found


def page(name: str) -> str:
    return pages()[name]


def fenced_blocks() -> list[tuple[str, str | None, str, str]]:
    """(page, tag or None, info string, body) of every fenced code block."""
    return [
        (name, match.group(1), match.group(2).strip(), match.group(3))
        for name, text in pages().items()
        for match in FENCE.finditer(text)
    ]


def block(name: str) -> str:
    """The body of the block tagged ``<!-- test:NAME -->``, wherever it is (names are unique)."""
    found = [body for _, tag, _, body in fenced_blocks() if tag == f"test:{name}"]
    assert len(found) == 1, f"the docs should have exactly one '<!-- test:{name} -->' block, found {len(found)}"
    return found[0]


def output(name: str) -> str:
    """The body of the output sample tagged ``<!-- output:NAME -->`` (names are unique)."""
    found = [body for _, tag, _, body in fenced_blocks() if tag == f"output:{name}"]
    assert len(found) == 1, f"the docs should have exactly one '<!-- output:{name} -->' block, found {len(found)}"
    return found[0]


def generated(page_name: str, marker: str) -> str:
    """What sits between ``<!-- MARKER:begin ... -->`` and ``<!-- MARKER:end -->`` on a page."""
    match = re.search(rf"<!-- {marker}:begin[^>]*-->\n(.*?)\n<!-- {marker}:end -->", page(page_name), re.S)
    assert match, f"{page_name} has no generated '{marker}' table"
    return match.group(1)


def commands(text: str, program: str) -> list[str]:
    """The lines of a shell block that run ``program``, continuation lines joined, comments cut."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line.startswith(program + " ") or line == program:
            found.append(line)
    return found


def examples() -> list[tuple[str, str]]:
    """(file, code) of every ``<!-- example:FILE -->`` block."""
    return [(tag.removeprefix("example:"), body) for _, tag, _, body in fenced_blocks() if tag and "example:" in tag]

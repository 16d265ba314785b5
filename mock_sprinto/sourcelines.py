"""JSON pointers, and where things are in a YAML/JSON text so a problem report can name the line:
the line of each pointer (scenario files and config files), and the line and column of a syntax
error.

Next to a leaf (it imports only ``documents``, which imports only the exception base): ``settings``,
``payload`` and ``faults.scenario`` all use it, and each of the latter two imports ``settings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .documents import compose_yaml

if TYPE_CHECKING:
    import yaml


def json_pointer(parts: Iterable[object]) -> str:
    """An RFC 6901 JSON pointer to ``parts`` (``~`` and ``/`` in a part escaped): ``/a~1b/0``.

    The one spelling of a pointer: scenario and config problems here, validation errors and
    the contract checker through ``payload``, which re-exports it."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def pointer_lines(text: str) -> dict[str, int]:
    """Map each JSON pointer in a YAML/JSON text to its 1-based line (a member: its key's line).
    A text that does not parse maps nothing."""
    import yaml  # imported here: lines are looked up for a problem, or a config file (YAML) being read

    found: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        found.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + json_pointer((key.value,))
                found[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}/{i}")

    try:
        root = compose_yaml(text)  # aliases refused, nesting bounded, as when the text is loaded
    except yaml.YAMLError:
        return found
    if root is not None:
        walk(root, "")
    return found


def line_for(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of its closest ancestor that has one."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path.rsplit("/", 1)[0]


_HINTS = {
    "found character '\\t' that cannot start any token": "a tab: YAML indents with spaces",
    "mapping values are not allowed here": "a ': ' inside a value? quote the value",
    "expected <block end>, but found '<block mapping start>'": "check the indentation",
    "expected <block end>, but found '<block sequence start>'": "check the indentation",
}


def syntax_error(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    """(1-based line, 1-based column, what is wrong) of a YAML syntax error in ``text``."""
    import yaml  # imported here: only a YAML error has one (PyYAML is loaded by then)

    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None and isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n"), exc.position - (before.rfind("\n") + 1)
        return line + 1, column + 1, f"character {exc.character!r} is not allowed in YAML ({exc.reason})"
    if mark is None:  # no position: say what PyYAML says, on one line
        return 1, 1, " ".join(str(exc).split())
    what = str(problem or exc)
    context, where = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and where is not None and (where.line, where.column) != (mark.line, mark.column):
        what += f" ({context} at line {where.line + 1}, column {where.column + 1})"
    elif context:
        what += f" ({context})"
    hint = _HINTS.get(str(problem))
    if hint:
        what += f"; {hint}"
    return mark.line + 1, mark.column + 1, what

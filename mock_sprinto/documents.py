"""Reading the documents a user hands the emulator (scenario files, config files) safely.

Three ways a small file becomes a big problem, each refused before it costs anything:

* **size**: a file over ``max_scenario_bytes`` is not read at all;
* **aliases**: YAML's ``&anchor`` / ``*alias`` let nine lines expand to 9**9 strings (the "billion
  laughs"); an alias is refused where it appears, before anything walks the document;
* **nesting**: PyYAML composes recursively, so ``[[[[...`` ten thousand deep is refused as a YAML
  error rather than a crash.

Loading is always ``SafeLoader`` underneath: a document is data, never a recipe for Python objects.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MockSprintoError

if TYPE_CHECKING:
    import yaml

# PyYAML is imported where a document is read as YAML, not with this module: its import is a
# noticeable part of every start-up, and the default scenario ``serve`` loads at every start is
# read by ``plain_json``.

DEFAULT_MAX_DOCUMENT_BYTES = 1_048_576  # the default of the setting max_scenario_bytes


class DocumentTooLarge(MockSprintoError, ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the file is {size} bytes, over the limit of {limit} bytes (setting max_scenario_bytes)")


@functools.cache
def _no_alias_loader() -> type[yaml.SafeLoader]:
    import yaml  # imported here: only a document read as YAML needs it (see above)

    class _NoAliasLoader(yaml.SafeLoader):
        """SafeLoader that refuses aliases (an anchor alone is harmless and allowed) and a key
        repeated in one mapping (YAML says keys are unique; PyYAML lets the last one win, silently)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        repeated = key in seen
                        seen.add(key)
                    except TypeError:  # an unhashable key: the constructor below says so
                        continue
                    if repeated:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping",
                            node.start_mark,
                            f"the key {str(key)[:60]!r} appears twice (the first one would be silently lost)",
                            key_node.start_mark,
                        )
            return super().construct_mapping(node, deep)

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"YAML aliases (*{event.anchor}) are not allowed: repeat the value instead",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

    return _NoAliasLoader


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, refusing aliases and absurd nesting (as ``yaml.YAMLError``)."""
    import yaml  # imported here: see above

    loader = _no_alias_loader()(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise yaml.YAMLError("the document is nested too deeply") from None
    finally:
        loader.dispose()


def compose_yaml(text: str) -> yaml.Node | None:
    """``yaml.compose`` under the same rules (for line numbers)."""
    import yaml  # imported here: see above

    loader = _no_alias_loader()(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    except RecursionError:
        raise yaml.YAMLError("the document is nested too deeply") from None
    finally:
        loader.dispose()


# ---- a JSON text read as JSON ------------------------------------------------------------------
class NotJson(MockSprintoError, ValueError):
    """A file named ``.json`` that is not JSON: what is wrong, and where (``line``, ``column``)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class _Ambiguous(MockSprintoError, ValueError):
    """What ``json.loads`` takes but JSON does not say one way: a repeated key, NaN, Infinity."""


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _Ambiguous("repeated")
    return mapping


def _refuse_constant(name: str) -> Any:
    raise _Ambiguous(f"{name} is not JSON")


def read_as_json(text: str, name: str) -> tuple[Any] | None:
    """``(value,)`` for a text that is JSON, read as JSON: PyYAML reads YAML 1.1, where ``1e3`` is a
    string, though JSON is YAML 1.2 (a scenario's ``retry_after: 1e1`` was "not of type integer").
    None for a text to read as YAML:
    not JSON (a file not named ``.json``), or one with a repeated key, which the YAML reader names
    with its line. A file named ``.json`` that is not JSON raises ``NotJson`` (a trailing comma,
    which YAML's flow style would take, included)."""
    named_json = name.lower().endswith(".json")
    if not named_json and not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return (json.loads(text, object_pairs_hook=_refuse_repeats, parse_constant=_refuse_constant),)
    except json.JSONDecodeError as exc:
        if named_json:
            raise NotJson(_json_problem(text, exc), exc.lineno, exc.colno) from None
    except _Ambiguous as exc:
        if named_json and str(exc) != "repeated":
            raise NotJson(f"not valid JSON: {exc}") from None
    except RecursionError:
        pass  # the YAML reader says "nested too deeply"
    return None


def _json_problem(text: str, exc: json.JSONDecodeError) -> str:
    before = text[: exc.pos].rstrip()
    if before.endswith(",") and exc.pos < len(text) and text[exc.pos] in "]}":
        return f"not valid JSON: a trailing comma before '{text[exc.pos]}'"
    return f"not valid JSON: {exc.msg}"


# ---- plain JSON: the same value as load_yaml, without PyYAML ----------------------------------
_PLAIN_DEPTH = 32  # containers deep (PyYAML composes far deeper; json.loads too)
_PLAIN_KEY_CHARS = 1000  # PyYAML refuses a flow key more than 1024 characters before its ':'


def plain_json(text: str) -> tuple[Any] | None:
    """``(value,)`` when ``text`` is exactly ``json.dumps(value, indent=2)`` (a final newline
    allowed) in printable ASCII, without a backslash, a number in exponent form, NaN or
    Infinity, a key over 1,000 characters or nesting over 32 deep; otherwise None.

    On such a text ``load_yaml`` returns the same value (JSON is YAML; these bounds stay clear of
    where PyYAML's YAML 1.1 reads JSON differently: ``1e5`` is a string to it, escapes and
    non-ASCII are left out, a long key is an error), so a caller may skip PyYAML: the default
    scenario is written this way. ``tests/property/test_plain_json.py`` holds it to that."""
    if not text.isascii() or "\\" in text or "\t" in text:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    shown = json.dumps(value, indent=2)
    if text != shown and text != shown + "\n":  # one spelling only: no repeated key, no odd spacing
        return None
    return (value,) if _plain(value, 1) else None


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity: YAML reads them as strings


def _plain(value: Any, depth: int) -> bool:
    if isinstance(value, dict):
        return depth <= _PLAIN_DEPTH and all(
            len(key) <= _PLAIN_KEY_CHARS and _plain(item, depth + 1) for key, item in value.items()
        )
    if isinstance(value, list):
        return depth <= _PLAIN_DEPTH and all(_plain(item, depth + 1) for item in value)
    if isinstance(value, float):
        return "e" not in repr(value)  # 1e-05: a string to YAML 1.1, which wants a '.' and a signed exponent
    return True


def read_text(path: str | os.PathLike[str], limit: int) -> str:
    """A UTF-8 text file of at most ``limit`` bytes: OSError, UnicodeDecodeError or
    DocumentTooLarge otherwise (a larger file is never read into memory)."""
    with Path(path).open("rb") as handle:
        data = handle.read(limit + 1)
        if len(data) > limit:
            handle.seek(0, os.SEEK_END)
            raise DocumentTooLarge(handle.tell(), limit)
    return data.decode("utf-8")

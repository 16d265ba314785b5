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
    except ValueError as exc:  # a value PyYAML's constructors fail on: a long number, a date of month 13
        raise yaml.YAMLError(_unreadable(exc)) from None
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


def is_text(value: str) -> bool:
    """Whether ``value`` is text an answer can carry: UTF-8 has no lone surrogate (``"\\ud800"``
    read from JSON or YAML, or bytes that were not UTF-8 in the environment)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---- a JSON text read as JSON ------------------------------------------------------------------
class NotJson(MockSprintoError, ValueError):
    """A file named ``.json`` that is not JSON: what is wrong, and where (``line``, ``column``)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class _Ambiguous(MockSprintoError, ValueError):
    """What ``json.loads`` takes but JSON does not say one way: a repeated key, NaN, Infinity."""


class _Repeated(_Ambiguous):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return mapping


def _refuse_constant(name: str) -> Any:
    raise _Ambiguous(f"{name} is not JSON")


def read_as_json(text: str, name: str) -> tuple[Any] | None:
    """``(value,)`` for a text that is JSON, read as JSON: PyYAML reads YAML 1.1, where ``1e3`` is a
    string, though JSON is YAML 1.2 (a scenario's ``retry_after: 1e1`` was "not of type integer").
    None for a text to read as YAML: empty, or not JSON and not named ``.json``. A file named
    ``.json`` that is not JSON raises ``NotJson`` (a trailing comma, which YAML's flow style would
    take, included), and so does any JSON text with a key repeated in one object, a number of more
    digits than Python reads, or a string that is not text (a lone surrogate, ``"\\ud800"``)."""
    text = text.removeprefix("\ufeff")  # a byte order mark, as Windows editors write (PyYAML skips it)
    named_json = name.lower().endswith(".json")
    if not text.strip() or not (named_json or text.lstrip().startswith(("{", "["))):
        return None
    try:
        value = json.loads(text, object_pairs_hook=_refuse_repeats, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        if named_json:
            raise NotJson(_json_problem(text, exc), exc.lineno, exc.colno) from None
        return None
    except _Repeated as exc:
        shown = exc.key if len(exc.key) <= 60 else exc.key[:59] + "…"
        said = f"the key {shown!r} appears twice in one object (the first one would be silently lost)"
        raise NotJson(said, _repeat_line(text)) from None
    except _Ambiguous as exc:
        if named_json:
            raise NotJson(f"not valid JSON: {exc}") from None
        return None
    except RecursionError:
        return None  # the YAML reader says "nested too deeply"
    except ValueError as exc:  # int's own limit on digits (4,300)
        raise NotJson(_unreadable(exc)) from None
    if not is_text(json.dumps(value, ensure_ascii=False)):
        raise NotJson("a string holds a lone surrogate (such as \\ud800), which is not text")
    return (value,)


def _unreadable(exc: ValueError) -> str:
    if "digits" in str(exc):  # int's limit (4,300 digits): its own message speaks to a programmer
        return "a number of more than 4,300 digits: write it as a string"
    return f"a value that cannot be read: {str(exc)[:200]}"


def _repeat_line(text: str) -> int | None:
    """The line of a repeated key, as the YAML reader finds it (None when it cannot read the text:
    tabs, say); JSON's reader tells which key, not where."""
    import yaml  # imported here: only a text with a repeated key needs it

    try:
        load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if "appears twice" in str(getattr(exc, "problem", "")) and mark is not None:
            return int(mark.line) + 1
    except ValueError:
        pass
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

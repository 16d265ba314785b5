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

import os
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MAX_DOCUMENT_BYTES = 1_048_576  # the default of the setting max_scenario_bytes


class DocumentTooLarge(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the file is {size} bytes, over the limit of {limit} bytes (setting max_scenario_bytes)")


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (an anchor alone is harmless and allowed)."""

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


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, refusing aliases and absurd nesting (as ``yaml.YAMLError``)."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise yaml.YAMLError("the document is nested too deeply") from None
    finally:
        loader.dispose()


def compose_yaml(text: str) -> yaml.Node | None:
    """``yaml.compose`` under the same rules (for line numbers)."""
    loader = _NoAliasLoader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    except RecursionError:
        raise yaml.YAMLError("the document is nested too deeply") from None
    finally:
        loader.dispose()


def read_text(path: str | os.PathLike[str], limit: int) -> str:
    """A UTF-8 text file of at most ``limit`` bytes: OSError, UnicodeDecodeError or
    DocumentTooLarge otherwise (a larger file is never read into memory)."""
    with Path(path).open("rb") as handle:
        data = handle.read(limit + 1)
        if len(data) > limit:
            handle.seek(0, os.SEEK_END)
            raise DocumentTooLarge(handle.tell(), limit)
    return data.decode("utf-8")

"""Scenario files: YAML or JSON, validated against ``schemas/scenario.schema.json``.

Every problem is reported at once, each with where it is (a JSON pointer, and the line when the
text is at hand) and what was expected, so a scenario is never silently half-applied.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from ..budget import approx_bytes
from ..documents import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentTooLarge,
    NotJson,
    is_text,
    load_yaml,
    plain_json,
    read_as_json,
    read_text,
)
from ..errors import MockSprintoError
from ..resources import scenarios_dir, schemas_dir
from ..settings import Settings, check_overrides
from ..settings.values import did_you_mean
from ..sourcelines import json_pointer
from ..sourcelines import line_for as _line_for  # shared with the config file loader (settings/configfile.py)
from ..sourcelines import pointer_lines as _lines
from ..wholenumbers import WRITABLE_MAX, WRITABLE_MIN
from .vocabulary import (
    FORBIDDEN_HEADERS,
    Delay,
    Lifecycle,
    Phase,
    Respond,
    RuleOperation,
    TransportFault,
    WhenKind,
    whole,
)

if TYPE_CHECKING:
    import jsonschema

SCENARIO_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")
MAX_PROBLEMS = 100  # listed per invalid scenario; then one more says how many were left out
_SHOWN_CHARS = 60  # of a value quoted in a problem: an error never repeats a large input


@dataclass(frozen=True)
class Problem:
    path: str  # JSON pointer into the scenario
    message: str
    line: int | None = None

    def public(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


class ScenarioError(MockSprintoError, ValueError):
    """An invalid scenario: ``problems`` are those listed (at most ``MAX_PROBLEMS``, then one line
    saying how many were left out); ``total`` is how many were found, listed or not, the count a
    summary gives ("160 problem(s)", not the 101 lines listed)."""

    def __init__(self, source: str, problems: list[Problem], total: int | None = None) -> None:
        self.source = source
        self.problems = problems
        self.total = len(problems) if total is None else total
        super().__init__(f"{source}: " + "; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class FaultRule:
    """One rule of a scenario: which requests it matches, when it fires, and what it does then
    (not to be confused with ``rules.Rule``, a row of the emulator's own behaviours)."""

    index: int
    name: str
    operation: RuleOperation
    session: int | None
    page: int | None
    entity_type: str | None
    page_hint: int | str | None
    when: tuple[WhenKind, float] | None
    times: int | None
    phase: Phase
    respond: Respond | None
    delay: Delay | None
    transport: TransportFault | None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def answers(self) -> bool:
        """Whether the rule replaces the operation's answer (respond or transport)."""
        return self.respond is not None or self.transport is not None

    @property
    def needs_body(self) -> bool:
        return self.entity_type is not None or self.page_hint is not None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int | str | None
    settings: dict[str, Any]
    rules: tuple[FaultRule, ...]
    source: dict[str, Any]  # the document as given, returned by GET .../scenario
    nbytes: int = 0  # what the scenario holds (``approx_bytes`` of its document), for the memory budget

    def public(self) -> dict[str, Any]:
        return dict(self.source)


@cache
def _scenario_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas_dir() / "scenario.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    """python-jsonschema, whose errors word an invalid scenario's problems: the messages users read
    (jsonschema-rs words them differently), and it takes every value YAML reads, dates included,
    where jsonschema-rs refuses what JSON has no type for."""
    import jsonschema  # imported here: a valid scenario never needs it, and start-up would notice its import

    schema = _scenario_schema()
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


@cache
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(_scenario_schema())


def _surely_valid(document: Any) -> bool:
    """The verdict from jsonschema-rs, already imported for the entity schemas: a valid document
    (the default scenario at every start-up) never imports python-jsonschema, whose errors
    (paths, keywords) word the problems of an invalid one."""
    try:
        return bool(_fast_validator().is_valid(document))
    except Exception:  # a value JSON has no type for (YAML reads dates): the full check says why
        return False


def shipped_scenarios() -> dict[str, Path]:
    return {path.stem: path for path in sorted(scenarios_dir().glob("*.yaml"))}


def parse_scenario(document: Any, source: str = "scenario", text: str | None = None) -> Scenario:
    """Validate a scenario document (already loaded) and build it, or raise listing every problem."""
    too_many = _too_many_rules(document)
    if too_many is not None:  # before anything walks them: a schema check of tens of thousands takes seconds
        raise ScenarioError(source, [too_many])
    found_lines: list[dict[str, int]] = [] if text is not None else [{}]

    def lines() -> dict[str, int]:
        # The text is composed again for line numbers only when a problem needs one: a valid
        # scenario (the default one, at every start) is parsed once.
        if not found_lines:
            assert text is not None
            found_lines.append(_lines(text))
        return found_lines[0]

    def line_of(path: str) -> int | None:
        return _line_for(lines(), path)

    # What JSON cannot carry (a YAML set, binary, date, NaN, a 70-bit integer) would pass the checks
    # below and fail later, when the scenario is shown or answers a request: refused first, alone.
    unfit = [Problem(path, message, line_of(path)) for path, message in _not_json(document, lines)]
    if unfit:
        raise ScenarioError(source, sorted(unfit, key=lambda p: (p.line or 0, p.path))[:MAX_PROBLEMS])
    problems: list[Problem] = []
    for error in () if _surely_valid(document) else _schema_validator().iter_errors(document):
        if _is_hollow(error):  # the schema's root anyOf: said below in words
            continue
        path = json_pointer(error.absolute_path)
        if error.validator == "additionalProperties":  # each unknown key at its own line
            problems.extend(Problem(at, message, line_of(at)) for at, message in _unknown_keys(path, error))
            continue
        if "propertyNames" in error.absolute_schema_path:  # a header's name: the problem is at it
            path += json_pointer((error.instance,))
        problems.append(Problem(path, _explain(error), line_of(path)))
    # Meaning is checked too, wherever the shape allows, so one run reports every problem.
    shaped = isinstance(document, dict)
    raw_settings = document.get("settings") if shaped else None
    settings, refused = check_overrides(raw_settings if isinstance(raw_settings, dict) else {})
    for name, message in refused.items():
        path = "/settings" + json_pointer((name,))
        problems.append(Problem(path, message, line_of(path)))
    broken_rules = {p.path.split("/")[2] for p in problems if p.path.startswith("/rules/") and p.path.count("/") >= 2}
    rules = []
    raw_rules = document.get("rules") if shaped else None
    for index, raw_rule in enumerate(raw_rules if isinstance(raw_rules, list) else ()):
        if str(index) in broken_rules or not isinstance(raw_rule, dict):
            continue
        rule, rule_problems = _rule(index, raw_rule)
        problems.extend(Problem(p.path, p.message, line_of(p.path)) for p in rule_problems)
        rules.append(rule)
    if not problems:
        hollow = _hollow_shipped_name(document)
        if hollow is not None:
            problems.append(Problem("/name", hollow, line_of("/name")))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        total = len(problems)
        if total > MAX_PROBLEMS:
            left_out = total - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem("", f"... and {left_out} more problem(s) not listed")]
        raise ScenarioError(source, problems, total)
    assert isinstance(document, dict)
    return Scenario(
        name=document["name"],
        description=document.get("description", ""),
        seed=whole(document.get("seed")),  # 7.0 seeds as 7 does (the seed is formatted into a string)
        settings=settings,
        rules=tuple(rules),
        source=document,
        nbytes=approx_bytes(document),
    )


def _is_hollow(error: Any) -> bool:
    """Whether a schema error is the root ``anyOf`` that keeps a scenario with neither rules nor
    settings off a shipped scenario's name (``_hollow_shipped_name`` says why, in words)."""
    return list(error.absolute_schema_path) == ["anyOf"]


def _hollow_shipped_name(document: dict[str, Any]) -> str | None:
    """Why a scenario with neither rules nor settings, named like a shipped one that has some, is
    refused: it would install nothing under that name, and a sync run against it meets no fault
    (``{"name": "reject-page-2"}`` sent for ``"reject-page-2"``: the control API takes a shipped
    scenario by its name as a JSON string). A shipped scenario that is itself empty (``default``)
    may be written out so: it does what the shipped one does."""
    if document.get("rules") or document.get("settings"):
        return None
    name = document["name"]
    path = scenarios_dir() / f"{name}.yaml"  # a scenario name (checked): no '/' nor '..' in it
    if not path.is_file() or not _does_something(path):
        return None
    return (
        f"this scenario has no rules and no settings: it would install nothing, under the name of the shipped "
        f'scenario {name!r}; to use the shipped one, send its name as a JSON string ("{name}"), or '
        f"--scenario {name} on the command line; to write your own, give it rules (and a name of its own)"
    )


@cache
def _does_something(path: Path) -> bool:
    """Whether a shipped scenario file has rules or settings (each read once: the default scenario,
    empty itself, is parsed at every start; only shipped files are ever cached)."""
    try:
        shipped, _ = read_scenario_document(path)
    except ScenarioError:
        return False  # a damaged install: loading the shipped file itself says so
    return isinstance(shipped, dict) and bool(shipped.get("rules") or shipped.get("settings"))


_SESSION_OPERATIONS = {"get_session", "push_page", "close_session", "start_session", "any"}


def _rule(index: int, raw: dict[str, Any]) -> tuple[FaultRule, list[Problem]]:
    base = f"/rules/{index}"
    problems: list[Problem] = []
    match = raw["match"]
    operation = match["operation"]
    for key in ("page", "entity_type", "page_hint"):
        if key in match and operation not in ("push_page", "any"):
            problems.append(Problem(f"{base}/match/{key}", f"'{key}' only applies to push_page, not {operation}"))
    if "session" in match and operation not in _SESSION_OPERATIONS:
        problems.append(Problem(f"{base}/match/session", f"'session' does not apply to {operation}"))
    delay = raw.get("delay")
    if delay and delay.get("min_seconds", 0) > delay.get("max_seconds", 300):
        problems.append(Problem(f"{base}/delay", "min_seconds must not exceed max_seconds"))
    if raw.get("lifecycle", {}).get("expire_session") and operation in ("integration_status", "activity"):
        problems.append(
            Problem(
                f"{base}/lifecycle/expire_session",
                f"{operation} addresses no session; use start_session, get_session, push_page "
                "or close_session (or any)",
            )
        )
    when = raw.get("when")
    respond = raw.get("respond")
    if isinstance(respond, dict) and isinstance(respond.get("headers"), dict):
        problems.extend(_header_problems(f"{base}/respond/headers", respond["headers"]))
    rule = FaultRule(
        index=index,
        name=raw.get("name") or f"rule {index + 1}",
        operation=operation,
        session=whole(match.get("session")),
        page=whole(match.get("page")),
        entity_type=match.get("entity_type"),
        page_hint=whole(match.get("page_hint")),
        when=None if not when else _when(*next(iter(when.items()))),
        times=whole(raw.get("times")),
        phase=raw.get("phase", "before"),
        respond=None if respond is None else Respond.from_document(respond),
        delay=None if not delay else Delay.from_document(delay),
        transport=raw.get("transport"),
        lifecycle=Lifecycle.from_document(raw.get("lifecycle") or {}),
    )
    return rule, problems


def _when(kind: WhenKind, value: float) -> tuple[WhenKind, float]:
    return kind, value if kind == "probability" else whole(value)


# RFC 9110 5.1 and 5.5: a field name is a token; a field value holds no control character but HTAB.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_FIELD_VALUE = re.compile(r"^[^\x00-\x08\x0a-\x1f\x7f]*\Z")


def _header_problems(base: str, headers: dict[str, Any]) -> list[Problem]:
    """A rule's own headers: names that are tokens, values without CR, LF, NUL or other control
    characters, and none of the framing or hop-by-hop headers the server writes itself."""
    problems = []
    for name, value in headers.items():
        path = base + json_pointer((name,))
        if not isinstance(name, str) or not _TOKEN.match(name):
            problems.append(Problem(path, f"{_short(name)} is not a header name (letters, digits, '-', ...)"))
        elif name.lower() in FORBIDDEN_HEADERS:
            problems.append(
                Problem(path, f"{name} is written by the server itself (framing or hop-by-hop); a rule cannot set it")
            )
        if isinstance(value, str) and not _FIELD_VALUE.match(value):
            problems.append(Problem(path, "a header value cannot hold CR, LF, NUL or another control character"))
    return problems


def _not_json(document: Any, lines: Callable[[], dict[str, int]]) -> list[tuple[str, str]]:
    """Where the document holds a value JSON has no type for, and what it is (at most MAX_PROBLEMS);
    ``lines``: the text's pointers, where a key YAML read as a boolean is still spelled as written."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack and len(found) < MAX_PROBLEMS:
        value, path = stack.pop()
        kind = type(value)
        why = None
        if kind is dict:
            for key, item in value.items():
                if isinstance(key, bool):
                    found.append(_boolean_key(key, path, value, lines))
                elif not isinstance(key, str):
                    found.append((json_pointer((*path, str(key))), f"the key {_short(key)} is not a string"))
                elif not is_text(key):
                    found.append((json_pointer(path), _NOT_TEXT))
                else:
                    stack.append((item, (*path, key)))
        elif kind is list:
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif kind is float and not math.isfinite(value):
            why = f"{value} is not a number JSON can carry: a number must be finite"
        elif kind is int and not WRITABLE_MIN <= value <= WRITABLE_MAX:
            why = "a whole number beyond 64 bits: write it as a string"
        elif kind is str and not is_text(value):
            why = _NOT_TEXT
        elif kind not in (str, int, float, bool) and value is not None:
            why = _UNFIT.get(kind, f"a {kind.__name__} has no JSON type")
        if why is not None:
            found.append((json_pointer(path), why))
    return found


# The words YAML 1.1 (PyYAML) reads as a boolean when unquoted, in any of its cases.
_YAML_BOOLEANS = {True: ("on", "yes", "true"), False: ("off", "no", "false")}


def _boolean_key(
    key: bool, path: tuple[Any, ...], mapping: dict[Any, Any], lines: Callable[[], dict[str, int]]
) -> tuple[str, str]:
    """Where a key YAML read as a boolean is, and why it is refused, in the words the file used:
    ``on:`` (GitHub Actions' word for a trigger) is read as true, so a rule written so has no 'match'."""
    parent = json_pointer(path)
    written = next(
        (
            word
            for pointer in lines()
            if (split := pointer.rpartition("/"))[0] == parent and (word := split[2]).lower() in _YAML_BOOLEANS[key]
        ),
        str(key).lower(),
    )
    boolean = str(key).lower()
    one, two, three = _YAML_BOOLEANS[key]
    said = (
        f"the key {written!r} was read as the boolean {boolean} (YAML 1.1 reads {one}, {two} or {three} as {boolean})"
    )
    is_rule = len(path) == 2 and path[0] == "rules"
    advice = (
        "did you mean 'match'?" if is_rule and "match" not in mapping else f'quote it ("{written}") to keep the word'
    )
    return parent + json_pointer((written,)), f"{said}; {advice}"


# A lone surrogate ("\ud800" in JSON or YAML) makes a str no answer can write: each request the
# scenario answered was a 500, and so was reading the scenario back.
_NOT_TEXT = "a string holding a lone surrogate (such as \\ud800) is not text: no answer can carry it"


_UNFIT = {
    bytes: "binary data (!!binary) has no JSON type: write it as a string",
    set: "a set (!!set) has no JSON type: write a list",
    datetime.date: "a date read from YAML has no JSON type: quote it",
    datetime.datetime: "a date-time read from YAML has no JSON type: quote it",
    tuple: "pairs (!!omap, !!pairs) have no JSON type: write a mapping",
}


def _too_many_rules(document: Any) -> Problem | None:
    limit = _scenario_schema()["properties"]["rules"]["maxItems"]  # read, not validated: nothing walks them
    rules = document.get("rules") if isinstance(document, dict) else None
    if isinstance(rules, list) and len(rules) > limit:
        return Problem("/rules", f"a scenario has at most {limit} rules, this one has {len(rules)}")
    return None


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= _SHOWN_CHARS else shown[:_SHOWN_CHARS] + f"... ({len(shown)} characters)"


def _explain(error: jsonschema.ValidationError) -> str:
    """The schema error in a line that never repeats a large part of the input."""
    message = _explain_schema_error(error)
    instance = repr(error.instance)
    if len(instance) > _SHOWN_CHARS and instance in message:
        message = message.replace(instance, _short(error.instance))
    if len(message) > 300:
        message = message[:297] + "..."
    return message


def _unknown_keys(parent: str, error: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """Each key the schema does not know, at its own pointer, with the closest known keys and all of
    them (a handful at each place), as a config file's unknown key is said."""
    known = list(error.schema.get("properties", {}))
    if not parent:
        whose = "a scenario has"
    elif re.match(r"^/rules/\d+\Z", parent):
        whose = "a rule has"
    else:
        whose = f"{parent.rsplit('/', 1)[-1]} takes"  # match, when, respond, delay, lifecycle
    return [
        (
            # a key too long to quote is pointed at by its parent: an error never repeats a large input
            parent + json_pointer((key,)) if len(key) <= _SHOWN_CHARS else parent,
            f"unknown key {_short(key)}{did_you_mean(key, known)} ({whose} {', '.join(known)})",
        )
        for key in error.instance
        if key not in known
    ]


def _explain_schema_error(error: jsonschema.ValidationError) -> str:
    if "propertyNames" in error.absolute_schema_path:
        name = _short(error.instance)
        if error.validator == "not" and str(error.instance).lower() == "retry-after":
            return (
                "use retry_after: N rather than a Retry-After header: it sets the header and the body's "
                "retry_after_seconds, equal (retry_after: null sends no Retry-After at all)"
            )
        if error.validator == "not":
            return f"{name} is written by the server itself (framing or hop-by-hop); a rule cannot set it"
        return f"{name} is not a header name (letters, digits and !#$%&'*+-.^_`|~)"
    if error.validator == "pattern" and list(error.absolute_schema_path)[-3:-1] == ["headers", "additionalProperties"]:
        return "a header value cannot hold CR, LF, NUL or another control character"
    path = [str(part) for part in error.absolute_path]
    if error.validator == "anyOf" and path[:1] == ["rules"] and "then" in error.absolute_schema_path:
        # the schema's if/then: phase after with no action it could move
        return (
            "phase: after makes a rule's lifecycle actions and answer come once the operation ran; this rule "
            "only delays, and a delay always comes before the operation: leave phase out"
        )
    if error.validator == "anyOf" and path[:1] == ["rules"]:
        return "a rule needs at least one action: respond, delay, transport or lifecycle"
    if error.validator == "not" and path[:1] == ["rules"] and len(path) == 2:
        return "a rule answers (respond) or breaks the connection (transport), not both: make them two rules"
    if path[-2:] == ["respond", "status"] and error.validator in ("minimum", "maximum"):
        return (
            f"{_short(error.instance)} is no error status: a rule answers with an error, 400 to 599 (the "
            "emulator's own answers are the successes: a rule that does not answer lets the operation give its own)"
        )
    if error.validator == "oneOf" and path[-1:] == ["delay"]:
        return "a delay takes seconds: s, or both min_seconds and max_seconds (one form, not both)"
    if error.validator == "pattern" and list(error.absolute_path) == ["name"]:
        return "a scenario name is lowercase letters, digits and '-' (at most 64)"
    if error.validator in ("minProperties", "maxProperties") and "when" in map(str, error.absolute_path):
        return "'when' takes exactly one of nth, every, after, first, probability"
    if error.validator == "const" and error.validator_value is True and path:
        # expire_session, purge_expired: a switch that is on or absent ("True was expected" read as
        # a Python error, and said nothing of how to turn it off)
        given = json.dumps(error.instance)[:_SHOWN_CHARS]
        return f"'{path[-1]}' is a switch that is only ever true: leave it out rather than set it to {given}"
    if error.validator == "type" and not path:
        found = "empty" if error.instance is None else f"a {_json_kind(error.instance)}"
        return f"the scenario is {found}: it must be a mapping with at least 'name' and 'rules'"
    return str(error.message)


def _json_kind(value: Any) -> str:
    """What a person calls the JSON (or YAML) value, for a message."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else type(value).__name__


def _load_text(text: str, source: str) -> Any:
    plain = plain_json(text)  # the value load_yaml would return, without PyYAML (the default scenario)
    if plain is not None:
        return plain[0]
    try:
        strict = read_as_json(text, source)
    except NotJson as exc:
        where = f" (column {exc.column})" if exc.column else ""
        raise ScenarioError(source, [Problem("", f"{exc}{where}", exc.line)]) from None
    if strict is not None:
        return strict[0]
    import yaml  # imported here: only a scenario written in YAML needs it (documents.py says why)

    try:
        return load_yaml(text)  # safe: no Python objects, no aliases, from a scenario file, ever
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(
            source, [Problem("", f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}", line)]
        ) from None


def read_scenario_document(path: str | os.PathLike[str], limit: int = DEFAULT_MAX_DOCUMENT_BYTES) -> tuple[Any, str]:
    """A scenario file's document (YAML or JSON, as loaded) and its text, unchecked: the one reader
    of scenario files, for the server and for a test handle that sends a file inline. A file over
    ``limit`` bytes (setting ``max_scenario_bytes``) is not read; YAML aliases are refused."""
    source = str(path)
    try:
        text = read_text(path, limit)
    except DocumentTooLarge as exc:
        raise ScenarioError(source, [Problem("", str(exc))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [Problem("", f"cannot read the file ({exc})")]) from None
    return _load_text(text, source), text


def load_scenario_file(path: str | Path, limit: int = DEFAULT_MAX_DOCUMENT_BYTES) -> Scenario:
    document, text = read_scenario_document(path, limit)
    return parse_scenario(document, str(path), text)


def resolve_scenario(name_or_path: str, limit: int = DEFAULT_MAX_DOCUMENT_BYTES) -> Scenario:
    """A shipped scenario by name, or a file by path (CLI only: the control API takes names)."""
    shipped = shipped_scenarios()
    if name_or_path in shipped:
        return load_scenario_file(shipped[name_or_path])
    if SCENARIO_NAME.match(name_or_path) and not Path(name_or_path).exists():
        raise ScenarioError(name_or_path, [Problem("", no_shipped_scenario(name_or_path))])
    return load_scenario_file(name_or_path, limit)


def no_shipped_scenario(name: str) -> str:
    """The one message for a scenario name that is not shipped: the closest names ("did you mean"),
    and where the whole list is, as a config file says it."""
    return (
        f"no shipped scenario named {name[:80]!r}{did_you_mean(name, shipped_scenarios())} "
        "(see: mock-sprinto scenarios list)"
    )


def shipped_by_name(name: str) -> Scenario:
    """The control API's lookup: a shipped name only, never a path."""
    shipped = shipped_scenarios()
    if not SCENARIO_NAME.match(name) or name not in shipped:
        raise ScenarioError(
            "scenario",
            [
                Problem(
                    "",
                    f"{name[:80]!r} is not a shipped scenario name "
                    f"(shipped: {', '.join(shipped)}); send an inline scenario "
                    "object to use your own",
                )
            ],
        )
    return load_scenario_file(shipped[name])


def effective_settings(base: Settings, scenario: Scenario | None, overrides: dict[str, Any]) -> Settings:
    """Server settings < the scenario's settings < the integration's own overrides."""
    layered = {**(scenario.settings if scenario is not None else {}), **overrides}
    return base.with_overrides(layered) if layered else base

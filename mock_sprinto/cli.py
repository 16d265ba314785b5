"""Command line: ``mock-sprinto serve`` and friends. ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import gc
import os
import shlex
import signal
import socket
import stat
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from . import __version__, budget
from .control import ControlPlane
from .exitcodes import FAILED, USAGE_ERROR
from .faults.scenario import Scenario, ScenarioError, load_scenario_file, resolve_scenario, shipped_scenarios
from .markdown import table_row
from .naming import is_loopback, reachable_here
from .rules import markdown_table, rules_text
from .service import Emulator
from .settings import FIELDS, Config, ConfigError, SettingsError, describe, flag, load_config, shown, value_hint
from .statecli import add_parsers as add_state_parsers
from .terminal import terminal_width
from .validation import SchemaFileError, SchemaRegistry


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mock-sprinto", description="Local emulator of Sprinto's Entities Sync API.")
    parser.add_argument("--version", action="version", version=f"mock-sprinto {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_serve(commands)
    _add_listings(commands)
    _add_probe(commands)
    _add_exam(commands)
    add_state_parsers(commands)  # state export|import|save, report, judge FILE.har (statecli.py)
    return parser


def _add_serve(commands: argparse._SubParsersAction[_Parser]) -> None:
    serve = commands.add_parser("serve", help="serve the API on localhost (Ctrl-C stops it)")
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="YAML file: settings, integrations, scenario (a path in it is read from the file's folder)",
    )
    serve.add_argument(
        "--scenario",
        metavar="NAME|PATH",
        help="a shipped scenario (see 'scenarios list') or a scenario file; default: default",
    )
    serve.add_argument(
        "--schemas",
        "--schemas-dir",  # the setting's own name (schemas_dir), as --persist-file is persist_file's
        metavar="DIR",
        dest="schemas_dir",
        help="folder of <EntityType>.json schemas added to (or overriding) the shipped ones",
    )
    serve.add_argument(
        "--state",
        metavar="FILE",
        help="start from a state bundle (mock-sprinto state export, a failing test's, GET /_mock/state): "
        "the same sessions, data, clock and scenario decisions",
    )
    serve.add_argument(
        "--port-file",
        metavar="FILE",
        help="once listening, write the port to FILE (atomically, with --port 0 a script reads it there); "
        "removed on the way out",
    )
    for item in describe():  # a flag for every setting, its help from the settings table
        if item["name"] == "schemas_dir":
            continue
        aliases = ["--persist"] if item["name"] == "persist_file" else []
        serve.add_argument(
            flag(item["name"]),
            *aliases,
            dest=item["name"],
            metavar=value_hint(item["name"]),
            help=f"{item['doc']} [{item['origin']}; default {shown(item['default'])}]".replace("%", "%%"),
        )


def _add_listings(commands: argparse._SubParsersAction[_Parser]) -> None:
    """The commands that print what the emulator knows: settings, rules, scenarios."""
    settings = commands.add_parser("settings", help="print every setting with its default and origin")
    settings.add_argument("--markdown", action="store_true", help="as docs/reference.md's table")
    rules = commands.add_parser("rules", help="every rule with its basis: Sprinto's docs, or the emulator's choice")
    rules.add_argument("--markdown", action="store_true", help="as docs/reference.md's table")
    scenarios = commands.add_parser("scenarios", help="list the shipped scenarios, or check scenario files")
    verbs = scenarios.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser, required=True)
    verbs.add_parser("list", help="shipped scenarios with what each exercises")
    check = verbs.add_parser("check", help="validate scenario files; exit 1 on any problem")
    check.add_argument("files", nargs="+", metavar="FILE")


def _add_exam(commands: argparse._SubParsersAction[_Parser]) -> None:
    """Listed here for --help; ``_main`` hands ``exam`` to its own parser (mock_sprinto/exam/cli.py)."""
    commands.add_parser(
        "exam",
        add_help=False,
        help="put your sync command (any language) through every documented fault and judge the outcome "
        "(mock-sprinto exam --help; docs/exam.md)",
    )


def _add_probe(commands: argparse._SubParsersAction[_Parser]) -> None:
    probe = commands.add_parser(
        "probe",
        help="ask a server speaking Sprinto's API (e.g. a real tenant) what the docs leave open; "
        "write the settings that make the emulator match (it only ever discards sessions)",
    )
    probe.add_argument(
        "--base-url", required=True, metavar="URL", help="e.g. https://api.sprinto.com/api/external/push"
    )
    probe.add_argument("--integration-id", required=True, metavar="ID")
    probe.add_argument(
        "--api-key", metavar="KEY", help="the integration's api-key (default: $SPRINTO_API_KEY); never printed"
    )
    probe.add_argument(
        "--out", metavar="FILE", default="probe-settings.yaml", help="settings file to write (default: %(default)s)"
    )
    probe.add_argument(
        "--timeout", metavar="SECONDS", type=float, default=30.0, help="per request (default: %(default)s)"
    )
    probe.add_argument(
        "--probe-close",
        action="store_true",
        help="also send closes without 'status' (to learn lenient_close); on Sprinto such a close may APPLY "
        "an (empty) session: only where that is safe",
    )


def _scenarios(args: argparse.Namespace) -> int:
    if args.verb == "list":
        width = terminal_width()
        for name, path in shipped_scenarios().items():
            print(name)
            print(
                textwrap.fill(
                    load_scenario_file(path).description, width, initial_indent="    ", subsequent_indent="    "
                )
            )
        return 0
    failed = 0
    for file in args.files:
        try:
            scenario = load_scenario_file(file)
        except ScenarioError as exc:
            failed += 1
            print(f"{file}: {exc.total} problem(s)")
            for problem in exc.problems:
                print(f"  {problem}")
            continue
        print(f"{file}: ok ({scenario.name}, {len(scenario.rules)} rule(s))")
    return FAILED if failed else 0


def settings_table() -> str:
    """The README's settings table, generated so it cannot drift from the code."""
    rows = ["| setting | default | from | meaning |", "|---|---|---|---|"]
    for item in describe():
        rows.append(table_row(f"`{item['name']}`", f"`{shown(item['default'])}`", item["origin"], item["doc"]))
    return "\n".join(rows)


def settings_text(width: int | None = None) -> str:
    """``mock-sprinto settings``: a header, then one line a setting, its default and values spelled
    as --help does. With ``width`` (a terminal's), each meaning is wrapped under its column; without
    (a pipe), a setting stays on one line, whole for grep."""
    header = f"{'setting':28} {'default':>12}  {'values':18} "
    # Too narrow a terminal for the meaning beside the values: it goes under them, indented.
    beside = width is None or len(header) <= width - _MEANING_WIDTH
    lines = [header + "[doc|mock] meaning" if beside else header.rstrip()]
    for item in describe():
        name, default, values = item["name"], shown(item["default"]), value_hint(item["name"])
        head = f"{name:28} {default:>12}  {values:18} "
        meaning = f"[{item['origin']}] {item['doc']}"
        if width is None:
            lines.append(head + meaning)
            continue
        column = len(head) if beside and len(head) <= width - _MEANING_WIDTH else 4
        wrapped = textwrap.wrap(meaning, width - column, break_on_hyphens=False, break_long_words=False)
        if column < len(head):
            lines += [head.rstrip(), *(" " * column + line for line in wrapped)]
        else:
            lines += [head + wrapped[0], *(" " * column + line for line in wrapped[1:])]
    return "\n".join(lines)


_MEANING_WIDTH = 30  # the least room a meaning is wrapped into beside its setting


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that left shows up here, not as a traceback at exit
        return code
    except BrokenPipeError:  # `mock-sprinto settings | head`: the reader left early, nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def _serve_flag_without_serve(parser: argparse.ArgumentParser, words: list[str]) -> None:
    """``mock-sprinto --scenario flaky-network``, the command word forgotten (a container's
    arguments replace ``serve``): argparse blamed 'flaky-network' as an invalid COMMAND."""
    first = words[0].split("=", 1)[0] if words else ""
    if not first.startswith("--") or first in ("--help", "--version"):
        return
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if first in commands.choices["serve"]._option_string_actions:
        rest = [word for word in words if word != "serve"]  # `--port 9000 serve`: serve said last
        parser.error(f"{first} is an option of serve: mock-sprinto serve {shlex.join(rest)}")


def _closest_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, unknown: list[str]) -> str:
    """``; did you mean --schemas?`` for each unrecognized flag that is close to one of the command's
    own (``serve --procesing-seconds``): argparse only says it does not know it."""
    import difflib

    flags = [flag for flag in parser._option_string_actions if flag.startswith("--")]
    chosen: argparse.ArgumentParser | None = parser
    while chosen is not None:  # down the subcommands given: serve, state export, ...
        commands = next((a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, commands.dest, None) if commands else None
        chosen = commands.choices.get(name) if commands and isinstance(name, str) else None
        if chosen is not None:
            flags += [flag for flag in chosen._option_string_actions if flag.startswith("--")]
    hints = []
    written = [word.split("=", 1)[0] for word in unknown if word.startswith("--") and word != "--"]
    for word in written:
        close = difflib.get_close_matches(word, flags, n=3, cutoff=0.75)
        if close:
            prefix = f"{word}: " if len(written) > 1 else ""
            hints.append(f"{prefix}did you mean {' or '.join(close)}?")
    return "".join(f"; {hint}" for hint in hints)


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["exam"]:  # its own parser, loaded only here: serve never pays for the exam's imports
        from .exam.cli import main as exam

        return exam(words[1:])
    parser = build_parser()
    _serve_flag_without_serve(parser, words)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # as parse_args says it, with the flags of the command meant
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{_closest_flags(parser, args, unknown)}")
    if args.command == "settings":
        print(settings_table() if args.markdown else settings_text(terminal_width() if sys.stdout.isatty() else None))
        return 0
    if args.command == "rules":
        print(markdown_table() if args.markdown else rules_text())
        return 0
    if args.command == "scenarios":
        return _scenarios(args)
    if args.command in ("state", "judge", "report"):
        from .statecli import run_judge, run_report, run_state

        runs = {"state": run_state, "judge": run_judge, "report": run_report}
        return runs[args.command](args)
    if args.command == "probe":
        from .probe import probe  # imported here: it is the one command that starts an emulator thread

        return probe(
            args.base_url,
            args.integration_id,
            args.api_key,
            out=args.out,
            timeout=args.timeout,
            probe_close=args.probe_close,
        )
    if args.command != "serve":
        parser.print_help()
        return USAGE_ERROR
    cli_values = {name: getattr(args, name) for name in FIELDS if getattr(args, name, None) is not None}
    try:
        config = load_config(args.config, cli=cli_values)
        registry = SchemaRegistry.shipped(config.settings.schemas_dir)
        scenario = resolve_scenario(args.scenario or config.scenario or "default", config.settings.max_scenario_bytes)
    except (SettingsError, SchemaFileError) as exc:
        for problem in exc.problems if isinstance(exc, ConfigError) else (str(exc),):
            print(f"mock-sprinto: error: {problem}", file=sys.stderr)
        return USAGE_ERROR
    except ScenarioError as exc:
        for scenario_problem in exc.problems:  # every problem, one line each
            print(f"mock-sprinto: error: scenario {exc.source}: {scenario_problem}", file=sys.stderr)
        return USAGE_ERROR
    if args.port_file is not None and not args.port_file.strip():
        print("mock-sprinto: error: --port-file needs a file name (it was empty)", file=sys.stderr)
        return USAGE_ERROR
    try:
        return asyncio.run(serve(config, registry, scenario=scenario, state=args.state, port_file=args.port_file))
    except KeyboardInterrupt:
        return 0


def banner(host: str, port: int, emulator: Emulator, config_file: str | None = None) -> str:
    """What ``serve`` prints once it listens: where to point a client, and a curl to try."""
    here = reachable_here(host)  # bound to every interface: 0.0.0.0 is no address to call
    origin = f"http://{here if ':' not in here else f'[{here}]'}:{port}"
    where = f" in {config_file}" if config_file else ""
    fields = [
        ("base URL", f"{origin}/api/external/push"),
        # With an admin token a browser cannot send the Bearer header: the address it opens takes
        # the token once, as ?token= (then a cookie); the bare /_mock/ answered a JSON 401.
        (
            "dashboard",
            f"{origin}/_mock/"
            + (
                "?token=ADMIN_TOKEN (your --admin-token; once, a cookie keeps it)"
                if emulator.settings.admin_token
                else ""
            ),
        ),
        ("control", f"{origin}/_mock/health"),
        ("integrations", _integrations_mode(emulator, where)),
        ("entity schemas", _entity_schemas(emulator.registry)),
        ("scenario", emulator.scenario.name if emulator.scenario else "none"),
    ]
    persist_file = emulator.settings.persist_file
    if persist_file:  # where the run is kept, so a user knows it outlives the process
        fields.append(("persist file", f"{persist_file}, saved when it stops and on POST /_mock/state/save"))
    width = max(len(label) for label, _ in fields)
    lines = [f"mock-sprinto {__version__}: Sprinto Entities Sync API (v1) emulator"]
    lines += [f"  {label:{width}}  {value}" for label, value in fields]
    lines += _first_calls(origin, emulator, where)
    lines.append("Ctrl-C stops it.")
    if not is_loopback(host):
        lines[1:1] = _beyond_loopback(host, emulator)
    return "\n".join(lines)


def _entity_schemas(registry: SchemaRegistry) -> str:
    """The types the server validates, a user's file that replaced a shipped one marked, and the
    files of the folder that look like schemas but are not read (no other word said so)."""
    names = ", ".join(f"{name} (yours)" if name in registry.replaced else name for name in sorted(registry.types))
    if registry.ignored:
        return f"{names or 'none'}; not read: {', '.join(registry.ignored)} (only <EntityType>.json files are)"
    return names or "none"


def _integrations_mode(emulator: Emulator, where: str) -> str:
    """Which integration ids the server answers, and where they were declared."""
    declared = list(emulator.declared)  # in the config file's order
    if emulator.auto_create:
        mode = "open: any integration id, bound to the first api-key it is called with"
        return mode + (f"; declared{where}: {', '.join(declared)}" if declared else "")
    if declared:
        return f"closed: {', '.join(declared)} (declared{where}); any other id gets 401"
    return "closed: no integration declared; create one with POST /_mock/integrations"


def _first_calls(origin: str, emulator: Emulator, where: str) -> list[str]:
    """A curl to try first: start a session of an integration the server answers."""
    declared = list(emulator.declared)
    sessions = f"{origin}/api/external/push/v1/integrations/{{}}/sessions"
    if declared:  # the first declared integration: its key is in the config file, not printed
        return [
            f"try, with KEY set to the api_key of {declared[0]}{where}:",
            f'  curl -s -X POST -H "api-key: $KEY" {sessions.format(declared[0])}',
        ]
    if emulator.auto_create:
        return ["try:", f"  curl -s -X POST -H 'api-key: demo-key' {sessions.format('demo')}"]
    # closed with nothing declared: create an integration through the control API first
    bearer = ' -H "Authorization: Bearer $ADMIN_TOKEN"' if emulator.settings.admin_token else ""
    return [
        "try (no integration is declared: create one first):",
        # The control API reads JSON only: without the Content-Type curl -d sends a form (415).
        f"  curl -s -X POST{bearer} -H 'Content-Type: application/json' {origin}/_mock/integrations"
        + ' -d \'{"id": "demo", "api_key": "demo-key"}\'',
        f"  curl -s -X POST -H 'api-key: demo-key' {sessions.format('demo')}",
    ]


def _beyond_loopback(host: str, emulator: Emulator) -> list[str]:
    """The warning under the title when other machines can reach the server, and the Host names served."""
    from .http.guards import HostCheck  # aiohttp: only the server imports it

    check = HostCheck(dataclasses.replace(emulator.settings, host=host))
    lines = [f"  WARNING: listening on {host}, reachable from other machines; the emulator has no real security"]
    # Wrapped: in a container the list ends with a 12-digit id, and one line of it ran to ~175 characters.
    lines += textwrap.wrap(f"host names served: {check.served()}", 100, initial_indent="  ", subsequent_indent="    ")
    if not check.any:
        lines.append("  any other host name gets 421: list yours with --allowed-hosts NAME[,NAME]")
    return lines


_LISTEN_HINTS = {
    errno.EADDRINUSE: "; use another --port N, or --port 0 for a free one (the banner shows it)",
    errno.EACCES: "; ports below 1024 need privileges: use --port 0 for a free one, or one above 1023",
    errno.EADDRNOTAVAIL: ": it is not an address of this machine (127.0.0.1 is the default)",
}


def _listen_error(host: str, port: int, exc: BaseException) -> str:
    """One line for a socket that could not be bound: what went wrong, and what to do about it."""
    if isinstance(exc, (socket.gaierror, UnicodeError)):  # a name that does not resolve, or cannot be one
        reason = (
            f"{getattr(exc, 'strerror', None) or exc} (--host takes an IP address, or a name this machine resolves)"
        )
    elif isinstance(exc, OSError) and exc.errno and exc.errno > 0:
        text = os.strerror(exc.errno)  # not aiohttp's message, which repeats the address
        reason = text[:1].lower() + text[1:] + _LISTEN_HINTS.get(exc.errno, "")
    else:
        reason = str(exc)
    return f"mock-sprinto: error: cannot listen on {host}:{port}: {reason}"


async def serve(
    config: Config,
    registry: SchemaRegistry,
    ready: Any = None,
    scenario: Scenario | None = None,
    state: str | None = None,
    port_file: str | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM. ``ready`` (optional callable) gets the bound port. ``state``: a
    bundle to start from; the ``persist_file`` setting: one loaded when it exists, saved on the way out.
    ``port_file``: where the bound port is written once listening (removed on the way out)."""
    from aiohttp import web

    from .http import create_app
    from .http.server import EmulatorRunner

    settings = config.settings
    # Handlers first: a Ctrl-C that arrives as soon as the banner is read must stop us cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not Unix
            pass
    emulator = Emulator(config, registry, scenario=scenario)  # a reset installs it again
    loaded = _load_state(emulator, state or _existing(settings.persist_file))
    if loaded is None:
        return USAGE_ERROR
    # Deadlines, the connection cap, problem objects for malformed HTTP, a bounded shutdown.
    runner = EmulatorRunner(create_app(emulator), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except (OSError, OverflowError, ValueError) as exc:  # a port in use, a host that is not ours, ...
        await runner.cleanup()
        print(_listen_error(settings.host, settings.port, exc), file=sys.stderr)
        return USAGE_ERROR
    port = runner.addresses[0][1]
    if loaded:
        print(loaded.replace("{origin}", f"http://{settings.host}:{port}"), flush=True)
    written = ""
    if port_file is not None:  # before the banner: either says the server listens
        try:
            written = _write_port_file(port_file, port)
        except OSError as exc:
            await runner.cleanup()
            print(f"mock-sprinto: error: cannot write --port-file {port_file}: {exc.strerror or exc}", file=sys.stderr)
            return USAGE_ERROR
    print(banner(settings.host, port, emulator, config.config_file), flush=True)
    if ready is not None:
        ready(port)
    try:
        with serving_process():
            await stop.wait()
    finally:
        await runner.cleanup()
        if port_file is not None:
            _remove_port_file(port_file, written)
    if settings.persist_file:
        _save_state(emulator)
    summary = ControlPlane(emulator).run_summary()
    if summary:
        print("mock-sprinto: the clients, judged (GET /_mock/integrations/{id}/report for the evidence):")
        print("\n".join(summary), flush=True)
    print("mock-sprinto: stopped", flush=True)
    return 0


def _write_port_file(path: str, port: int) -> str:
    """The port, one line, put in place whole (written beside, then renamed) so that a script
    polling for the file never reads half of it; what was written, to know it again on the way out."""
    text = f"{port}\n"
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    if found is not None and not (stat.S_ISREG(found.st_mode) or stat.S_ISDIR(found.st_mode)):
        # Renamed over, a link (or /dev/stdout, a FIFO) would be replaced by a file, then deleted
        # on the way out (a reviewer's /dev/stdout went so): only a file of its own is written (a
        # folder fails the rename, "Is a directory").
        raise OSError(errno.EINVAL, "it is not a regular file (a link, a device or a FIFO): name a file of its own")
    if found is not None and stat.S_ISREG(found.st_mode) and not _holds_a_port(path, found.st_size):
        # A file that already holds something else (a typo: --port-file README.md) would be replaced,
        # then deleted on the way out: only an empty one or an earlier port file is written over.
        raise OSError(errno.EEXIST, "it holds something other than a port: name a new file, or remove it first")
    beside = f"{path}.{os.getpid()}.part"
    try:
        with open(beside, "w") as out:
            out.write(text)
        os.replace(beside, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(beside)
        raise
    return text


def _holds_a_port(path: str, size: int) -> bool:
    """Whether a file is empty or holds what a port file does (a stale one: a server killed)."""
    if size == 0:
        return True
    if size > 16:
        return False
    with open(path, "rb") as held:
        return held.read().strip().isdigit()


def _remove_port_file(path: str, written: str) -> None:
    """The port file gone with the server, so that a script never reads a port nothing listens on;
    left alone when another server has written its own there since."""
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return
        with open(path) as kept:
            if kept.read() != written:
                return
        os.unlink(path)


@contextlib.contextmanager
def serving_process() -> Iterator[None]:
    """The process as ``serve`` runs it once listening (``benchmarks.stack`` measures it so too):
    what start-up made (modules, classes, functions: ~45,000 objects) lives as long as the process,
    so it is moved out of the collector's generations and no full collection walks it again (a
    full collection took 13 ms on a fresh server, issue 21, most of it these objects); and freed
    heap stays for the next pages until the server is quiet. The collector is left as found on the
    way out: ``serve`` may run inside another program (tests)."""
    gc.freeze()
    budget.keep_heap_while_serving()
    try:
        yield
    finally:
        gc.unfreeze()


def _existing(path: str | None) -> str | None:
    """The persist file to start from: one there to read (a FIFO would block the start until a
    writer came, and a device or ``/dev/stdout`` holds no saved state; they are only written)."""
    if not path:
        return None
    from .statefile import names_a_file  # imported here: it brings the bundle code, which serve loads only to use it

    return path if names_a_file(path) else None


def _load_state(emulator: Emulator, path: str | None) -> str | None:
    """Start from the bundle at ``path``: what to print once listening ("" when there is none), or
    None after saying why it was refused (nothing is served then)."""
    if path is None:
        return ""
    from .errors import ApiError
    from .statefile import held, journal_cut, read_bundle_file

    try:
        outcome = ControlPlane(emulator).load_state(read_bundle_file(path, emulator.settings.max_state_bytes))
    except ApiError as error:
        print(f"mock-sprinto: error: state {path}: {error.detail}", file=sys.stderr)
        for problem in error.extra.get("errors", [])[1:20]:
            print(f"mock-sprinto: error: state {path}: {problem}", file=sys.stderr)
        return None
    names = outcome["integrations"]
    line = f"mock-sprinto: state loaded from {path}: {held(len(names), outcome['journal_entries'])}"
    line += journal_cut(outcome)
    if len(names) == 1:
        line += f"; its dashboard: {{origin}}/_mock/#integration={names[0]}"
    return line


def _save_state(emulator: Emulator) -> None:
    """Write the ``persist_file`` on the way out, and say so: the user sees where the run went."""
    from .errors import ApiError
    from .statefile import held

    try:
        saved = ControlPlane(emulator).save_state()
    except ApiError as error:
        print(f"mock-sprinto: error: {error.detail}", file=sys.stderr, flush=True)
        return
    except Exception as error:  # the last thing the server does: say why, not a traceback
        # A state the bundle cannot hold (a value orjson cannot write) is a defect, but on the way
        # out the user needs to know the file was not written, and that the old one is as it was.
        path = emulator.settings.persist_file
        print(
            f"mock-sprinto: error: the state could not be saved to {path} ({type(error).__name__}: "
            f"{str(error)[:200]}); the file was left as it was",
            file=sys.stderr,
            flush=True,
        )
        return
    what = held(saved["integrations"], saved["journal_entries"])
    print(f"mock-sprinto: state saved to {saved['saved']} ({saved['bytes']} bytes, {what})", flush=True)

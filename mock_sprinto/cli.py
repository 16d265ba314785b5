"""Command line: ``mock-sprinto serve`` and friends. ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .control import ControlPlane
from .faults.scenario import Scenario, ScenarioError, load_scenario_file, resolve_scenario, shipped_scenarios
from .service import Emulator
from .settings import FIELDS, Config, SettingsError, describe, load_config
from .validation import SchemaFileError, SchemaRegistry

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mock-sprinto", description="Local emulator of Sprinto's Entities Sync API.")
    parser.add_argument("--version", action="version", version=f"mock-sprinto {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    serve = commands.add_parser("serve", help="serve the API on localhost (Ctrl-C stops it)")
    serve.add_argument("--config", metavar="FILE", help="YAML file: settings, integrations")
    serve.add_argument(
        "--scenario",
        metavar="NAME|PATH",
        help="a shipped scenario (see 'scenarios list') or a scenario file; default: default",
    )
    serve.add_argument(
        "--schemas",
        metavar="DIR",
        dest="schemas_dir",
        help="folder of <EntityType>.json schemas added to (or overriding) the shipped ones",
    )
    for item in describe():
        if item["name"] == "schemas_dir":
            continue
        serve.add_argument(
            _flag(item["name"]),
            dest=item["name"],
            metavar="VALUE",
            help=f"{item['doc']} [{item['origin']}; default {item['default']!r}]",
        )
    settings = commands.add_parser("settings", help="print every setting with its default and origin")
    settings.add_argument("--markdown", action="store_true", help="as the README's table")
    scenarios = commands.add_parser("scenarios", help="list the shipped scenarios, or check scenario files")
    verbs = scenarios.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser, required=True)
    verbs.add_parser("list", help="shipped scenarios with what each exercises")
    check = verbs.add_parser("check", help="validate scenario files; exit 1 on any problem")
    check.add_argument("files", nargs="+", metavar="FILE")
    return parser


def _scenarios(args: argparse.Namespace) -> int:
    if args.verb == "list":
        for name, path in shipped_scenarios().items():
            description = " ".join(load_scenario_file(path).description.split())
            print(f"{name:24} {description}")
        return 0
    failed = 0
    for file in args.files:
        try:
            scenario = load_scenario_file(file)
        except ScenarioError as exc:
            failed += 1
            print(f"{file}: {len(exc.problems)} problem(s)")
            for problem in exc.problems:
                print(f"  {problem}")
            continue
        print(f"{file}: ok ({scenario.name}, {len(scenario.rules)} rule(s))")
    return 1 if failed else 0


def settings_table() -> str:
    """The README's settings table, generated so it cannot drift from the code."""
    rows = ["| setting | default | from | meaning |", "|---|---|---|---|"]
    for item in describe():
        default = (
            "null"
            if item["default"] is None
            else str(item["default"]).lower()
            if isinstance(item["default"], bool)
            else str(item["default"])
        )
        rows.append(f"| `{item['name']}` | `{default}` | {item['origin']} | {item['doc']} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "settings":
        print(
            settings_table()
            if args.markdown
            else "\n".join(
                f"{item['name']:28} {item['default']!r:>16}  [{item['origin']}] {item['doc']}" for item in describe()
            )
        )
        return 0
    if args.command == "scenarios":
        return _scenarios(args)
    if args.command != "serve":
        parser.print_help()
        return USAGE_ERROR
    cli_values = {name: getattr(args, name) for name in FIELDS if getattr(args, name, None) is not None}
    try:
        config = load_config(args.config, cli=cli_values)
        registry = SchemaRegistry.shipped(config.settings.schemas_dir)
        scenario = resolve_scenario(args.scenario or config.scenario or "default", config.settings.max_scenario_bytes)
    except (SettingsError, SchemaFileError) as exc:
        print(f"mock-sprinto: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except ScenarioError as exc:
        print(f"mock-sprinto: error: scenario {exc}", file=sys.stderr)
        return USAGE_ERROR
    try:
        return asyncio.run(serve(config, registry, scenario=scenario))
    except KeyboardInterrupt:
        return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def banner(host: str, port: int, emulator: Emulator) -> str:
    """What ``serve`` prints once it listens: where to point a client, and a curl to try."""
    shown = host if ":" not in host else f"[{host}]"
    origin = f"http://{shown}:{port}"
    mode = (
        "open: any integration id, bound to the first api-key it is called with"
        if emulator.auto_create
        else f"declared: {', '.join(sorted(emulator.declared)) or 'none'}"
    )
    lines = [
        f"mock-sprinto {__version__}: Sprinto Entities Sync API (v1) emulator",
        f"  base URL   {origin}/api/external/push",
        f"  dashboard  {origin}/_mock/",
        f"  control    {origin}/_mock/health",
        f"  integrations {mode}",
        f"  entity schemas: {', '.join(sorted(emulator.registry.types)) or 'none'}",
        f"  scenario   {emulator.scenario.name if emulator.scenario else 'none'}",
        "try:",
        f"  curl -s -X POST -H 'api-key: demo-key' {origin}/api/external/push/v1/integrations/demo/sessions",
        "Ctrl-C stops it.",
    ]
    if not _is_loopback(host):
        lines.insert(
            1, f"  WARNING: listening on {host}, reachable from other machines; the emulator has no real security"
        )
        extra = emulator.settings.allowed_hosts
        lines.insert(
            2,
            "  host names served: loopback ones"
            + ("" if host in ("", "0.0.0.0", "::") else f", {host}")
            + (f", {extra}" if extra else "")
            + "; others get 421 (add yours with --allowed-hosts NAME[,NAME])",
        )
    return "\n".join(lines)


async def serve(config: Config, registry: SchemaRegistry, ready: Any = None, scenario: Scenario | None = None) -> int:
    """Serve until SIGINT/SIGTERM. ``ready`` (optional callable) gets the bound port."""
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
    emulator = Emulator(config, registry)
    ControlPlane(emulator).set_scenario(scenario)
    # Deadlines, the connection cap, problem objects for malformed HTTP, a bounded shutdown.
    runner = EmulatorRunner(create_app(emulator), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(
            f"mock-sprinto: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    port = runner.addresses[0][1]
    print(banner(settings.host, port, emulator), flush=True)
    if ready is not None:
        ready(port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    print("mock-sprinto: stopped", flush=True)
    return 0

"""``mock-sprinto state export|import|save`` (against a running emulator, through its control API)
and ``mock-sprinto judge FILE.har`` (offline). ``cli.py`` registers the parsers and hands over."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import orjson

from .exitcodes import FAILED, USAGE_ERROR
from .naming import reachable_here

if TYPE_CHECKING:
    from .httpclient import Answer

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 60.0


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """Where ``serve`` listens in this environment: its ``host`` and ``port`` settings as
    ``MOCK_SPRINTO_HOST`` and ``MOCK_SPRINTO_PORT`` give them (a CI job that sets them for the
    server reaches it with no ``--url``), else ``DEFAULT_URL``. A port that is not one (0 picks a
    free one, which only the banner says) leaves the default's."""
    default = urlsplit(DEFAULT_URL)
    host = env.get("MOCK_SPRINTO_HOST", "").strip() or str(default.hostname)
    port = env.get("MOCK_SPRINTO_PORT", "").strip()
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        port = str(default.port)
    host = reachable_here(host)
    return f"http://{f'[{host}]' if ':' in host else host}:{int(port)}"


def add_parsers(commands: argparse._SubParsersAction[Any]) -> None:
    state = commands.add_parser(
        "state",
        help="export or import a running emulator's state bundle (docs/bundles.md); "
        "'serve --state FILE' starts from one",
    )
    verbs = state.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=type(state))
    for verb, text in (
        ("export", "write a bundle: one integration (--integration) or the whole emulator"),
        ("import", "replace an integration (a bundle of one) or the whole emulator by a bundle"),
        ("save", "have a server started with --persist write its file now"),
    ):
        parser = verbs.add_parser(verb, help=text)
        _add_server_options(parser)
        if verb == "export":
            parser.add_argument("--integration", metavar="ID", help="one integration (default: all of them)")
            parser.add_argument(
                "-o", "--output", metavar="FILE", help="where to write it (.gz: gzip); default: standard output"
            )
        if verb == "import":
            parser.add_argument("file", metavar="FILE", help="a bundle (JSON, or gzip of it)")
    report = commands.add_parser(
        "report",
        help="the judge's report on a running emulator's clients: findings with evidence and advice, and the "
        "behaviours met (docs/judge.md); exit 1 on any error or warning",
    )
    report.add_argument("--integration", metavar="ID", help="one integration (default: every one the server holds)")
    report.add_argument("--json", action="store_true", help="the report(s) as the control API answers them")
    _add_server_options(report)
    judge = commands.add_parser(
        "judge",
        help="judge a client's captured traffic (HAR 1.2, with the real Sprinto or the emulator): "
        "the client report's findings, and what the HAR cannot show (docs/judge-har.md)",
    )
    judge.add_argument("file", metavar="FILE.har")
    judge.add_argument("--json", action="store_true", help="the judgement as JSON (POST /_mock/judge's answer)")
    judge.add_argument(
        "--integration", metavar="ID", help="only this integration's requests (exit 2 when the HAR holds none)"
    )
    judge.add_argument(
        "--large-body-bytes",
        type=int,
        metavar="BYTES",
        help="large_uncompressed_body's threshold (default: the setting judge_large_body_bytes)",
    )
    judge.add_argument("--schemas", metavar="DIR", help="extra entity schemas, as 'serve --schemas' (unknown_field)")


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Where the running emulator is, for the commands that ask it over HTTP (state, report)."""
    parser.add_argument(
        "--url",
        default=default_url(),
        help="the emulator's origin (default: %(default)s; the host and port $MOCK_SPRINTO_HOST and "
        "$MOCK_SPRINTO_PORT give serve, when set)",
    )
    parser.add_argument(
        "--admin-token", metavar="TOKEN", help="when the server has one (default: $MOCK_SPRINTO_ADMIN_TOKEN)"
    )


class _Server:
    """The running emulator a command asks (``--url``, ``--admin-token``); a failure is said once."""

    def __init__(self, command: str, args: argparse.Namespace) -> None:
        self.command = command
        self.url = args.url
        self.parts = urlsplit(args.url)
        token = args.admin_token or os.environ.get("MOCK_SPRINTO_ADMIN_TOKEN")
        self.headers = {"Accept-Encoding": "identity", **({"Authorization": f"Bearer {token}"} if token else {})}

    def usable(self) -> bool:
        try:
            self.parts.port  # noqa: B018 (urlsplit checks the port when it is read: 99999 is refused)
        except ValueError:
            pass
        else:
            if self.parts.scheme in ("http", "https") and self.parts.hostname:
                return True
        print(f"mock-sprinto {self.command}: error: --url {self.url!r} is not http://HOST:PORT", file=sys.stderr)
        return False

    def call(
        self, method: str, path: str, payload: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer | None:
        """The answer, or None after saying why there is none."""
        from .httpclient import connect, exchange, nothing_listens

        assert self.parts.hostname is not None  # usable() first
        conn = connect(self.parts.hostname, self.parts.port, TIMEOUT_SECONDS, tls=self.parts.scheme == "https")
        try:
            return exchange(conn, method, path, payload, {**self.headers, **(headers or {})})
        except ConnectionRefusedError:
            said = nothing_listens(self.parts.hostname, self.parts.port, tls=self.parts.scheme == "https")
            said += ": is serve running there? (--url)"
            print(f"mock-sprinto {self.command}: error: {said}", file=sys.stderr)
            return None
        except OSError as exc:
            print(f"mock-sprinto {self.command}: error: no emulator answered at {self.url}: {exc}", file=sys.stderr)
            return None
        finally:
            conn.close()

    def refused(self, method: str, path: str, answer: Answer) -> None:
        print(
            f"mock-sprinto {self.command}: {method} {path} answered {answer.status}: {_problem(answer.body)}",
            file=sys.stderr,
        )


# ---- state ------------------------------------------------------------------------------------------
def run_state(args: argparse.Namespace) -> int:
    from .bundle import encode

    server = _Server("state", args)
    if not server.usable():
        return USAGE_ERROR
    headers: dict[str, str] = {}
    payload: bytes | None = None
    if args.verb == "export":
        method, path = "GET", "/_mock/state"
        if args.integration:
            path = f"/_mock/integrations/{quote(args.integration, safe='')}/state"
    elif args.verb == "save":
        method, path = "POST", "/_mock/state/save"
    else:
        try:
            with open(args.file, "rb") as handle:
                payload = handle.read()
        except OSError as exc:
            print(f"mock-sprinto state: error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return USAGE_ERROR
        method, path = "PUT", "/_mock/state"
        scope, named = _scope_of(payload)
        if scope == "integration" and named is not None:
            path = f"/_mock/integrations/{quote(named, safe='')}/state"
        headers["Content-Type"] = "application/json"
        if payload[:2] == b"\x1f\x8b":
            headers["Content-Encoding"] = "gzip"
    answer = server.call(method, path, payload, headers)
    if answer is None:
        return FAILED
    if answer.status != 200:
        server.refused(method, path, answer)
        return FAILED
    if args.verb == "export":
        output = args.output
        document = orjson.loads(answer.body)
        data = encode(document, compress=bool(output and output.endswith(".gz")))
        if output:
            from .statefile import held, write_atomically

            write_atomically(output, data)
            what = held(len(document["integrations"]), len(document["journal"]))
            print(
                f"mock-sprinto state: wrote {output} ({len(data)} bytes, {what}); "
                f"open it with: mock-sprinto serve --state {output}",
                file=sys.stderr,
            )
        else:
            sys.stdout.buffer.write(data + b"\n")
        return 0
    print(json.dumps(orjson.loads(answer.body)))
    return 0


# ---- report -----------------------------------------------------------------------------------------
def run_report(args: argparse.Namespace) -> int:
    """The judge's report on each integration (or the one named) of a running emulator."""
    from .report.model import report_lines

    server = _Server("report", args)
    if not server.usable():
        return USAGE_ERROR
    if args.integration:
        ids = [args.integration]
    else:
        listing = server.call("GET", "/_mock/integrations")
        if listing is None:
            return FAILED
        if listing.status != 200:
            server.refused("GET", "/_mock/integrations", listing)
            return FAILED
        ids = [str(item.get("id")) for item in orjson.loads(listing.body).get("integrations") or ()]
    reports = []
    for integration_id in ids:
        path = f"/_mock/integrations/{quote(integration_id, safe='')}/report"
        answer = server.call("GET", path)
        if answer is None:
            return FAILED
        if answer.status != 200:
            server.refused("GET", path, answer)
            # an id the server does not hold (404) or that is none (400): the command line's mistake
            return USAGE_ERROR if answer.status in (400, 404) else FAILED
        reports.append(orjson.loads(answer.body))
    if args.json:
        print(json.dumps(reports[0] if args.integration else reports, indent=2))
    elif not reports:
        print(f"mock-sprinto report: the emulator at {args.url} holds no integration: nothing to judge")
    else:
        more = "--json lists up to 20"
        print("\n\n".join("\n".join(report_lines(report, None, more)) for report in reports))
    blamed = any(f.get("severity") in ("error", "warning") for r in reports for f in r.get("findings") or ())
    return FAILED if blamed else 0


def _scope_of(payload: bytes) -> tuple[str | None, str | None]:
    """A bundle's scope and (of one integration) its id, read here to choose the endpoint."""
    from .bundle import decode
    from .errors import ApiError

    try:
        document = decode(payload, len(payload) * 1000 + 1, 10_000)
    except ApiError:
        return None, None  # the server says what is wrong with it
    if not isinstance(document, dict):
        return None, None
    integrations = document.get("integrations")
    first = integrations[0] if isinstance(integrations, list) and integrations else None
    named = first.get("id") if isinstance(first, dict) else None
    return document.get("scope"), named if isinstance(named, str) else None


def _problem(body: bytes) -> str:
    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:300].decode("utf-8", "replace")
    if not isinstance(problem, dict):
        return str(problem)[:300]
    text = f"{problem.get('code', 'error')}: {problem.get('detail', '')}"
    errors = problem.get("errors")
    if isinstance(errors, list):
        text += "".join(f"\n  - {error}" for error in errors[:20])
    return text


# ---- judge ------------------------------------------------------------------------------------------
def run_judge(args: argparse.Namespace) -> int:
    from .errors import ApiError
    from .report.har import judge_har, judgement_text, parse_har
    from .settings import Settings
    from .validation import SchemaFileError, SchemaRegistry

    settings = Settings()
    if args.large_body_bytes is not None:
        if args.large_body_bytes < 1:
            print("mock-sprinto judge: error: --large-body-bytes takes a whole number of 1 or more", file=sys.stderr)
            return USAGE_ERROR
        settings = settings.with_overrides({"judge_large_body_bytes": args.large_body_bytes})
    limit = settings.max_har_bytes
    try:
        with open(args.file, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        print(f"mock-sprinto judge: error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    if len(data) > limit:
        print(f"mock-sprinto judge: error: {args.file} is over {limit} bytes (setting max_har_bytes)", file=sys.stderr)
        return USAGE_ERROR
    try:
        registry = SchemaRegistry.shipped(args.schemas)
    except SchemaFileError as exc:
        print(f"mock-sprinto judge: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    known = {name: schema.known_fields for name, schema in registry.types.items()}
    try:
        judgement = judge_har(parse_har(data), known, settings, args.integration)
    except ApiError as error:
        print(f"mock-sprinto judge: error: {args.file}: {error.detail}", file=sys.stderr)
        for problem in error.extra.get("errors", [])[1:20]:
            print(f"  {problem}", file=sys.stderr)
        return USAGE_ERROR
    if args.json:
        print(json.dumps(judgement.public(), indent=2))
    else:
        print(judgement_text(judgement, args.file))
    blamed = any(f.severity in ("error", "warning") for r in judgement.reports for f in r.report.findings)
    return FAILED if blamed else 0

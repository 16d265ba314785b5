"""``mock-sprinto state export|import|save`` (against a running emulator, through its control API)
and ``mock-sprinto judge FILE.har`` (offline). ``cli.py`` registers the parsers and hands over."""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import orjson

from .codes import ADMIN_TOKEN_REQUIRED, INTEGRATION_NOT_FOUND
from .exitcodes import FAILED, UNREACHABLE, USAGE_ERROR
from .naming import reachable_here

if TYPE_CHECKING:
    from .httpclient import Answer

DEFAULT_URL = "http://127.0.0.1:8080"
# `report`'s line for an integration no request of the vendor API reached (one a scenario, a setting
# or a clock step made): its report is empty because there was nothing to judge.
NOTHING_TO_JUDGE = "no Sprinto API request reached it: nothing to judge"
# Why a client's requests may reach no integration: another server, or a key refused 401 (a 401 is
# journaled to no integration, since the key was not the integration's).
NOTHING_TO_JUDGE_WHY = (
    "is the client's base URL this server's, and its api-key the integration's? A request with a wrong "
    "key is answered 401 and judged for no integration: GET /_mock/journal?status=401 lists them"
)
TIMEOUT_SECONDS = 60.0
REFUSED_SHOWN = 5  # requests answered 401 listed when no integration received one


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
        "'serve --state FILE' starts from one; exit 1 when the server refused, 2 for a usage error, "
        f"{UNREACHABLE} when no emulator answered",
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
        if verb in ("import", "save"):
            parser.add_argument("--json", action="store_true", help="the server's answer as JSON instead of a sentence")
    report = commands.add_parser(
        "report",
        help="the judge's report on a running emulator's clients: findings with evidence and advice, and the "
        "behaviours met (docs/judge.md); exit 1 on any error or warning, or when no integration received a "
        f"Sprinto API request (nothing to judge), 2 for a usage error, {UNREACHABLE} when no emulator answered",
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
    judge.add_argument(
        "--schemas",
        "--schemas-dir",
        metavar="DIR",
        dest="schemas",
        help="extra entity schemas, as 'serve --schemas' (unknown_field)",
    )
    judge.add_argument(
        "--max-har-bytes",
        type=int,
        metavar="BYTES",
        help="the largest file judged (default: the setting max_har_bytes, 64 MiB)",
    )


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Where the running emulator is, for the commands that ask it over HTTP (state, report)."""
    parser.add_argument(
        "--url",
        default=default_url(),
        help="the emulator's origin, http://HOST:PORT with no path and no user:password@ (default: "
        "%(default)s; the host and port $MOCK_SPRINTO_HOST and $MOCK_SPRINTO_PORT give serve, when set)",
    )
    parser.add_argument(
        "--admin-token", metavar="TOKEN", help="when the server has one (default: $MOCK_SPRINTO_ADMIN_TOKEN)"
    )


_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?\Z")  # its labels, once idna-encoded


def parse_origin(url: str) -> tuple[str, str, int] | str:
    """``(scheme, host, port)`` of an ``http(s)://HOST:PORT`` URL, or why it names no server to call.
    Each refusal here was a traceback or a quiet port 80 in some layer below. A path, a query or a
    fragment (a trailing "/" alone is none) is refused too: it was dropped unsaid, and the requests
    went to the origin's root, since the emulator is served there, never under a prefix. So is a
    user or password (``http://user:pass@HOST:PORT``), dropped unsaid too: an admin token goes in
    ``--admin-token`` or ``$MOCK_SPRINTO_ADMIN_TOKEN``."""
    try:
        parts = urlsplit(url)
        port = parts.port  # read, it refuses "99999" and "x"; "[::1" and "[zz]" fail in urlsplit itself
    except ValueError as exc:
        # With an "@" the text it quotes may be a password ("http://u:p#w@host": its port is "p")
        return _CREDENTIALS_REFUSAL + "give --url http://HOST:PORT" if "@" in url else str(exc)
    if parts.scheme not in ("http", "https"):
        return "its scheme is http or https"
    host = unquote(parts.hostname or "")  # "[fe80::1%25eth0]": the zone as the socket takes it
    if not host:
        return "it names no host"
    if ":" in host:  # urlsplit checks an address in brackets only on some Python versions
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"{host!r} is no IPv6 address"
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii")  # as the socket will: "a..b" has an empty label
        except UnicodeError:
            return f"{host!r} is no host name"
        if not _HOST_NAME.match(ascii_host):  # http.client refuses spaces and control characters
            return f"{host!r} is no host name"
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        # http.client reads a port 0 or an empty one as none: it would quietly ask port 80
        said = "port 0" if port == 0 else "an empty port"
        return f"{said} would ask port 80: give the port serve listens on (its banner says it)"
    if "@" in parts.netloc:  # urlsplit keeps a user and password apart, and nothing here sent them
        return _CREDENTIALS_REFUSAL + f"give --url {parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    beyond = [
        f"{what} ({text!r})"
        for what, text, given in (
            ("a path", parts.path, parts.path not in ("", "/")),
            ("a query", f"?{parts.query}", bool(parts.query)),
            ("a fragment", f"#{parts.fragment}", bool(parts.fragment)),
        )
        if given
    ]
    if beyond:
        listed = " and ".join([", ".join(beyond[:-1]), beyond[-1]] if len(beyond) > 1 else beyond)
        return (
            f"it has {listed}: the emulator is served at its origin's root (/_mock, /api/external/push), "
            f"never under a prefix; give --url {parts.scheme}://{parts.netloc}"
        )
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


_CREDENTIALS_REFUSAL = (
    "it has a user or password before its host: credentials do not go in the URL (they would be "
    "dropped unsent); an admin token goes in --admin-token or $MOCK_SPRINTO_ADMIN_TOKEN; "
)
# Whatever comes before a URL's last "@" (after its scheme), shown as "***": a password may hold a
# "/", "?" or "#" (where a URL parser ends the authority), and a URL may have no "//".
_CREDENTIALS = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?/*)[^@]*@")


def _without_credentials(url: str) -> str:
    """The URL as a usage error shows it: a password (or a token put as the user) is not echoed to a
    terminal or a CI log."""
    return _CREDENTIALS.sub(r"\1***@", url, count=1)


class _Server:
    """The running emulator a command asks (``--url``, ``--admin-token``); a failure is said once."""

    def __init__(self, command: str, args: argparse.Namespace) -> None:
        self.command = command
        self.url: str = args.url
        self.scheme, self.host, self.port = "http", "", 0  # usable() reads them from the URL
        token = args.admin_token or os.environ.get("MOCK_SPRINTO_ADMIN_TOKEN")
        self.headers = {"Accept-Encoding": "identity", **({"Authorization": f"Bearer {token}"} if token else {})}

    def usable(self) -> bool:
        """Whether the URL names a server to call, after saying why not (a usage error, never a
        traceback from urlsplit, http.client or the idna codec later)."""
        origin = parse_origin(self.url)
        if isinstance(origin, tuple):
            self.scheme, self.host, self.port = origin
            return True
        said = f"--url {_without_credentials(self.url)!r} is not http://HOST:PORT: {origin}"
        host = os.environ.get("MOCK_SPRINTO_HOST", "").strip()
        if host and self.url == default_url():  # no --url given: the environment made this one
            said += f" (made of $MOCK_SPRINTO_HOST={host!r}: give --url, or the host serve binds)"
        print(f"mock-sprinto {self.command}: error: {said}", file=sys.stderr)
        return False

    def call(
        self, method: str, path: str, payload: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer | None:
        """The answer, or None after saying why there is none."""
        from .httpclient import connect, exchange, nothing_listens

        tls = self.scheme == "https"
        conn = connect(self.host, self.port, TIMEOUT_SECONDS, tls=tls)
        try:
            return exchange(conn, method, path, payload, {**self.headers, **(headers or {})})
        except ConnectionRefusedError:
            said = nothing_listens(self.host, self.port, tls=tls) + ": is serve running there? (--url)"
            print(f"mock-sprinto {self.command}: error: {said}", file=sys.stderr)
            return None
        except (OSError, http.client.HTTPException) as exc:
            # an HTTPException: what answered speaks no HTTP (an SSH port...), once a traceback
            why = f"{exc}" if isinstance(exc, OSError) else f"not an HTTP answer ({type(exc).__name__}: {exc})"
            print(f"mock-sprinto {self.command}: error: no emulator answered at {self.url}: {why}", file=sys.stderr)
            return None
        finally:
            conn.close()

    def document(self, method: str, path: str, answer: Answer) -> Any:
        """The answer's JSON, or None after saying that what answered is no emulator (an HTML page...)."""
        try:
            return orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            print(
                f"mock-sprinto {self.command}: error: no emulator answered at {self.url}: {method} {path} "
                f"answered {answer.status} with no JSON",
                file=sys.stderr,
            )
            return None

    def shaped(self, method: str, path: str, answer: Answer, fits: Callable[[Any], bool]) -> Any:
        """``document``, or None after saying that what answered is no emulator: JSON of another
        shape (some other service on that port) gave an empty report or a traceback, exit 0 or 1."""
        document = self.document(method, path, answer)
        if document is None or fits(document):
            return document
        self.not_the_emulators(method, path)
        return None

    def read(self, path: str, fits: Callable[[Any], bool], usage: tuple[int, ...]) -> tuple[Any, int]:
        """``GET path``'s document and 0, or None and the exit code after saying why: the server's
        refusal (``USAGE_ERROR`` for a status in ``usage``: the command line is to blame), or no
        emulator answering (``UNREACHABLE``)."""
        answer = self.call("GET", path)
        if answer is None:
            return None, UNREACHABLE
        if answer.status != 200:
            self.refused("GET", path, answer)
            return None, USAGE_ERROR if answer.status in usage else UNREACHABLE
        document = self.shaped("GET", path, answer, fits)
        return document, 0 if document is not None else UNREACHABLE

    def not_the_emulators(self, method: str, path: str) -> None:
        """Say that what answered JSON of another shape is no emulator."""
        print(
            f"mock-sprinto {self.command}: error: no emulator answered at {self.url}: {method} {path} "
            f"answered JSON that is not the emulator's",
            file=sys.stderr,
        )

    def refused(self, method: str, path: str, answer: Answer) -> None:
        print(
            f"mock-sprinto {self.command}: {method} {path} answered {answer.status}: {_problem(answer.body)}",
            file=sys.stderr,
        )


# ---- state ------------------------------------------------------------------------------------------
def run_state(args: argparse.Namespace) -> int:
    from .bundle import encode
    from .coding import GZIP_MAGIC

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
        if payload[:2] == GZIP_MAGIC:
            headers["Content-Encoding"] = "gzip"
    output = args.output if args.verb == "export" else None
    if output and not _writable(output, check_only=True):  # a typo in -o costs no export
        return USAGE_ERROR
    answer = server.call(method, path, payload, headers)
    if answer is None:  # as `report`: "the server is not up" has its own code (exitcodes.UNREACHABLE)
        return UNREACHABLE
    if answer.status != 200:
        return _state_refused(server, method, path, answer)
    document = server.document(method, path, answer)
    if document is None:
        return UNREACHABLE
    if args.verb == "export":
        data = encode(document, compress=bool(output and output.endswith(".gz")))
        if output:
            from .statefile import held, names_a_file

            if not _writable(output, data):
                return USAGE_ERROR
            what = held(len(document["integrations"]), len(document["journal"]))
            # a FIFO or a device (/dev/null, /dev/stdout) is no file to start a server from
            start = f"; open it with: mock-sprinto serve --state {output}" if names_a_file(output) else ""
            print(f"mock-sprinto state: wrote {output} ({len(data)} bytes, {what}){start}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(data + b"\n")
        return 0
    if args.json:
        print(json.dumps(document))
    else:
        said = _imported(args.file, document) if args.verb == "import" else _saved(document)
        if said is None:
            server.not_the_emulators(method, path)
            return UNREACHABLE
        print(f"mock-sprinto state: {said}")
    return 0


def _imported(file: str, answer: Any) -> str | None:
    """``PUT .../state``'s answer as a sentence (None: not the emulator's answer)."""
    from .errors import counted
    from .statefile import held, journal_cut

    if not isinstance(answer, dict):
        return None
    ids, entries = answer.get("integrations"), answer.get("journal_entries")
    if not (isinstance(ids, list) and all(isinstance(i, str) for i in ids) and type(entries) is int):
        return None
    cut = journal_cut(answer)
    if answer.get("scope") == "integration" and len(ids) == 1:
        entries_said = counted(entries, "journal entry", "journal entries")
        return f"imported {file} into integration {ids[0]} ({entries_said}){cut}"
    return f"imported {file}: it replaced the whole emulator ({held(len(ids), entries)}){cut}"


def _saved(answer: Any) -> str | None:
    """``POST /_mock/state/save``'s answer as a sentence, as ``serve`` says it on its way out."""
    from .statefile import held

    if not isinstance(answer, dict):
        return None
    path, size, ids, entries = (answer.get(key) for key in ("saved", "bytes", "integrations", "journal_entries"))
    if not (isinstance(path, str) and isinstance(ids, int) and isinstance(entries, int) and isinstance(size, int)):
        return None
    return f"the server saved its state to {path} ({size} bytes, {held(ids, entries)})"


def _writable(output: str, data: bytes = b"", *, check_only: bool = False) -> bool:
    """Write ``data`` to the ``-o`` path (or, ``check_only``, see that it could be), else say why.

    Where it goes (statefile.write_atomically): a regular file or a link's target atomically, a FIFO
    or a device (``/dev/stdout``) in place; a folder, or a folder that does not exist, is refused
    (never made: a typo must not leave folders behind)."""
    from .statefile import check_destination, write_atomically

    try:
        if check_only:
            check_destination(output)
        else:
            write_atomically(output, data, make_folder=False)
    except OSError as exc:
        print(f"mock-sprinto state: error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


# ---- report -----------------------------------------------------------------------------------------
def run_report(args: argparse.Namespace) -> int:
    """The judge's report on each integration (or the one named) of a running emulator."""
    from .report.model import report_lines

    server = _Server("report", args)
    if not server.usable():
        return USAGE_ERROR
    # Exit 1 means findings, so a report that could not be had exits UNREACHABLE (3), or USAGE_ERROR
    # when the command line is to blame: a refused --admin-token (401, 403), an id that is none (400)
    # or that the server does not hold (404, of an integration's report only: a 404 for the listing
    # means what answered is no emulator).
    if args.integration:
        ids = [args.integration]
    else:
        listed, failed = server.read("/_mock/integrations", _is_listing, (401, 403))
        if listed is None:
            return failed
        ids = [item["id"] for item in listed["integrations"]]
    reports, called = [], []
    for integration_id in ids:
        named = quote(integration_id, safe="")
        report, failed = server.read(f"/_mock/integrations/{named}/report", _is_report, (400, 401, 403, 404))
        if report is None:
            return failed
        reports.append(report)
        # Whether a Sprinto API request reached it: its journal (the requests its report judges). An
        # integration a scenario, a setting or a clock step made has a report too, and it is empty.
        journal, failed = server.read(f"/_mock/journal?integration_id={named}&limit=1", _is_journal, (401, 403))
        if journal is None:
            return failed
        # A report with findings judged requests the journal's ring has since let go of.
        called.append(bool(journal["entries"]) or bool(report["findings"]))
    if args.json:
        print(json.dumps(reports[0] if args.integration else reports, indent=2))
    elif not reports:
        print(
            f"mock-sprinto report: the emulator at {server.url} holds no integration: nothing to judge "
            "(is the client's base URL this server's, and does it send an api-key?)"
        )
    else:
        more = "--json lists up to 20"
        texts = []
        for report, heard in zip(reports, called, strict=True):
            lines = report_lines(report, None, more)
            if not heard:
                lines.append(f"  {NOTHING_TO_JUDGE}")
            texts.append("\n".join(lines))
        print("\n\n".join(texts))
    if not any(called):
        # A report of nothing passes no CI step: the client never called, or called another server.
        here = f"the emulator at {server.url}"
        which = (
            f"integration {ids[0]} of {here} received no"
            if args.integration
            else f"no integration of {here} received a"
        )
        out = sys.stderr if args.json else sys.stdout
        if reports:
            said = f"mock-sprinto report: {which} Sprinto API request: nothing to judge ({NOTHING_TO_JUDGE_WHY})"
            print(said, file=out)
        refused, _ = server.read(f"/_mock/journal?status=401&limit={REFUSED_SHOWN}", _is_journal, (401, 403))
        if refused is not None and refused["entries"]:
            # Clients did call, with a key no integration has: their requests say where and how.
            shown = refused["entries"]
            print(f"the newest requests answered 401 (a wrong or missing api-key), {len(shown)}:", file=out)
            for entry in shown:
                print(request_line(entry), file=out)
    blamed = any(f.get("severity") in ("error", "warning") for r in reports for f in r.get("findings") or ())
    # No integration a client called, nothing judged: a CI step gated on this must not pass a client
    # that never called.
    return FAILED if blamed or not any(called) else 0


def request_line(entry: Mapping[str, Any], integration_id: str | None = None) -> str:
    """One journaled request as the failure (and ``report``) lists it: its path after the
    integration's (whole without one), its answer and the scenario rule that made it (a 401
    refused before any rule has none)."""
    from .http.common import API_PREFIX  # the report's CLI starts without the HTTP layer

    path = str(entry["path"])
    if integration_id is not None:
        prefix = f"{API_PREFIX}/v1/integrations/{integration_id}"
        path = (path[len(prefix) :] or "/") if path.startswith(prefix) else path
    code = f" {entry['code']}" if entry.get("code") else ""
    rule = f" [rule {entry['rule']}]" if entry.get("rule") else ""
    return f"  {entry['at']} {entry['method']} {path} -> {entry['status']}{code}{rule}"


def _is_listing(document: Any) -> bool:
    """``GET /_mock/integrations``'s shape, as far as ``report`` reads it."""
    items = document.get("integrations") if isinstance(document, dict) else None
    return isinstance(items, list) and all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items)


def _is_journal(document: Any) -> bool:
    """``GET /_mock/journal``'s shape, as far as ``report`` reads it."""
    return isinstance(document, dict) and isinstance(document.get("entries"), list)


def _is_report(document: Any) -> bool:
    """A report's shape, as far as ``report_lines`` reads it."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("integration_id"), str)
        and isinstance(document.get("findings"), list)
        and all(isinstance(finding, dict) for finding in document["findings"])
        and isinstance(document.get("coverage"), list)
    )


# How much of a bundle ``state import`` reads to choose its endpoint: a bundle up to this size, once
# decoded, is read whole; a larger one (or a gzip bomb) only this far, its scope and first
# integration's id found where an export writes them, near the top.
SCOPE_PEEK_BYTES = 1 << 20
_SCOPE = re.compile(rb'"scope"\s*:\s*"(integration|server)"')
_FIRST_ID = re.compile(rb'"integrations"\s*:\s*\[\s*\{\s*"id"\s*:\s*("(?:[^"\\\x00-\x1f]|\\.)*")')


def _scope_of(payload: bytes) -> tuple[str | None, str | None]:
    """A bundle's scope and (of one integration) its id, read here to choose the endpoint. The
    bundle is not inflated nor parsed whole past ``SCOPE_PEEK_BYTES``: the server bounds it
    (``max_state_bytes``), and a bomb inflated here first took the command to ~500 MB."""
    from .bundle import decode
    from .coding import GZIP_MAGIC, gunzip_head
    from .errors import ApiError

    text = gunzip_head(payload, SCOPE_PEEK_BYTES + 1) if payload[:2] == GZIP_MAGIC else payload
    limit = SCOPE_PEEK_BYTES
    if len(text) > SCOPE_PEEK_BYTES:
        scope, named = _scope_peeked(text[:SCOPE_PEEK_BYTES])
        if scope == "server" or named is not None or text.lstrip()[:1] != b"{":
            return scope, named  # found; or no JSON object (white space, a bomb): the server says
        # The scope or the id not where an export writes them (keys sorted by a tool, say): read
        # whole, within what a server takes by default (a bomb is cut there).
        from .settings import Settings

        text, limit = payload, Settings().max_state_bytes
    try:
        document = decode(text, limit, 10_000)
    except ApiError:
        return None, None  # the server says what is wrong with it
    if not isinstance(document, dict):
        return None, None
    integrations = document.get("integrations")
    first = integrations[0] if isinstance(integrations, list) and integrations else None
    named = first.get("id") if isinstance(first, dict) else None
    return document.get("scope"), named if isinstance(named, str) else None


def _scope_peeked(head: bytes) -> tuple[str | None, str | None]:
    """``_scope_of`` for a large bundle: its scope and first integration's id read off its first
    bytes (an export writes them there); None for what is not found (the server then says)."""
    scope = _SCOPE.search(head)
    named = _FIRST_ID.search(head)
    try:
        integration = json.loads(named.group(1)) if named is not None else None
    except ValueError:
        integration = None
    return (scope.group(1).decode() if scope else None), integration if isinstance(integration, str) else None


def _state_refused(server: _Server, method: str, path: str, answer: Answer) -> int:
    """The exit code of a state command the server did not carry out, as ``report``'s: the command
    line to blame (a refused --admin-token, an integration the server does not hold) is a usage
    error, an answer that is no emulator's problem object (some other service's 404) is no emulator
    answering, and the emulator refusing the bundle or the save is 1."""
    try:
        problem = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        problem = None
    code = problem.get("code") if isinstance(problem, dict) else None
    if not isinstance(code, str):
        server.not_the_emulators(method, path)
        return UNREACHABLE
    server.refused(method, path, answer)
    if code in (ADMIN_TOKEN_REQUIRED.code, INTEGRATION_NOT_FOUND.code):  # not a 403 of max_integrations: 1
        return USAGE_ERROR
    return FAILED


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
    from .settings import Settings, SettingsError
    from .validation import SchemaFileError, SchemaRegistry

    settings = Settings()
    for flag_name, setting in (("large_body_bytes", "judge_large_body_bytes"), ("max_har_bytes", "max_har_bytes")):
        value = getattr(args, flag_name)
        if value is None:
            continue
        try:
            settings = settings.with_overrides({setting: value})
        except SettingsError as exc:  # below 1, or past what a setting holds: one line, no traceback
            print(f"mock-sprinto judge: error: --{flag_name.replace('_', '-')}: {exc}", file=sys.stderr)
            return USAGE_ERROR
    limit = settings.max_har_bytes
    try:
        with open(args.file, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        print(f"mock-sprinto judge: error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    if len(data) > limit:
        print(f"mock-sprinto judge: error: {args.file} is over {limit} bytes (--max-har-bytes)", file=sys.stderr)
        return USAGE_ERROR
    try:
        registry = SchemaRegistry.shipped(args.schemas)
    except SchemaFileError as exc:
        print(f"mock-sprinto judge: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    known = {name: schema.known_fields for name, schema in registry.types.items()}
    try:
        judgement = judge_har(parse_har(data), known, settings, args.integration, registry.key_fields)
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
    # A HAR of the wrong browser tab holds no request of the vendor API: no clean run to pass.
    return FAILED if blamed or not judgement.reports else 0

"""``--url`` names an origin, ``http://HOST:PORT``: the emulator is served at its root, never under a
prefix, so a path (``/api``, a reverse proxy's ``/some/prefix``), a query or a fragment was dropped
unsaid and the command asked the origin's root instead. Each command taking ``--url`` (``report``,
``state export|import|save``) now refuses one as a usage error that names the flag, what was given,
and the origin to give; a trailing "/" alone still names the origin. A user or password before the
host is refused too (at the end of this file)."""

from __future__ import annotations

import contextlib
import io
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_sprinto.cli import main
from mock_sprinto.exitcodes import USAGE_ERROR
from mock_sprinto.statecli import parse_origin

from ..e2e.test_cli import Server, start


@pytest.fixture(scope="module")
def running() -> Iterator[Server]:
    """One server for the module (127.0.0.1, an ephemeral port), always stopped."""
    server = start()
    yield server
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(10)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The command run in this process (a refusal needs no new interpreter: ~0.5 s each)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str | None = main(list(args))
        except SystemExit as stop:
            code = stop.code
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize(
    ("tail", "said"),
    [
        ("/api", "a path ('/api')"),
        ("/some/prefix", "a path ('/some/prefix')"),
        ("/some/prefix/", "a path ('/some/prefix/')"),
        ("//", "a path ('//')"),
        ("?token=x", "a query ('?token=x')"),
        ("/#top", "a fragment ('#top')"),
        ("/x?y#z", "a path ('/x'), a query ('?y') and a fragment ('#z')"),
    ],
)
def test_an_origin_with_more_than_host_and_port_is_refused_with_what_it_has(tail: str, said: str) -> None:
    refusal = parse_origin(f"http://127.0.0.1:8080{tail}")
    assert refusal == (
        f"it has {said}: the emulator is served at its origin's root (/_mock, /api/external/push), "
        "never under a prefix; give --url http://127.0.0.1:8080"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/?#"])
def test_an_origin_alone_or_with_a_trailing_slash_is_taken(url: str) -> None:
    assert parse_origin(url) == ("http", "127.0.0.1", 8080)


@pytest.mark.parametrize(
    "command", [("report",), ("state", "export"), ("state", "import", "{bundle}"), ("state", "save")]
)
def test_every_command_with_url_refuses_a_path_as_a_usage_error(
    running: Server, tmp_path: Path, command: tuple[str, ...]
) -> None:
    bundle = tmp_path / "acme.state.json"
    assert run("state", "export", "--url", running.origin, "-o", str(bundle)).returncode == 0
    url = f"{running.origin}/some/prefix"
    result = run(*(part.format(bundle=bundle) for part in command), "--url", url)
    assert result.returncode == USAGE_ERROR, (result.stdout, result.stderr)
    assert result.stderr == (
        f"mock-sprinto {command[0]}: error: --url {url!r} is not http://HOST:PORT: it has a path "
        "('/some/prefix'): the emulator is served at its origin's root (/_mock, /api/external/push), "
        f"never under a prefix; give --url {running.origin}\n"
    )
    assert result.stdout == ""


def test_a_trailing_slash_still_reaches_the_server(running: Server, tmp_path: Path) -> None:
    bundle = tmp_path / "all.state.json"
    exported = run("state", "export", "--url", running.origin + "/", "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    imported = run("state", "import", str(bundle), "--url", running.origin + "/")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(f"mock-sprinto state: imported {bundle}"), imported.stdout


# ---- a user or password: dropped unsaid before (the commands send an admin token, never credentials
# from the URL), so a server with an admin token answered 401 to a command that seemed to carry one.
# Refused as a usage error saying where an admin token goes, the password never echoed.
SAID = (
    "it has a user or password before its host: credentials do not go in the URL (they would be dropped "
    "unsent); an admin token goes in --admin-token or $MOCK_SPRINTO_ADMIN_TOKEN; give --url {origin}"
)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://user:s3cret@127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://user@127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://:s3cret@127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://@127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://TOKEN@emulator.example:8443", "https://emulator.example:8443"),
        ("http://u:p@[::1]:8080", "http://[::1]:8080"),
        ("http://u:p@x@127.0.0.1:8080", "http://127.0.0.1:8080"),  # the host follows the last "@"
    ],
)
def test_a_user_or_password_in_the_url_is_refused_saying_where_a_token_goes(url: str, origin: str) -> None:
    assert parse_origin(url) == SAID.format(origin=origin)


@pytest.mark.parametrize(
    "command", [("report",), ("state", "export"), ("state", "import", "{bundle}"), ("state", "save")]
)
def test_every_command_with_url_refuses_credentials_as_a_usage_error_and_hides_them(
    running: Server, tmp_path: Path, command: tuple[str, ...]
) -> None:
    bundle = tmp_path / "acme.state.json"
    assert run("state", "export", "--url", running.origin, "-o", str(bundle)).returncode == 0
    url = running.origin.replace("http://", "http://admin:s3cret@")
    result = run(*(part.format(bundle=bundle) for part in command), "--url", url)
    assert result.returncode == USAGE_ERROR, (result.stdout, result.stderr)
    shown = running.origin.replace("http://", "http://***@")
    assert result.stderr == (
        f"mock-sprinto {command[0]}: error: --url {shown!r} is not http://HOST:PORT: "
        f"{SAID.format(origin=running.origin)}\n"
    )
    assert "s3cret" not in result.stderr + result.stdout and result.stdout == ""


def test_a_password_in_a_url_refused_for_another_reason_is_not_echoed_either(tmp_path: Path) -> None:
    result = run("state", "export", "--url", "http://admin:s3cret@127.0.0.1:99999", "-o", str(tmp_path / "x.json"))
    assert result.returncode == USAGE_ERROR, (result.stdout, result.stderr)
    assert result.stderr.startswith("mock-sprinto state: error: --url 'http://***@127.0.0.1:99999' is not"), result
    assert "s3cret" not in result.stderr


def test_an_at_sign_in_the_path_is_no_credential() -> None:
    """Only the authority's "@" counts: one in a path is refused as a path, as before."""
    refusal = parse_origin("http://127.0.0.1:8080/a@b")
    assert isinstance(refusal, str) and refusal.startswith("it has a path ('/a@b')"), refusal


@pytest.mark.parametrize(
    "url",
    [
        "http://u:s3cret#x@127.0.0.1:8080",  # a "#" in the password: a parser reads a fragment, its port "s3cret"
        "http://u:s3cret/x@127.0.0.1:8080",  # a "/": a path, and the port "s3cret"
        "http://u:s3cret?x@127.0.0.1:8080",
        "admin:s3cret@127.0.0.1:8080",  # no scheme: "admin" is read as one
        "http:/u:s3cret@127.0.0.1:8080",  # one slash: no host
        "http://admin:s3cret@127.0.0.1:99999",  # refused for its port
    ],
)
def test_a_password_is_never_echoed_however_the_url_is_broken(url: str, tmp_path: Path) -> None:
    """The password showed where a parser ends the authority early or the URL has no "//"."""
    result = run("state", "export", "--url", url, "-o", str(tmp_path / "x.json"))
    assert result.returncode == USAGE_ERROR, (result.stdout, result.stderr)
    assert "s3cret" not in result.stderr + result.stdout, result.stderr
    assert "***@127.0.0.1:" in result.stderr, result.stderr


def test_with_an_empty_port_the_port_is_asked_for_first_not_a_url_itself_refused() -> None:
    """It suggested "--url http://127.0.0.1:", which an empty port refuses."""
    assert parse_origin("http://u:s3cret@127.0.0.1:").startswith("an empty port would ask port 80")

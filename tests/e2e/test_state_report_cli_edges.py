"""The edges of ``mock-sprinto state`` and ``report``: where ``-o`` (and ``--persist``) writes when the
path is no plain file, a ``--url`` that names no server, and an exit code for each outcome."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_sprinto.exitcodes import UNREACHABLE, USAGE_ERROR
from mock_sprinto.report.model import EVIDENCE_SHOWN

from .test_cli import CLI, Server, start

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def running() -> Iterator[Server]:
    """One server for the module: these tests read it (an export), none changes what it holds."""
    server = start()
    yield server
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(10)


def run(*args: str, env: dict[str, str] | None = None, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env=env,
    )


def export(server: Server, output: Path | str) -> subprocess.CompletedProcess[str]:
    return run("state", "export", "--url", server.origin, "-o", str(output))


def a_bundle(data: bytes) -> bool:
    document = json.loads(data)
    return isinstance(document, dict) and document.get("format") == "mock-sprinto-state"


def a_free_port() -> int:
    """A port nothing listens on (the kernel's pick, closed again)."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])


# ---- state export -o PATH, state save / --persist --------------------------------------------------
def test_export_writes_into_a_fifo_and_leaves_it_a_fifo(running: Server, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = export(running, fifo)
    if reader.is_alive():  # the command never opened the FIFO: unblock the reader
        with open(fifo, "wb"):
            pass
    reader.join(10)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and got and a_bundle(got[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary left beside it


def test_export_through_a_symlink_writes_the_file_it_names(running: Server, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "state.json"
    real.write_text("{}")
    real.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(Path("real") / "state.json")
    result = export(running, link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "state.json")
    assert a_bundle(real.read_bytes())
    assert stat.S_IMODE(real.stat().st_mode) == 0o644  # the file it replaced kept its permissions
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["state.json"]


def test_export_into_a_descriptors_link_writes_the_open_file_in_place(running: Server, tmp_path: Path) -> None:
    """``-o /dev/stdout`` with standard output redirected to a file (``> out.json``, ``>> log``):
    /dev/stdout is a link to /proc/self/fd/1, which names the open file, not a place to rename to.
    A link of our own to /proc/self/fd/1 stands for /dev/stdout (a root container's /dev/stdout
    must never be what a failing test replaces)."""
    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to("/proc/self/fd/1")
    log = tmp_path / "log.txt"
    log.write_text("kept\n")
    inode = log.stat().st_ino
    with open(log, "a") as appended:
        result = run("state", "export", "--url", running.origin, "-o", str(stdout_link), stdout=appended.fileno())
    assert result.returncode == 0, result.stderr
    assert stdout_link.is_symlink() and log.stat().st_ino == inode
    kept, bundle = log.read_text().split("\n", 1)
    assert kept == "kept" and a_bundle(bundle.encode())


def test_export_into_a_pipe_through_a_descriptors_link(running: Server, tmp_path: Path) -> None:
    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to("/proc/self/fd/1")
    result = run("state", "export", "--url", running.origin, "-o", str(stdout_link))
    assert result.returncode == 0, result.stderr
    assert stdout_link.is_symlink() and a_bundle(result.stdout.encode())


def private_device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device of our own (1, minor: 3 is null, 7 is full), never /dev's."""
    device = tmp_path / name
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return device


def test_export_writes_into_a_character_device_and_says_why_when_it_cannot(running: Server, tmp_path: Path) -> None:
    null = private_device(tmp_path, "null", 3)
    result = export(running, null)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode) and "open it with" not in result.stderr  # nothing to open
    full = private_device(tmp_path, "full", 7)
    refused = export(running, full)
    assert refused.returncode == USAGE_ERROR, refused.stderr
    assert f"mock-sprinto state: error: cannot write {full}: No space left on device" in refused.stderr
    assert "Traceback" not in refused.stderr and stat.S_ISCHR(os.lstat(full).st_mode)


def test_export_refuses_a_missing_folder_and_a_folder_before_asking(tmp_path: Path) -> None:
    """Refused before any request: nothing listens at the URL, yet the answer is the usage error."""
    url = f"http://127.0.0.1:{a_free_port()}"
    missing = tmp_path / "nowhere" / "state.json"
    result = run("state", "export", "--url", url, "-o", str(missing))
    assert result.returncode == USAGE_ERROR, result.stderr
    assert f"cannot write {missing}: the folder {missing.parent} does not exist" in result.stderr
    assert not missing.parent.exists() and "Traceback" not in result.stderr
    folder = run("state", "export", "--url", url, "-o", str(tmp_path))
    assert folder.returncode == USAGE_ERROR, folder.stderr
    assert f"cannot write {tmp_path}: it is a folder" in folder.stderr and "Traceback" not in folder.stderr


def test_persist_and_state_save_follow_a_symlink_and_keep_it(tmp_path: Path) -> None:
    real = tmp_path / "kept" / "state.json"
    real.parent.mkdir()
    link = tmp_path / "state.json"
    link.symlink_to(real)
    server = start("--persist", str(link))
    try:
        saved = run("state", "save", "--url", server.origin)
        assert saved.returncode == 0, saved.stderr
        assert link.is_symlink() and a_bundle(real.read_bytes())
    finally:
        server.proc.send_signal(signal.SIGTERM)
        server.proc.communicate(timeout=20)
    assert link.is_symlink() and a_bundle(real.read_bytes())
    assert sorted(p.name for p in real.parent.iterdir()) == ["state.json"]


def test_write_atomically_writes_into_a_fifo_and_refuses_a_folder(tmp_path: Path) -> None:
    from mock_sprinto.statefile import write_atomically

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomically(fifo, b"{}")
    reader.join(10)
    assert got == [b"{}"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(IsADirectoryError):
        write_atomically(tmp_path, b"{}")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_atomically(tmp_path / "no" / "such.json", b"{}", make_folder=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# ---- --url and MOCK_SPRINTO_HOST -------------------------------------------------------------------
BAD_URLS = [
    "http://[::1",  # urlsplit: Invalid IPv6 URL
    "http://[zz]:80",  # not an address between brackets
    "http://a b:80",  # http.client: control characters
    "http://a..b:80",  # the idna codec: an empty label
    "http://127.0.0.1:0",  # would have been port 80
    "http://127.0.0.1:",  # so would this
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", [("report",), ("state", "export"), ("state", "save")])
def test_a_url_that_names_no_server_is_a_usage_error(command: tuple[str, ...], url: str) -> None:
    result = run(*command, "--url", url)
    assert result.returncode == USAGE_ERROR, result.stderr
    assert f"--url {url!r} is not http://HOST:PORT" in result.stderr and "Traceback" not in result.stderr


def test_a_port_0_url_says_why() -> None:
    result = run("report", "--url", "http://127.0.0.1:0")
    assert "port 0" in result.stderr and ":80" not in result.stderr


@pytest.mark.parametrize("command", [("report",), ("state", "export")])
def test_a_bad_mock_sprinto_host_is_a_usage_error_that_names_it(command: tuple[str, ...]) -> None:
    env = {**os.environ, "MOCK_SPRINTO_HOST": "[::1", "MOCK_SPRINTO_PORT": str(a_free_port())}
    result = run(*command, env=env)
    assert result.returncode == USAGE_ERROR, result.stderr
    assert "$MOCK_SPRINTO_HOST='[::1'" in result.stderr and "Traceback" not in result.stderr


# ---- report: its own exit code when no server answers ----------------------------------------------
def test_report_exits_3_when_nothing_listens_not_1_as_for_findings() -> None:
    assert UNREACHABLE == 3
    port = a_free_port()
    result = run("report", "--url", f"http://127.0.0.1:{port}")
    assert result.returncode == UNREACHABLE, result.stderr
    assert f"nothing listens at 127.0.0.1:{port} (connection refused)" in result.stderr


def test_report_exits_3_when_what_answers_is_no_emulator() -> None:
    """A port where something else listens (here: a server that answers no HTTP)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def garbage() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        threading.Thread(target=garbage, daemon=True).start()
        result = run("report", "--url", f"http://127.0.0.1:{listener.getsockname()[1]}")
    assert result.returncode == UNREACHABLE, result.stderr
    assert "no emulator answered at" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("listing", "report"),
    [
        (b'{"status": "ok"}', b"{}"),  # "nothing to judge", exit 0
        (b'{"integrations": ["acme"]}', b"{}"),  # a traceback, exit 1 (the findings code)
        (b'{"integrations": [{"id": "acme"}]}', b'{"status": "ok"}'),  # "integration None: 0 errors"
    ],
)
def test_report_exits_3_when_a_json_service_of_another_shape_answers(listing: bytes, report: bytes) -> None:
    import http.server

    class Other(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = listing if self.path == "/_mock/integrations" else report
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Other) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        try:
            result = run("report", "--url", f"http://127.0.0.1:{other.server_address[1]}")
        finally:
            other.shutdown()
    assert result.returncode == UNREACHABLE, (result.stdout, result.stderr)
    assert "JSON that is not the emulator's" in result.stderr and "Traceback" not in result.stderr


def test_report_exits_2_for_a_refused_admin_token_not_1_as_for_findings() -> None:
    server = start("--admin-token", "right")
    try:
        wrong = run("report", "--url", server.origin, "--admin-token", "wrong")
        right = run("report", "--url", server.origin, "--admin-token", "right")
    finally:
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(10)
    assert wrong.returncode == USAGE_ERROR and "answered 401" in wrong.stderr, wrong.stderr
    assert right.returncode == 1 and "nothing to judge" in right.stdout, right.stderr  # let in; no client yet


def report_paragraph() -> str:
    text = " ".join((ROOT / "docs" / "judge.md").read_text().split())
    start_at = text.index("`mock-sprinto report`")
    return text[start_at : text.index("Each finding has a stable", start_at)]


def test_the_judge_docs_list_reports_exit_codes() -> None:
    said = report_paragraph()
    assert "1 when any finding is an error or a warning" in said
    assert f"{UNREACHABLE} when no emulator answered" in said


def test_the_judge_docs_say_how_much_evidence_report_prints() -> None:
    said = report_paragraph()
    assert "first evidence" not in said and f"up to {EVIDENCE_SHOWN} of its evidence" in said


def test_state_exits_as_report_does_for_no_emulator_a_refused_token_and_an_unknown_integration() -> None:
    """A review of the fixes: `state export` against another service's 404 exited 1 ("the server
    refused") where `report` exits 3, and `--integration nosuch` exited 1 where `report` exits 2."""
    import http.server

    class Other(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Other) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        try:
            elsewhere = run("state", "export", "--url", f"http://127.0.0.1:{other.server_address[1]}")
        finally:
            other.shutdown()
    assert elsewhere.returncode == UNREACHABLE, (elsewhere.stdout, elsewhere.stderr)
    assert "no emulator answered" in elsewhere.stderr
    server = start("--admin-token", "right")
    try:
        unknown = run("state", "export", "--url", server.origin, "--admin-token", "right", "--integration", "nosuch")
        wrong = run("state", "export", "--url", server.origin, "--admin-token", "wrong")
        unsaved = run("state", "save", "--url", server.origin, "--admin-token", "right")
    finally:
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(10)
    assert unknown.returncode == USAGE_ERROR and "integration_not_found" in unknown.stderr, unknown.stderr
    assert wrong.returncode == USAGE_ERROR and "answered 401" in wrong.stderr, wrong.stderr
    assert unsaved.returncode == 1 and "persistence_off" in unsaved.stderr, unsaved.stderr  # the server refused

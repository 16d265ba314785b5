"""The container image, built and run for real (``make test-image``; issue 24).

A Docker daemon of the test's own (tests/image/daemon.py) builds the image on a Debian base made by
debootstrap (no registry is reachable here), then every command of docs/container.md and
docs/ci.md runs, as written but for what this machine cannot do:

* no bridge network, so ``-p PORT:8080`` becomes ``--network host -e MOCK_SPRINTO_PORT=<free>``,
  and a service name is given to the client by ``--add-host NAME:127.0.0.1``;
* no registry: the base image is a local Debian one (``BASE=``; Debian 12 for python:3.12-slim,
  Debian 13 for python:3.13-slim), and ``docker push`` goes to a registry on loopback
  (``docker-registry``);
* docker compose is Debian's docker-compose (v1), its project network internal.

Skipped (with the reason) unless ``RUN_IMAGE_TEST`` is set, and where no daemon can be
started; ``REQUIRE_IMAGE_TEST`` (set by .ci/run where one can) turns that skip into
a failure.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import FIGURES
from .daemon import CACHE, Daemon, Unavailable, debian_rootfs, why_unavailable
from .portmap import PortMap, free_port

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
IMAGE = "mock-sprinto:dev"
BASE = "mock-sprinto-test/debian-python:bookworm"
CLIENTS = ROOT / "tests" / "exam" / "clients"

if not os.environ.get("RUN_IMAGE_TEST"):
    pytest.skip("the container image is built and run by `make test-image`", allow_module_level=True)
_WHY = why_unavailable()
if _WHY is not None:
    if os.environ.get("REQUIRE_IMAGE_TEST"):
        pytest.fail(f"REQUIRE_IMAGE_TEST is set, but {_WHY}", pytrace=False)
    pytest.skip(_WHY, allow_module_level=True)


# ---- the documents ------------------------------------------------------------------------------
def block(page: str, tag: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"<!-- (?:test|output):{re.escape(tag)} -->\n```\w*\n(.*?)```", text, re.S)
    assert match, f"{page} has no block {tag!r}"
    return match.group(1)


def commands(page: str, tag: str) -> list[str]:
    """The block's commands, a continued line joined, comments and blank lines dropped."""
    joined = block(page, tag).replace("\\\n", " ")
    return [line for line in (re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()) if line]


def here(command: str, port: int) -> str:
    """A documented command as this machine can run it: no bridge network, so the published port
    becomes the host network, and the emulator listens on a free port."""
    command = re.sub(r"-p (?:127\.0\.0\.1:)?8080:8080", f"--network host -e MOCK_SPRINTO_PORT={port}", command)
    return command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")


# ---- talking to it ------------------------------------------------------------------------------
def call(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def wait_serving(port: int, timeout: float = 30, headers: dict[str, str] | None = None) -> float:
    """Seconds until /_mock/health answers (200, or 401 behind an admin token)."""
    started = time.monotonic()
    while True:
        try:
            status, _ = call(port, "GET", "/_mock/health", headers=headers)
            if status in (200, 401):
                return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError(f"nothing answered on port {port} within {timeout} s")
        time.sleep(0.02)


USER = {
    "employeeId": "E1",
    "firstName": "Alice",
    "lastName": "Johnson",
    "workEmail": "alice@example.com",
    "employmentStartDate": "2022-01-15T09:00:00Z",
    "employmentType": "EMPLOYEE",
}


def sync_a_page(port: int, host: str | None = None) -> None:
    """Start a session, push a page, close it with apply, read the record applied."""
    key = {"api-key": "demo-key", **({"Host": host} if host else {})}
    base = "/api/external/push/v1/integrations/demo"
    status, session = call(port, "POST", f"{base}/sessions", headers=key)
    assert status == 201, session
    page = {"page_hint": 1, "entities": {"User": [USER]}}
    assert call(port, "POST", f"{base}/sessions/{session['id']}/entities", page, key)[0] == 202
    assert call(port, "POST", f"{base}/sessions/{session['id']}/close", {"status": "apply"}, key)[0] == 202
    assert call(port, "POST", "/_mock/clock/advance", {"seconds": 2}, headers=key)[0] == 200
    assert call(port, "GET", f"{base}/sessions/{session['id']}", headers=key)[1]["state"] == "processed"
    status, records = call(port, "GET", "/_mock/integrations/demo/records/User", headers=key)
    assert status == 200 and [each["employeeId"] for each in records["records"]] == ["E1"]


class Foreground:
    """A documented ``docker run`` in the foreground, as a terminal would run it (named, so the
    test can stop it as ``docker stop`` would)."""

    def __init__(self, daemon: Daemon, command: str, cwd: Path, log: Path) -> None:
        self.daemon, self.name, self.log = daemon, f"doc-{uuid.uuid4().hex[:8]}", log
        assert command.startswith("docker run "), command
        command = command.replace("docker run ", f"docker run --name {self.name} ", 1)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["bash", "-c", command], cwd=cwd, env=daemon.env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> tuple[float, int]:
        """docker stop (SIGTERM): the seconds it took, and the exit code of the docker run."""
        started = time.monotonic()
        self.daemon.docker("stop", self.name, timeout=60)
        seconds = time.monotonic() - started
        return seconds, self.process.wait(30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.daemon.docker("rm", "-f", self.name, check=False)
            self.process.wait(30)


# ---- the daemon, the base, the image ------------------------------------------------------------
@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    try:
        started = time.monotonic()
        own = Daemon().start()
        FIGURES["daemon started"] = f"{time.monotonic() - started:.1f} s"
    except Unavailable as exc:
        if os.environ.get("REQUIRE_IMAGE_TEST"):
            raise
        pytest.skip(f"no Docker daemon could be started here: {exc}")
    try:
        yield own
    finally:
        started = time.monotonic()
        own.stop()
        FIGURES["daemon stopped, cleaned"] = f"{time.monotonic() - started:.1f} s"
        assert not own.root.exists()


@pytest.fixture(scope="module")
def workdir(daemon: Daemon) -> Path:
    """Scratch space beside the daemon's, gone with it (a virtualenv, a registry's storage)."""
    work = daemon.root / "work"
    work.mkdir()
    return work


@pytest.fixture(scope="module")
def image(daemon: Daemon, workdir: Path) -> str:
    started = time.monotonic()
    tarball, cached = debian_rootfs(workdir / "debootstrap.log")
    FIGURES["debian base"] = f"{time.monotonic() - started:.1f} s ({'cached' if cached else 'debootstrap'})"
    daemon.docker("import", str(tarball), BASE, timeout=300)
    # docs: `make image`, on the local base (python:3.12-slim would come from a registry)
    [build] = commands("container.md", "build")
    assert build == "make image"
    for run, figure in ((build, "build, cold"), (build, "build, warm (cached)")):
        started = time.monotonic()
        make(daemon, run + f" BASE={BASE}")
        FIGURES[figure] = f"{time.monotonic() - started:.1f} s"
    size = int(daemon.docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    FIGURES["image size"] = f"{size / 1e6:.0f} MB (base {image_mb(daemon, BASE)} MB)"
    return IMAGE


def make(daemon: Daemon, command: str) -> None:
    argv = [*shlex.split(command), "DOCKER_BUILD_FLAGS=--network=host"]  # the build reaches PyPI
    result = subprocess.run(argv, cwd=ROOT, env=daemon.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def image_mb(daemon: Daemon, name: str) -> int:
    return round(int(daemon.docker("image", "inspect", "-f", "{{.Size}}", name).stdout) / 1e6)


def exam_passed(output: str) -> None:
    assert re.search(r"mock-sprinto exam PASSED: (\d+) of \1 trials passed", output), output[-3000:]


# ---- docs/container.md ---------------------------------------------------------------------------
def test_the_documented_run_serves_a_sync_names_and_stops_cleanly_on_sigterm(
    daemon: Daemon, image: str, workdir: Path
) -> None:
    port = free_port()
    [command] = commands("container.md", "run")
    started = time.monotonic()
    server = Foreground(daemon, here(command, port), workdir, workdir / "run.log")
    try:
        FIGURES["start to serving"] = f"{wait_serving(port):.2f} s (GET /_mock/health from the host)"
        sync_a_page(port)
        # The banner as the page shows it ('...' stands for the container's id, its host name).
        shown = block("container.md", "banner").replace(":8080", f":{port}").splitlines()
        lines = server.output().splitlines()[: len(shown)]
        assert len(lines) == len(shown), server.output()
        for line, expected in zip(lines, shown, strict=True):
            assert re.fullmatch(re.escape(expected).replace(re.escape("..."), "[^()]+"), line), (line, expected)
        # Non-root, by its numeric id.
        details = daemon.inspect(server.name)
        assert details["Config"]["User"] == "10001:10001"  # type: ignore[index]
        assert daemon.docker("exec", server.name, "id", "-u").stdout.strip() == "10001"
        top = daemon.docker("top", server.name, "-o", "pid,uid,args").stdout.splitlines()[1:]
        assert [line.split()[1] for line in top] == ["10001"], top  # one process: the server
        pid1 = daemon.docker("exec", server.name, "python", "-c", "print(open('/proc/1/cmdline').read())").stdout
        assert pid1.split("\0")[1:] == ["/opt/mock-sprinto/bin/mock-sprinto", "serve", "\n"], pid1  # is PID 1
        # Host names: a compose/CI service name and an address are served, a rebindable name is not.
        for host, status in (
            (f"mock-sprinto:{port}", 200),
            (f"sprinto:{port}", 200),
            (f"10.1.2.3:{port}", 200),
            (f"evil.example:{port}", 421),
        ):
            assert call(port, "GET", "/_mock/health", headers={"Host": host})[0] == status, host
        sync_a_page(port, host=f"mock-sprinto:{port}")
        # The image's HEALTHCHECK reports healthy at its first check (every 5 s).
        while (state := daemon.inspect(server.name)["State"])["Health"]["Status"] != "healthy":  # type: ignore[index]
            assert time.monotonic() - started < 30 and state["Health"]["Status"] == "starting", state  # type: ignore[index]
            time.sleep(0.1)
        FIGURES["start to healthy (docker)"] = f"{time.monotonic() - started:.1f} s (first check at 5 s)"
        seconds, code = server.stop()
    finally:
        server.kill()
    FIGURES["docker stop (SIGTERM)"] = f"{seconds:.2f} s, exit {code}"
    assert code == 0 and seconds < 3, server.output()
    assert server.output().rstrip().endswith("mock-sprinto: stopped")


def test_hardened_it_writes_nothing_and_compiles_nothing(daemon: Daemon, image: str, workdir: Path) -> None:
    port = free_port()
    [command] = commands("container.md", "hardened")
    server = Foreground(daemon, here(command, port), workdir, workdir / "hardened.log")
    try:
        wait_serving(port)
        details = daemon.inspect(server.name)["HostConfig"]
        assert details["ReadonlyRootfs"] is True and details["CapDrop"] == ["ALL"]  # type: ignore[index]
        sync_a_page(port)
        # A page over 1 MiB decoded is judged by the judging child: it starts and runs here too.
        key = {"api-key": "big-key", "Content-Encoding": "gzip"}
        base = "/api/external/push/v1/integrations/big"
        status, session = call(port, "POST", f"{base}/sessions", headers=key)
        assert status == 201, session
        large = {"entities": {"Blob": [{"id": n, "notes": "a" * 12_000} for n in range(100)]}}
        wire = gzip.compress(json.dumps(large).encode(), mtime=0)
        status, answer = call(port, "POST", f"{base}/sessions/{session['id']}/entities", wire, key)
        assert status == 202 and answer["accepted_count_total"] == 100, answer
        top = daemon.docker("top", server.name, "-o", "pid,uid,args").stdout.splitlines()[1:]
        assert any("mock_sprinto.judging" in line and line.split()[1] == "10001" for line in top), top
        script = (
            "import asyncio, importlib.util, os, aiohttp.web, yaml, mock_sprinto.cli, mock_sprinto.http.app\n"
            "for module in (asyncio, aiohttp.web, yaml, mock_sprinto.cli, mock_sprinto.http.app):\n"
            "    assert os.path.exists(module.__cached__), module.__cached__\n"
            "for where in ('/tmp/x', '/opt/mock-sprinto/x', '/x'):\n"
            "    try:\n"
            "        open(where, 'w')\n"
            "    except OSError as exc:\n"
            "        assert exc.errno == 30, (where, exc)  # EROFS\n"
            "    else:\n"
            "        raise AssertionError(where)\n"
            "print('ok')\n"
        )
        result = daemon.docker("exec", server.name, "python", "-c", script, check=False)
        assert result.stdout.strip() == "ok", result.stdout + result.stderr
        assert daemon.docker("diff", server.name).stdout == ""  # not a file changed
        seconds, code = server.stop()
    finally:
        server.kill()
    assert code == 0 and seconds < 3, server.output()


def test_settings_flags_and_the_health_check_behind_an_admin_token(daemon: Daemon, image: str, workdir: Path) -> None:
    port = free_port()
    [command] = commands("container.md", "settings")
    server = Foreground(daemon, here(command, port), workdir, workdir / "settings.log")
    try:
        token = {"Authorization": "Bearer s3cret"}
        wait_serving(port)
        assert call(port, "GET", "/_mock/health")[0] == 401
        status, settings = call(port, "GET", "/_mock/settings", headers=token)
        assert status == 200 and settings["settings"]["processing_seconds"] == 0.5, settings
        assert re.search(r"^  scenario +flaky-network$", server.output(), re.M), server.output()
        # The image's own health check, run now rather than at its first interval.
        check = daemon.inspect(IMAGE)["Config"]["Healthcheck"]["Test"]  # type: ignore[index]
        assert check[0] == "CMD"
        assert daemon.docker("exec", server.name, *check[1:], check=False).returncode == 0
        unhealthy = daemon.docker("exec", "-e", "MOCK_SPRINTO_ADMIN_TOKEN=", server.name, *check[1:], check=False)
        assert unhealthy.returncode == 0  # 401 still means it serves (a token from a config file)
        assert server.stop()[1] == 0
    finally:
        server.kill()


def test_a_config_file_mounted(daemon: Daemon, image: str, workdir: Path) -> None:
    port = free_port()
    folder = workdir / "config"
    folder.mkdir()
    (folder / "mock-sprinto.yaml").write_text(
        "settings:\n  processing_seconds: 0\nintegrations:\n  - {id: hr-sync, api_key: local-secret}\n"
    )
    [command] = commands("container.md", "container-config")
    server = Foreground(daemon, here(command, port), folder, workdir / "config.log")
    try:
        wait_serving(port)
        assert "closed: hr-sync (declared in /etc/mock-sprinto.yaml)" in server.output(), server.output()
        key = {"api-key": "local-secret"}
        assert call(port, "POST", "/api/external/push/v1/integrations/hr-sync/sessions", headers=key)[0] == 201
        assert server.stop()[1] == 0
    finally:
        server.kill()


def test_an_explicit_allowed_hosts_lists_exactly_the_names_served(daemon: Daemon, image: str, workdir: Path) -> None:
    port = free_port()
    [command] = commands("container.md", "allowed-hosts")
    server = Foreground(daemon, here(command, port), workdir, workdir / "allowed.log")
    try:
        wait_serving(port)
        for host, status in (
            ("mock-sprinto", 200),
            ("mock-sprinto.ci.internal:8080", 200),
            ("localhost", 200),
            ("sprinto", 421),
            ("10.1.2.3", 421),
        ):
            assert call(port, "GET", "/_mock/health", headers={"Host": host})[0] == status, host
        assert server.stop()[1] == 0
    finally:
        server.kill()


def test_other_commands_run_in_the_image(daemon: Daemon, image: str) -> None:
    listed = daemon.docker("run", "--rm", "--network", "none", IMAGE, "settings").stdout
    assert "allowed_hosts" in listed and "processing_seconds" in listed
    assert "flaky-network" in daemon.docker("run", "--rm", "--network", "none", IMAGE, "scenarios", "list").stdout


def test_another_base_image(daemon: Daemon, image: str, workdir: Path) -> None:
    """docs: ``make image IMAGE=... BASE=python:3.13-slim``, on Debian 13 (its Python is 3.13)."""
    [command] = commands("container.md", "build-base")
    tag = re.search(r"IMAGE=(\S+)", command).group(1)  # type: ignore[union-attr]
    started = time.monotonic()
    tarball, cached = debian_rootfs(workdir / "debootstrap-trixie.log", "trixie")
    daemon.docker("import", str(tarball), "mock-sprinto-test/debian-python:trixie", timeout=300)
    make(daemon, re.sub(r"BASE=\S+", "BASE=mock-sprinto-test/debian-python:trixie", command))
    how = "cached base" if cached else "debootstrap"
    FIGURES["another base (Python 3.13)"] = f"{time.monotonic() - started:.1f} s to build ({how})"
    version = daemon.docker("run", "--rm", "--network", "none", "--entrypoint", "python", tag, "--version").stdout
    assert version.startswith("Python 3.13"), version
    port, name = free_port(), f"py313-{uuid.uuid4().hex[:6]}"
    daemon.docker("run", "-d", "--name", name, "--network=host", "--read-only", f"-eMOCK_SPRINTO_PORT={port}", tag)
    try:
        wait_serving(port)
        sync_a_page(port, host=f"mock-sprinto:{port}")
        daemon.docker("stop", name)
        assert daemon.inspect(name)["State"]["ExitCode"] == 0  # type: ignore[index]
    finally:
        daemon.docker("rm", "-f", name, check=False)


def compose_services() -> dict[str, Any]:
    """examples/compose.yaml as docker-compose reads it (its paths resolved), where installed."""
    path = ROOT / "examples" / "compose.yaml"
    if shutil.which("docker-compose"):
        result = subprocess.run(
            ["docker-compose", "-f", str(path), "config"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        return dict(yaml.safe_load(result.stdout)["services"])
    services = dict(yaml.safe_load(path.read_text())["services"])
    for service in services.values():
        service["volumes"] = [
            str((path.parent / volume.split(":")[0]).resolve()) + ":" + volume.split(":", 1)[1]
            for volume in service.get("volumes", [])
        ]
    return services


def docker_run_of(service: dict[str, Any], port: int, hosts: dict[str, str], detach: str | None = None) -> list[str]:
    """The ``docker run`` compose would make of a service, on the host network."""
    argv = ["run", *(["-d", "--name", detach] if detach else ["--rm"]), "--network", "host"]
    argv += ["-e", f"MOCK_SPRINTO_PORT={port}"]
    argv += ["--read-only"] if service.get("read_only") else []
    for name, address in hosts.items():
        argv += ["--add-host", f"{name}:{address}"]
    for name, value in (service.get("environment") or {}).items():
        argv += ["-e", f"{name}={str(value).replace(':8080/', f':{port}/')}"]
    for volume in service.get("volumes") or []:
        argv += ["-v", volume if isinstance(volume, str) else f"{volume['source']}:{volume['target']}:ro"]
    entrypoint = service.get("entrypoint")
    if entrypoint:
        argv += ["--entrypoint", entrypoint[0], service["image"], *entrypoint[1:]]
    else:
        argv += [service["image"]]
    return argv


def test_the_compose_example_as_docker_runs(daemon: Daemon, image: str) -> None:
    """examples/compose.yaml (docs: `docker compose ... up`): its two services as the equivalent
    `docker run`s (compose's network needs a bridge), the client reaching the emulator by the
    service name."""
    assert commands("container.md", "compose") == [
        "docker compose -f examples/compose.yaml up --build --exit-code-from client"
    ]
    services = compose_services()
    emulator, client = services["mock-sprinto"], services["client"]
    assert emulator["image"] == client["image"] == IMAGE
    assert client["depends_on"]["mock-sprinto"]["condition"] == "service_healthy"
    port = free_port()
    name = f"compose-{uuid.uuid4().hex[:8]}"
    daemon.docker(*docker_run_of(emulator, port, {}, detach=name))
    try:
        wait_serving(port)
        ran = daemon.docker(*docker_run_of(client, port, {"mock-sprinto": "127.0.0.1"}), check=False, timeout=120)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "processed" in ran.stdout
        status, records = call(port, "GET", "/_mock/integrations/demo/records/User")
        assert status == 200 and records["count"] == 30, records
        assert daemon.docker("stop", name).returncode == 0
        assert daemon.inspect(name)["State"]["ExitCode"] == 0  # type: ignore[index]
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_the_compose_example_up(daemon: Daemon, image: str, workdir: Path) -> None:
    """docs: `docker compose -f examples/compose.yaml up --build --exit-code-from client`, run by
    Debian's docker-compose (v1: `docker-compose`). Two things differ, in an override file: the
    build's base is the local one (and reaches PyPI through the host network), and the project's
    network is internal (container to container only, nothing routed beyond it)."""
    if shutil.which("docker-compose") is None:
        if os.environ.get("REQUIRE_IMAGE_TEST"):
            raise AssertionError("docker-compose is not installed (apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    override = workdir / "compose.override.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "services": {"mock-sprinto": {"build": {"args": {"BASE": BASE}, "network": "host"}}},
                "networks": {"default": {"internal": True}},
            }
        )
    )
    [command] = commands("container.md", "compose")
    argv = shlex.split(command.replace("docker compose ", "docker-compose ", 1))
    argv[1:1] = ["-p", "doccompose"]
    argv[argv.index("examples/compose.yaml") + 1 : argv.index("examples/compose.yaml") + 1] = ["-f", str(override)]
    try:
        ran = subprocess.run(argv, cwd=ROOT, env=daemon.env, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        shown = re.sub(r"\x1b\[[0-9;]*m", "", ran.stdout)  # its colours
        assert re.search(r"client_1 +\| ses_\w+ processed", shown), shown
        emulator = daemon.inspect("doccompose_mock-sprinto_1")
        assert emulator["State"]["ExitCode"] == 0  # type: ignore[index]  # stopped by compose: SIGTERM
        logs = daemon.docker("logs", "doccompose_mock-sprinto_1").stdout
        assert "demo: 8 requests; 0 error(s)" in logs and logs.rstrip().endswith("mock-sprinto: stopped"), logs
    finally:
        down = [*argv[: argv.index("up")], "down"]
        subprocess.run(down, cwd=ROOT, env=daemon.env, capture_output=True, timeout=120, check=False)


def test_the_exam_in_the_image_with_a_python_client(daemon: Daemon, image: str) -> None:
    [command] = commands("ci.md", "exam-image")
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=daemon.env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    exam_passed(result.stdout)


@pytest.fixture(scope="module")
def runner(workdir: Path) -> Path:
    """docs/ci.md: mock-sprinto installed on a runner, in a virtualenv of its own (the exam's first
    two lines; from the checkout here, where the page says a git URL)."""
    make_venv, install, _ = commands("ci.md", "exam-runner")
    assert make_venv == "python3 -m venv /tmp/mock-sprinto", make_venv
    venv = workdir / "runner"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    assert install.startswith("/tmp/mock-sprinto/bin/pip install 'mock-sprinto @ git+GIT_URL'"), install
    source = install.replace("'mock-sprinto @ git+GIT_URL'", shlex.quote(str(ROOT)))
    source = source.replace("/tmp/mock-sprinto", str(venv)) + " --quiet"
    result = subprocess.run(["bash", "-c", source], capture_output=True, text=True, timeout=600, cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


def test_the_exam_on_the_runner(workdir: Path, runner: Path) -> None:
    """docs/ci.md: the exam run by the runner's install, the careful Node client standing for the
    client's own ``node sync.mjs``."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    *_, exam = commands("ci.md", "exam-runner")
    assert exam.endswith(" -- node sync.mjs"), exam
    exam = exam.replace("/tmp/mock-sprinto", str(runner)).replace("node sync.mjs", f"node {CLIENTS / 'careful.mjs'}")
    result = subprocess.run(["bash", "-c", exam], capture_output=True, text=True, timeout=300, cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    exam_passed(result.stdout)
    assert (workdir / "exam.xml").exists()


def test_the_other_ci_recipe_without_docker(workdir: Path, runner: Path) -> None:
    """docs/ci.md: ``serve`` in the background beside the tests, waited for with a timeout and
    stopped by its process id (SIGTERM) when the script ends: the installed package on the PATH,
    as pipx puts it there."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    strict, install, *lines = commands("ci.md", "other-ci-no-docker")
    assert (strict, install) == ("set -e", "pipx install 'mock-sprinto @ git+GIT_URL'"), install
    folder = workdir / "no-docker"
    folder.mkdir()
    script = "set -euo pipefail\n" + "\n".join(lines).replace("tests/", f"{ROOT}/tests/")
    result = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "PATH": f"{runner}/bin:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "processed" in result.stdout
    assert "integration ci: 0 error(s), 0 warning(s)" in result.stdout  # mock-sprinto report, the last line
    log = (folder / "mock-sprinto.log").read_text()
    # judged, then stopped
    assert re.search(r"\bci: \d+ requests", log) and log.rstrip().endswith("mock-sprinto: stopped"), log
    port = int(re.search(r"base URL +http://127\.0\.0\.1:(\d+)/", log).group(1))  # type: ignore[union-attr]
    with pytest.raises(OSError):  # nothing listens any more
        call(port, "GET", "/_mock/health")


@pytest.fixture(scope="module")
def node_image(daemon: Daemon, image: str) -> str:
    """docs/ci.md: the image plus Node.js (examples/exam.Dockerfile); built once, used twice."""
    build, _ = commands("ci.md", "exam-node")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", build + " --network host"], cwd=ROOT, env=daemon.env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    FIGURES["exam image (+ nodejs)"] = f"{time.monotonic() - started:.1f} s to build"
    return "mock-sprinto-exam:dev"


def test_the_exam_in_an_image_with_node(daemon: Daemon, node_image: str) -> None:
    _, run = commands("ci.md", "exam-node")
    result = subprocess.run(["bash", "-c", run], cwd=ROOT, env=daemon.env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    exam_passed(result.stdout)


def test_the_other_ci_recipe(daemon: Daemon, image: str) -> None:
    port = free_port()
    script = "set -euo pipefail\n" + "\n".join(here(line, port) for line in commands("ci.md", "other-ci"))
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=daemon.env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "processed" in result.stdout
    assert daemon.docker("ps", "-aq").stdout == ""  # stopped and removed


@pytest.fixture
def registry(workdir: Path) -> Iterator[str]:
    """A registry on loopback, standing for the one a CI runner pulls from."""
    if shutil.which("docker-registry") is None:
        if os.environ.get("REQUIRE_IMAGE_TEST"):
            raise AssertionError("docker-registry is not installed (apt-get install docker-registry)")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    config = workdir / "registry.yaml"
    config.write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {workdir / 'registry'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    with (workdir / "registry.log").open("wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/v2/")
                break
            except OSError:
                assert time.monotonic() < deadline, (workdir / "registry.log").read_text()
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_the_actions_workflow_as_docker_runs(daemon: Daemon, image: str, node_image: str, registry: str) -> None:
    """examples/github-actions.yml: the image pushed as docs/ci.md says (to a registry on loopback)
    and pulled as the runner would; its service started as the runner starts it; a client on the
    runner reaching the published port, and one in a job container reaching the service by name."""
    make_line, push = commands("ci.md", "push")
    make(daemon, make_line.replace("ghcr.io", registry) + f" BASE={BASE}")
    pushed = push.removeprefix("docker push ").replace("ghcr.io", registry)
    daemon.docker(*shlex.split(push.replace("ghcr.io", registry))[1:], timeout=300)
    daemon.docker("rmi", pushed)
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    for job_name, client in (("on-the-runner", "host"), ("in-a-container", "container")):
        job = workflow["jobs"][job_name]
        service = job["services"]["mock-sprinto"]
        assert service["image"].replace("ghcr.io", registry) == pushed
        port = free_port()
        name = f"{job_name}-{uuid.uuid4().hex[:6]}"
        argv = ["run", "-d", "--name", name, "--network", "host", "-e", f"MOCK_SPRINTO_PORT={port}"]
        for key, value in (service.get("env") or {}).items():
            argv += ["-e", f"{key}={value}"]
        daemon.docker(*argv, pushed, timeout=300)  # pulled from the registry
        try:
            wait_serving(port)
            [step_env] = [step["env"] for step in job["steps"] if "SPRINTO_BASE_URL" in step.get("env", {})]
            env = {
                "SPRINTO_BASE_URL": step_env["SPRINTO_BASE_URL"].replace(":8080/", f":{port}/"),
                "SPRINTO_API_KEY": f"key-{job_name}",
                "SPRINTO_INTEGRATION_ID": job_name,
            }
            if client == "host":  # the job's `npm test`, here the Python client
                ran = subprocess.run(
                    [sys.executable, str(CLIENTS / "careful.py")],
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            else:  # a Node client in a container, reaching `mock-sprinto` by its name
                assert env["SPRINTO_BASE_URL"].startswith("http://mock-sprinto:")
                flags = [f"-e{key}={value}" for key, value in env.items()]
                ran = daemon.docker(
                    *("run", "--rm", "--network", "host", "--add-host", "mock-sprinto:127.0.0.1", *flags),
                    *("-v", f"{CLIENTS}:/client:ro", "--entrypoint", "node", node_image, "/client/careful.mjs"),
                    check=False,
                )
            assert ran.returncode == 0, ran.stdout + ran.stderr
            status, records = call(port, "GET", f"/_mock/integrations/{job_name}/records/User")
            assert status == 200 and records["count"] == 30, records
        finally:
            daemon.docker("rm", "-f", name, check=False)


def _testcontainers_env(portmap: PortMap) -> dict[str, str]:
    """Testcontainers' own settings for this machine: the daemon through the port-mapping proxy, no
    Ryuk (its image is on Docker Hub), and the containers on this host, although this machine is
    itself a container (/.dockerenv), where Testcontainers would look for a gateway instead."""
    return {
        "DOCKER_HOST": f"unix://{portmap.listen}",
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_HOST_OVERRIDE": "localhost",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",  # Python's
    }


def test_testcontainers_from_python(daemon: Daemon, image: str) -> None:
    install, run = commands("container.md", "testcontainers-python")
    assert install == "pip install testcontainers pytest" and run == "pytest examples/testcontainers_test.py"
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        if os.environ.get("REQUIRE_IMAGE_TEST"):
            raise
        pytest.skip("testcontainers is not installed (the image extra: pip install -e '.[image]')")
    with PortMap(daemon.socket, daemon.root / "portmap.sock") as portmap:
        result = subprocess.run(
            [sys.executable, "-m", *shlex.split(run), "-p", "no:cacheprovider", "-q"],
            cwd=ROOT,
            env={**daemon.env, **_testcontainers_env(portmap)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert len(portmap.ports) == 1  # its one container, on a port of its own
    assert daemon.docker("ps", "-aq").stdout == ""  # and removed


def test_testcontainers_from_node(daemon: Daemon, image: str) -> None:
    install, run = commands("container.md", "testcontainers-node")
    if shutil.which("npm") is None or shutil.which("node") is None:
        if os.environ.get("REQUIRE_IMAGE_TEST"):
            raise AssertionError("node and npm are needed for the Node example")
        pytest.skip("node and npm are not installed")
    project = CACHE / "node"  # kept between runs: npm install is then quick
    project.mkdir(parents=True, exist_ok=True)
    if not (project / "package.json").exists():
        (project / "package.json").write_text('{"name": "mock-sprinto-example", "private": true}\n')
    installed = subprocess.run(
        ["bash", "-c", install + " --no-audit --no-fund --silent"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    example = run.split()[-1]  # copied into the client's project, as the page says
    shutil.copy(ROOT / "examples" / example, project / example)
    with PortMap(daemon.socket, daemon.root / "portmap.sock") as portmap:
        result = subprocess.run(
            ["bash", "-c", run],
            cwd=project,
            env={**daemon.env, **_testcontainers_env(portmap)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# pass 1$", result.stdout, re.M), result.stdout
    assert len(portmap.ports) == 1
    assert daemon.docker("ps", "-aq").stdout == ""

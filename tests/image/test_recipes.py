"""The container recipes, read without Docker (run by the whole suite): docs/container.md and
docs/ci.md mark every block and each is run by tests/image/test_image.py; the Dockerfile, the
compose file, the GitHub Actions workflow and the docs agree; the image's health check works
against a real server."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from mock_sprinto import __version__
from mock_sprinto.exam.cli import build_parser
from mock_sprinto.http.guards import HostCheck
from mock_sprinto.settings import FIELDS, Config, Settings
from mock_sprinto.testing import MockSprintoServer

ROOT = Path(__file__).parents[2]
PAGES = ("container.md", "ci.md")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples"
IN_A_CONTAINER = HostCheck(Settings(host="0.0.0.0"))  # the Host check as the image runs it


def instruction(name: str) -> list[str]:
    """The arguments of each Dockerfile instruction ``name``, continued lines joined."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [match.group(1).strip() for match in re.finditer(rf"^{name} (.*)$", text, re.M)]


def env_of_image() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in instruction("ENV"):
        values.update(dict(item.split("=", 1) for item in shlex.split(line)))
    return values


# ---- the pages ----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_block_of_the_page_is_marked_and_run_by_the_image_test(page: str) -> None:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    fences = re.findall(r"^```", text, re.M)
    marked = re.findall(r"<!-- (test|output):([\w-]+) -->\n```\w*\n.*?```", text, re.S)
    assert len(fences) == 2 * len(marked), f"{page}: a block without <!-- test:NAME --> or <!-- output:NAME -->"
    names = [name for _, name in marked]
    assert len(set(names)) == len(names), names
    runner = (Path(__file__).parent / "test_image.py").read_text(encoding="utf-8")
    here = Path(__file__).read_text(encoding="utf-8")
    unused = [name for name in names if f'"{page}", "{name}"' not in runner + here]
    assert unused == [], f"{page}: blocks no test reads"


def block(page: str, tag: str) -> str:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    match = re.search(rf"<!-- test:{re.escape(tag)} -->\n```\w*\n(.*?)```", text, re.S)
    assert match, tag
    return match.group(1)


@pytest.mark.parametrize(
    ("page", "tag", "example"),
    [
        ("container.md", "testcontainers-python-fixture", "testcontainers_test.py"),
        ("container.md", "testcontainers-node-start", "testcontainers.test.mjs"),
    ],
)
def test_the_snippets_are_the_examples_own_lines(page: str, tag: str, example: str) -> None:
    shown = block(page, tag)
    source = (EXAMPLES / example).read_text(encoding="utf-8")
    lines = [line.strip() for line in source.splitlines()]
    first = shown.splitlines()[0].strip()
    assert first in lines, first
    start = lines.index(first)
    assert [line.strip() for line in shown.splitlines()] == lines[start : start + len(shown.splitlines())]


def test_the_workflow_snippet_is_the_workflows_service() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))
    shown = yaml.safe_load(block("ci.md", "actions-service"))
    assert shown["services"] == workflow["jobs"]["on-the-runner"]["services"]


# ---- the Dockerfile -----------------------------------------------------------------------------
def test_the_dockerfile_says_what_the_docs_say() -> None:
    assert instruction("ARG")[0] == "BASE=python:3.12-slim"
    assert instruction("FROM") == ["${BASE} AS build", "${BASE}"]
    assert instruction("EXPOSE") == ["8080"]
    assert instruction("USER") == ["10001:10001"]
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["mock-sprinto"]
    assert json.loads(instruction("CMD")[0]) == ["serve"]
    env = env_of_image()
    assert env["MOCK_SPRINTO_HOST"] == "0.0.0.0" and env["MOCK_SPRINTO_PORT"] == instruction("EXPOSE")[0]
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "--invalidation-mode unchecked-hash" in DOCKERFILE  # bytecode valid whatever the files' times
    assert [name for name in env if name.startswith("MOCK_SPRINTO_")] == ["MOCK_SPRINTO_HOST", "MOCK_SPRINTO_PORT"]


def test_the_build_context_is_what_the_wheel_is_built_from() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:] for line in ignore if line.startswith("!")}
    assert kept == {"pyproject.toml", "README.md", "mock_sprinto", "schemas", "scenarios", "docs"}
    copied = {part.rstrip("/").split("/")[-1] for line in instruction("COPY") for part in line.split()[:-1]}
    assert kept <= copied | {"README.md", "pyproject.toml"}
    assert all((ROOT / name).exists() for name in kept)


def healthcheck() -> list[str]:
    [line] = [line for line in instruction("HEALTHCHECK")]
    test = json.loads(line[line.index("CMD ") + 4 :])
    assert test[0] == "python"
    return [sys.executable, *test[1:]]


def test_the_health_check_asks_the_port_and_token_the_server_reads() -> None:
    with MockSprintoServer(Config(Settings(admin_token="s3cret"))) as server:
        port = str(server.port)
        for env, healthy in (
            ({"MOCK_SPRINTO_PORT": port, "MOCK_SPRINTO_ADMIN_TOKEN": "s3cret"}, True),
            ({"MOCK_SPRINTO_PORT": port}, True),  # 401: serving (the token came from a config file)
            ({"MOCK_SPRINTO_PORT": "1"}, False),  # nothing listens
        ):
            result = subprocess.run(healthcheck(), env=env, capture_output=True, text=True, timeout=30)
            assert (result.returncode == 0) is healthy, (env, result.stderr)
    assert "interval=5s" in instruction("HEALTHCHECK")[0]


# ---- compose, GitHub Actions ----------------------------------------------------------------------
def _settings_named(env: dict[str, Any]) -> list[str]:
    return [name for name in env if name.startswith("MOCK_SPRINTO_") and name[13:].lower() not in FIELDS]


def test_the_compose_example_reaches_the_emulator_by_its_service_name() -> None:
    compose = yaml.safe_load((EXAMPLES / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    emulator, client = services["mock-sprinto"], services["client"]
    assert emulator["build"] == ".." and (EXAMPLES / emulator["build"] / "Dockerfile").exists()
    assert [port.rsplit(":", 1)[1] for port in emulator["ports"]] == instruction("EXPOSE")
    assert emulator["read_only"] is True and _settings_named(emulator["environment"]) == []
    url = urlsplit(client["environment"]["SPRINTO_BASE_URL"])
    assert url.hostname in services and url.port == 8080 and url.path == "/api/external/push"
    assert IN_A_CONTAINER.allows(url.netloc)
    assert client["depends_on"]["mock-sprinto"]["condition"] == "service_healthy"
    volume = client["volumes"][0].split(":")[0]
    assert (EXAMPLES / volume / client["entrypoint"][1].split("/")[-1]).exists()


def test_the_github_actions_workflow_matches_the_image_and_the_docs() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    assert set(jobs) == {"on-the-runner", "in-a-container", "exam"}
    documented = set(re.findall(r"^- `([\w-]+)`:", (ROOT / "docs" / "ci.md").read_text(encoding="utf-8"), re.M))
    assert documented == set(jobs)
    for name in ("on-the-runner", "in-a-container"):
        job = jobs[name]
        [(service_name, service)] = job["services"].items()
        assert service["image"].endswith(f"/mock-sprinto:{__version__}")
        assert _settings_named(service.get("env", {})) == []
        [url] = [urlsplit(step["env"]["SPRINTO_BASE_URL"]) for step in job["steps"] if "env" in step]
        assert url.path == "/api/external/push" and IN_A_CONTAINER.allows(url.netloc)
        if "container" in job:  # by the service's name
            assert url.hostname == service_name and url.port == int(instruction("EXPOSE")[0])
            assert "ports" not in service
        else:  # on the runner: the published port, on loopback
            assert url.hostname == "127.0.0.1" and service["ports"] == [f"{url.port}:{instruction('EXPOSE')[0]}"]
    exam = [step["run"] for step in jobs["exam"]["steps"] if step.get("run", "").startswith("mock-sprinto exam")]
    [command] = exam
    args = build_parser().parse_args(shlex.split(command)[2:])
    assert args.junit_xml == "exam.xml" and args.markdown == "$GITHUB_STEP_SUMMARY"
    [upload] = [step for step in jobs["exam"]["steps"] if step.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["with"]["path"].split() == ["exam.xml", f"{args.artifacts}/"]


def test_the_exam_dockerfile_builds_on_the_image_and_stays_non_root() -> None:
    text = (EXAMPLES / "exam.Dockerfile").read_text(encoding="utf-8")
    assert "ARG MOCK_SPRINTO_IMAGE=mock-sprinto:dev\nFROM ${MOCK_SPRINTO_IMAGE}\n" in text
    assert re.findall(r"^USER (.*)$", text, re.M)[-1] == instruction("USER")[0]
    # Its header shows the commands docs/ci.md runs.
    header = textwrap.dedent("\n".join(line[1:] for line in text.splitlines() if line.startswith("#   ")))
    assert "docker build -f examples/exam.Dockerfile -t mock-sprinto-exam:dev examples" in header
    assert block("ci.md", "exam-node").splitlines()[0] in header


# ---- make and CI ----------------------------------------------------------------------------------
def test_make_builds_and_tests_the_image_and_ci_runs_it() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^image:", makefile, re.M) and re.search(r"^test-image:", makefile, re.M)
    assert "IMAGE ?= mock-sprinto:dev" in makefile and "$(if $(BASE),--build-arg BASE=$(BASE))" in makefile
    assert "make test-image" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^image = \[\n  "testcontainers', pyproject, re.M)


def test_ci_exports_no_variable_the_emulator_reads_as_a_setting() -> None:
    """Every MOCK_SPRINTO_* variable is a setting: one exported by .ci/run for the image test made
    every `serve` of the suite refuse to start (an unknown setting)."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.findall(r"\bexport\s+(MOCK_SPRINTO_\w+)", script) == []

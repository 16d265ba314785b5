"""What ``mock-sprinto serve`` imports before its first healthy answer (issue 15: start-up ≤ 0.25 s).

Each module below was on the start path once and is imported on first use now (a lazy import with
a comment saying why); this fails if one comes back. Like ``test_service``'s python-jsonschema
check, it runs in a fresh interpreter: the real ``cli.main(["serve", "--port", "0"])``, up to a
200 from ``GET /_mock/health``, then SIGTERM. Behaviour, not timings: nothing here is timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Module: what it costs serve when imported (``-X importtime`` and compiling it, this machine).
OFF_THE_START_PATH = {
    "mock_sprinto.report": "the judge, ~8 ms: a report is asked for, or printed on Ctrl-C",
    "mock_sprinto.har": "the journal as HAR: only GET /_mock/journal.har",
    "mock_sprinto.probe": "the probe command",
    "mock_sprinto.http.testserver": "EmulatorTestServer, for in-process tests",
    "aiohttp.test_utils": "~5 ms with unittest: EmulatorTestServer's base class",
    "unittest": "imported by aiohttp.test_utils",
    "mock_sprinto.http.dashboard": "the dashboard page and script: built on the first view",
    "mock_sprinto.http.openapi_document": "the OpenAPI document's builder: the first GET /_mock/openapi.json",
    "difflib": "did-you-mean suggestions for a misspelled setting",
    "jsonschema": "python-jsonschema, ~90 ms: only an invalid scenario's wording needs it",
    "yaml": "PyYAML, ~10 ms: the default scenario is plain JSON (documents.plain_json); YAML files load it",
}

_SERVE_UNTIL_HEALTHY = textwrap.dedent(
    """
    import http.client, json, os, signal, sys, threading
    from mock_sprinto import cli

    banner = cli.banner

    def healthy_then_stop(port):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/_mock/health")
        status = connection.getresponse().status
        watched = json.loads(sys.argv[1])
        print("STARTUP " + json.dumps([status, sorted(m for m in watched if m in sys.modules)]), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    def banner_then_ask(host, port, *args, **kwargs):
        threading.Thread(target=healthy_then_stop, args=(port,), daemon=True).start()
        return banner(host, port, *args, **kwargs)

    cli.banner = banner_then_ask
    sys.exit(cli.main(["serve", "--port", "0"]))
    """
)


def test_serve_answers_its_first_health_check_without_the_modules_it_does_not_need(tmp_path: Path) -> None:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}  # the defaults
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_UNTIL_HEALTHY, json.dumps(sorted(OFF_THE_START_PATH))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next((x for x in done.stdout.splitlines() if x.startswith("STARTUP ")), None)
    assert line is not None, done.stdout + done.stderr
    status, imported = json.loads(line[len("STARTUP ") :])
    assert status == 200
    assert imported == [], "serve imported before its first healthy answer: " + ", ".join(
        f"{name} ({OFF_THE_START_PATH[name]})" for name in imported
    )


@pytest.mark.parametrize(
    ("package", "name", "module"),
    [
        ("mock_sprinto.http", "EmulatorTestServer", "mock_sprinto.http.testserver"),
        ("mock_sprinto.http.openapi", "build_document", "mock_sprinto.http.openapi_document"),
        ("mock_sprinto.http.openapi", "document_path", "mock_sprinto.http.openapi_document"),
        ("mock_sprinto.http.openapi", "shipped_document", "mock_sprinto.http.openapi_document"),
    ],
)
def test_the_lazy_names_still_import_from_where_they_were(package: str, name: str, module: str) -> None:
    import importlib

    where = importlib.import_module(package)
    assert getattr(where, name).__module__ == module
    with pytest.raises(AttributeError):
        _ = where.NoSuchName

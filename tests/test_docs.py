"""The docs stay true: every code block in README.md and docs/*.md is run, compared with a file or
marked as an output sample; every relative link and anchor resolves; the commands they show parse;
the install lines name the extras that exist. (The conventions: docs/development.md.)"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.cli import build_parser
from mock_sprinto.exam.cli import build_parser as build_exam_parser
from mock_sprinto.http.dashboard import slug
from mock_sprinto.testing import MockSprinto

from .doctext import ROOT, block, commands, examples, fenced_blocks, output, pages
from .e2e.test_cli import start

TAGS = re.compile(r"(test:[a-z0-9-]+|output:[a-z0-9-]+|example:tests/examples/[\w/]+\.py|illustration)\Z")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """A page without its fenced blocks and code spans: where links are."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors of a page (a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for title in re.findall(r"^#{1,6} (.+)$", _without_fences(text), re.M):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def _without_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


# ---- (a) every code block is tested, or says it is an illustration ---------------------------


def test_every_code_block_is_run_compared_or_marked_as_an_illustration() -> None:
    untagged: dict[str, list[str]] = {}
    for page, tag, info, body in fenced_blocks():
        if tag is None or not TAGS.match(tag):
            untagged.setdefault(page, []).append(f"```{info} {body.splitlines()[0][:60] if body else ''}")
    assert untagged == {}, (
        "a code block nothing tests: put <!-- test:NAME --> (and a test that reads block('NAME')), "
        "<!-- example:tests/examples/FILE.py --> or, for an output sample, <!-- illustration --> on the "
        "line before it (docs/development.md, 'Writing the docs')"
    )


def test_the_docs_have_their_tested_blocks_and_each_test_name_once() -> None:
    tags = [tag for _, tag, _, _ in fenced_blocks() if tag and tag.startswith("test:")]
    assert sorted(t for t in set(tags) if tags.count(t) > 1) == []
    assert len(tags) >= 15, tags


def test_every_test_block_is_read_by_a_test() -> None:
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("*.py"))
    for _, tag, _, _ in fenced_blocks():
        if tag and tag.startswith(("test:", "output:")):
            name = tag.split(":", 1)[1]
            # read as block("NAME") or output("NAME"), or by a parametrized list naming it
            assert f'"{name}"' in sources, f"no test reads the block '{tag}'"


def test_every_example_is_a_verbatim_part_of_a_file_the_suite_runs() -> None:
    shown = examples()
    assert len(shown) >= 6
    for path, code in shown:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert code in source, f"the docs' example from {path} differs from the file; copy it again"
        assert re.search(r"^(async )?def test_", source, re.M), f"{path} holds no test"


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    loaded: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return loaded


def page_text(page: str) -> str:
    return pages()[page]


def test_every_example_shown_says_where_its_helpers_come_from() -> None:
    """A newcomer copying an example must not meet a name from nowhere (issue 24: ``employee(i)``
    and ``sync_users`` without imports): each name an example calls is defined or imported in it,
    or the page names the file it comes from."""
    for page, tag, _, body in fenced_blocks():
        if not (tag and tag.startswith("example:")):
            continue
        for helper in ("employee", "sync_users", "sample_user", "push_users"):
            if re.search(rf"\b{helper}\(", body):
                defined = re.search(rf"(import [^\n]*\b{helper}\b|def {helper}\()", body) or (
                    helper in ("employee", "sync_users") and "tests/examples/my_sync_job.py" in page_text(page)
                )
                assert defined, f"{page}: the example from {tag} calls {helper}() without importing it"


# ---- (b) links ------------------------------------------------------------------------------


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = []
    for page, text in pages().items():
        folder = (ROOT / page).parent
        for target in LINK.findall(_prose(text)):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            path_part, _, anchor = target.partition("#")
            resolved = (folder / path_part).resolve() if path_part else ROOT / page
            if not resolved.exists():
                broken.append(f"{page}: {target} (no such file)")
                continue
            if anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{page}: {target} (no heading with that anchor)")
    assert broken == []


def test_every_table_row_has_its_header_s_cells_as_github_splits_them() -> None:
    """GitHub splits a table row on every unescaped ``|``, inside a code span too (the dashboard's
    renderer does not): ``"apply" | "discard"`` in a cell shifted the rules table's columns."""
    uneven = []
    for page, text in pages().items():
        width = 0
        for number, line in enumerate(_without_fences(text).splitlines(), 1):
            if not line.startswith("|"):
                width = 0
                continue
            cells = len(re.split(r"(?<!\\)\|", line.strip().strip("|")))
            if width == 0:
                width = cells  # the header row
            elif cells != width:
                uneven.append(f"{page}:{number}: {cells} cells, the header has {width}")
    assert uneven == []


def test_the_readme_is_short_and_leads_to_every_page() -> None:
    readme = pages()["README.md"]
    assert len(readme.splitlines()) <= 200
    assert "make test" in readme and "make serve" in readme
    linked = set(LINK.findall(_prose(readme)))
    assert "docs/getting-started.md" in linked and "docs/index.md" in linked
    for name in ("container", "ci", "bundles", "verify", "exam", "pytest", "scenarios", "reference"):
        assert f"docs/{name}.md" in linked, name
    index = set(LINK.findall(_prose(pages()["docs/index.md"])))
    for page in pages():
        if page.startswith("docs/") and page != "docs/index.md":
            assert page.removeprefix("docs/") in index, f"the docs index does not list {page}"


# ---- the commands the docs show ------------------------------------------------------------


def _parses(line: str) -> None:
    words = shlex.split(line)[1:]
    parser = build_exam_parser() if words[:1] == ["exam"] else build_parser()
    try:
        args = parser.parse_args(words[1:] if words[:1] == ["exam"] else words)
    except SystemExit as exit_:
        raise AssertionError(f"the docs' command does not parse: {line}") from exit_
    assert isinstance(args, argparse.Namespace)


@pytest.mark.parametrize("name", ["commands", "scenario-commands", "probe", "pipx"])
def test_every_mock_sprinto_command_shown_parses(name: str) -> None:
    lines = commands(block(name), "mock-sprinto")
    lines += [line.split(" mock-sprinto ", 1)[1] for line in block(name).splitlines() if " mock-sprinto " in line]
    assert lines, name
    for line in lines:
        _parses(line if line.startswith("mock-sprinto") else "mock-sprinto " + line)


def test_the_listing_commands_shown_run() -> None:
    for line in commands(block("commands"), "mock-sprinto") + commands(block("scenario-commands"), "mock-sprinto"):
        words = shlex.split(line)[1:]
        if words[0] in ("settings", "rules") or words[:2] == ["scenarios", "list"]:
            result = subprocess.run(
                [sys.executable, "-m", "mock_sprinto", *words], capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0 and result.stdout, (line, result.stderr)


@pytest.mark.parametrize("name", ["make", "make-targets"])
def test_every_make_target_shown_exists(name: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    shown = [line.split()[1] for line in commands(block(name), "make")]
    assert shown and set(shown) <= targets, (shown, targets)


def _extras() -> set[str]:
    project = _pyproject()["project"]
    return set(project["optional-dependencies"])


def test_the_extras_table_is_pyprojects_extras() -> None:
    """getting-started.md's table of extras lists every extra of pyproject.toml and what each brings
    (a row ending in ``...`` names some of them): it said "nothing else is optional" with ``image``
    missing, and ``bench`` without pytest-httpserver."""
    said = page_text("docs/getting-started.md").split("| extra | brings | for |", 1)[1].split("\n\n", 1)[0]
    rows = {
        cells[0].strip("`"): [name.strip() for name in cells[1].split(",")]
        for cells in ([cell.strip() for cell in line.strip("|").split("|")] for line in said.splitlines()[2:])
    }
    extras = _pyproject()["project"]["optional-dependencies"]
    assert set(rows) == set(extras)
    for extra, brought in rows.items():
        packages = {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0] for spec in extras[extra]}
        named = [name for name in brought if name != "..."]
        assert set(named) <= packages, (extra, set(named) - packages)
        assert "..." in brought or set(named) == packages, (extra, packages - set(named))


@pytest.mark.parametrize("name", ["install", "asyncio-setup"])
def test_install_lines_name_extras_that_exist_and_never_the_package_index(name: str) -> None:
    """Issue 24: ``pip install 'mock-sprinto[asyncio]'`` failed as written: the package is not on the
    index. Every line installs from a checkout, a git URL or a wheel, with an extra that exists."""
    version = _pyproject()["project"]["version"]
    for line in commands(block(name), "pip install"):
        spec = shlex.split(line)[2]
        assert spec != "pytest-aiohttp" or name == "asyncio-setup"
        if spec == "pytest-aiohttp":
            continue
        assert " @ git+" in spec or spec.startswith(("/", "dist/")), f"not installable as written: {line}"
        for extra in re.findall(r"\[([a-z,]+)\]", spec):
            assert set(extra.split(",")) <= _extras(), line
        if "whl" in spec:
            assert f"mock_sprinto-{version}-py3-none-any.whl" in spec, line
    for text in pages().values():  # nowhere in the docs: a bare name pip would look up on the index
        assert not re.search(r"pip install '?mock-sprinto(\[[a-z]+\])?'?\s*($|#)", _without_fences(text), re.M)


@pytest.mark.skipif(shutil.which("hatchling", path=str(Path(sys.executable).parent)) is None, reason="needs hatchling")
def test_a_wheel_with_the_asyncio_extra_installs_as_the_docs_write_it(tmp_path: Path) -> None:
    """pip reads ``WHEEL[asyncio]`` as written (a dry run: nothing is installed, nothing fetched)."""
    hatchling = shutil.which("hatchling", path=str(Path(sys.executable).parent))
    assert hatchling
    subprocess.run([hatchling, "build", "-t", "wheel", "-d", str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", f"{wheel}[asyncio]"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "Would install mock-sprinto" in result.stdout, result.stdout + result.stderr


# ---- blocks run against a live server --------------------------------------------------------


def _run_against_a_server(name: str, cwd: Path) -> str:
    server = start()
    try:
        script = "set -euo pipefail\n" + block(name).replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=cwd)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout
    finally:
        server.proc.terminate()
        server.proc.wait(10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example uses curl")
def test_the_prefer_examples_answer_as_the_page_says(tmp_path: Path) -> None:
    assert _run_against_a_server("prefer", tmp_path).split() == ["429", "503", "000", "reset"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example uses curl")
def test_the_scenario_put_examples_install_them(tmp_path: Path) -> None:
    import json

    answers = [json.loads(line) for line in _run_against_a_server("scenario-put", tmp_path).splitlines()]
    assert [answer["scenario"]["name"] for answer in answers] == ["rate-limited", "no-starts"]


# ---- output samples ---------------------------------------------------------------------------


def _without_ids_and_times(text: str) -> str:
    text = re.sub(r"\b(req|ses)_[0-9a-f]+", r"\1_...", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME", text)
    return re.sub(r"the client of \S+ is", "the client of ... is", text)


def test_the_judges_failure_sample_is_what_the_example_prints(mock_sprinto: MockSprinto) -> None:
    """docs/judge.md shows what the example's second test prints without its pytest.raises: the
    example run as written, then the judge asked again (a sample showing one error and no warning
    had drifted from the finding the example itself asserts)."""
    from .examples import test_well_behaved as example

    example.test_a_rejected_page_sent_again_unchanged_is_caught(mock_sprinto)
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_client_well_behaved()
    shown = [line.removeprefix("E       ") for line in output("well-behaved-failure").splitlines()]
    assert shown[0].startswith("AssertionError: ")
    shown[0] = shown[0].removeprefix("AssertionError: ")
    assert _without_ids_and_times("\n".join(shown)) == _without_ids_and_times(str(failure.value))


# ---- the pages a running emulator serves ------------------------------------------------------


def test_the_renderer_escapes_everything_and_keeps_only_safe_links() -> None:
    from mock_sprinto.http.dashboard import doc_html, render_markdown

    hostile = (
        "# <script>alert(1)</script> `x`\n\n"
        'A <img src=x onerror=alert(1)> and [click](javascript:alert(1)) and ["q"](https://e.example/?a="b")\n'
        "and [a page](pytest.md#the-marker) and [a file](../tests/test_docs.py) **<b>bold</b>**.\n\n"
        "| a | `b | c` |\n|---|---|\n| <i>x</i> | [y](data:text/html,<script>) |\n\n"
        "- <svg onload=alert(1)>\n\n"
        "```html\n<script>alert(2)</script>\n```\n"
    )
    rendered = render_markdown(hostile, lambda target: {"pytest.md#the-marker": "pytest#the-marker"}.get(target))
    assert "<script" not in rendered and "<img" not in rendered and "<svg" not in rendered and "<i>" not in rendered
    assert "javascript:" not in rendered and "data:text" not in rendered
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in rendered  # the code block, as text
    assert '<a href="pytest#the-marker">a page</a>' in rendered and "a file" in rendered
    assert "<th><code>b | c</code></th>" in rendered  # a pipe inside a code span is text, not a cell
    assert rendered.count("<a ") == 1  # javascript:, data: and unknown targets are text (this link function)
    page = doc_html(
        "docs/x.md",
        "# T\n\n[up](../README.md#quickstart) [site](https://example.com) [js](javascript:alert(1)) [f](../Makefile)",
        frozenset({"x"}),
    )
    assert '<a href="../readme#quickstart">up</a>' in page and '<a href="https://example.com">site</a>' in page
    assert "javascript:" not in page and "Makefile" not in page and " js" in page


async def test_every_docs_page_is_served_rendered_and_an_unknown_one_is_404(client: Any) -> None:
    for page in pages():
        path = "/_mock/readme" if page == "README.md" else "/_mock/docs/" + page.removeprefix("docs/")[:-3]
        async with client.get(path) as response:
            assert response.status == 200, path
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            html = await response.text()
        assert "<h1" in html and "```" not in html, path
    for missing in ("no-such-page", "..%2Fpyproject", "ARCHITECTURE.txt"):  # ARCHITECTURE.md is its file: served
        async with client.get(f"/_mock/docs/{missing}") as response:
            assert response.status == 404 and (await response.json())["code"] == "not_found", missing

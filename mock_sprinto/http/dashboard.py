"""The dashboard at /_mock/: what the emulator saw, live. Server-rendered shell, no build step: one
HTML page and one script (``/_mock/dashboard.js``) that polls the control plane's JSON every second.

Every value from the emulator reaches the page as text (``textContent`` / text nodes; the script
never assigns ``innerHTML``), and the Content-Security-Policy allows only this origin's script: a
record holding ``<img src=x onerror=...>`` is shown as those characters, never run.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from collections.abc import Callable
from pathlib import Path

from ..codes import CATALOGUE

# The page's policy: its own script and fetches only, no inline script, no frames, no forms.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

QUICKSTART = """BASE=http://127.0.0.1:8080/api/external/push/v1/integrations/demo
KEY='api-key: demo-key'
SID=$(curl -sf -X POST -H "$KEY" $BASE/sessions | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf -X POST -H "$KEY" -H 'Content-Type: application/json' $BASE/sessions/$SID/entities -d '{
  "page_hint": 1, "entities": {"User": [{"employeeId": "E1", "firstName": "Alice", "lastName": "Johnson",
  "workEmail": "alice@example.com", "employmentStartDate": "2022-01-15T09:00:00Z", "employmentType": "EMPLOYEE"}]}}'
curl -sf -X POST -H "$KEY" -H 'Content-Type: application/json' $BASE/sessions/$SID/close -d '{"status": "apply"}'"""

DASHBOARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mock-sprinto</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;flex-wrap:wrap;gap:8px 24px;align-items:center}
header h1{font-size:18px;margin:0}header a{color:#9cc3ff}header code{background:#2d3445;color:#fff}
#version{color:#b8c0cc}
main{padding:8px 24px 40px;max-width:1400px}main:focus{outline:none}
a.skip{position:absolute;left:8px;top:-40px;background:#fff;color:#1d2330;padding:4px 10px;border-radius:4px;z-index:20}
a.skip:focus{top:8px}
h2{font-size:17px;margin:24px 0 8px}h3{font-size:15px;margin:18px 0 6px}
section.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:4px 16px 12px;margin:12px 0}
table{border-collapse:collapse;margin:6px 0;width:100%;background:#fff}
td,th{border:1px solid #dde1e7;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eef0f3;font-weight:600}
code,pre{font:12px/1.4 ui-monospace,monospace;background:#eef0f3;padding:1px 4px;border-radius:3px}
pre{padding:8px;overflow:auto;white-space:pre-wrap}
.at,code.id{white-space:nowrap}
section.card{overflow-x:auto}div.scroll{overflow-x:auto;max-width:100%}
table.evidence td.more{overflow-wrap:anywhere;min-width:16em}
code.id.long,#integration-id,td.page-hint,td.issue,td.rule,td.message,table.records td,code.definition,
ol.timeline li,.last-error,pre{white-space:normal;overflow-wrap:anywhere}
pre{white-space:pre-wrap}select{max-width:18em}
code,bdi,.badge{unicode-bidi:isolate}
span.control{font:11px ui-monospace,monospace;border:1px solid #b3261e;color:#b3261e;border-radius:3px;
padding:0 2px;margin:0 1px}
#status{position:sticky;top:0;z-index:10;background:#b3261e;color:#fff;padding:8px 24px;font-weight:600;
display:flex;flex-direction:column;gap:4px}
#status button{margin-left:8px;font-weight:400}#status[hidden]{display:none}
body.stale main,body.stale #now{opacity:.6}
input[aria-invalid=true]{border:2px solid #b3261e;outline-color:#b3261e}
#f-status-hint{color:#b3261e}
tr.selected td{background:#eef4ff}
.ok{color:#0a6b2d}.err{color:#b3261e}.warn{color:#8a5a00}.muted{color:#667}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e3e7ee}
.badge.failed,.badge.rejected,.badge.error{background:#fbe1df;color:#b3261e}
.badge.processed,.badge.accepted{background:#dcf3e3;color:#0a6b2d}
.badge.expired,.badge.cancelled,.badge.warning{background:#fff0cc;color:#8a5a00}
.badge.active,.badge.processing{background:#dde9ff;color:#1a4fb5}
details{margin:4px 0}summary{cursor:pointer}
details.session{border:1px solid #dde1e7;border-radius:5px;padding:4px 10px;background:#fff}
details.session.failed{border-color:#e6a19b;background:#fff8f7}
button{font:inherit;padding:2px 10px;border:1px solid #9aa3b2;border-radius:4px;background:#fff;cursor:pointer}
button:hover{background:#eef0f3}button.current{background:#1d2330;color:#fff}
.row{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
ol.timeline{margin:4px 0;padding-left:22px}ol.timeline li{margin:1px 0}
ol.timeline li.left-out{list-style:none;counter-increment:list-item 0}
code.id.clipped{display:inline-flex;max-width:100%;white-space:nowrap;vertical-align:top}
code.id.clipped .head{overflow:hidden;white-space:nowrap;max-width:9ch}
code.id.clipped .tail{flex:none;white-space:nowrap}code.id.clipped .tail::before{content:"…"}
.pointer{font-weight:600}
#empty{border-left:4px solid #1a4fb5}
@media (max-width:720px){
header,#status{padding-left:12px;padding-right:12px}main{padding:4px 10px 32px}section.card{padding:4px 10px 10px}
main table,main tbody,main tr,main td{display:block;width:auto}
main thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
main tr{border:1px solid #dde1e7;border-radius:4px;margin:6px 0}main td{border:0;padding:2px 8px}
main td[data-label]:not([data-label=""])::before{content:attr(data-label);font-weight:600;color:#4a5260;
margin-right:.5em}
main td:empty{display:none}main code.id{white-space:normal;overflow-wrap:anywhere}
main td,main td *{overflow-wrap:anywhere}
}
</style></head><body>
<a class="skip" href="#main">Skip to the integrations</a>
<header>
<h1>mock-sprinto</h1><span id="version"></span>
<span>base URL <code id="base"></code></span>
<span>emulator time <strong id="now"></strong>
 <span class="clock-buttons" data-scope="global"></span></span>
<span><a href="openapi.json">OpenAPI</a> &middot; <a id="har-all" href="journal.har">journal as HAR</a>
 &middot; <a href="readme">docs</a> &middot; <a href="docs/control-api">control API</a></span>
</header>
<div id="status" role="status" aria-live="polite" hidden></div>
<main id="main" tabindex="-1">
<section id="empty" class="card" hidden>
<h2>Nothing has called the emulator yet</h2>
<p>Point your client at the base URL above, or run the quickstart's sync with curl in a terminal
(<a href="readme#quickstart">README: Quickstart</a>; the
<a href="docs/pytest">pytest plugin</a> does the same from tests). This page fills in as requests arrive.</p>
<pre id="quickstart"></pre>
<p>New here? <a href="docs/getting-started">Getting started</a>, then <a href="docs/index">all the docs</a>.
Every call this page makes is in the <a href="openapi.json">OpenAPI document</a>
(<a href="docs/robustness#the-contract">the contract</a>); what the judge reports is in
<a href="docs/judge">Is my client right?</a>.</p>
</section>
<section id="integrations-card" class="card">
<h2>Integrations</h2>
<div id="integrations-note"></div>
<table id="integrations"><thead><tr><th>id</th><th>active session</th><th>sessions by state</th>
<th>datasets</th><th>findings</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section id="integration" class="card" hidden>
<h2>Integration <code id="integration-id"></code></h2>
<div class="row"><span>its clock <strong id="integration-now"></strong>
<span id="integration-offset" class="muted"></span></span>
<span class="clock-buttons" data-scope="integration"></span>
<a id="har-one" href="journal.har">its journal as HAR</a></div>
<h3>Sessions</h3><div id="sessions"></div>
<h3>Client report</h3><div id="report"></div>
<h3>Scenario</h3><div id="scenario"></div>
<h3>Activity log and anomalies</h3>
<label><input type="checkbox" id="anomalies-only"> anomalies only</label>
<div id="activity-note"></div>
<table id="activity"><thead><tr><th>at</th><th>level</th><th>type</th><th>session</th><th>message</th></tr></thead>
<tbody></tbody></table>
<h3>Applied records</h3><div id="records"></div>
</section>
<section class="card">
<h2>Journal</h2>
<div class="row">
<label>integration <select id="f-integration"><option value="">all</option></select></label>
<label>operation <select id="f-operation"><option value="">all</option><option>start_session</option>
<option>push_page</option><option>close_session</option><option>get_session</option>
<option>integration_status</option><option>activity</option><option>unknown</option></select></label>
<label>status <input id="f-status" size="4" inputmode="numeric" placeholder="any"
 aria-describedby="f-status-hint"></label> <span id="f-status-hint"></span>
<a id="har-filtered" href="journal.har">these as HAR</a></div>
<div id="journal-note"></div>
<table id="journal"><thead><tr><th>at</th><th>operation</th><th>status</th><th>code</th><th>rule fired</th>
<th>integration</th><th>session</th><th>request id</th><th>ms</th></tr></thead><tbody></tbody></table>
</section>
</main>
<script src="dashboard.js"></script>
</body></html>
"""

# The script lives beside this module (a plain file: no build step, shipped in the wheel).
DASHBOARD_JS = (Path(__file__).with_name("dashboard.js")).read_text(encoding="utf-8")

# The quickstart, and what each error code means (the catalogue: a timeline line says it beside a
# journal entry's bare code), as JavaScript literals (JSON is one), ahead of the script.
DASHBOARD_JS = (
    "const QUICKSTART = "
    + json.dumps(QUICKSTART)
    + ";\nconst CODES = "
    + json.dumps({entry.code: entry.meaning for entry in CATALOGUE}, sort_keys=True)
    + ";\n"
    + DASHBOARD_JS
)

# ---- the docs, rendered: /_mock/readme and /_mock/docs/{page} ---------------------------------
#
# A small Markdown renderer for this project's own pages (headings, paragraphs, lists, pipe tables,
# fenced code, code spans, links, bold, italics). Every character of the source reaches the page
# escaped; a link is kept only when it leads to a page served here, an anchor, or http(s); a link
# to a file that is not served (tests/..., benchmarks/...) shows as its text.

DOC_CSS = (
    "body{font:15px/1.55 system-ui,sans-serif;color:#1d2330;max-width:1000px;margin:0 auto;padding:0 20px 60px}"
    "nav{padding:10px 0;border-bottom:1px solid #dde1e7;margin-bottom:8px}nav a{margin-right:16px}"
    "a{color:#1a4fb5}h1,h2,h3{line-height:1.25}h2{margin-top:1.8em;border-bottom:1px solid #eef0f3}"
    "code,pre{font:13px/1.45 ui-monospace,monospace;background:#eef0f3;border-radius:3px}"
    "code{padding:1px 4px;overflow-wrap:break-word}pre{padding:10px;overflow:auto}"
    "pre code{padding:0;overflow-wrap:normal}"
    "table{border-collapse:collapse;margin:10px 0;display:block;overflow-x:auto}"
    "td,th{border:1px solid #dde1e7;padding:4px 8px;text-align:left;vertical-align:top}th{background:#eef0f3}"
    "li{margin:2px 0}"
)

_HEADING = re.compile(r"^(#{1,6}) (.+?)\s*#*\s*\Z")
_FENCE = re.compile(r"^```")
_ITEM = re.compile(r"^(\s*)([-*]|\d+\.) (.*)\Z")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*\Z")
_INLINE = re.compile(
    r"`([^`]+)`"  # a code span
    r"|\[([^\]]+)\]\(([^)\s]+)\)"  # a link
    r"|\*\*(.+?)\*\*"  # bold
    r"|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"  # italics
)


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    plain = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", title.strip())
    return re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")


def _cells(row: str) -> list[str]:
    """A table row's cells: split on ``|`` outside code spans (a ``|`` inside one is text)."""
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    cells, current, in_code = [], "", False
    for i, char in enumerate(row):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code and (i == 0 or row[i - 1] != "\\"):
            cells.append(current.strip())
            current = ""
            continue
        current += char
    cells.append(current.strip())
    return [cell.replace("\\|", "|") for cell in cells]


class _Renderer:
    def __init__(self, link: Callable[[str], str | None]) -> None:
        self.link = link
        self.ids: dict[str, int] = {}

    def inline(self, text: str) -> str:
        out, at = [], 0
        for match in _INLINE.finditer(text):
            out.append(html.escape(text[at : match.start()]))
            code, label, target, bold, italic = match.groups()
            if code is not None:
                out.append(f"<code>{html.escape(code)}</code>")
            elif label is not None:
                href = self.link(target)
                inner = self.inline(label)
                out.append(f'<a href="{html.escape(href, quote=True)}">{inner}</a>' if href is not None else inner)
            elif bold is not None:
                out.append(f"<strong>{self.inline(bold)}</strong>")
            else:
                out.append(f"<em>{self.inline(italic)}</em>")
            at = match.end()
        out.append(html.escape(text[at:]))
        return "".join(out)

    def heading(self, level: int, title: str) -> str:
        base = slug(title)
        count = self.ids.get(base, 0)
        self.ids[base] = count + 1
        anchor = base if count == 0 else f"{base}-{count}"
        return f'<h{level} id="{html.escape(anchor, quote=True)}">{self.inline(title)}</h{level}>'

    def render(self, markdown: str) -> str:
        lines = re.sub(r"<!--.*?-->", "", markdown, flags=re.S).splitlines()
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
            elif _FENCE.match(line):
                end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines))
                out.append("<pre><code>" + html.escape("\n".join(lines[i + 1 : end])) + "</code></pre>")
                i = end + 1
            elif heading := _HEADING.match(line):
                out.append(self.heading(len(heading.group(1)), heading.group(2)))
                i += 1
            elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1].strip()):
                i = self.table(lines, i, out)
            elif _ITEM.match(line):
                i = self.items(lines, i, out)
            else:
                paragraph = [line.strip()]
                i += 1
                while i < len(lines) and lines[i].strip() and not self.starts_block(lines, i):
                    paragraph.append(lines[i].strip())
                    i += 1
                out.append("<p>" + self.inline(" ".join(paragraph)) + "</p>")
        return "\n".join(out)

    @staticmethod
    def starts_block(lines: list[str], i: int) -> bool:
        line = lines[i]
        return bool(_FENCE.match(line) or _HEADING.match(line) or _ITEM.match(line) or line.lstrip().startswith("|"))

    def table(self, lines: list[str], i: int, out: list[str]) -> int:
        head = _cells(lines[i])
        rows = ["<tr>" + "".join(f"<th>{self.inline(cell)}</th>" for cell in head) + "</tr>"]
        i += 2
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            cells = _cells(lines[i])
            rows.append("<tr>" + "".join(f"<td>{self.inline(cell)}</td>" for cell in cells) + "</tr>")
            i += 1
        out.append("<table><thead>" + rows[0] + "</thead><tbody>" + "".join(rows[1:]) + "</tbody></table>")
        return i

    def items(self, lines: list[str], i: int, out: list[str]) -> int:
        first = _ITEM.match(lines[i])
        assert first is not None
        ordered = first.group(2)[0].isdigit()
        entries: list[str] = []
        while i < len(lines):
            item = _ITEM.match(lines[i])
            if item is None:
                break
            text = [item.group(3).strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and lines[i].startswith(" ") and not _ITEM.match(lines[i]):
                text.append(lines[i].strip())
                i += 1
            entries.append("<li>" + self.inline(" ".join(text)) + "</li>")
            if i < len(lines) and not lines[i].strip() and i + 1 < len(lines) and _ITEM.match(lines[i + 1]):
                i += 1  # a blank line between items of one list
        tag = "ol" if ordered else "ul"
        out.append(f"<{tag}>" + "".join(entries) + f"</{tag}>")
        return i


def render_markdown(markdown: str, link: Callable[[str], str | None]) -> str:
    """``markdown`` as HTML, every character of it escaped; ``link`` maps a link's target to the
    address to use, or None to show the link's text alone."""
    return _Renderer(link).render(markdown)


def _served_link(target: str, here: str, pages: frozenset[str]) -> str | None:
    """Where a link on the page ``here`` ("README.md" or "docs/NAME.md") leads on this server."""
    if target.startswith("#"):
        return target
    if re.match(r"https?://", target):
        return target
    if ":" in target.split("#", 1)[0]:
        return None  # javascript:, data:, file: ... never a link
    path, _, anchor = target.partition("#")
    folder = "" if here == "README.md" else "docs/"
    resolved = posixpath.normpath(folder + path)
    fragment = f"#{anchor}" if anchor else ""
    in_docs = here != "README.md"  # served at /_mock/docs/NAME, not /_mock/readme
    if resolved == "README.md":
        return f"{'../' if in_docs else ''}readme{fragment}"
    if resolved.startswith("docs/") and resolved.endswith(".md") and resolved[5:-3] in pages:
        return f"{'' if in_docs else 'docs/'}{resolved[5:-3]}{fragment}"
    return None  # a file this server does not serve: its text only


def doc_html(name: str, markdown: str, pages: frozenset[str]) -> str:
    """One page of the docs (``name``: "README.md" or "docs/NAME.md") as a whole HTML page."""
    body = render_markdown(markdown, lambda target: _served_link(target, name, pages))
    title = next((m.group(2) for m in map(_HEADING.match, markdown.splitlines()) if m), name)
    up = "" if name == "README.md" else "../"
    index = f'<a href="{"" if up else "docs/"}index">all the docs</a>' if "index" in pages else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(re.sub(r'[`*]', '', title))} · mock-sprinto</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<style>{DOC_CSS}</style></head><body><nav><a href="{up}./">&larr; dashboard</a>'
        f'<a href="{up}readme">README</a>{index}</nav>\n{body}\n</body></html>'
    )

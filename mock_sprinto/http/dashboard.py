"""The dashboard at /_mock/: what the emulator saw, live. Server-rendered shell, no build step: one
HTML page and one script (``/_mock/dashboard.js``) that polls the control plane's JSON every second.

Every value from the emulator reaches the page as text (``textContent`` / text nodes; the script
never assigns ``innerHTML``), and the Content-Security-Policy allows only this origin's script: a
record holding ``<img src=x onerror=...>`` is shown as those characters, never run.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

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
main{padding:8px 24px 40px;max-width:1400px}
h2{font-size:17px;margin:24px 0 8px}h3{font-size:15px;margin:18px 0 6px}
section.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:4px 16px 12px;margin:12px 0}
table{border-collapse:collapse;margin:6px 0;width:100%;background:#fff}
td,th{border:1px solid #dde1e7;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eef0f3;font-weight:600}
code,pre{font:12px/1.4 ui-monospace,monospace;background:#eef0f3;padding:1px 4px;border-radius:3px}
pre{padding:8px;overflow:auto;white-space:pre-wrap}td.at{white-space:nowrap}
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
.pointer{font-weight:600}
#empty{border-left:4px solid #1a4fb5}
</style></head><body>
<header>
<h1>mock-sprinto</h1><span id="version" class="muted"></span>
<span>base URL <code id="base"></code></span>
<span>emulator time <strong id="now"></strong>
 <span class="clock-buttons" data-scope="global"></span></span>
<span><a href="openapi.json">OpenAPI</a> &middot; <a id="har-all" href="journal.har">journal as HAR</a>
 &middot; <a href="readme#the-control-api-and-the-virtual-clock">README: control API</a></span>
</header>
<main>
<section id="empty" class="card" hidden>
<h2>Nothing has called the emulator yet</h2>
<p>Point your client at the base URL above, or run the quickstart's sync with curl in a terminal
(<a href="readme#quickstart">README: Quickstart</a>; the
<a href="readme#pytest-plugin">pytest plugin</a> does the same from tests). This page fills in as requests arrive.</p>
<pre id="quickstart"></pre>
<p>Every call this page makes is in the <a href="openapi.json">OpenAPI document</a>
(<a href="readme#contract-and-robustness">README: Contract</a>); what the judge reports is in
<a href="readme#is-my-client-right">README: Is my client right?</a>.</p>
</section>
<section id="integrations-card" class="card">
<h2>Integrations</h2>
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
<label>status <input id="f-status" size="4" inputmode="numeric" placeholder="any"></label>
<a id="har-filtered" href="journal.har">these as HAR</a></div>
<table id="journal"><thead><tr><th>at</th><th>operation</th><th>status</th><th>code</th><th>rule fired</th>
<th>integration</th><th>session</th><th>request id</th><th>ms</th></tr></thead><tbody></tbody></table>
</section>
</main>
<script src="dashboard.js"></script>
</body></html>
"""

# The script lives beside this module (a plain file: no build step, shipped in the wheel).
DASHBOARD_JS = (Path(__file__).with_name("dashboard.js")).read_text(encoding="utf-8")

# The quickstart, as a JavaScript string literal (JSON is one), ahead of the script.
DASHBOARD_JS = "const QUICKSTART = " + json.dumps(QUICKSTART) + ";\n" + DASHBOARD_JS

_HEADING = re.compile(r"^(#{1,4}) (.+)\Z")


def _slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def readme_html(markdown: str) -> str:
    """The README as a plain page the dashboard links into: headings with GitHub's anchors, code
    blocks as such, the rest as escaped paragraphs (no Markdown renderer needed, nothing unescaped)."""
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mock-sprinto README</title>'
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
        "pre{background:#f4f4f4;padding:8px;overflow:auto}</style></head><body>"
        '<p><a href="./">&larr; dashboard</a></p>'
    ]
    block: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            if fenced:
                out.append("<pre>" + html.escape("\n".join(block)) + "</pre>")
                block = []
            fenced = not fenced
            continue
        if fenced:
            block.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            out.append(f'<h{level} id="{html.escape(_slug(title))}">{html.escape(title)}</h{level}>')
        elif line.strip() and not line.startswith("<!--"):
            out.append(f"<p>{html.escape(line)}</p>" if not line.startswith("|") else f"<pre>{html.escape(line)}</pre>")
    return "\n".join(out) + "</body></html>"

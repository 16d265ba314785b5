"""A one-page dashboard: integrations, their sessions and the latest requests, refreshed live."""

DASHBOARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mock-sprinto</title>
<link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f4f4}
.ok{color:#070}.err{color:#b00}code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>mock-sprinto</h1>
<p>Base URL <code id="base"></code> &middot; emulator time <span id="now"></span></p>
<h2>Integrations</h2>
<table id="integrations"><thead><tr><th>id</th><th>active session</th><th>sessions by state</th>
<th>datasets</th></tr></thead><tbody></tbody></table>
<h2>Latest requests</h2>
<table id="journal"><thead><tr><th>at</th><th>operation</th><th>status</th><th>code</th>
<th>integration</th><th>ms</th></tr></thead><tbody></tbody></table>
<script>
// Counts read as "active 1, processed 3"; zero counts are left out.
const counts = (o) => Object.entries(o).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(", ");
const text = (v) => (v === null || v === undefined) ? "" : (typeof v === "object" ? counts(v) : String(v));
function fill(id, rows) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const [value, cls] of cells) {
      const td = document.createElement("td"); td.textContent = text(value);
      if (cls) td.className = cls; tr.appendChild(td);
    }
    return tr;
  }));
}
async function refresh() {
  const [health, integrations, journal] = await Promise.all([
    fetch("health").then((r) => r.json()), fetch("integrations").then((r) => r.json()),
    fetch("journal?limit=25").then((r) => r.json())]);
  document.getElementById("now").textContent = health.now;
  fill("integrations", integrations.integrations.map(
    (i) => [[i.id], [i.active_session_id], [i.sessions], [i.datasets]]));
  fill("journal", journal.entries.reverse().map((e) => [[e.at], [e.operation],
    [e.status, e.status < 400 ? "ok" : "err"], [e.code], [e.integration_id], [e.latency_ms]]));
}
document.getElementById("base").textContent = location.origin + "/api/external/push";
refresh(); setInterval(refresh, 2000);
</script></body></html>
"""

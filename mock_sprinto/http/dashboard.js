'use strict';
// Every value from the emulator becomes a text node: el() never parses HTML.
const state = { selected: null, open: new Set(), recordType: null, recordOffset: 0, busy: false, journalSize: 0,
  sessions: 20, integrations: 50 };
const PAGE = 20;
// The overview holds the newest `state.sessions` sessions (SESSIONS_STEP more a click, at most
// MAX_SESSIONS: the server's cap), the last 100 pages of each (the server's OVERVIEW_PAGES) and the
// last ACTIVITY_SHOWN activity items (its OVERVIEW_ACTIVITY); the full views are the JSON endpoints.
const SESSIONS_STEP = 20;
const MAX_SESSIONS = 1000;
// The integrations table holds the newest `state.integrations` (INTEGRATIONS_STEP more a click) and
// the one shown, wherever it is: with 1,500 of them it listed every one, the one shown below them all,
// and their findings filled in a few a second from the oldest.
const INTEGRATIONS_STEP = 50;
const ACTIVITY_SHOWN = 200;
// The judge's findings of every integration, not only the one shown: id -> {report summary,
// findings count, when read, the integration's summary then}. The others are read a few a poll,
// when their summary changed and their count is older than CHANGED_MS, or it is older than
// STALE_MS, through the overview (a read that never brings back an integration a test just
// deleted). Each read runs the judge on that integration's history, tens of ms on a busy one: a
// client syncing without pause changes its summary every second, and re-reading it at every poll
// made the dashboard the server's heaviest client.
const findings = new Map();
const CHANGED_MS = 3000;
const STALE_MS = 5000;
const OTHERS_PER_POLL = 4;
// Never read yet: a row of the table with "…" in it. Each is read once, so more of them a poll.
const UNREAD_PER_POLL = 12;
const JOURNAL_FOR_TIMELINES = 500;
const ADVANCES = [["+1 min", 60], ["+61 min", 3660], ["+1 day", 86400]];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "on") { for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn); }
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : textOf(child));
  }
  return node;
}
// A bidi embedding, override or isolate a client sent (U+202E with no closing mark) would reorder
// the emulator's own words around it ("is not one of" read backwards): every one is shown as its
// code point, never applied. Values the page places inside a sentence are <bdi> as well.
const BIDI_CONTROL = /([\u202a-\u202e\u2066-\u2069])/;
const codePoint = (c) => "U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
function textOf(value) {
  const words = String(value);
  if (!BIDI_CONTROL.test(words)) return document.createTextNode(words);
  const shown = document.createDocumentFragment();
  for (const part of words.split(BIDI_CONTROL)) {
    if (!part) continue;
    shown.appendChild(BIDI_CONTROL.test(part)
      ? el("span", { class: "control", title: `${codePoint(part)}, a bidi control character, shown and not applied` }, codePoint(part))
      : document.createTextNode(part));
  }
  return shown;
}
// The same for a text that cannot hold elements (an <option>).
const plainText = (value) => String(value).replace(new RegExp(BIDI_CONTROL.source, "g"), (c) => `[${codePoint(c)}]`);
const bdi = (value) => el("bdi", {}, value);
const many = (n) => Number(n).toLocaleString("en-US");
// "1 page", "2,000 pages"
const plural = (n, one, other) => `${many(n)} ${Number(n) === 1 ? one : (other || one + "s")}`;
const counts = (o) => Object.entries(o || {}).filter(([, n]) => n).map(([k, n]) => `${k} ${many(n)}`).join(", ");
const text = (v) => (v === null || v === undefined) ? "" : (typeof v === "object" ? counts(v) : String(v));
const badge = (word, cls) => el("span", { class: "badge " + (cls || word) }, word);
// An id or a timestamp: kept on one line; nothing at all when there is none. A long one (an
// integration id may have 128 characters) wraps: on one line it pushed every column after it, and
// the "show" button, out of the card.
const LONG_ID = 40;
const idCode = (v) => (v === null || v === undefined || v === "") ? ""
  : el("code", { class: String(v).length > LONG_ID ? "id long" : "id" }, String(v));
// An id in a column of many rows (the journal's integration): a long one on one line, its head cut
// and its last TAIL characters kept after an ellipsis (ids often differ at their end: a test's name,
// then its hash), the whole id in its title. Wrapped, a 128-character one made every row of its
// integration ~170 px tall. What is selected and copied is still the whole id: the ellipsis is the
// style's (::before), not text.
const TAIL = 9;
const clippedId = (v) => {
  const id = (v === null || v === undefined) ? "" : String(v);
  if (id.length <= LONG_ID) return idCode(id);
  return el("code", { class: "id clipped", title: plainText(id) },
    el("span", { class: "head" }, id.slice(0, -TAIL)), el("span", { class: "tail" }, id.slice(-TAIL)));
};
// The catalogue's meanings and the judge's messages and advice are written for Markdown (the README
// and the docs show them in tables): a `code span` in them becomes a <code> holding its text, not
// visible backticks. An unpaired backtick stays as it is written.
function prose(words) {
  const parts = String(words).split("`");
  if (parts.length % 2 === 0) return String(words);
  return parts.map((part, i) => (i % 2 ? el("code", {}, part) : part));
}
const enc = encodeURIComponent;
// What a section leaves out, said, with a link to the JSON that holds all of it.
const leftOut = (cls, words, href, label, ...more) => el("p", { class: "muted left-out " + cls }, words, " (",
  el("a", { href, "data-focus": `${cls}:${href}` }, label), ")", ...more);

// A section is rebuilt only when what it shows changed: what a person reads, selects or has
// opened stays put between polls.
const shown = new Map();
function changed(section, ...data) {
  const signature = JSON.stringify(data);
  if (shown.get(section) === signature) return false;
  shown.set(section, signature);
  return true;
}

// A list whose items are rebuilt one by one: an item whose signature is the one it was built from
// stays the same node, so a selection in it, its focus and its <details> survive a poll that
// added a page beside it. ``items``: [{key, sig, build: () => Node, update: (node) => void}].
const builtFrom = new WeakMap();
function reconcile(holder, items) {
  const wanted = new Map(items.map((item) => [item.key, item]));
  for (const node of [...holder.childNodes]) {
    const item = node.nodeType === Node.ELEMENT_NODE ? wanted.get(node.dataset.rk) : undefined;
    if (!item || builtFrom.get(node) !== item.sig) node.remove();  // what stays is never moved below
  }
  const kept = new Map([...holder.children].map((node) => [node.dataset.rk, node]));
  let cursor = holder.firstElementChild;
  for (const item of items) {
    let node = kept.get(item.key);
    kept.delete(item.key);  // a key given twice: the second is built anew
    if (!node) {
      node = item.build();
      node.dataset.rk = item.key;
      builtFrom.set(node, item.sig);
    }
    if (item.update) item.update(node);
    if (node === cursor) cursor = cursor.nextElementSibling;
    else holder.insertBefore(node, cursor);
  }
  while (cursor) { const next = cursor.nextElementSibling; cursor.remove(); cursor = next; }
}
const sig = (...data) => JSON.stringify(data);
// One part that is built once and never changes.
const fixed = (key, build, update) => ({ key, sig: "fixed", build, update });

// What has the keyboard focus, by its data-focus key: a part rebuilt under it (a "show" button
// whose row now says "shown") gets it back, so the next Tab goes on from there, not from the top.
function focusedKey() {
  const node = document.activeElement;
  return node && node !== document.body && node.dataset ? node.dataset.focus : undefined;
}
function refocus(key) {
  if (!key || (document.activeElement && document.activeElement !== document.body)) return;
  const again = document.querySelector(`[data-focus="${CSS.escape(key)}"]`);
  if (again) again.focus({ preventScroll: true });
}
// ``draw`` (synchronous: the focus cannot move while it runs), the focus kept.
function keepingFocus(draw) {
  const key = focusedKey();
  try { draw(); } finally { refocus(key); }
}

// ---- the connection: said on the page, not only in body.dataset.error ------------------------
class Unreachable extends Error {}
class Refused extends Error {
  constructor(path, status, detail) {
    super(`the server answers ${path.split("?")[0]} with ${status}${detail ? `: ${detail}` : ""}`);
    this.status = status;
  }
}
const ANSWER_MS = 10000;  // a server that holds a request this long is as good as gone
async function call(path, options) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ANSWER_MS);
  try {
    return await fetch(path, { ...options, signal: abort.signal });
  } catch (error) {
    throw new Unreachable(abort.signal.aborted ? `the server did not answer in ${ANSWER_MS / 1000} s` : "cannot reach the server");
  } finally {
    clearTimeout(timer);
  }
}
async function refused(path, response) {
  let detail = "";
  try { detail = (await response.json()).detail || ""; } catch (error) { detail = ""; }
  if (response.status === 401) detail = "the admin token is needed: open /_mock/?token=TOKEN again";
  return new Refused(path, response.status, detail);
}
async function get(path) {
  const response = await call(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw await refused(path, response);
  return response.json();
}

// Since when the page has failed to read the server (null: it reads fine), why, and what a button
// that failed left undone (kept until dismissed or a later click works).
const trouble = { since: null, why: "", action: null };
const hhmmss = (date) => date.toTimeString().slice(0, 8);
function showTrouble() {
  const bar = document.getElementById("status");
  const lines = [];
  if (trouble.since) {
    lines.push(el("span", { class: "connection" }, `${trouble.why} since ${hhmmss(trouble.since)}; retrying every second.`,
      " What is below is what it showed then."));
  }
  if (trouble.action) {
    lines.push(el("span", { class: "action" }, trouble.action, " ",
      el("button", { type: "button", class: "dismiss", "data-focus": "dismiss",
        on: { click: () => { trouble.action = null; showTrouble(); } } }, "dismiss")));
  }
  bar.replaceChildren(...lines);
  bar.hidden = lines.length === 0;
  document.body.classList.toggle("stale", Boolean(trouble.since));
}
function failing(error) {
  const why = error instanceof Unreachable || error instanceof Refused ? error.message
    : `the page failed to show what it read: ${error}`;
  if (!trouble.since) trouble.since = new Date();
  trouble.why = why;
  document.body.dataset.error = String(error);
  showTrouble();
}
function answering() {
  if (!trouble.since && !("error" in document.body.dataset)) return;
  trouble.since = null;
  delete document.body.dataset.error;
  showTrouble();
}

// <details> stay as the user left them across refreshes.
function details(key, cls, summary, ...body) {
  const node = el("details", { class: cls, "data-key": key, open: state.open.has(key) },
    el("summary", { "data-focus": "summary:" + key }, summary), ...body);
  node.addEventListener("toggle", () => { if (node.open) state.open.add(key); else state.open.delete(key); });
  return node;
}

function table(headers, rows, attrs) {
  return el("table", attrs || {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

// A table's rows, each kept while its data is the same: [{key, sig, build}].
function fill(id, rows) { reconcile(document.querySelector("#" + id + " tbody"), rows); }

// ---- clock buttons ----------------------------------------------------------------------
function clockButtons() {
  for (const holder of document.querySelectorAll(".clock-buttons")) {
    const scope = holder.dataset.scope;
    holder.replaceChildren(...ADVANCES.map(([label, seconds]) => el("button", {
      type: "button", "data-advance": seconds, "data-scope": scope,
      title: `move ${scope === "global" ? "every integration's" : "this integration's"} clock ${label}`,
      on: { click: () => advance(scope, seconds, label) } }, label)));
  }
}
// A click that fails says so in the status line (it raised an uncaught "Failed to fetch" and
// moved nothing, silently).
async function advance(scope, seconds, label) {
  const path = scope === "global" ? "clock/advance" : `integrations/${enc(state.selected)}/clock/advance`;
  const whose = scope === "global" ? "every integration's clock" : `the clock of ${plainText(state.selected)}`;
  try {
    const response = await call(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds }) });
    if (!response.ok) throw await refused(path, response);
    trouble.action = null;
  } catch (error) {
    trouble.action = `"${label}" at ${hhmmss(new Date())} did not move ${whose}: ${error.message || error}.`;
    if (error instanceof Unreachable) failing(error);
  }
  showTrouble();
  await refresh();
}

// ---- integrations -------------------------------------------------------------------------
const findingsWords = (s) => `${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}, ${plural(s.infos, "note")}`;
function findingsCell(id) {
  const known = findings.get(id);
  if (!known) return el("td", { class: "muted findings", title: "not read yet" }, "…");
  const cls = known.summary.errors ? "err" : (known.summary.warnings ? "warn" : "ok");
  return el("td", { class: cls + " findings", title: findingsWords(known.summary) }, many(known.count));
}

// The rows the table holds: the newest state.integrations of the list (oldest first, as it comes),
// and the one shown when it is older than those.
function integrationRows(list) {
  const newest = list.slice(-state.integrations);
  const older = list.length - newest.length;
  const chosen = older && state.selected ? list.findIndex((i) => i.id === state.selected) : -1;
  return chosen >= 0 && chosen < older ? [list[chosen], ...newest] : newest;
}

function renderIntegrationsNote(list, rows) {
  const note = document.getElementById("integrations-note");
  const cut = list.length > state.integrations;
  const extra = rows.length > state.integrations;  // the one shown, older than the newest
  if (!changed("integrations-note", cut, list.length, state.integrations, extra)) return;
  keepingFocus(() => note.replaceChildren(...(cut ? [leftOut("integrations-left-out",
    `the newest ${many(state.integrations)} of ${many(list.length)} integrations${extra ? ", and the one shown" : ""}`,
    "integrations", "all of them as JSON", " ", el("button", { type: "button", class: "more-integrations",
      "data-focus": "more-integrations", on: { click: () => {
        state.integrations += INTEGRATIONS_STEP; refresh(); } } }, `show ${INTEGRATIONS_STEP} more`))] : [])));
}

function renderIntegrations(list) {
  const rows = integrationRows(list);
  renderIntegrationsNote(list, rows);
  const known = rows.map((i) => { const f = findings.get(i.id); return f ? [f.count, f.summary] : null; });
  if (!changed("integrations", rows, known, state.selected)) return;
  // One row per integration, rebuilt only when its own data changed.
  fill("integrations", rows.map((i, n) => ({ key: i.id, sig: sig(i, known[n], i.id === state.selected), build: () => {
    const failed = (i.sessions || {}).failed || 0;
    // the failed ones are the badge alone ("failed 1" beside "1 failed" said it twice)
    const others = Object.fromEntries(Object.entries(i.sessions || {}).filter(([name]) => name !== "failed"));
    return el("tr", { "data-integration": i.id, class: i.id === state.selected ? "selected" : null },
      el("td", {}, idCode(i.id)), el("td", {}, idCode(i.active_session_id)),
      el("td", {}, counts(others), failed ? [" ", badge(`${many(failed)} failed`, "failed")] : null),
      el("td", {}, text(i.datasets)),
      findingsCell(i.id),
      el("td", {}, el("button", { type: "button", class: i.id === state.selected ? "current" : null,
        "data-focus": "show:" + i.id, "aria-pressed": i.id === state.selected ? "true" : "false",
        on: { click: () => select(i.id) } }, i.id === state.selected ? "shown" : "show")));
  } })));
  // The journal's choice of integration: rebuilt only when the ids change (not at every count),
  // so an open drop-down is not closed under the pointer. Every integration, not only the rows.
  if (!changed("integration-ids", list.map((i) => i.id))) return;
  const options = document.getElementById("f-integration");
  const chosen = options.value;
  options.replaceChildren(el("option", { value: "" }, "all"),
    ...list.map((i) => el("option", { value: i.id, selected: i.id === chosen, title: plainText(i.id) }, plainText(i.id))));
}

function select(id) {
  state.selected = id; state.recordType = null; state.recordOffset = 0; state.sessions = SESSIONS_STEP;
  address(id);
  refresh();
}

// The address names the integration shown, whichever way it came to be shown (a click, the one
// shown after it was deleted, the newest when none was named), so a copied or reloaded address
// opens what the person sees. Replaced, not pushed: Back leaves the dashboard, as before.
function address(id) {
  const wanted = id ? "#integration=" + enc(id) : "";
  if (location.hash !== wanted) history.replaceState(null, "", wanted || location.pathname + location.search);
}

function named() {
  return new URLSearchParams(location.hash.slice(1)).get("integration");
}

// ---- one integration ------------------------------------------------------------------------
const TIMELINE = new Set(["session_created", "page_accepted", "page_rejected", "page_refused",
  "session_processing", "processing_retry", "session_processed", "session_failed", "session_cancelled",
  "session_expired", "expired_data_purged"]);
const PAGE_EVENTS = new Set(["page_accepted", "page_rejected", "page_refused"]);

// A journal entry worth a line in its session's timeline: an answer that was not a success, or one
// a scenario rule or a Prefer header decided (a push that became a page is there already, from the
// activity log). A start refused with 409 goes to the session it names.
function answered(e) {
  return e.status === 0 || e.status >= 300 || Boolean(e.rule);
}
const VERB = { start_session: "start", push_page: "push", close_session: "close", get_session: "read",
  integration_status: "status read", activity: "activity read" };

function answerItem(e) {
  const verb = VERB[e.operation] || e.operation;
  const what = e.status === 0 ? `${verb}: connection broken` : `${verb} answered ${e.status}`;
  const cls = e.rule ? "warning" : (e.status >= 500 || e.status === 0 ? "error" : "warning");
  const meaning = e.code ? CODES[e.code] : null;
  return el("li", { "data-type": "answer", "data-request": e.request_id, "data-code": e.code || "" },
    el("span", { class: "muted at" }, e.at), " ", badge(e.rule ? "injected" : (e.status >= 400 && e.status < 500 ? "refused" : "answer"), cls),
    " ", what, e.code ? [" ", el("code", {}, e.code)] : "", meaning ? [": ", prose(meaning)] : "",
    e.rule ? [" — ", el("span", { class: "rule" }, "fired: ", bdi(e.rule))] : "",
    " ", el("code", { class: "id muted" }, e.request_id));
}

function renderSessions(sessions, total, activity, journal) {
  if (!changed("sessions", state.selected, sessions, total, activity, journal)) return;
  const holder = document.getElementById("sessions");
  if (!sessions.length) {
    reconcile(holder, [{ key: "none", sig: "none", build: () => el("p", { class: "muted" }, "no session yet") }]);
    return;
  }
  const base = `integrations/${enc(state.selected)}/sessions`;
  // The overview holds the newest sessions only: say so, link to all of them, offer more.
  const note = total > sessions.length ? [{ key: "note", sig: sig(sessions.length, total, state.sessions), build: () => leftOut("sessions-left-out",
    `the newest ${many(sessions.length)} of ${many(total)} sessions`, base, "all of them as JSON",
    state.sessions < MAX_SESSIONS ? [" ", el("button", { type: "button", class: "more-sessions", "data-focus": "more-sessions",
      on: { click: () => { state.sessions = Math.min(MAX_SESSIONS, state.sessions + SESSIONS_STEP); refresh(); } } },
    `show ${SESSIONS_STEP} more`)] : null) }] : [];
  // Each session is kept and only its changed parts redrawn: a sync into one session leaves the
  // others alone, and in it the pages and timeline lines already there (a selection in them too).
  reconcile(holder, [...note, ...sessions.slice().reverse().map((s) => fixed("session:" + s.id,
    () => details("session:" + s.id, "session " + s.state, []),
    (node) => updateSession(node, s, base, activity, journal)))]);
}

function updateSession(node, s, base, activity, journal) {
  node.className = "session " + s.state;
  const pageRequests = new Set(s.pages.map((p) => p.request_id));
  // Only the last pages are here: the pushes before the first of them are left out of the
  // timeline too (an answer to one may be a page not shown), and a line says where.
  const cut = s.pages_total > s.pages.length;
  const since = cut && s.pages.length ? s.pages[0].received_at : null;
  const first = cut && s.pages.length ? s.pages[0].ordinal : Infinity;
  const answers = journal.filter((e) => (e.session_id || e.names_session) === s.id && answered(e)
    && !pageRequests.has(e.request_id) && !(cut && e.operation === "push_page" && (since === null || e.at < since)));
  const events = activity.filter((a) => a.session_id === s.id && TIMELINE.has(a.type)
    && !(cut && PAGE_EVENTS.has(a.type) && !((a.details || {}).page >= first)))
    .map((a) => ({ at: a.at, rank: 1, key: "a:" + a.id, sig: sig(a), build: () => el("li", { "data-type": a.type },
      el("span", { class: "muted at" }, a.at), " ", badge(a.type.replace(/^session_/, ""), a.level === "info" ? "plain" : a.level),
      " ", a.message) }))
    // at the same instant, a request's answer comes before what it set off (a close, then processing)
    .concat(answers.map((e) => ({ at: e.at, rank: 0, key: "r:" + e.request_id, sig: sig(e), build: () => answerItem(e) })))
    .concat(cut ? [{ at: since || "", rank: -1, key: "left-out", sig: sig(s.pages_total - s.pages.length),
      build: () => el("li", { "data-type": "left-out", class: "muted left-out" },
        `… the events of ${plural(s.pages_total - s.pages.length, "earlier page")} are left out`) }] : [])
    .sort((a, b) => (a.at < b.at ? -1 : (a.at > b.at ? 1 : a.rank - b.rank)));
  const summary = () => [idCode(s.id), " ", badge(s.state), " ",
    `${plural(s.accepted_batches, "page")} accepted, ${many(s.rejected_batches)} rejected; `,
    plural(s.accepted_records_total, "record"),
    s.retry_count ? `; ${plural(s.retry_count, "retry", "retries")}` : "",
    s.last_error ? [" ", el("span", { class: "err last-error" }, "last_error: ", bdi(s.last_error))] : ""];
  const pageRows = s.pages.map((p) => {
    const rows = [{ key: "p:" + p.ordinal, sig: sig(p), build: () => el("tr", { "data-page": p.ordinal, class: p.accepted ? "accepted" : "rejected" },
      el("td", {}, many(p.ordinal)), el("td", {}, badge(p.accepted ? "accepted" : "rejected")),
      el("td", {}, many(p.record_count)), el("td", {}, text(p.counts_by_entity)),
      el("td", { class: "page-hint" }, text(p.page_hint)), el("td", {}, `${many(p.wire_bytes)} / ${many(p.decoded_bytes)}`),
      el("td", {}, text(p.encoding)), el("td", { class: p.code ? "err" : "" }, text(p.code)),
      el("td", { class: "muted at" }, p.received_at)) }];
    if (!p.accepted) {
      rows.push({ key: "e:" + p.ordinal, sig: sig(p), build: () => {
        const errors = p.errors.length ? table(["pointer", "field", "issue", "keyword"], p.errors.map((e) =>
          el("tr", {}, el("td", {}, el("code", { class: "pointer" }, e.pointer)), el("td", {}, text(e.field)),
            el("td", { class: "issue" }, e.issue), el("td", {}, text(e.code)))), { class: "errors" })
          : el("p", {}, text(p.detail));
        // who rejected a page no validation did: the scenario's rules, or the request's Prefer header
        const prefer = p.rule && p.rule.startsWith("Prefer: ");
        const rule = p.rule ? el("p", { class: "muted rule" }, prefer ? "rejected as the request's Prefer header asked: "
          : "rejected by the scenario: ", bdi(prefer ? p.rule.slice("Prefer: ".length) : p.rule)) : null;
        return el("tr", { class: "page-errors" }, el("td", { colspan: 9 }, errors, rule,
          p.errors_truncated ? el("p", { class: "warn" }, "more errors were left out") : null));
      } });
    }
    return rows;
  }).flat();
  const cutWords = sig(s.pages.length, s.pages_total);
  const footer = [s.created_at, s.expires_at, s.closed_at, s.client_reference_id];
  reconcile(node, [
    { key: "summary", sig: sig(s.id, s.state, s.accepted_batches, s.rejected_batches, s.accepted_records_total, s.retry_count, s.last_error),
      build: () => el("summary", { "data-focus": "summary:session:" + s.id }, summary()) },
    fixed("h-timeline", () => el("h4", {}, "timeline")),
    fixed("timeline", () => el("ol", { class: "timeline" }), (ol) => reconcile(ol, events)),
    fixed("h-pages", () => el("h4", {}, "pages")),
    ...(cut ? [{ key: "pages-note", sig: cutWords, build: () => leftOut("pages-left-out",
      `the last ${many(s.pages.length)} of ${many(s.pages_total)} pages`, `${base}/${enc(s.id)}`, "the whole session as JSON") }] : []),
    s.pages.length
      ? fixed("pages", () => table(["#", "verdict", "records", "by type", "page_hint", "bytes (wire / decoded)", "encoding", "code", "received"],
        [], { class: "pages" }), (pages) => reconcile(pages.tBodies[0], pageRows))
      : fixed("no-pages", () => el("p", { class: "muted" }, "no page yet")),
    { key: "footer", sig: sig(footer), build: () => el("p", { class: "muted" }, "created ", el("span", { class: "at" }, s.created_at), " · expires ",
      el("span", { class: "at" }, text(s.expires_at)), " · closed ", el("span", { class: "at" }, text(s.closed_at) || "-"),
      s.client_reference_id !== null ? [" · client_reference_id ", el("code", { class: "client-ref" }, s.client_reference_id)] : "") },
  ]);
}

// An evidence value as text that can wrap: a list of request ids is "a, b, c", not one long token.
function shownValue(v) {
  if (Array.isArray(v)) return v.map(shownValue).join(", ");
  if (v !== null && typeof v === "object") return JSON.stringify(v).replaceAll(",", ", ");
  return String(v);
}

function renderReport(report) {
  if (!changed("report", state.selected, report)) return;
  const holder = document.getElementById("report");
  const findings = report.findings.map((f) => ({ key: "finding:" + f.id, sig: sig(f), build: () => details(`finding:${f.id}`, "finding " + f.severity,
    [badge(f.severity), " ", el("code", {}, f.id), " ", prose(f.message), f.count > 1 ? ` (×${many(f.count)})` : ""],
    el("p", {}, el("strong", {}, "advice: "), prose(f.advice), " ", el("span", { class: "muted" }, `(basis ${f.basis})`)),
    el("div", { class: "scroll" }, table(["request id", "session", "page", "page_hint", "code", "at", "more"],
      f.evidence.map((e) => el("tr", { class: "evidence" },
        el("td", {}, idCode(e.request_id)),
        el("td", {}, idCode(e.session_id)), el("td", {}, typeof e.page === "number" ? many(e.page) : text(e.page)),
        el("td", {}, text(e.page_hint)), el("td", {}, text(e.code)), el("td", { class: "at" }, text(e.at)),
        el("td", { class: "more" }, Object.entries(e)
          .filter(([k]) => !["request_id", "session_id", "page", "page_hint", "code", "at"].includes(k))
          .map(([k, v], n) => [n ? "; " : "", `${k}: `, bdi(shownValue(v))])))), { class: "evidence" }))) }));
  const summary = report.summary;
  reconcile(holder, [
    { key: "summary", sig: sig(summary, report.findings.length === 0), build: () => el("p", {}, findingsWords(summary),
      report.findings.length ? "" : " — nothing to fix") },
    ...findings,
    fixed("h-coverage", () => el("h4", {}, "behaviour coverage")),
    { key: "coverage", sig: sig(report.coverage), build: () => table(["behaviour", "met", "recovered"], report.coverage.map((c) => el("tr", { "data-behaviour": c.behaviour },
      el("td", {}, c.behaviour), el("td", { class: c.met ? "ok" : "muted" }, c.met ? "met" : "not met"),
      el("td", { class: c.recovered === false ? "err" : (c.recovered ? "ok" : "muted") },
        c.recovered === null ? "-" : (c.recovered ? "recovered" : "not recovered")))), { class: "coverage" }) }]);
}

function renderScenario(view) {
  if (!changed("scenario", state.selected, view.scenario, view.rules, view.applies_to)) return;
  const holder = document.getElementById("scenario");
  if (!view.scenario) { holder.replaceChildren(el("p", { class: "muted" }, "none: the documented behaviour")); return; }
  const rules = view.scenario.rules || [];
  const counted = view.rules || [];
  holder.replaceChildren(
    el("p", {}, el("strong", {}, bdi(view.scenario.name)), ` (${view.applies_to})`, view.scenario.description ? [" — ", bdi(view.scenario.description)] : ""),
    counted.length === 0 ? el("p", { class: "muted" }, "no rules") : table(["rule", "definition", "matched", "fired"], counted.map((r, i) => el("tr", { "data-rule": r.rule },
      el("td", { class: "rule" }, r.rule), el("td", {}, el("code", { class: "definition" }, JSON.stringify(rules[i] || {}))),
      el("td", {}, many(r.matched)), el("td", { class: r.fired ? "warn" : "" }, many(r.fired)))), { class: "rules" }));
}

// The overview holds the last ACTIVITY_SHOWN items and the last ACTIVITY_SHOWN anomalies (and the
// timelines' items of the sessions shown): the last ACTIVITY_SHOWN of either list are all there.
function renderActivity(items, total) {
  const only = document.getElementById("anomalies-only").checked;
  if (!changed("activity", state.selected, items, total, only)) return;
  const rows = items.filter((a) => !only || a.level !== "info").slice(-ACTIVITY_SHOWN);
  const note = document.getElementById("activity-note");
  const words = only ? (rows.length === ACTIVITY_SHOWN ? `the last ${many(rows.length)} anomalies of the log's ${many(total)} items` : null)
    : (total > rows.length ? `the last ${many(rows.length)} of ${many(total)} items` : null);
  note.replaceChildren(...(words ? [leftOut("activity-left-out", words, `integrations/${enc(state.selected)}/activity`,
    "the whole log as JSON")] : []));
  fill("activity", rows.reverse().map((a) => ({ key: a.id, sig: sig(a), build: () =>
    el("tr", { class: a.level === "info" ? "" : "anomaly" }, el("td", { class: "muted at" }, a.at),
      el("td", {}, badge(a.level, a.level === "info" ? "plain" : a.level)), el("td", {}, a.type),
      el("td", {}, idCode(a.session_id)), el("td", { class: "message" }, a.message)) })));
}

function renderRecords(datasets, page) {
  const holder = document.getElementById("records");
  const types = Object.keys(datasets);
  if (!types.length || !page) {
    shown.delete("records");
    holder.replaceChildren(el("p", { class: "muted" }, "nothing applied yet"));
    return;
  }
  state.recordType = page.entity_type;
  if (!changed("records", state.selected, datasets, page)) return;
  const columns = [...new Set(page.records.flatMap((r) => Object.keys(r)))];
  const nav = el("div", { class: "row" },
    types.map((t) => el("button", { type: "button", class: t === state.recordType ? "current" : null, "data-focus": "records-type:" + t,
      on: { click: () => { state.recordType = t; state.recordOffset = 0; refresh(); } } }, t, ` (${many(datasets[t])})`)),
    el("span", { class: "muted" }, `${many(page.count ? page.offset + 1 : 0)}–${many(page.offset + page.records.length)} of ${many(page.count)}`,
      // a type with no x-key said "key ;"
      page.key_field ? ["; key ", el("code", {}, page.key_field)] : "; no key field",
      page.applied_by_session ? ["; applied by ", idCode(page.applied_by_session)] : ""),
    el("button", { type: "button", disabled: state.recordOffset === 0, "data-focus": "records-previous",
      on: { click: () => { state.recordOffset = Math.max(0, state.recordOffset - PAGE); refresh(); } } }, "previous"),
    el("button", { type: "button", disabled: page.offset + PAGE >= page.count, "data-focus": "records-next",
      on: { click: () => { state.recordOffset += PAGE; refresh(); } } }, "next"));
  holder.replaceChildren(nav, table(columns, page.records.map((r) => el("tr", { class: "record" },
    columns.map((c) => el("td", {}, r[c] === undefined ? "" : (typeof r[c] === "object" && r[c] !== null ? JSON.stringify(r[c]) : text(r[c])))))),
    { class: "records" }));
}

// One read of everything shown of the integration; it never creates one a test just deleted.
async function overview(id) {
  const params = new URLSearchParams({ offset: String(state.recordOffset), limit: String(PAGE),
    sessions: String(state.sessions) });
  if (state.recordType) params.set("entity_type", state.recordType);
  return get(`integrations/${enc(id)}/overview?${params}`);
}

function noteFindings(id, report, summary) {
  findings.set(id, { count: report.findings.length, summary: report.summary, at: Date.now(), seen: JSON.stringify(summary) });
}

// The findings of the other rows of the table (never of an integration it leaves out): those never
// read first, newest first (UNREAD_PER_POLL of them), then those changed since or read longest ago.
async function refreshOtherFindings(rows) {
  const listed = new Set(rows.map((i) => i.id));
  for (const id of findings.keys()) if (!listed.has(id)) findings.delete(id);
  const now = Date.now();
  const others = rows.filter((i) => i.id !== state.selected);
  const unread = others.filter((i) => !findings.has(i.id)).reverse().slice(0, UNREAD_PER_POLL);
  const due = unread.length ? unread : others.filter((i) => {
    const known = findings.get(i.id);
    return now - known.at > (known.seen !== JSON.stringify(i) ? CHANGED_MS : STALE_MS);
  }).sort((a, b) => findings.get(a.id).at - findings.get(b.id).at).slice(0, OTHERS_PER_POLL);
  await Promise.all(due.map(async (i) => {
    const view = await get(`integrations/${enc(i.id)}/overview?limit=1&sessions=0&pages=0`);  // its report alone
    if (view.exists) noteFindings(i.id, view.report, i); else findings.delete(i.id);
  }));
}

// An integration's clock against the server's: ahead after an advance, behind after a state bundle
// taken earlier was imported.
// Whole seconds: an imported clock lands a few milliseconds off a round number.
const offsetText = (seconds) => {
  const whole = Math.round(Math.abs(seconds || 0));
  return whole ? `(${seconds > 0 ? "+" : "−"}${whole.toLocaleString("en-US")} s)` : "";
};

function renderIntegration(view, journal) {
  const section = document.getElementById("integration");
  if (!view || !view.exists) { section.hidden = true; return; }
  section.hidden = false;
  document.getElementById("integration-id").replaceChildren(textOf(view.integration_id));
  document.getElementById("integration-now").textContent = view.clock.now;
  document.getElementById("integration-offset").textContent = offsetText(view.clock.offset_seconds);
  document.getElementById("har-one").setAttribute("href", "journal.har?integration_id=" + enc(view.integration_id));
  renderSessions(view.sessions, view.sessions_total, view.activity, journal);
  renderReport(view.report);
  renderScenario(view.scenario);
  renderActivity(view.activity, view.activity_total);
  renderRecords(view.datasets, view.records);
}

// ---- the journal ----------------------------------------------------------------------------
// The status filter takes one code, as the API does: 0 (a connection a scenario broke) or 100-599.
// Anything else ("4xx", "40") is said to be invalid; it was dropped silently and every status listed.
const STATUS_CODE = /^(0|[1-5][0-9]{2})$/;
const JOURNAL_SHOWN = 100;
async function renderJournal() {
  const limit = Math.min(JOURNAL_SHOWN, state.journalSize);
  const params = new URLSearchParams({ limit: String(limit) });
  const integration = document.getElementById("f-integration").value;
  const operation = document.getElementById("f-operation").value;
  const statusBox = document.getElementById("f-status");
  const status = statusBox.value.trim();
  if (integration) params.set("integration_id", integration);
  if (operation) params.set("operation", operation);
  const valid = status === "" || STATUS_CODE.test(status);
  statusBox.setAttribute("aria-invalid", valid ? "false" : "true");
  document.getElementById("f-status-hint").replaceChildren(...(valid ? [] : ["not a status code: type one, such as ",
    el("code", {}, "429"), " (0 is a broken connection); classes such as 4xx are not supported"]));
  const har = document.getElementById("har-filtered");
  har.hidden = !valid;
  const note = document.getElementById("journal-note");
  if (!valid) {
    shown.delete("journal");
    fill("journal", []);
    note.replaceChildren();
    return;
  }
  if (status) params.set("status", status);
  const journal = await get("journal?" + params);
  params.delete("limit");
  const harHref = "journal.har?" + params;
  har.setAttribute("href", harHref);
  // At most the newest JOURNAL_SHOWN: said, as the other sections say what they leave out.
  const filtered = Boolean(integration || operation || status);
  const cut = journal.entries.length >= limit && journal.total_recorded > journal.entries.length;
  if (changed("journal-note", cut, filtered, journal.total_recorded)) {
    note.replaceChildren(...(cut ? [leftOut("journal-left-out", filtered
      ? `the newest ${many(journal.entries.length)} requests that match (of ${many(journal.total_recorded)} recorded)`
      : `the newest ${many(journal.entries.length)} of ${many(journal.total_recorded)} requests recorded`,
    harHref, "all that are kept, as HAR")] : []));
  }
  if (!changed("journal", journal.entries)) return;
  keepingFocus(() => fill("journal", journal.entries.reverse().map((e) => ({ key: e.request_id, sig: sig(e), build: () => el("tr", { "data-request": e.request_id },
    el("td", { class: "muted at" }, e.at), el("td", {}, e.operation),
    el("td", { class: e.status && e.status < 400 ? "ok" : "err" }, String(e.status)), el("td", {}, text(e.code)),
    el("td", { class: e.rule ? "warn rule" : "rule" }, text(e.rule)), el("td", {}, clippedId(e.integration_id)),
    el("td", {}, idCode(e.session_id)), el("td", {}, idCode(e.request_id)),
    el("td", {}, String(e.latency_ms))) }))));
}

// Each cell names its column (data-label): a narrow window shows a row as a card of "label value"
// lines instead of a table clipped at the card's edge.
function labelCells() {
  for (const cell of document.querySelectorAll("main td:not([data-label])")) {
    const headers = cell.closest("table").tHead;
    const header = !cell.hasAttribute("colspan") && headers ? headers.rows[0].cells[cell.cellIndex] : null;
    cell.dataset.label = header ? header.textContent : "";
  }
}

// ---- the loop -----------------------------------------------------------------------------
async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    if (!state.journalSize) state.journalSize = (await get("settings")).settings.journal_size;  // the largest limit
    const [health, integrations] = await Promise.all([get("health"), get("integrations")]);
    document.getElementById("now").textContent = health.now;
    document.getElementById("version").textContent = "v" + health.version;
    const list = integrations.integrations;
    document.getElementById("empty").hidden = list.length > 0;
    document.getElementById("integrations-card").hidden = list.length === 0;
    if (state.selected && !list.some((i) => i.id === state.selected)) state.selected = null;
    if (!state.selected && list.length) state.selected = list[list.length - 1].id;
    address(state.selected);
    const [view, answers] = state.selected ? await Promise.all([overview(state.selected),
      get(`journal?integration_id=${enc(state.selected)}&limit=${Math.min(JOURNAL_FOR_TIMELINES, state.journalSize)}`)])
      : [null, { entries: [] }];
    if (view && view.exists) noteFindings(state.selected, view.report, list.find((i) => i.id === state.selected));
    await refreshOtherFindings(integrationRows(list));
    keepingFocus(() => { renderIntegrations(list); renderIntegration(view, answers.entries); });
    await renderJournal();
    labelCells();
    answering();
    document.body.dataset.refreshed = String(Date.now());
  } catch (error) {
    failing(error);
  } finally {
    state.busy = false;
  }
}

document.getElementById("base").textContent = location.origin + "/api/external/push";
document.getElementById("quickstart").textContent = QUICKSTART.replaceAll("http://127.0.0.1:8080", location.origin);
if (named()) state.selected = named();
// An address typed or pasted into this tab (only the part after '#' changed): show what it names.
window.addEventListener("hashchange", () => { if (named() && named() !== state.selected) select(named()); });
for (const id of ["f-integration", "f-operation", "anomalies-only"]) document.getElementById(id).addEventListener("change", refresh);
document.getElementById("f-status").addEventListener("input", refresh);
clockButtons();
refresh(); setInterval(refresh, 1000);

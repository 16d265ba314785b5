#!/usr/bin/env node
// A careful Sprinto sync client in Node (20+: global fetch, AbortSignal.timeout), configured by
// the environment the exam gives it (SPRINTO_BASE_URL, SPRINTO_API_KEY, SPRINTO_INTEGRATION_ID).
//
// The same behaviour as careful.py: 30 User records in pages of 10 with page_hint; retries
// 429/5xx/connection faults/timeouts with exponential backoff honouring Retry-After; splits a page
// on 413; discards the session a 409 on start names; starts over on 409 session_not_active;
// retries a failed close; reads the session after 409 session_not_closable; polls until processed
// or failed; exits 1 (having discarded its session) when the sync cannot succeed.

const TIMEOUT_MS = 2000;
const MAX_ATTEMPTS = 7;
const FIRST_BACKOFF = 0.25;
const POLL_FIRST = 0.2, POLL_FACTOR = 1.5, POLL_MAX = 2.0, POLL_LIMIT = 60;
const MAX_ROUNDS = 3;

class GiveUp extends Error {}
class SessionNotActive extends Error {}
class Unfixable extends Error {}

const base = process.env.SPRINTO_BASE_URL.replace(/\/+$/, "");
const integration = process.env.SPRINTO_INTEGRATION_ID;
const key = process.env.SPRINTO_API_KEY;

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const log = (message) => console.log(message);

function users(count) {
  const records = [];
  for (let i = 1; i <= count; i++) {
    records.push({
      employeeId: `E${i}`,
      firstName: `First${i}`,
      lastName: `Last${i}`,
      fullName: `First${i} Last${i}`,
      employmentStartDate: "2022-01-15T09:00:00Z",
      employmentEndDate: null,
      workEmail: `user${i}@example.com`,
      managerId: "E1",
      role: "ENG01",
      roleDescription: "Software Engineer",
      employmentType: "EMPLOYEE",
    });
  }
  return records;
}

// One request; throws a ConnectionFault when no answer could be read (the outcome is unknown).
class ConnectionFault extends Error {}

async function once(method, path, body) {
  const headers = { "api-key": key, Accept: "application/json" };
  const init = { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS) };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response, text;
  try {
    response = await fetch(`${base}/v1/integrations/${integration}${path}`, init);
    text = await response.text();
  } catch (error) {
    const cause = error.cause ? ` (${error.cause.code || error.cause.message})` : "";
    throw new ConnectionFault(`${method} ${path}: ${error.name}: ${error.message}${cause}`);
  }
  let answer = {};
  if (text) {
    try {
      answer = JSON.parse(text);
    } catch {
      throw new ConnectionFault(`${method} ${path}: an answer that is not JSON`);
    }
  }
  return { status: response.status, answer: answer && typeof answer === "object" ? answer : {}, headers: response.headers };
}

// A request retried on 429, 5xx and connection faults with exponential backoff (or the server's
// Retry-After); any other answer is returned.
async function call(method, path, body) {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const backoff = FIRST_BACKOFF * 2 ** attempt;
    let result;
    try {
      result = await once(method, path, body);
    } catch (error) {
      if (!(error instanceof ConnectionFault)) throw error;
      log(`  ${error.message}; again in ${backoff} s`);
      await sleep(backoff);
      continue;
    }
    const { status, headers } = result;
    if (status === 429 || status >= 500) {
      const retryAfter = headers.get("retry-after");
      const wait = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : backoff;
      log(`  ${method} ${path} answered ${status}; again in ${wait} s`);
      await sleep(wait);
      continue;
    }
    return result;
  }
  throw new GiveUp(`${method} ${path}: no success after ${MAX_ATTEMPTS} attempts`);
}

async function start() {
  for (let i = 0; i < 3; i++) {
    const { status, answer } = await call("POST", "/sessions", {});
    if (status === 201) {
      log(`started ${answer.id}`);
      return answer.id;
    }
    if (status === 409 && answer.code === "session_already_active") {
      log(`another session is active (${answer.active_session_id}): discarding it`);
      if (answer.active_session_id) await close(answer.active_session_id, "discard");
      continue;
    }
    throw new GiveUp(`start answered ${status}: ${answer.code}`);
  }
  throw new GiveUp("could not start a session");
}

async function push(sessionId, records, hint) {
  const { status, answer } = await call("POST", `/sessions/${sessionId}/entities`, {
    entities: { User: records },
    page_hint: hint,
  });
  if (status === 202) {
    log(`  page ${hint}: ${records.length} record(s) accepted`);
    return;
  }
  if (status === 413) {
    if (records.length === 1) throw new GiveUp(`page ${hint} is too large (one record)`);
    const half = Math.floor(records.length / 2);
    log(`  page ${hint}: too large, sending it in two halves`);
    // Same page_hint for both halves: they replace the refused page.
    await push(sessionId, records.slice(0, half), hint);
    await push(sessionId, records.slice(half), hint);
    return;
  }
  if (status === 409 && answer.code === "session_not_active") throw new SessionNotActive(String(answer.state));
  if (status === 400) throw new Unfixable(`page ${hint} rejected: ${answer.code}: ${answer.detail}`);
  throw new GiveUp(`page ${hint} answered ${status}: ${answer.code}`);
}

async function close(sessionId, how) {
  const { status, answer } = await call("POST", `/sessions/${sessionId}/close`, { status: how });
  if (status === 202) {
    log(`closed ${sessionId} with ${how}`);
    return answer;
  }
  if (status === 409 && answer.code === "session_not_closable") {
    // Our close (or an earlier one) was carried out although we never read its answer.
    log(`${sessionId} is no longer closable (${answer.state}): reading it`);
    return session(sessionId);
  }
  throw new GiveUp(`close (${how}) answered ${status}: ${answer.code}`);
}

async function discard(sessionId) {
  try {
    await close(sessionId, "discard");
  } catch (error) {
    log(`could not discard ${sessionId}: ${error.message}`); // best effort: we are leaving anyway
  }
}

async function session(sessionId) {
  const { status, answer } = await call("GET", `/sessions/${sessionId}`);
  if (status !== 200) throw new GiveUp(`reading ${sessionId} answered ${status}`);
  return answer;
}

async function outcome(sessionId) {
  let delay = POLL_FIRST;
  const deadline = Date.now() + POLL_LIMIT * 1000;
  while (Date.now() < deadline) {
    const current = await session(sessionId);
    if (current.state === "processed") {
      log(`${sessionId} processed (retry_count ${current.retry_count})`);
      return true;
    }
    if (["failed", "cancelled", "expired"].includes(current.state)) {
      log(`${sessionId} ended ${current.state}: ${current.last_error}`);
      return false;
    }
    await sleep(delay);
    delay = Math.min(delay * POLL_FACTOR, POLL_MAX);
  }
  throw new GiveUp(`${sessionId} was not processed within ${POLL_LIMIT} s`);
}

async function sync(records, pageSize) {
  const pages = [];
  for (let i = 0; i < records.length; i += pageSize) pages.push(records.slice(i, i + pageSize));
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const sessionId = await start();
    try {
      for (let i = 0; i < pages.length; i++) await push(sessionId, pages[i], i + 1);
    } catch (error) {
      if (error instanceof SessionNotActive) {
        log(`${sessionId} is no longer active (${error.message}): discarding it, pushing everything again`);
        await discard(sessionId);
        continue;
      }
      if (error instanceof Unfixable) {
        log(`${error.message}: discarding ${sessionId}`);
        await discard(sessionId);
        return 1;
      }
      await discard(sessionId);
      throw error;
    }
    await close(sessionId, "apply");
    return (await outcome(sessionId)) ? 0 : 1;
  }
  throw new GiveUp(`the session expired ${MAX_ROUNDS} times`);
}

try {
  process.exitCode = await sync(users(30), 10);
} catch (error) {
  console.error(`sync failed: ${error.message}`);
  process.exitCode = 1;
}

#!/usr/bin/env python3
"""A careful Sprinto sync client, standard library only, configured by the environment the exam
gives it (SPRINTO_BASE_URL, SPRINTO_API_KEY, SPRINTO_INTEGRATION_ID).

It syncs a deterministic dataset (30 ``User`` records in pages of 10, each with a ``page_hint``),
retries 429/5xx/connection faults/timeouts with exponential backoff that honours Retry-After,
splits a page on 413, discards a session named by a 409 on start, starts over on 409
session_not_active, retries a failed close, reads the session after 409 session_not_closable,
polls until processed or failed, and exits 1 (having discarded its session) when the sync cannot
succeed.

``--gzip`` sends its pages compressed (Content-Encoding: gzip), as Sprinto allows.

``--on-conflict`` says what a 409 session_already_active on start leads to: ``discard`` (the
default) discards the named session; ``idle`` reads it first and discards it only when it has been
idle for long (a crashed earlier run's), waiting with backoff while it was active recently (another
worker's live sync); ``wait`` never touches it, and waits with backoff until a start succeeds.

``--habit NAME`` gives it one bad habit, for the exam's own tests (the "zoo"):
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

HABITS = {
    "no-retry": "any 429, 5xx or connection fault ends the sync with exit 1",
    "no-timeout": "requests have no timeout: a server that never answers hangs the sync",
    "exit-zero-always": "never reads the outcome after close, and exits 0 whatever happened",
    "retry-fast": "retries 429/5xx/connection faults at once, ignoring Retry-After",
    "skip-failed-page": "a page answered 5xx is skipped; the sync goes on and exits 0",
    "ignore-start-conflict": "a 409 on start ends the sync with exit 1",
    "action-close": 'closes with {"action": "apply"} (a published client\'s mistake) and exits 0 after the 400',
    "no-split": "a 413 ends the sync with exit 1",
    "no-expiry-handling": "a 409 session_not_active ends the sync with exit 1",
}
__doc__ = (__doc__ or "") + "".join(f"\n- {name}: {what}" for name, what in HABITS.items())

TIMEOUT_SECONDS = 2.0
MAX_ATTEMPTS = 7
FIRST_BACKOFF = 0.25
POLL_FIRST, POLL_FACTOR, POLL_MAX, POLL_LIMIT = 0.2, 1.5, 2.0, 60.0
MAX_ROUNDS = 3  # whole syncs started again after an expired session
# --on-conflict idle: a session untouched this long is no live sync (a live one sends a request
# every few seconds); --on-conflict idle/wait: how long to wait for another worker's sync to end.
IDLE_STALE_SECONDS = 10 * 60
CONFLICT_FIRST_WAIT, CONFLICT_MAX_WAIT, CONFLICT_PATIENCE = 1.0, 4.0, 30.0
ON_CONFLICT = ("discard", "idle", "wait")


class GiveUp(Exception):
    """The sync cannot succeed: exit 1."""


class SessionNotActive(Exception):
    pass


class Unfixable(Exception):
    """A page the server rejects whatever we do: valid data cannot be fixed."""


def users(count: int) -> list[dict[str, Any]]:
    """The dataset: the same records on every run."""
    return [
        {
            "employeeId": f"E{i}",
            "firstName": f"First{i}",
            "lastName": f"Last{i}",
            "fullName": f"First{i} Last{i}",
            "employmentStartDate": "2022-01-15T09:00:00Z",
            "employmentEndDate": None,
            "workEmail": f"user{i}@example.com",
            "managerId": "E1",
            "role": "ENG01",
            "roleDescription": "Software Engineer",
            "employmentType": "EMPLOYEE",
        }
        for i in range(1, count + 1)
    ]


def log(message: str) -> None:
    print(message, flush=True)


class Client:
    def __init__(
        self,
        habit: str | None = None,
        env: Mapping[str, str] = os.environ,
        compress: bool = False,
        on_conflict: str = "discard",
    ) -> None:
        self.compress = compress
        self.on_conflict = on_conflict
        self.base = env["SPRINTO_BASE_URL"].rstrip("/")
        self.integration = env["SPRINTO_INTEGRATION_ID"]
        self.key = env["SPRINTO_API_KEY"]
        self.habit = habit
        self.timeout = None if habit == "no-timeout" else TIMEOUT_SECONDS

    # ---- one request, and the retry loop around it -------------------------------------------
    def _once(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One request. Raises ConnectionError when no answer could be read (the outcome is unknown)."""
        url = f"{self.base}/v1/integrations/{self.integration}{path}"
        data = None if body is None else json.dumps(body).encode()
        headers = {"api-key": self.key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
            if self.compress and path.endswith("/entities"):
                data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw, answer_headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, answer_headers = error.code, error.read(), dict(error.headers or {})
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise ConnectionError(f"{method} {path}: {error!r}") from None
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            raise ConnectionError(f"{method} {path}: an answer that is not JSON") from None
        return status, parsed if isinstance(parsed, dict) else {}, answer_headers

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """A request retried on 429, 5xx and connection faults, with exponential backoff (or the
        Retry-After the server gave). Any other answer is returned."""
        for attempt in range(MAX_ATTEMPTS):
            backoff = FIRST_BACKOFF * 2**attempt
            try:
                status, answer, headers = self._once(method, path, body)
            except ConnectionError as error:
                if self.habit == "no-retry":
                    raise GiveUp(str(error)) from None
                log(f"  {error}; again in {self._wait(backoff, None):.2f} s")
                self._sleep(backoff, None)
                continue
            if status == 429 or status >= 500:
                if self.habit == "no-retry":
                    raise GiveUp(f"{method} {path} answered {status}")
                if self.habit == "skip-failed-page" and status >= 500:
                    return status, answer
                retry_after = headers.get("Retry-After") or headers.get("retry-after")
                log(f"  {method} {path} answered {status}; again in {self._wait(backoff, retry_after):.2f} s")
                self._sleep(backoff, retry_after)
                continue
            return status, answer
        raise GiveUp(f"{method} {path}: no success after {MAX_ATTEMPTS} attempts")

    def _wait(self, backoff: float, retry_after: str | None) -> float:
        if self.habit == "retry-fast":
            return 0.0
        if retry_after is not None and retry_after.strip().isdigit():
            return max(float(retry_after), 0.0)
        return backoff

    def _sleep(self, backoff: float, retry_after: str | None) -> None:
        time.sleep(self._wait(backoff, retry_after))

    # ---- the sync's steps -------------------------------------------------------------------------
    def start(self) -> str:
        discards, wait, deadline = 0, CONFLICT_FIRST_WAIT, time.monotonic() + CONFLICT_PATIENCE
        while discards < 3:
            status, answer = self.call("POST", "/sessions", {})
            if status == 201:
                log(f"started {answer['id']}")
                return str(answer["id"])
            if status == 409 and answer.get("code") == "session_already_active":
                if self.habit == "ignore-start-conflict":
                    raise GiveUp("409 session_already_active on start")
                named = str(answer.get("active_session_id") or "")
                if named and self._stale(named):
                    log(f"another session is active ({named}): discarding it")
                    self.close(named, "discard")
                    discards += 1
                    continue
                if time.monotonic() + wait > deadline:
                    raise GiveUp(f"session {named} was still active after {CONFLICT_PATIENCE:g} s")
                log(f"another worker's session is active ({named}): starting again in {wait:g} s")
                time.sleep(wait)
                wait = min(wait * 2, CONFLICT_MAX_WAIT)
                continue
            raise GiveUp(f"start answered {status}: {answer.get('code')}")
        raise GiveUp("could not start a session")

    def _stale(self, session_id: str) -> bool:
        """Whether the session a 409 named may be discarded: any (discard), none (wait), or one idle
        for long (idle): its updated_at, the time of its last change, by this machine's clock."""
        if self.on_conflict != "idle":
            return self.on_conflict == "discard"
        session = self.session(session_id)
        if session.get("state") != "active":
            return False  # no longer in the way: start again
        changed = datetime.fromisoformat(str(session["updated_at"]).replace("Z", "+00:00")).timestamp()
        idle = time.time() - changed
        log(f"session {session_id} has been idle {idle:.0f} s")
        return idle > IDLE_STALE_SECONDS

    def push(self, session_id: str, records: list[dict[str, Any]], hint: int) -> None:
        body = {"entities": {"User": records}, "page_hint": hint}
        status, answer = self.call("POST", f"/sessions/{session_id}/entities", body)
        if status == 202:
            log(f"  page {hint}: {len(records)} record(s) accepted")
            return
        code = answer.get("code")
        if status >= 500 and self.habit == "skip-failed-page":
            log(f"  page {hint}: answered {status}, skipped")
            return
        if status == 413:
            if self.habit == "no-split" or len(records) == 1:
                raise GiveUp(f"page {hint} is too large ({len(records)} record(s))")
            half = len(records) // 2
            log(f"  page {hint}: too large, sending it in two halves")
            # Same page_hint for both halves: they replace the refused page.
            self.push(session_id, records[:half], hint)
            self.push(session_id, records[half:], hint)
            return
        if status == 409 and code == "session_not_active":
            raise SessionNotActive(str(answer.get("state")))
        if status == 400:
            raise Unfixable(f"page {hint} rejected: {code}: {answer.get('validation_errors') or answer.get('detail')}")
        raise GiveUp(f"page {hint} answered {status}: {code}")

    def close(self, session_id: str, status: str) -> dict[str, Any]:
        body = {"action": status} if self.habit == "action-close" and status == "apply" else {"status": status}
        code, answer = self.call("POST", f"/sessions/{session_id}/close", body)
        if code == 202:
            log(f"closed {session_id} with {status}")
            return answer
        if code == 409 and answer.get("code") == "session_not_closable":
            # Our close (or an earlier one) was carried out although we never read its answer.
            log(f"{session_id} is no longer closable ({answer.get('state')}): reading it")
            return self.session(session_id)
        if self.habit == "action-close" and code == 400:
            log(f"close answered 400 ({answer.get('code')}); done anyway")
            return answer
        raise GiveUp(f"close ({status}) answered {code}: {answer.get('code')}")

    def discard(self, session_id: str) -> None:
        try:
            self.close(session_id, "discard")
        except GiveUp as error:  # best effort: we are leaving anyway
            log(f"could not discard {session_id}: {error}")

    def session(self, session_id: str) -> dict[str, Any]:
        status, answer = self.call("GET", f"/sessions/{session_id}")
        if status != 200:
            raise GiveUp(f"reading {session_id} answered {status}")
        return answer

    def outcome(self, session_id: str) -> bool:
        delay, deadline = POLL_FIRST, time.monotonic() + POLL_LIMIT
        while time.monotonic() < deadline:
            session = self.session(session_id)
            state = session.get("state")
            if state == "processed":
                log(f"{session_id} processed (retry_count {session.get('retry_count')})")
                return True
            if state in ("failed", "cancelled", "expired"):
                log(f"{session_id} ended {state}: {session.get('last_error')}")
                return False
            time.sleep(delay)
            delay = min(delay * POLL_FACTOR, POLL_MAX)
        raise GiveUp(f"{session_id} was not processed within {POLL_LIMIT:g} s")

    def sync(self, records: list[dict[str, Any]], page_size: int) -> int:
        pages = [records[i : i + page_size] for i in range(0, len(records), page_size)]
        for _ in range(MAX_ROUNDS):
            session_id = self.start()
            try:
                for hint, page in enumerate(pages, start=1):
                    self.push(session_id, page, hint)
            except SessionNotActive as expired:
                if self.habit == "no-expiry-handling":
                    raise GiveUp(f"session {session_id} is no longer active ({expired})") from None
                log(f"{session_id} is no longer active ({expired}): discarding it, pushing everything again")
                self.discard(session_id)
                continue
            except Unfixable as rejected:
                log(f"{rejected}: discarding {session_id}")
                self.discard(session_id)
                return 1
            except GiveUp:
                self.discard(session_id)
                raise
            self.close(session_id, "apply")
            if self.habit in ("exit-zero-always", "action-close"):
                return 0
            return 0 if self.outcome(session_id) else 1
        raise GiveUp(f"the session expired {MAX_ROUNDS} times")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--habit", choices=sorted(HABITS), help="one bad habit (default: none)")
    parser.add_argument("--records", type=int, default=30, help="how many User records (default 30)")
    parser.add_argument("--page-size", type=int, default=10, help="records a page (default 10)")
    parser.add_argument("--gzip", action="store_true", help="send pages with Content-Encoding: gzip")
    parser.add_argument(
        "--on-conflict", choices=ON_CONFLICT, default="discard", help="on 409 session_already_active (see above)"
    )
    args = parser.parse_args(argv)
    client = Client(args.habit, compress=args.gzip, on_conflict=args.on_conflict)
    try:
        code = client.sync(users(args.records), args.page_size)
    except GiveUp as error:
        print(f"sync failed: {error}", file=sys.stderr, flush=True)
        code = 1
    return 0 if args.habit == "exit-zero-always" else code


if __name__ == "__main__":
    sys.exit(main())

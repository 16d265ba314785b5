"""``mock-sprinto probe``: ask a server that speaks Sprinto's Entities Sync API what the docs leave open.

The same short lifecycle runs against the probed server (a real Sprinto tenant, or another
emulator) and against an emulator with default settings started here on 127.0.0.1: a start, a
few closes, a handful of pages. The answers are printed side by side, one row per assumption the
emulator makes, and a settings file (the ``settings:`` mapping ``--config`` reads) is written that
makes the emulator answer as the probed server did.

Safe on a real tenant: the probe closes the sessions it starts with ``{"status": "discard"}`` only,
and never touches a session it did not start (an active one stops it). A close without ``status``
(or with ``action``) is NOT sent unless ``--probe-close`` asks for it: Sprinto's documented default
is apply, so even a session with no page could be applied there (an empty apply may replace data).
With ``--probe-close`` those closes go to a session with no accepted page, and only when
``{"action": "discard"}`` was refused. The api-key is sent in its header and nowhere
else: every line printed and the file written are scrubbed of it, whatever a server echoes.

Plain ``http://`` is refused unless the host is loopback, so the key never crosses a network in
clear text. Exit codes: 0 the probe ran, 1 a transport or server problem, 2 a usage problem or a
refused api-key.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..exitcodes import FAILED, USAGE_ERROR
from ..settings import SettingsError, load_config
from .client import BUDGET_SECONDS, Client, ProbeError, Target
from .output import DEFAULT_OUT, settings_file, table
from .plan import Probe

API_KEY_ENV = "SPRINTO_API_KEY"
DEFAULT_TIMEOUT = 30.0
EMULATOR_ID, EMULATOR_KEY = "probe", "probe-key"


# ---- the command ---------------------------------------------------------------------------------
@contextmanager
def _emulator() -> Iterator[Client]:
    """An emulator with default settings on 127.0.0.1, an ephemeral port, on a background thread."""
    from ..settings import Config, Settings
    from ..testing.server import MockSprintoServer

    server = MockSprintoServer(Config(Settings()))
    server.start()
    try:
        yield Client(Target.parse(server.base_url), EMULATOR_ID, EMULATOR_KEY, DEFAULT_TIMEOUT)
    finally:
        server.stop()  # quietly: the 413 probe's connection may still be draining the refused body


def _summary(target: Target, integration_id: str, run: Probe) -> str:
    closed = f"{run.started} session(s) started, all discarded"
    if run.bare_closed:
        closed = (
            f"{run.started} session(s) started: {run.bare_closed} closed without a status (it held no page), "
            "the rest discarded"
        )
    return f"mock-sprinto probe: {target.shown}, integration {integration_id}: {run.client.requests} requests, {closed}"


def probe(
    base_url: str,
    integration_id: str,
    api_key: str | None,
    *,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    timeout: float = DEFAULT_TIMEOUT,
    probe_close: bool = False,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """The whole command; returns its exit code. Every line goes out through ``say`` (the report)
    or ``warn`` (the one error line), scrubbed of the api-key."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or ""

    # The key where it stands alone (quoted, after "=", at a line's end), not inside a longer word:
    # a key of "k" or "demo" made every "k" in the report and the file "***", and the file written
    # then named settings that do not exist ("un***nown_fields").
    alone = re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(key)}(?![A-Za-z0-9_.-])") if key else None

    def scrub(text: str) -> str:
        return alone.sub("***", text) if alone is not None else text

    def fail(message: str, code: int = FAILED) -> int:
        warn(scrub(f"mock-sprinto probe: error: {message}"))
        return code

    refused = _refusal(key, integration_id, timeout)
    if refused is not None:
        return fail(refused, USAGE_ERROR)
    path = Path(out)
    try:
        target = Target.parse(base_url)
        theirs = Probe(Client(target, integration_id, key, timeout), probe_close)
        probed = theirs.run()
        with _emulator() as client:
            ours = Probe(client, probe_close=True).run()  # the emulator's own answers are always safe to ask
        path.write_text(scrub(settings_file(probed, target, integration_id, path.name)), encoding="utf-8")
        load_config(path, env={})  # what was written is what --config reads
    except ProbeError as exc:
        return fail(str(exc), exc.exit_code)
    except OSError as exc:
        return fail(f"cannot write {str(path)!r}: {exc.strerror or exc}")
    except SettingsError as exc:  # a bug here, never the server's doing
        return fail(f"the settings file written does not load: {exc}")
    except KeyboardInterrupt:
        return fail("interrupted (the sessions the probe had started were discarded)")
    except Exception as exc:  # one line: a traceback could quote a header
        return fail(f"unexpected {type(exc).__name__}: {exc}")
    say(scrub(_summary(target, integration_id, theirs)))
    say("")
    say(scrub(table(ours, probed)))
    say("")
    say(scrub(f"settings written to {path} (use: mock-sprinto serve --config {path})"))
    return 0


def _refusal(key: str, integration_id: str, timeout: float) -> str | None:
    """Why the arguments cannot be used (before anything is sent), or None."""
    if not key:
        return f"an api-key is needed: --api-key KEY or the environment variable {API_KEY_ENV}"
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in key):
        return "the api-key holds characters an HTTP header cannot carry"
    if not integration_id or any(ord(c) < 0x20 or ord(c) == 0x7F for c in integration_id):
        return "--integration-id must be non-empty printable text"
    if not 0 < timeout <= BUDGET_SECONDS:
        return f"--timeout must be a number of seconds above 0 and at most {BUDGET_SECONDS:g}"
    return None

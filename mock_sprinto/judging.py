"""Large pages judged in a process of their own.

A page over ``payload.INLINE_JUDGE_BYTES`` decoded is parsed, proved and validated away from the
event loop. On a thread that was not enough: its C calls hold the GIL to their end (orjson parsing
24 MB: ~33 ms), and the loop waits for the one in progress at each of its syscalls, so under floods
of such pages a health check took up to 260 ms (issue 22's soak) even with the judge resting. A
child process has a GIL of its own: the emulator's thread only writes the page to a pipe and reads
the verdict back, blocked (the GIL released) meanwhile.

The child is ``python -m mock_sprinto.judging``: one per server process, started on the first
large page, fed one page at a time over its stdin and answering on its stdout, each message a
length and a pickle, then a length and the page's bytes as they are (``write_message``; both ends are this
package, the same version). It rebuilds the schema
registry from the folders it was loaded from; a registry made any other way (in code), a child
that cannot start or that dies, leaves the page to the thread, as before. It ends when the server
closes its stdin or exits.

Large control documents (HAR captures, state bundles) go to a child of their own, made by
``offload.py`` with the same class and pipe.

Not ``multiprocessing``: its spawn and forkserver re-run the parent's main script in the child
(the user's own, when the emulator is embedded in one without an ``if __name__`` guard), and fork
copies a process whose threads may hold locks.
"""

from __future__ import annotations

import atexit
import pickle
import struct
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from .codes import CATALOGUE
from .errors import ApiError
from .payload import page_digest
from .validation import PageVerdict

if TYPE_CHECKING:
    from .settings import Settings

_LENGTH = struct.Struct("!Q")
_BY_CODE = {entry.code: entry for entry in CATALOGUE}
Packed = tuple[Any, ...]


def pack(judged: PageVerdict | ApiError) -> Packed:
    """A verdict or a refusal as plain data (the catalogue entry by its code: callers test ``is``)."""
    if isinstance(judged, ApiError):
        error = judged
        return ("error", error.status, error.code, error.detail, error.extra, error.headers, error.setting)
    verdict = judged
    code = verdict.code.code if verdict.code is not None else None
    facts = (verdict.counts, verdict.total, verdict.page_hint)
    return ("verdict", *facts, code, verdict.detail, verdict.errors, verdict.errors_truncated)


def refusal(packed: Packed) -> ApiError:
    """A refusal ``pack`` made."""
    error = unpack(packed)
    assert isinstance(error, ApiError)
    return error


def unpack(packed: Packed) -> PageVerdict | ApiError:
    if packed[0] == "error":
        _, status, code, detail, extra, headers, setting = packed
        return ApiError(status, code, detail, extra=extra, headers=headers, setting=setting)
    _, counts, total, page_hint, code, detail, errors, truncated = packed
    entry = _BY_CODE[code] if code is not None else None
    # the records themselves stay in the child: staging keeps the page's bytes, not its objects
    return PageVerdict({}, counts, total, page_hint, entry, detail, errors, truncated)


def write_message(stream: IO[bytes], message: Any, raw: bytes = b"") -> None:
    """A message, then ``raw`` as it is: pickling a 24 MB page copied it with the GIL held (~10 ms
    the loop waited for at its next syscall), while the pipe's writes release the GIL."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data + _LENGTH.pack(len(raw)))
    if raw:
        stream.write(raw)
    stream.flush()


def read_message(stream: IO[bytes]) -> tuple[Any, bytes]:
    """A message and the bytes sent after it (``write_message``)."""
    data = _exactly(stream, _LENGTH.unpack(_exactly(stream, _LENGTH.size, "the judge's pipe closed"))[0])
    raw_size = _LENGTH.unpack(_exactly(stream, _LENGTH.size))[0]
    return pickle.loads(data), _exactly(stream, raw_size)


def _exactly(stream: IO[bytes], size: int, closed: str = "the judge's pipe closed mid-message") -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError(closed)
    return data


class ChildJudge:
    """One child process of the server's, shared by every emulator in it, one job at a time:
    ``python -m <module>``, whose ``serve`` answers each message it reads."""

    def __init__(self, module: str = "mock_sprinto.judging") -> None:
        self._module = module
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._failed = False  # it could not start, or died twice: the thread judges from now on
        self._deaths = 0

    def judge(self, sources: tuple[str, ...], settings: Settings, raw: bytes) -> tuple[Packed, str] | None:
        """The page's packed verdict and digest, from the child; None when there is no child to ask."""
        answer: tuple[Packed, str] | None = self.ask((sources, settings), raw)
        return answer

    def ask(self, message: Any, raw: bytes) -> Any:
        """The child's answer to ``message`` and ``raw``; None when there is no child to ask."""
        with self._lock:
            if self._failed:
                return None
            try:
                child = self._started()
                assert child.stdin is not None and child.stdout is not None
                write_message(child.stdin, message, raw)
                return read_message(child.stdout)[0]
            except (OSError, EOFError, pickle.PickleError, ValueError):
                self._lost()
                return None

    def _started(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            self._child = subprocess.Popen(
                [sys.executable, "-m", self._module],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        return self._child

    def _lost(self) -> None:
        self.close()
        self._deaths += 1
        if self._deaths >= 2:
            self._failed = True

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.close()  # the child's read ends: it exits
            child.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
        if child.stdout is not None:
            child.stdout.close()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None and self._child.poll() is None else None


CHILD = ChildJudge()
atexit.register(CHILD.close)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The child: judge each page it is sent, until its stdin closes."""
    from .sessions import Sessions
    from .timeline import Timeline
    from .validation import SchemaRegistry

    judges: dict[tuple[str, ...], Sessions] = {}
    while True:
        try:
            (sources, settings), raw = read_message(stdin)
        except EOFError:
            return
        sessions = judges.get(sources)
        if sessions is None:
            registry = SchemaRegistry.load(*sources)
            sessions = judges[sources] = Sessions(registry, Timeline(registry))
        write_message(stdout, (pack(sessions.judge_apart(settings, raw)), page_digest(raw)))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)

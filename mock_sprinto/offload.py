"""Large control documents handled in a process of their own: a HAR capture judged
(``POST /_mock/judge``), a state bundle decoded and checked (``PUT .../state``).

Both ran on the control thread (``steps.off_loop``), where they held the GIL in long C calls:
orjson parsing 11-15 MB, the schema check of a bundle, and the collections of what parsing made
(70-190 ms at a time on a slow machine, while every client of the server waited: issue 21, "no
pause over 20 ms"). A document over ``INLINE_DOCUMENT_BYTES`` goes to ``CHILD``, a judging child
(``judging.ChildJudge``: the same pipe and the same fallback to the thread) running this module:

- a capture is judged there whole, and only its report comes back, a few KB;
- a bundle is decoded and checked there (``bundle.checked_document``), then sent back in chunks
  (``pieces``) that this process parses one at a time before it builds the bundle's objects, which
  needs the emulator.

Pages have the other child (``judging.CHILD``), so a page never waits behind a document. After each
job the child gives its freed heap back, so an idle child holds little.
"""

from __future__ import annotations

import atexit
import sys
from typing import IO, TYPE_CHECKING, Any

from .errors import ApiError
from .judging import ChildJudge, pack, read_message, refusal, write_message
from .pieces import Joined, joined, split

if TYPE_CHECKING:
    from .settings import Settings

# A document larger than this is handled in ``CHILD``; a smaller one on the control thread, where its
# longest C call is a few ms and no process is started for it (a test's small captures and bundles).
INLINE_DOCUMENT_BYTES = 1_048_576

CHILD = ChildJudge("mock_sprinto.offload")
atexit.register(CHILD.close)


def judged_har(
    raw: bytes,
    known_fields: dict[str, tuple[str, ...]],
    settings: Settings,
    integration_id: str | None,
    key_fields: dict[str, str],
) -> dict[str, Any] | None:
    """The capture's judgement (``HarJudgement.public``) from the child; raises its refusal (400
    ``invalid_har``); None when the child cannot answer (the caller judges it itself)."""
    asked = ("har", known_fields, settings, integration_id, key_fields)
    judgement: dict[str, Any] | None = _answer(CHILD.ask(asked, raw))
    return judgement


def checked_bundle(raw: bytes, limit: int, max_depth: int) -> Joined | None:
    """The bundle's document, decoded and checked in the child and parsed here a chunk at a time;
    raises its refusal (400 ``invalid_state`` or ``unsupported_state_version``); None when the child
    cannot answer (the caller checks it itself)."""
    pieces = _answer(CHILD.ask(("bundle", limit, max_depth), raw))
    return None if pieces is None else joined(pieces)


def _answer(answer: tuple[str, Any] | None) -> Any:
    """What the child answered: its refusal raised; None for no child, or a job it could not finish
    (the caller's own attempt then fails or succeeds as it would have without a child)."""
    if answer is None or answer[0] == "failed":
        return None
    kind, value = answer
    if kind == "refused":
        raise refusal(value)
    return value


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The child: answer each document it is sent, until its stdin closes."""
    from .budget import give_back_free_heap

    while True:
        try:
            message, raw = read_message(stdin)
        except EOFError:
            return
        try:
            if message[0] == "har":
                _, known_fields, settings, integration_id, key_fields = message
                judged = _har_judgement(raw, known_fields, settings, integration_id, key_fields)
                write_message(stdout, ("judged", judged))
            else:
                _, limit, max_depth = message
                write_message(stdout, ("checked", _bundle_pieces(raw, limit, max_depth)))
        except ApiError as error:
            write_message(stdout, ("refused", pack(error)))
        except Exception as error:  # the child stays up; the server does the job itself
            write_message(stdout, ("failed", repr(error)[:300]))
        give_back_free_heap()  # what the document made is freed: an idle child holds little


def _har_judgement(
    raw: bytes,
    known_fields: dict[str, tuple[str, ...]],
    settings: Settings,
    integration_id: str | None,
    key_fields: dict[str, str],
) -> dict[str, Any]:
    from .report.har import judge_har, parse_har

    return judge_har(parse_har(raw), known_fields, settings, integration_id, key_fields).public()


def _bundle_pieces(raw: bytes, limit: int, max_depth: int) -> Any:
    from .bundle import checked_document

    return split(checked_document(raw, limit, max_depth))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)

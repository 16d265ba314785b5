"""State bundle files: read within a size limit, written atomically (temp file, fsync, rename), so a
crash or a full disk never leaves half a bundle where a whole one was (``serve --persist``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .bundle import refused
from .errors import counted


def read_bundle_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The file's bytes (JSON or gzip), refused with 400 ``invalid_state`` when it cannot be read or
    is over ``limit`` bytes (setting max_state_bytes): nothing past the limit is read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise refused([f"cannot read {os.fspath(path)}: {exc.strerror or exc}"], "the state file") from None
    if len(data) > limit:
        raise refused([f"{os.fspath(path)} is over {limit} bytes (setting max_state_bytes)"], "the state file")
    return data


def held(integrations: int, journal_entries: int) -> str:
    """What a bundle holds, as ``serve`` and ``state export`` tell it: ``1 integration, 2 journal entries``."""
    return f"{counted(integrations, 'integration')}, {counted(journal_entries, 'journal entry', 'journal entries')}"


def write_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` all or nothing: a temporary file beside it, flushed to disk, then
    renamed over it (and the folder flushed, so the rename itself survives a crash)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is done all the same
        return target
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)
    return target

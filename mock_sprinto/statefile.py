"""State bundle files: read within a size limit, written atomically (temp file, fsync, rename), so a
crash or a full disk never leaves half a bundle where a whole one was (``serve --persist``).

A path a user names (``state export -o``, ``--persist``) may be no plain file: a symbolic link, a
FIFO a reader waits on, a device (``/dev/null``), ``/dev/stdout``. A rename would put a regular file
in its place (as root, even over ``/dev/null``), so the write goes where the path leads instead."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .bundle import refused
from .errors import counted

# /dev/stdout and /dev/fd/N lead to /proc/self/fd/N (or are devfs nodes on macOS): a link that names
# an open file, not a place. A rename beside what it resolves to would cut off an appended log
# (`>> log`) or meet a path that is none (`pipe:[123]`), so such a file is written in place.
_DESCRIPTOR_FOLDERS = ("/proc/", "/dev/fd/")
_MAX_LINKS = 40  # the kernel's own limit on links followed in one path (ELOOP past it)


def read_bundle_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The file's bytes (JSON or gzip), refused with 400 ``invalid_state`` when it cannot be read or
    is over ``limit`` bytes (setting max_state_bytes): nothing past the limit is read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise refused([f"cannot read {os.fspath(path)}: {exc.strerror or exc}"], "the state file") from None
    if len(data) > limit:
        raise refused(
            [f"{os.fspath(path)} is over {limit} bytes (setting max_state_bytes)"],
            "the state file",
            setting="max_state_bytes",
        )
    return data


def held(integrations: int, journal_entries: int) -> str:
    """What a bundle holds, as ``serve`` and ``state export`` tell it: ``1 integration, 2 journal entries``."""
    return f"{counted(integrations, 'integration')}, {counted(journal_entries, 'journal entry', 'journal entries')}"


def journal_cut(imported: Any) -> str:
    """What an import's answer says of a journal too small for the bundle's (``journal_entries_kept``
    below ``journal_entries``), as a clause to add to its sentence; '' when every entry was kept. A
    CI run's bundle opened on a laptop's default journal turned an error into a pass unsaid."""
    entries, kept = imported.get("journal_entries"), imported.get("journal_entries_kept")
    if type(entries) is not int or type(kept) is not int or kept >= entries:
        return ""
    return (
        f"; the journal kept only the newest {kept} (setting journal_size): the report does not judge "
        f"the {entries - kept} left out"
    )


def check_destination(path: str | os.PathLike[str]) -> None:
    """Raise the ``OSError`` that writing ``path`` (``make_folder=False``) would meet before a byte is
    written: a folder, a missing folder, a path through a file. ``state export -o`` asks this
    before it asks the server, so a typo costs no export."""
    _destination(Path(path), make_folder=False)


def names_a_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a file that is still there to read later (``serve --state``): a regular
    file, or a link to one, but not a FIFO, a device or ``/dev/stdout`` redirected to a file."""
    return os.path.isfile(path) and not _names_a_descriptor(Path(path))


def write_atomically(path: str | os.PathLike[str], data: bytes, *, make_folder: bool = True) -> Path:
    """Write ``data`` to ``path`` all or nothing: a temporary file beside it, flushed to disk, then
    renamed over it (and the folder flushed, so the rename itself survives a crash). What ``path``
    is decides where that happens:

    - nothing yet, or a regular file: there (a replaced file's permission bits are kept);
    - a symbolic link: at the file it leads to, and the link stays a link;
    - a FIFO, a device, or a descriptor's link (``/dev/stdout``): written in place, as a shell's ``>``
      does (no rename: there is no "all or nothing" for a reader that is already reading), a file
      that a descriptor's link leads to appended to (``-o /dev/stdout >> log`` keeps the log);
    - a folder: ``IsADirectoryError``.

    A missing folder is made when ``make_folder`` (``--persist``, the pytest handle's files), else
    refused with ``FileNotFoundError`` (a path the user typed: a typo must not make folders)."""
    target = Path(path)
    where, in_place = _destination(target, make_folder=make_folder)
    if in_place is not None:
        with open(where, in_place) as out:  # no fsync: a FIFO or a terminal cannot, and has no disk to reach
            out.write(data)
        return target
    folder = where.parent
    try:
        mode: int | None = stat.S_IMODE(os.stat(where).st_mode)
    except FileNotFoundError:
        mode = None  # a new file stays mkstemp's 0600: a bundle holds the integrations' api keys
    handle, temporary = tempfile.mkstemp(prefix=f".{where.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, where)
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


def _destination(path: Path, *, make_folder: bool) -> tuple[Path, str | None]:
    """Where a write to ``path`` goes, and how: in place (the mode to open it with) or by a rename
    there (None)."""
    try:
        status: os.stat_result | None = os.stat(path)  # what the path leads to, links followed
    except FileNotFoundError:
        status = None  # nothing there yet, or a link to nothing yet: made by the write
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a folder", os.fspath(path))
    if status is not None and not stat.S_ISREG(status.st_mode):
        return path, "wb"  # a FIFO, a device, a socket (whose open says why it cannot)
    if _names_a_descriptor(path):
        # a file the caller opened (`> out.json`, `>> log`): appended to, as the shell's own writes
        # would be (O_TRUNC would empty a log the user appends to)
        return path, "ab"
    where = Path(os.path.realpath(path)) if path.is_symlink() else path
    folder = where.parent
    if make_folder:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        why = "it is no folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(errno.ENOENT, f"the folder {folder} {why}", os.fspath(path))
    return where, None


def _names_a_descriptor(path: Path) -> bool:
    """Whether following ``path``'s links reaches a descriptor's link (``/dev/stdout``,
    ``/dev/fd/1``, ``/proc/self/fd/1``): see ``_DESCRIPTOR_FOLDERS``."""
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        folder = os.path.realpath(os.path.dirname(current))
        if f"{folder}/".startswith(_DESCRIPTOR_FOLDERS):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.join(folder, os.readlink(current))
    return False

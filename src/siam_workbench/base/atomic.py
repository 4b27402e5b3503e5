"""Write-then-rename helpers so nothing a user made is ever half-overwritten.

Every new or replaced file goes through :func:`atomic_path`: the content is written to a
temporary file beside the target (``.<name>.<pid>.<random>.tmp``), flushed to disk, and renamed
over the target in one step. A kill at any instant leaves the old file or the new one, never a
mix; a full disk fails before the rename, so the old file is kept. A temporary file left by a
killed process is removed the next time anything writes the same target (its process id in the
name says whether its writer is still alive).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from siam_workbench.base.errors import SiamError

#: errno values that mean "this write cannot succeed here", reported as one line naming the file.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES,
                errno.EPERM, errno.ENAMETOOLONG}
_TEMP_SUFFIXES = (".tmp", ".staged", ".edit")


def check_writable_dir(path: Path) -> None:
    """Fail early, with the folder named, if ``path``'s parent cannot take a new file."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise SiamError("folder does not exist", parent)
    if not parent.is_dir():
        raise SiamError("not a folder", parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SiamError("folder is not writable", parent)


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_prefix(path: Path) -> str:
    """``.<name>.<pid>.``: how this process's temporary files for ``path`` start, so that
    :func:`sweep_stale` can tell a dead writer's leftovers from a live writer's work."""
    return f".{path.name}.{os.getpid()}."


def sweep_stale(path: str | Path) -> list[Path]:
    """Remove temporary files of ``path`` left by processes that no longer exist.

    Matches ``.<name>.<pid>.*`` (and ``..<name>.<pid>.*``, the temporary file of a staged one)
    with a temp suffix in the same folder; a file whose process is alive (a concurrent writer)
    is left alone. Returns what was removed.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    prefixes = (f"..{path.name}.", f".{path.name}.")
    removed: list[Path] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is None or not name.endswith(_TEMP_SUFFIXES):
            continue
        pid_part = name[len(prefix):].split(".", 1)[0]
        if not pid_part.isdigit() or pid_alive(int(pid_part)):
            continue
        with contextlib.suppress(OSError):
            (parent / name).unlink()
            removed.append(parent / name)
    return removed


def fsync_path(path: Path) -> None:
    """Flush a file's data to disk (a full disk that delays the error shows up here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_error(exc: OSError, path: str | Path) -> SiamError:
    """One line for a failed write of ``path``."""
    return SiamError(f"cannot write ({exc.strerror or exc})", path)


@contextlib.contextmanager
def atomic_path(path: str | Path, force: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    With ``force=False`` an existing ``path`` is an error and is never touched. On any exception
    (including cancellation) the temporary file is removed and ``path`` is left as it was. The
    temporary file is flushed to disk before the rename, so a disk that fills up late fails
    here and not after the old file is gone.
    """
    path = Path(path)
    if path.is_dir():
        raise SiamError("is a folder, expected a file name", path)
    if (path.exists() or path.is_symlink()) and not force:
        raise SiamError("already exists (use --force to replace it)", path)
    check_writable_dir(path)
    sweep_stale(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SiamError(f"cannot write a file here ({exc.strerror})", path) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes 0600 files; outputs should follow the umask like any other new file.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        try:
            fsync_path(tmp)
            os.replace(tmp, path)
        except OSError as exc:
            raise write_error(exc, path) from None
        fsync_dir(path.parent if str(path.parent) else Path("."))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            raise write_error(exc, path) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str, force: bool = True) -> None:
    """Replace a text file in one step (project.toml, config.toml, status.json, CSV tables)."""
    write_bytes_atomic(path, text.encode("utf-8"), force=force)


def write_bytes_atomic(path: str | Path, data: bytes, force: bool = True) -> None:
    try:
        with atomic_path(path, force=force) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise write_error(exc, path) from None

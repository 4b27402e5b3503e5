"""Write-then-rename helpers so nothing a user made is ever half-overwritten."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import SiamError


def check_writable_dir(path: Path) -> None:
    """Fail early, with the folder named, if ``path``'s parent cannot take a new file."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise SiamError("folder does not exist", parent)
    if not parent.is_dir():
        raise SiamError("not a folder", parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SiamError("folder is not writable", parent)


@contextlib.contextmanager
def atomic_path(path: str | Path, force: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    With ``force=False`` an existing ``path`` is an error and is never touched. On any exception
    (including cancellation) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if path.exists() and not force:
        raise SiamError("already exists (use --force to replace it)", path)
    check_writable_dir(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SiamError(f"cannot write a file here ({exc.strerror})", path) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes 0600 files; outputs should follow the umask like any other new file.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace a text file in one step (project.toml, config.toml)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise SiamError(f"cannot write ({exc.strerror or exc})", path) from None

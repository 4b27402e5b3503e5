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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace a text file in one step (project.toml, config.toml)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)

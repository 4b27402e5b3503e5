"""Where the tool may read and write, and how much it may allocate.

* Reading: only regular files. A FIFO, socket or device given as an input would block or
  stream forever, so it is refused by name before it is opened.
* Writing: only inside the project folder, unless the user named the output explicitly
  (``--out``, ``--run-dir``). A ``project.toml`` whose ``data.test = "../victim.txt"`` must not
  make ``siam render --force`` replace a file elsewhere.
* Allocating: a size claimed by a file (an HDF5 shape, an image header, a checkpoint field) is
  compared with the memory available before anything is allocated.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from siam_workbench.base.errors import SiamError


def require_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is an existing regular file (symlinks followed); else one line why not."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SiamError(f"{what} not found", path) from None
    except OSError as exc:
        raise SiamError(f"cannot open ({exc.strerror or exc})", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise SiamError(f"is a folder, expected a {what}", path)
    if not stat.S_ISREG(st.st_mode):
        raise SiamError(f"is not a regular file (a FIFO, socket or device); refused as {what}",
                        path)
    return path


def is_regular_file(path: str | Path) -> bool:
    """True for an existing regular file (links followed): safe to open and read to the end."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def is_inside(path: str | Path, root: str | Path) -> bool:
    """True if ``path`` (links resolved, as far as it exists) lies in the folder ``root``."""
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(root))
    return real == base or base in real.parents


def check_inside(path: str | Path, root: str | Path, what: str) -> Path:
    """Refuse to write ``path`` unless it lies inside the project folder ``root``."""
    if not is_inside(path, root):
        raise SiamError(f"{what} lies outside the project folder {root}; the tool writes only "
                        "inside it (move the file into the project, or write it with an "
                        "explicit --out)", path)
    return Path(path)


def available_memory() -> int:
    """Bytes of memory a new allocation can count on: MemAvailable (physical size as fallback),
    and no more than this process's address-space limit (``ulimit -v``) leaves unused."""
    return min(_system_available(), _address_space_left())


def _system_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _address_space_left() -> int:
    """RLIMIT_AS minus the address space already mapped (VmSize); unlimited: a huge number."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return 1 << 62
    if limit == resource.RLIM_INFINITY or limit < 0:
        return 1 << 62
    used = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, int(limit) - used)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_allocation(nbytes: int, what: str, path: str | Path | None = None,
                     share: float = 0.8) -> None:
    """Refuse, with the figures, an allocation larger than ``share`` of the available memory."""
    avail = available_memory()
    if nbytes > share * avail:
        raise SiamError(f"{what} needs {human_bytes(nbytes)}, more than the "
                        f"{human_bytes(avail)} of memory available; refused", path)

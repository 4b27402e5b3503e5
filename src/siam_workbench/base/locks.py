"""Advisory locks between Siam Workbench processes (and threads): who may change a file now.

A lock is a small file (``runs/<id>/.lock``, ``.<name>.lock`` beside a glyph file) locked with
``flock``. The kernel drops an ``flock`` when its holder dies, however it dies, so a lock left by
a killed process is free again at once: it is *taken over*, and :attr:`FileLock.stale` tells the
new holder whose it was (a run whose trainer died is then shown as "interrupted"). The file also
records the holder's process id and what it is doing, so a refusal can name them.

Two ``open()`` calls of the same lock conflict even inside one process, so a GUI thread that
trains and another that edits are kept apart too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siam_workbench.base.errors import SiamError

#: How long an edit of a shared file (drawn.h5, a glyph file) waits for another editor.
EDIT_WAIT_S = 60.0
_POLL_S = 0.05


@dataclass(frozen=True)
class Holder:
    """What a lock file says about the process that holds (or held) it."""

    pid: int
    host: str
    what: str
    since: str

    def describe(self) -> str:
        where = "" if self.host in ("", socket.gethostname()) else f" on {self.host}"
        return f"process {self.pid}{where} ({self.what}, since {self.since})"


def _read_holder(fd: int) -> Holder | None:
    try:
        raw = os.pread(fd, 4096, 0)
        data: dict[str, Any] = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return Holder(pid=data["pid"], host=str(data.get("host", "")), what=str(data.get("what", "")),
                  since=str(data.get("since", "")))


def _command_line() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return " ".join([name, *sys.argv[1:3]])[:80]


class FileLock:
    """An exclusive lock on ``lock_path``; ``target`` is the file or folder it protects (named
    in messages). Use ``with FileLock(...):`` or :meth:`acquire` / :meth:`release`."""

    def __init__(self, lock_path: str | Path, target: str | Path, what: str = "") -> None:
        self.lock_path = Path(lock_path)
        self.target = Path(target)
        self.what = what or _command_line()
        self.stale: Holder | None = None  # the dead holder this lock was taken over from
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float = 0.0, busy: str = "in use by") -> FileLock:
        """Take the lock, waiting up to ``wait`` seconds; else raise one line naming the holder.

        ``busy`` words the refusal: "<target>: <busy> process 123 (siam train, since …)".
        """
        if self._fd is not None:
            raise RuntimeError("lock already held by this object")
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise SiamError(f"cannot create lock file {self.lock_path.name} "
                                f"({exc.strerror or exc})", self.target) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                if time.monotonic() >= deadline:
                    who = holder.describe() if holder else "another process"
                    raise SiamError(f"{busy} {who}", self.target) from None
                time.sleep(_POLL_S)
                continue
            # The previous holder may have removed the file between our open and our flock:
            # then we hold a lock on a name nobody else sees; start again.
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            self.stale = _read_holder(fd)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                    "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
            with contextlib.suppress(OSError):  # a full disk must not stop a lock
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
            self._fd = fd
            return self

    def release(self) -> None:
        """Drop the lock and remove its file (removal first, so no waiter locks a dead name)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.lock_path)
        os.close(fd)

    def __enter__(self) -> FileLock:
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _probe(lock_path: str | Path) -> tuple[bool, Holder | None] | None:
    """(whether a live process holds the lock, the holder its file records); None without a
    file. A shared lock taken and dropped at once tells a live holder from a dead one."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, _read_holder(fd)
        try:
            return False, _read_holder(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder(lock_path: str | Path) -> Holder | None:
    """The live holder of a lock, or None when nobody holds it (a dead holder is not one)."""
    probe = _probe(lock_path)
    if probe is None or not probe[0]:
        return None
    return probe[1] or Holder(pid=0, host="", what="unknown", since="")


def leftover(lock_path: str | Path) -> Holder | None:
    """The holder recorded in a lock file nobody holds: a process that died holding it."""
    probe = _probe(lock_path)
    return None if probe is None or probe[0] else probe[1]


# -- the two kinds of lock the tool takes ---------------------------------------------------------


def run_lock_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / ".lock"


#: A run lock is not waited for (a second trainer is refused), except for this moment: a run
#: list that checks whether a run is alive holds a shared lock for a few microseconds.
RUN_LOCK_GRACE_S = 0.5


def lock_run(run_dir: str | Path, what: str = "") -> FileLock:
    """Hold a run folder for training; a second trainer (CLI or GUI) is refused."""
    lock = FileLock(run_lock_path(run_dir), run_dir, what or _command_line())
    return lock.acquire(RUN_LOCK_GRACE_S, busy="run is being trained by")


def edit_lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def lock_edit(path: str | Path, wait: float = EDIT_WAIT_S) -> FileLock:
    """Serialise edits of one shared file (drawn.h5, a glyph file's exclusions): a second editor
    waits its turn (up to ``wait`` s), then is refused naming the holder."""
    lock = FileLock(edit_lock_path(path), path)
    return lock.acquire(wait, busy="being edited by")

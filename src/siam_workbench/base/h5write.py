"""Writing HDF5 files so that a full disk is an error message, never a crash.

When a write fails inside the HDF5 library (ENOSPC), h5py raises, and closing the file then
fails too (it flushes more metadata to the same full disk). The file's id stays open, and the
library trips over it again at exit: the process printed the right message and then died with a
segmentation fault (exit 139).

:class:`SafeH5` gives the library a file object instead of a path (h5py's ``fileobj`` driver).
Its first failed write is recorded, and every later write is accepted and dropped, so the
library finishes and closes normally. The caller then raises the recorded error as one line,
and the temporary file, incomplete, is deleted and never renamed over anything.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import h5py

from siam_workbench.base.atomic import write_error
from siam_workbench.base.errors import SiamError


class _Sink(io.RawIOBase):
    """A positioned file on a raw descriptor (pread/pwrite: no seek per call)."""

    def __init__(self, path: Path, create: bool) -> None:
        super().__init__()
        flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT | os.O_TRUNC if create else 0)
        self._fd = os.open(path, flags, 0o666)
        self._pos = 0
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = os.fstat(self._fd).st_size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        got = os.preadv(self._fd, [view], self._pos)
        self._pos += got
        return got

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if self.error is None:
            try:
                done = 0
                while done < n:
                    done += os.pwrite(self._fd, view[done:], self._pos + done)
            except OSError as exc:
                self.error = exc
        self._pos += n
        return n

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if self.error is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as exc:
                self.error = exc
        return size

    def flush(self) -> None:
        pass

    def sync(self) -> None:
        if self.error is None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self.error = exc

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        super().close()


class SafeH5:
    """``SafeH5(tmp, "w", target)`` (new file) or ``SafeH5(tmp, "r+", target)`` (edit a copy):
    ``.file`` is the h5py file; :meth:`check` raises a recorded write error early,
    :meth:`close` flushes to disk and raises it at the latest."""

    def __init__(self, path: str | Path, mode: str = "w",
                 target: str | Path | None = None) -> None:
        if mode not in ("w", "r+"):
            raise ValueError(f"mode must be 'w' or 'r+', got {mode!r}")
        # Messages name ``target`` (the file the user asked for), not the temporary file.
        self.path = Path(target) if target is not None else Path(path)
        try:
            self.sink = _Sink(Path(path), create=mode == "w")
        except OSError as exc:
            raise write_error(exc, self.path) from None
        try:
            self.file = h5py.File(self.sink, mode)
        except OSError as exc:
            self.sink.close()
            if self.sink.error is not None:
                raise write_error(self.sink.error, self.path) from None
            raise SiamError(f"not a readable HDF5 file ({exc})", self.path) from None

    def check(self) -> None:
        if self.sink.error is not None:
            raise write_error(self.sink.error, self.path)

    def close(self) -> None:
        problem: BaseException | None = None
        try:
            self.file.close()
        except (RuntimeError, OSError, ValueError) as exc:
            problem = exc
        self.sink.sync()
        self.sink.close()
        if self.sink.error is not None:
            raise write_error(self.sink.error, self.path)
        if problem is not None:
            raise SiamError(f"write failed ({str(problem).splitlines()[0][:160]})", self.path)

    def abort(self) -> None:
        """Close without raising (the caller is already failing and deletes the file)."""
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(Exception):
            self.sink.close()

    def __enter__(self) -> h5py.File:
        return self.file

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

"""Fault injection at the system-call level: kill -9 (or ENOSPC) at an exact point of an edit.

``strace -e inject=SYSCALL:signal=SIGKILL:when=K`` kills a process when it enters the K-th
call of SYSCALL, before the call runs. Recording the edit's sequence of state-changing calls
once (writes, renames, unlinks, truncates, fsyncs, copies) gives every point between two of
them; each is then replayed with a kill there, and the file must still open. The same machinery
with ``error=ENOSPC:when=K+`` makes every write from that point on fail like a full disk.

Where strace cannot trace (no binary, ptrace forbidden) the tests fall back to
:func:`timed_kills`: SIGKILL after delays spread over the edit's measured duration.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EDITS = Path(__file__).with_name("rel_edits.py")
#: Calls that change what is on disk; a kill is injected before each of them.
CHANGING = ("write", "pwrite64", "pwritev", "writev", "rename", "renameat", "renameat2",
            "unlink", "unlinkat", "ftruncate", "truncate", "fsync", "fdatasync",
            "copy_file_range", "sendfile")
#: Calls made to fail with ENOSPC for a full disk. Plain ``write`` is left out so that the
#: error message still reaches stderr; file contents written with it are flushed by an
#: ``fsync`` before any rename, and a failing fsync is how a full disk shows up there.
WRITES = ("pwrite64", "pwritev", "copy_file_range", "sendfile", "ftruncate", "fsync",
          "fdatasync", "fallocate")
_LINE = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\(")
#: Kill points per edit in the default run; SIAM_FAULT_FULL=1 tries every one.
DEFAULT_POINTS = 8


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


@functools.cache
def strace_works() -> bool:
    exe = shutil.which("strace")
    if exe is None or os.environ.get("SIAM_FAULT_NO_STRACE") == "1":
        return False
    try:
        r = subprocess.run([exe, "-f", "-qq", "-o", "/dev/null", "-e", "trace=write",
                            "-e", "inject=write:error=ENOSPC:when=1", sys.executable, "-c",
                            "import os\ntry:\n os.write(1, b'x')\nexcept OSError:\n print(0)"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and r.stdout.strip() == "0"


def edit_cmd(kind: str, mode: str, *args: object) -> list[str]:
    return [sys.executable, str(EDITS), kind, mode, *map(str, args)]


def trace(cmd: list[str], calls: tuple[str, ...] = CHANGING) -> list[str]:
    """The sequence of ``calls`` that ``cmd`` makes (names, in order, all processes)."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        r = subprocess.run(["strace", "-qq", "-e", "signal=none", "-o", out.name,
                            "-e", f"trace={','.join(calls)}", *cmd],
                           env=env(), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        names = []
        for line in Path(out.name).read_text().splitlines():
            if "resumed>" in line:
                continue
            m = _LINE.match(line)
            if m and m.group(1) in calls:
                names.append(m.group(1))
        return names


def edit_points(kind: str, *args: object, setup: Callable[[], None]) -> list[tuple[str, int]]:
    """(syscall, k) for each state-changing call of the edit itself (start-up excluded)."""
    setup()
    base = trace(edit_cmd(kind, "dry", *args))
    setup()
    full = trace(edit_cmd(kind, "go", *args))
    assert full[:len(base)] == base, "start-up differs between dry and real runs"
    counts: dict[str, int] = {}
    points = []
    for i, name in enumerate(full):
        counts[name] = counts.get(name, 0) + 1
        if i >= len(base):
            points.append((name, counts[name]))
    return points


def sample(points: list, limit: int | None = None) -> list:
    """Every point with SIAM_FAULT_FULL=1; else at most ``limit`` spread over the edit
    (always the first and the last)."""
    limit = limit or DEFAULT_POINTS
    if os.environ.get("SIAM_FAULT_FULL") == "1" or len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def kill_at(cmd: list[str], syscall: str, k: int) -> subprocess.CompletedProcess:
    return subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e", "signal=none",
                           "-e", f"trace={syscall}",
                           "-e", f"inject={syscall}:signal=SIGKILL:when={k}", *cmd],
                          env=env(), capture_output=True, text=True, timeout=300)


def trace_writes(cmd: list[str]) -> list[str]:
    return trace(cmd, WRITES)


def disk_full_points(full: list[str], start: int) -> list[dict[str, int]]:
    """For each write-like call from index ``start`` of the traced sequence ``full``: the
    per-syscall call numbers from which everything fails (that call and all after it)."""
    out = []
    for i in range(start, len(full)):
        before = full[:i]
        out.append({name: before.count(name) + 1 for name in WRITES})
    return out


def fail_from(cmd: list[str], first: dict[str, int]) -> subprocess.CompletedProcess:
    """Run ``cmd`` with every write-like call from the given point on failing with ENOSPC:
    a disk that fills up there and stays full (``first`` from :func:`disk_full_points`)."""
    inject = [a for name, k in first.items()
              for a in ("-e", f"inject={name}:error=ENOSPC:when={k}+")]
    return subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e", "signal=none",
                           "-e", f"trace={','.join(WRITES)}", *inject, *cmd],
                          env=env(), capture_output=True, text=True, timeout=300)


def run_parallel(jobs: list[Callable[[], None]], workers: int = 2) -> None:
    """Run independent kill replays two at a time (each works on its own copy)."""
    with ThreadPoolExecutor(workers) as pool:
        for fut in [pool.submit(j) for j in jobs]:
            fut.result()


def delays(cmd: list[str], tries: int, setup: Callable[[], None]) -> list[float]:
    """Delays spread over the run time of ``cmd`` (start-up included), for :func:`kill_after`."""
    setup()
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env(), check=True, timeout=300)
    dur = time.perf_counter() - t0
    return [dur * (0.2 + 0.85 * i / max(1, tries - 1)) for i in range(tries)]


def kill_after(cmd: list[str], delay: float) -> None:
    p = subprocess.Popen(cmd, env=env())
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=300)

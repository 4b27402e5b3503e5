"""Process- and thread-level settings that keep CPU work fast and its memory bounded on Linux.

**Allocator.** glibc serves every block ≥ 128 KiB (and, after its dynamic threshold, ≥ 32 MiB)
with a fresh ``mmap`` and returns it with ``munmap`` on free. A training step allocates and frees
tens of such activation buffers, so every step paid page faults and zeroing for all of them:
measured here, system time equalled user time and an iteration of 512 triplets took 1.31 s
instead of 0.65 s. :func:`tune_allocator` raises the mmap and trim thresholds so those blocks stay
on the heap for reuse. The price is that freed memory stays in the process: blocks of other
sizes (the epoch-end passes) fragment the heap and the resident set grows. Two things bound it:
the nearest-center search works in small blocks (siam_workbench.parts.centers), and
:func:`release_memory` (``malloc_trim``) hands the free pages back after the epoch-end pass.

**Threads.** ``torch.set_num_threads`` acts on the calling OS thread (and on threads that have
not run a parallel op yet): OpenMP's and MKL's thread counts are per thread. On a shared 2-core
machine two intra-op threads make every small op wait at a barrier for a thread the scheduler has
parked, so a path of many small ops (one query, the epoch-end bookkeeping) can be 10–40× slower
with two threads than with one. :func:`intra_op_threads` runs a block with fewer threads and
restores the count afterwards; :func:`set_threads` is the one setting for a training thread.
With ``train.threads = 0`` a run picks its count by measuring (:func:`choose_threads`) and
records it: the count changes the order of floating-point sums, so a seed reproduces a run only
at the same thread count.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks below this stay on the heap. The largest buffers of a CPU training step (a conv
#: activation of 3 × 512 triplets: 1536 × 16 × 35 × 35 float32 = 120 MiB) fit under it, so the
#: step keeps its speed; larger, rarer blocks go to mmap and leave the process when freed.
DEFAULT_MMAP_THRESHOLD = 256 << 20
_done = False
_libc: ctypes.CDLL | None = None
_libc_tried = False
_lock = threading.Lock()

#: torch's own default intra-op thread count, read when this module is first imported.
DEFAULT_THREADS = torch.get_num_threads()


def _glibc() -> ctypes.CDLL | None:
    global _libc, _libc_tried
    with _lock:
        if not _libc_tried:
            _libc_tried = True
            if sys.platform.startswith("linux"):
                try:
                    lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                    lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                    lib.malloc_trim.argtypes = [ctypes.c_size_t]
                    _libc = lib
                except (OSError, AttributeError):  # musl or another libc: nothing to tune
                    _libc = None
        return _libc


def tune_allocator(threshold: int = DEFAULT_MMAP_THRESHOLD) -> bool:
    """Keep blocks below ``threshold`` bytes on the glibc heap; True if applied (idempotent)."""
    global _done
    if _done:
        return True
    libc = _glibc()
    if libc is None:
        return False
    # The trim threshold matches: free memory at the heap's top beyond it is returned at once.
    _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, threshold))
    return _done


def release_memory() -> bool:
    """Return the heap's free pages to the OS (glibc ``malloc_trim(0)``); True if any were.

    Call it after a burst of large temporary allocations that will not recur soon — the trainer
    at the end of each epoch-end pass — so the resident set falls back to what is live. It costs
    a few milliseconds (the heap is walked once); the next training step refaults the pages it
    needs, which measured no slower than before (benchmarks/scale.py, ``allocator``).
    """
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


def resident_mb() -> float | None:
    """Current resident set of this process in MiB (Linux), for logs and benchmarks."""
    return _status_mb("VmRSS")


def peak_resident_mb() -> float | None:
    """Peak resident set since start or since :func:`reset_peak_resident` (Linux)."""
    return _status_mb("VmHWM")


def reset_peak_resident() -> bool:
    """Start a new peak measurement (Linux ≥ 4.0: ``/proc/self/clear_refs`` ← 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# -- threads ----------------------------------------------------------------------------------
def available_cores() -> int:
    """Cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_threads(n: int | None) -> int:
    """``n`` ≥ 1 as given; 0 or None → torch's default (one per core it found at start-up)."""
    if n is None or n == 0:
        return max(1, DEFAULT_THREADS)
    if n < 0:
        raise ValueError(f"threads must be ≥ 0, got {n}")
    return int(n)


def set_threads(n: int | None) -> int:
    """Set the calling thread's intra-op threads (torch, MKL, oneDNN; faiss when loaded).

    ``n = 0`` (or None) means torch's default. Call it on the thread that will do the work —
    the trainer's own thread, since a GUI runs the trainer on a worker thread — before its first
    op. Returns the count now in force.
    """
    count = resolve_threads(n)
    torch.set_num_threads(count)
    _faiss_threads(count)
    return torch.get_num_threads()


@contextlib.contextmanager
def intra_op_threads(n: int = 1) -> Iterator[int]:
    """Run the block with at most ``n`` intra-op threads on this thread, then restore.

    For paths of many small ops (a query, bookkeeping over per-class vectors): with one thread
    no op waits at a barrier for a descheduled helper. Other threads that already ran torch ops
    keep their own count; threads *started* inside the block begin with ``n`` (torch keeps one
    default for them), so start none there.
    """
    before = torch.get_num_threads()
    want = max(1, min(int(n), before))
    if want == before:
        yield before
        return
    torch.set_num_threads(want)
    _faiss_threads(want)
    try:
        yield want
    finally:
        torch.set_num_threads(before)
        _faiss_threads(before)


def _faiss_threads(n: int) -> None:
    """faiss ships its own OpenMP runtime: set it too, but only if something imported faiss."""
    faiss = sys.modules.get("faiss")
    if faiss is not None and hasattr(faiss, "omp_set_num_threads"):
        faiss.omp_set_num_threads(n)


# -- choosing the thread count by measuring ----------------------------------------------------
@dataclass
class ThreadChoice:
    """The intra-op thread count a run chose and what each candidate measured: seconds of
    wall time and of process CPU time per forward + backward step."""

    threads: int
    measured: dict[int, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"threads": self.threads, "measured": {str(k): v for k, v in
                                                      self.measured.items()}}


#: A larger count is kept only when it is this much faster per step than one thread (wall):
#: more threads on a busy machine are as often slower, and a count that changes with noise
#: would change the numbers from run to run (the thread count changes the arithmetic).
SPEEDUP_NEEDED = 1.15


def choose_threads(model: torch.nn.Module, image_size: int, batch: int,
                   candidates: tuple[int, ...] | None = None, budget_s: float = 2.0,
                   clock: Any = None) -> ThreadChoice:
    """Time a few forward + backward steps of a copy of ``model`` on ``batch`` random images
    at each candidate count (default: 1 and torch's default), within about ``budget_s``
    seconds in all, and set the fastest on this thread (one thread unless another is
    :data:`SPEEDUP_NEEDED` times faster by wall time). When the first count's steps alone
    outlast twice the budget (a machine this busy), the others are not tried. The model, its
    gradients and every random generator are left as they were, so a seeded run starts the
    same whatever this measured."""
    import copy
    import time

    clock = clock or time.perf_counter
    if candidates is None:
        candidates = tuple(sorted({1, resolve_threads(0)}))
    if len(candidates) <= 1:
        return ThreadChoice(set_threads(candidates[0] if candidates else 1))
    probe = copy.deepcopy(model)
    probe.train()
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(max(1, min(int(batch), 64)), 1, image_size, image_size, generator=gen)
    per = budget_s / len(candidates)
    measured: dict[int, dict[str, float]] = {}
    start = clock()
    with torch.random.fork_rng(devices=[]):
        for n in candidates:
            if measured and clock() - start > 2 * budget_s:
                break  # one step alone outlasts the budget: a busy machine, keep fewer threads
            set_threads(n)
            _probe_step(probe, x)  # warm-up: allocations, oneDNN kernels for this count
            steps, wall0, cpu0 = 0, clock(), time.process_time()
            while steps < 5 and (steps < 1 or clock() - wall0 < per / 2):
                _probe_step(probe, x)
                steps += 1
            measured[n] = {"wall_s": (clock() - wall0) / steps,
                           "cpu_s": (time.process_time() - cpu0) / steps}
    one = measured[min(candidates)]["wall_s"]
    best = min(candidates)
    for n in measured:
        if measured[n]["wall_s"] * SPEEDUP_NEEDED < one and \
                measured[n]["wall_s"] < measured[best]["wall_s"]:
            best = n
    return ThreadChoice(set_threads(best), measured)


def _probe_step(model: torch.nn.Module, x: torch.Tensor) -> None:
    out = model(x)
    out.float().square().mean().backward()
    model.zero_grad(set_to_none=True)

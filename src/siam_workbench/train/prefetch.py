"""The next step's batch (sampling, gather, augmentation) prepared while the network computes.

A CPU step is sampler → gather → augmentation → forward → backward → optimiser. Only the last
three need the weights, so the first three of step ``s + 1`` can run during the network part of
step ``s``, on a background thread (torch releases the GIL inside its ops). The worker draws
from the trainer's own sampler and augmentation generator, in the same order as the loop would,
so the random stream — and with it every loss of a seeded run — is the one of a run without
prefetch; the choice is a matter of speed only.

What keeps it exact:

* one job at a time, submitted by the loop after it took the previous batch, so the loop and
  the worker never use the sampler or the generator together;
* no job across an epoch end (the miners' update changes what the sampler draws);
* :meth:`BatchPrefetcher.cancel` — before a checkpoint of a stopped run — waits for the
  pending job and rolls the sampler's and the generator's state back to before it, so the
  checkpoint is the one a run without prefetch would save and a resume continues exactly.

``SIAM_PREFETCH=0`` (or ``1``) forces the choice; by default it is on for a single CPU process
with a core beyond its intra-op threads (otherwise the worker only takes turns with the step:
at 2 threads on 2 cores, benchmarks/speed.py measured the step slower with it than without).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class Batch:
    """One step's input: the sampled training rows and their augmented images."""

    rows: np.ndarray  # int64 sample rows (P×K blocks, or anchors | positives | negatives)
    index: Tensor  # the rows on the training device
    x: Tensor  # augmented network input [N, 1, S, S]


def prefetch_wanted(device: torch.device, distributed: bool, threads: int = 1) -> bool:
    """Whether a run prefetches: ``SIAM_PREFETCH`` if set, else a single CPU process that may
    use more cores than its ``threads`` intra-op threads."""
    env = os.environ.get("SIAM_PREFETCH", "").strip()
    if env in ("0", "1"):
        return env == "1" and device.type == "cpu" and not distributed
    if device.type != "cpu" or distributed:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores > max(1, threads)


class BatchPrefetcher:
    """Runs ``prepare()`` for the next step on one daemon thread.

    ``snapshot()`` / ``restore(state)`` capture and roll back everything ``prepare`` draws from
    (called on the loop's thread while the worker is idle). :meth:`close` always ends the
    thread: it is called from the trainer's ``finally``, whatever ended the run.
    """

    def __init__(self, prepare: Callable[[], Batch], snapshot: Callable[[], Any],
                 restore: Callable[[Any], None]) -> None:
        self._prepare, self._snapshot, self._restore = prepare, snapshot, restore
        self._jobs: queue.Queue[bool] = queue.Queue()
        self._results: queue.Queue[tuple[Batch | None, BaseException | None]] = queue.Queue()
        self._pending = False
        self._saved: Any = None
        # Seconds the loop waited for a prefetched batch, and how many it took: near 0 when the
        # worker keeps ahead (it has a core of its own), near the preparation time when it only
        # takes turns with the step (benchmarks/speed.py reports it).
        self.waited, self.taken = 0.0, 0
        self._thread = threading.Thread(target=self._work, name="siam-prefetch", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _work(self) -> None:
        # The training thread's per-thread setting (denormals flushed). The intra-op thread
        # count is left alone: torch.set_num_threads here would change the step's own count.
        torch.set_flush_denormal(True)
        while self._jobs.get():
            try:
                self._results.put((self._prepare(), None))
            except BaseException as exc:  # handed to the loop, which raises it
                self._results.put((None, exc))

    def take(self, more: bool) -> Batch:
        """This step's batch (the prefetched one, or prepared now); then, if ``more`` steps
        follow in this epoch, start preparing the next."""
        if self._pending:
            self._pending = False
            t0 = time.perf_counter()
            batch, exc = self._results.get()
            self.waited += time.perf_counter() - t0
            self.taken += 1
            if exc is not None:
                raise exc
            assert batch is not None
        else:
            batch = self._prepare()
        if more:
            self._saved = self._snapshot()
            self._pending = True
            self._jobs.put(True)
        return batch

    def cancel(self) -> None:
        """Drop the pending batch and roll its draws back (before a checkpoint)."""
        if self._pending:
            self._pending = False
            self._results.get()  # let it finish: its draws are then undone as a whole
            self._restore(self._saved)

    def close(self) -> None:
        """Cancel, then end the worker thread (idempotent)."""
        self.cancel()
        if self._thread.is_alive():
            self._jobs.put(False)
            self._thread.join(timeout=60)

"""Progress *within* an epoch for ``siam train``: iterations done of the epoch, images/s, and
time estimates for the epoch and the whole run.

An epoch on a loaded machine took 9–13 minutes; one line per epoch left a user staring at
nothing for that long. On a terminal the progress bar carries this text; in a log (stderr not a
TTY) a line is written when both :attr:`EpochProgress.log_interval_s` seconds and
:attr:`EpochProgress.log_fraction` of the epoch have passed since the last one — at most ten
lines per epoch and at most two a minute, whatever the epoch's length.

Estimates come from this epoch's own pace (wall seconds per iteration since it began) plus the
epoch-end pass (centers, validation) as measured at the previous epoch's end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from siam_workbench.cli.progress import fmt_seconds


class EpochProgress:
    """Tracks the pace of a run from its iteration events; clock injectable for tests."""

    log_interval_s = 30.0
    log_fraction = 0.1

    def __init__(self, epochs: int, start_epoch: int, iterations: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.epochs, self.iterations = int(epochs), max(1, int(iterations))
        self.clock = clock
        self.epoch = int(start_epoch)
        self._epoch_t0 = clock()
        self._last_iter_t = self._epoch_t0
        self._end_cost: float | None = None  # seconds of the epoch-end pass, once measured
        self._logged_t = self._epoch_t0
        self._logged_it = 0

    def iteration(self, ev: Any) -> None:
        """Record an :class:`IterationFinished` (call before :meth:`text` / :meth:`due`)."""
        if ev.epoch != self.epoch:  # a resumed run, or a missed epoch event
            self.epoch = ev.epoch
            self._epoch_t0 = self._logged_t = self._last_iter_t
            self._logged_it = 0
        self._last_iter_t = self.clock()

    def epoch_finished(self) -> None:
        now = self.clock()
        self._end_cost = max(0.0, now - self._last_iter_t)
        self.epoch += 1
        self._epoch_t0 = self._last_iter_t = self._logged_t = now
        self._logged_it = 0

    def _pace(self, done: int) -> float:
        return max(0.0, self._last_iter_t - self._epoch_t0) / max(1, done)

    def etas(self, ev: Any) -> tuple[float, float]:
        """(seconds left in this epoch, seconds left in the run), epoch-end passes included
        once one was measured."""
        done = ev.iteration + 1
        pace = self._pace(done)
        end = self._end_cost or 0.0
        epoch_left = pace * (self.iterations - done) + end
        later = max(0, self.epochs - ev.epoch - 1)
        return epoch_left, epoch_left + later * (pace * self.iterations + end)

    def text(self, ev: Any) -> str:
        epoch_left, run_left = self.etas(ev)
        done = ev.iteration + 1
        return (f"epoch {ev.epoch + 1}/{self.epochs}: it {done}/{self.iterations} "
                f"({100 * done / self.iterations:.0f}%), {ev.images_per_s:.0f} img/s, "
                f"loss {ev.loss:.4g}, epoch ETA {fmt_seconds(epoch_left)}, "
                f"run ETA {fmt_seconds(run_left)}")

    def due(self, ev: Any) -> bool:
        """Whether a log (non-TTY) line is due now; marks it written when it is."""
        done = ev.iteration + 1
        if done >= self.iterations:
            return False  # the epoch's own summary line follows at once
        now = self._last_iter_t
        if (now - self._logged_t < self.log_interval_s
                or done - self._logged_it < self.log_fraction * self.iterations):
            return False
        self._logged_t, self._logged_it = now, done
        return True

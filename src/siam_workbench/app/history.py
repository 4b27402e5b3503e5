"""Training curves as plain growing arrays, fed live from trainer events or filled from a run's
files through :func:`siam_workbench.infer.curves.read_curves` (the GUI never parses run files
itself). Qt-free so the plots, the screenshot mode and tests share it.

Throughput has one definition everywhere (:data:`siam_workbench.infer.curves.THROUGHPUT_EMA`): the
trainer's events carry the smoothed rate, read-back smooths the logged per-iteration rates the
same way, so live and reloaded curves agree.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.infer.curves import EPOCH_KEYS, RunCurves, read_curves


def auto_smoothing(iterations: int) -> float:
    """An EMA factor whose window is ~1/25 of the run: a short run is shown almost raw (0.90
    over 80 iterations hid a loss flat from iteration 5), a long one smoothly (≤ 0.98)."""
    window = max(1.0, iterations / 25.0)
    return float(min(0.98, max(0.0, round(1.0 - 1.0 / window, 2))))


class _Grow:
    """An append-only float array with amortised O(1) appends and zero-copy views."""

    def __init__(self) -> None:
        self._a = np.empty(256, dtype=np.float64)
        self._n = 0

    def append(self, value: float) -> None:
        if self._n == self._a.size:
            self._a = np.resize(self._a, self._a.size * 2)
        self._a[self._n] = value
        self._n += 1

    def extend(self, values: np.ndarray) -> None:
        for v in np.asarray(values, dtype=np.float64):
            self.append(float(v))

    def view(self) -> np.ndarray:
        return self._a[: self._n]

    def __len__(self) -> int:
        return self._n


@dataclass
class History:
    """Per-iteration loss (total, parts, smoothed) and throughput; per-epoch accuracies; the
    steps where epochs begin; the baselines a run logged."""

    smoothing: float = 0.9  # EMA factor of the smoothed loss line
    steps: _Grow = field(default_factory=_Grow)
    loss: _Grow = field(default_factory=_Grow)
    smooth: _Grow = field(default_factory=_Grow)
    throughput: _Grow = field(default_factory=_Grow)
    active: _Grow = field(default_factory=_Grow)  # share of candidate triplets in the margin
    images: _Grow = field(default_factory=_Grow)  # images through the network so far
    seconds: _Grow = field(default_factory=_Grow)  # training wall seconds so far
    parts: dict[str, _Grow] = field(default_factory=dict)
    epochs: _Grow = field(default_factory=_Grow)
    epoch_values: dict[str, _Grow] = field(default_factory=dict)
    epoch_starts: list[float] = field(default_factory=list)  # step − 0.5 where an epoch began
    baselines: dict[str, float] = field(default_factory=dict)  # "pixel-1nn val" → top-1
    version: int = 0  # bumped on every change so views can skip redundant redraws
    _last_epoch: int = -1
    _ema: dict[tuple[str, float], list[Any]] = field(default_factory=dict)
    _t_last: float | None = None
    _t_run: float = 0.0

    EPOCH_KEYS = EPOCH_KEYS

    def __post_init__(self) -> None:
        for key in self.EPOCH_KEYS:
            self.epoch_values.setdefault(key, _Grow())

    def add_iteration(self, step: float, loss: float, parts: dict[str, float],
                      images_per_s: float, epoch: int | None = None,
                      active: float | None = None, images: float | None = None,
                      seconds: float | None = None) -> None:
        n = len(self.steps)
        if epoch is not None:
            if self._last_epoch >= 0 and epoch != self._last_epoch:
                self.epoch_starts.append(step - 0.5)
            self._last_epoch = epoch
        self.steps.append(step)
        self.loss.append(loss)
        prev = self.smooth.view()[-1] if len(self.smooth) else loss
        if not math.isfinite(prev):
            prev = loss
        self.smooth.append(self.smoothing * prev + (1 - self.smoothing) * loss)
        self.throughput.append(images_per_s)
        for grow, value in ((self.active, active), (self.images, images),
                            (self.seconds, seconds)):
            grow.append(math.nan if value is None else float(value))
        for key, value in parts.items():
            if key not in self.parts:
                g = _Grow()
                for _ in range(n):  # a part seen late starts with gaps
                    g.append(math.nan)
                self.parts[key] = g
            self.parts[key].append(float(value))
        for key, g in self.parts.items():
            if key not in parts:
                g.append(math.nan)
        self.version += 1

    def add_epoch(self, epoch: float, values: dict[str, float | None]) -> None:
        self.epochs.append(epoch)
        for key in self.EPOCH_KEYS:
            v = values.get(key)
            self.epoch_values[key].append(math.nan if v is None else float(v))
        self.version += 1

    def set_baseline(self, name: str, top1: float | None) -> None:
        if top1 is not None and top1 == top1:
            self.baselines[name] = float(top1)
            self.version += 1

    def add_event(self, event: Any) -> None:
        """Feed one trainer event (siam_workbench.train.events); other event types are ignored."""
        name = type(event).__name__
        if name == "IterationFinished":
            if len(self.steps) and event.step + 1 <= self.steps.view()[-1]:
                return  # already read back from metrics.jsonl (resumed run)
            now = time.monotonic()
            if self._t_last is not None and now - self._t_last < 60.0:
                self._t_run += now - self._t_last  # pauses longer than a minute squeezed out
            self._t_last = now
            self.add_iteration(event.step + 1, event.loss, dict(event.parts),
                               event.images_per_s, epoch=int(event.epoch),
                               active=getattr(event, "active", None),
                               images=getattr(event, "images", None) or None,
                               seconds=self._t_run)
        elif name == "EpochFinished":
            if len(self.epochs) and event.epoch + 1 <= self.epochs.view()[-1]:
                return
            self.add_epoch(event.epoch + 1, {k: getattr(event, k, None) for k in self.EPOCH_KEYS})
        elif name == "RunStarted":
            self.set_baseline("pixel-1nn val", getattr(event, "pixel_nn_val_top1", None))

    def smoothed(self, factor: float, key: str = "loss") -> np.ndarray:
        """``loss`` (or a part) smoothed with EMA ``factor`` (0 = raw); NaN gaps stay NaN.
        Kept incrementally per (key, factor), so a live redraw only smooths the new points."""
        raw = self.loss.view() if key == "loss" else self.active.view() if key == "active" \
            else self.parts[key].view()
        if factor <= 0 or not len(raw):
            return raw
        cache = self._ema.get((key, factor))
        if cache is None:
            cache = self._ema[(key, factor)] = [_Grow(), None]
        out, acc = cache
        for v in raw[len(out):]:
            if math.isfinite(v):
                acc = v if acc is None else factor * acc + (1 - factor) * v
                out.append(acc)
            else:
                out.append(math.nan)
        cache[1] = acc
        return out.view()

    @property
    def accuracy_set(self) -> str:
        v = self.epoch_values["val_top1"].view()
        return "val" if len(v) and np.isfinite(v).any() else "train"

    @classmethod
    def from_curves(cls, curves: RunCurves) -> History:
        h = cls()
        for i, step in enumerate(curves.steps):
            h.add_iteration(float(step), float(curves.loss[i]),
                            {k: float(v[i]) for k, v in curves.parts.items()
                             if math.isfinite(v[i])},
                            float(curves.throughput[i]), epoch=int(curves.iter_epoch[i]),
                            active=_at(curves.active, i), images=_at(curves.images, i),
                            seconds=_at(curves.seconds, i))
        if len(curves.seconds) and np.isfinite(curves.seconds).any():
            h._t_run = float(np.nanmax(curves.seconds))  # a resumed run's clock goes on
        for j, e in enumerate(curves.epochs):
            h.add_epoch(float(e), {k: float(curves.epoch_values[k][j]) for k in cls.EPOCH_KEYS})
        for name, value in curves.baselines.items():
            h.set_baseline(name, value)
        return h

    def __len__(self) -> int:
        return len(self.steps)


def _at(values: np.ndarray, i: int) -> float | None:
    return float(values[i]) if i < len(values) and math.isfinite(values[i]) else None


def read_metrics(path: Path, history: History | None = None) -> History:
    """A run's curves (``siam_workbench.infer.curves.read_curves`` of a run folder or its
    ``metrics.jsonl``) as a :class:`History`; ``history`` is ignored (kept for callers)."""
    return History.from_curves(read_curves(Path(path)))

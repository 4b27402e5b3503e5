"""Training curves as plain growing arrays, fed either live from trainer events or read back
from a run's ``metrics.jsonl``. Qt-free so the plots, the screenshot mode and tests share it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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

    def view(self) -> np.ndarray:
        return self._a[: self._n]

    def __len__(self) -> int:
        return self._n


@dataclass
class History:
    """Per-iteration loss (total, parts, smoothed) and throughput; per-epoch accuracies."""

    smoothing: float = 0.9  # EMA factor of the smoothed loss line
    steps: _Grow = field(default_factory=_Grow)
    loss: _Grow = field(default_factory=_Grow)
    smooth: _Grow = field(default_factory=_Grow)
    throughput: _Grow = field(default_factory=_Grow)
    parts: dict[str, _Grow] = field(default_factory=dict)
    epochs: _Grow = field(default_factory=_Grow)
    epoch_values: dict[str, _Grow] = field(default_factory=dict)
    version: int = 0  # bumped on every change so views can skip redundant redraws

    EPOCH_KEYS = ("top1", "top5", "val_top1", "val_top5")

    def __post_init__(self) -> None:
        for key in self.EPOCH_KEYS:
            self.epoch_values.setdefault(key, _Grow())

    def add_iteration(self, step: float, loss: float, parts: dict[str, float],
                      images_per_s: float) -> None:
        n = len(self.steps)
        self.steps.append(step)
        self.loss.append(loss)
        prev = self.smooth.view()[-1] if len(self.smooth) else loss
        if not math.isfinite(prev):
            prev = loss
        self.smooth.append(self.smoothing * prev + (1 - self.smoothing) * loss)
        self.throughput.append(images_per_s)
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

    def add_event(self, event: Any) -> None:
        """Feed one trainer event (core.train.events); other event types are ignored."""
        name = type(event).__name__
        if name == "IterationFinished":
            if len(self.steps) and event.step + 1 <= self.steps.view()[-1]:
                return  # already read back from metrics.jsonl (resumed run)
            self.add_iteration(event.step + 1, event.loss, dict(event.parts),
                               event.images_per_s)
        elif name == "EpochFinished":
            if len(self.epochs) and event.epoch + 1 <= self.epochs.view()[-1]:
                return
            self.add_epoch(event.epoch + 1, {k: getattr(event, k, None) for k in self.EPOCH_KEYS})

    def __len__(self) -> int:
        return len(self.steps)


# Keys of an iteration record that are not loss parts (core.train.trainer flattens the parts in).
_NOT_PARTS = {"event", "time", "epoch", "iteration", "iterations", "step", "loss",
              "images_per_s", "triplets_per_s", "images", "triplets", "lr", "parts"}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_metrics(path: Path, history: History | None = None) -> History:
    """Read a run's ``metrics.jsonl`` (a run folder or the file). Unknown or broken lines are
    skipped, so a run killed mid-write still plots everything before the damage."""
    path = Path(path)
    file = path / "metrics.jsonl" if path.is_dir() else path
    h = history or History()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return h
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict):
            continue
        kind = str(rec.get("event", "")).lower()
        if kind.startswith("iteration"):
            step = _num(rec.get("step"))
            loss = _num(rec.get("loss"))
            if step is None or loss is None:
                continue
            nested = rec.get("parts")
            source = nested if isinstance(nested, dict) else {
                k: v for k, v in rec.items() if k not in _NOT_PARTS}
            parts = {k: float(v) for k, v in source.items() if _num(v) is not None}
            rate = _num(rec.get("images_per_s", rec.get("triplets_per_s")))  # older runs
            h.add_iteration(step + 1, loss, parts, rate or math.nan)
        elif kind.startswith("epoch"):
            epoch = _num(rec.get("epoch"))
            if epoch is None:
                continue
            h.add_epoch(epoch + 1, {k: _num(rec.get(k)) for k in History.EPOCH_KEYS})
    return h

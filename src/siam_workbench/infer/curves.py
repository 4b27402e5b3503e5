"""A run's training curves read back from its metrics: per-iteration loss and its parts,
throughput with one definition of its smoothing, per-epoch accuracies and the pixel baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.project.runfiles import iteration_parts, read_metrics
from siam_workbench.project.runfolder import RunFolder

#: Throughput is one quantity everywhere: an exponential moving average (this factor) of each
#: iteration's images through the network ÷ its compute seconds (older runs logged triplets).
#: The trainer's live events carry it already; metrics.jsonl keeps the per-iteration value,
#: smoothed here the same way.
THROUGHPUT_EMA = 0.8

EPOCH_KEYS = ("top1", "top5", "val_top1", "val_top5")

def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None

def smooth_rate(values: np.ndarray, factor: float = THROUGHPUT_EMA) -> np.ndarray:
    """The trainer's throughput EMA over per-iteration rates (NaNs are carried over)."""
    out = np.empty(len(values))
    rate = 0.0
    for i, v in enumerate(values):
        if v == v:
            rate = v if rate == 0.0 else factor * rate + (1 - factor) * v
        out[i] = rate if rate else np.nan
    return out

@dataclass
class RunCurves:
    """A run's training curves as arrays (per iteration and per epoch) and its baselines."""

    steps: np.ndarray  # [I] 1-based global iteration
    loss: np.ndarray
    parts: dict[str, np.ndarray]
    throughput: np.ndarray  # THROUGHPUT_EMA-smoothed images/s
    iter_epoch: np.ndarray  # [I] 0-based epoch of each iteration
    epochs: np.ndarray  # [E] 1-based epoch number
    epoch_values: dict[str, np.ndarray]  # EPOCH_KEYS → [E] (NaN: not measured)
    epoch_loss: np.ndarray
    epoch_seconds: np.ndarray
    baselines: dict[str, float] = field(default_factory=dict)  # e.g. "pixel-1nn val" → top-1
    # [I] per iteration (NaN where a run did not log it): share of candidate triplets inside
    # the margin, images through the network so far, seconds since the run's first record.
    active: np.ndarray = field(default_factory=lambda: np.zeros(0))
    images: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def epoch_starts(self) -> np.ndarray:
        """Steps at which a new epoch began (for the epoch boundary lines)."""
        if not len(self.iter_epoch):
            return np.zeros(0)
        change = np.flatnonzero(np.diff(self.iter_epoch) != 0) + 1
        return self.steps[change] - 0.5

def read_curves(run_dir: str | Path) -> RunCurves:
    """Parse a run's ``metrics.jsonl`` (a run folder or the file). Broken lines are skipped,
    so a run killed mid-write still plots everything before the damage."""
    path = Path(run_dir)
    file = RunFolder(path).metrics if path.is_dir() else path
    steps: list[float] = []
    loss: list[float] = []
    rates: list[float] = []
    iter_epoch: list[int] = []
    active: list[float] = []
    images: list[float] = []
    times: list[float] = []
    parts: dict[str, list[float]] = {}
    ep: list[float] = []
    ep_vals: dict[str, list[float]] = {k: [] for k in EPOCH_KEYS}
    ep_loss, ep_secs = [], []
    baselines: dict[str, float] = {}
    for rec in read_metrics(file):
        if not isinstance(rec, dict):
            continue
        kind = str(rec.get("event", "")).lower()
        if kind.startswith("iteration"):
            step, value = _num(rec.get("step")), _num(rec.get("loss"))
            if step is None or value is None:
                continue
            n = len(steps)
            steps.append(step + 1)
            loss.append(value)
            rate = _num(rec.get("images_per_s", rec.get("triplets_per_s")))  # older runs
            rates.append(rate if rate is not None else np.nan)
            iter_epoch.append(int(_num(rec.get("epoch")) or 0))
            for col, key in ((active, "active"), (images, "images"), (times, "time")):
                x = _num(rec.get(key))
                col.append(np.nan if x is None else x)
            for key, v in iteration_parts(rec).items():
                x = _num(v)
                if x is None:
                    continue
                col = parts.setdefault(key, [np.nan] * n)
                col.append(x)
            for col in parts.values():
                if len(col) < n + 1:
                    col.append(np.nan)
        elif kind.startswith("epoch"):
            e = _num(rec.get("epoch"))
            if e is None:
                continue
            ep.append(e + 1)
            for k in EPOCH_KEYS:
                v = _num(rec.get(k))
                ep_vals[k].append(np.nan if v is None else v)
            ep_loss.append(_num(rec.get("loss")) or np.nan)
            ep_secs.append(_num(rec.get("seconds")) or np.nan)
        elif kind == "baseline":
            top1 = _num(rec.get("top1"))
            if top1 is not None:
                baselines[f"{rec.get('method', 'baseline')} {rec.get('data', '')}".strip()] = top1
    f = np.asarray
    return RunCurves(steps=f(steps, float), loss=f(loss, float),
                     parts={k: f(v, float) for k, v in parts.items()},
                     throughput=smooth_rate(f(rates, float)), iter_epoch=f(iter_epoch, int),
                     epochs=f(ep, float), epoch_values={k: f(v, float) for k, v in ep_vals.items()},
                     epoch_loss=f(ep_loss, float), epoch_seconds=f(ep_secs, float),
                     baselines=baselines, active=f(active, float), images=f(images, float),
                     seconds=elapsed_seconds(f(times, float)))

def elapsed_seconds(times: np.ndarray) -> np.ndarray:
    """Wall seconds since the first iteration, with paused or resumed gaps longer than a
    minute squeezed out (the x-axis of "wall time" should show training, not a night off)."""
    if not len(times):
        return times
    t = np.where(np.isfinite(times), times, np.nan)
    d = np.diff(t, prepend=t[0])
    d = np.where(np.isfinite(d) & (d >= 0) & (d < 60.0), d, 0.0)
    return np.cumsum(d)

def pixel_baseline(curves: RunCurves) -> float | None:
    """The pixel 1-NN validation top-1 a run logged (the floor its accuracy must clear)."""
    for key, value in curves.baselines.items():
        if key.startswith("pixel-1nn"):
            return value
    return None

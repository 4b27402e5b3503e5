"""Mining data the Miners views share: the live training's rows (``LiveMining``, fed by
``EpochFinished`` events) and the uniform-distribution helpers. Finished runs are read by
``siam_workbench.infer.analysis.load_run_mining``; nothing here parses run files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.infer.analysis import MiningHistory


def uniform_probability(probabilities: np.ndarray,
                        mean_distance: np.ndarray | None = None) -> float:
    """1 / (number of classes the miner can draw), the reference line of every view. Classes
    without samples have a NaN mean distance; without distances every class counts."""
    if mean_distance is not None and len(mean_distance) == len(probabilities):
        present = int(np.count_nonzero(np.isfinite(mean_distance)))
    else:
        present = len(probabilities)
    return 1.0 / max(present, 1)


def is_uniform(probabilities: np.ndarray) -> bool:
    """True for the random miner's distribution: every class it draws has the same share
    (classes without samples, at 0, are ignored — but a distribution that put everything on a
    few classes is not uniform)."""
    p = np.asarray(probabilities, dtype=np.float64)
    nz = p[p > 0]
    if nz.size == 0:
        return True
    return nz.size >= 0.5 * p.size and bool(np.allclose(nz, nz.mean(), rtol=1e-6, atol=0))


@dataclass
class LiveMining:
    """Mining rows collected from ``EpochFinished`` events of the running training."""

    classes: list[str]
    run_dir: Path | None = None
    positive: str = "unknown"
    negative: str = "unknown"
    epochs: list[int] = field(default_factory=list)
    probabilities: list[np.ndarray] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    mean_distance: list[np.ndarray] = field(default_factory=list)
    edges: dict[int, np.ndarray] = field(default_factory=dict)
    centers: np.ndarray | None = None
    finished: str = ""  # "" while running, else finished / stopped / failed
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # /extra/<name> [E', C]
    config: Any = None  # the run's Config (siam_workbench.infer.analysis.read_run_config)

    def add(self, event: Any) -> None:
        epoch = int(event.epoch)
        if epoch in self.epochs:  # a resumed run repeats an epoch: keep the newest
            i = self.epochs.index(epoch)
            for lst in (self.epochs, self.probabilities, self.clusters, self.mean_distance):
                del lst[i:]
        n = len(np.asarray(event.probabilities))
        if len(self.classes) != n:
            self.classes = [str(i) for i in range(n)]
        self.epochs.append(epoch)
        self.probabilities.append(np.asarray(event.probabilities, dtype=np.float64))
        self.clusters.append(np.asarray(event.clusters, dtype=np.int64))
        self.mean_distance.append(np.asarray(event.mean_distance, dtype=np.float64))
        if getattr(event, "centers", None) is not None:
            self.centers = np.asarray(event.centers, dtype=np.float32)

    def history(self) -> MiningHistory | None:
        if not self.epochs:
            return None
        return MiningHistory(classes=self.classes, epochs=np.asarray(self.epochs),
                             probabilities=np.stack(self.probabilities),
                             clusters=np.stack(self.clusters),
                             mean_distance=np.stack(self.mean_distance),
                             edges=dict(self.edges), positive=self.positive,
                             negative=self.negative, missing=[],
                             extra={k: v for k, v in self.extra.items()
                                    if v.shape == (len(self.epochs), len(self.classes))})

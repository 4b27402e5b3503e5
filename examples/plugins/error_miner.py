"""A miner written outside Siam Workbench: anchors in proportion to validation error.

The worked example of docs/ARCHITECTURE.md. Add it to a project with

    [project]
    plugins = ["plugins/error_miner.py"]      # a copy inside the project folder

    [mining]
    positive = "val-error"
    error_power = 1.0

then trust the project (``siam trust PROJECT``), and it appears in the config form, in
``siam train --set mining.positive=val-error``, in ``siam parts`` and in the Miners view (its
``error`` series), with no change to the app.

Why this miner: the auto-probabilistic miner (paper §3.2) prefers classes whose training
samples are spread far from their center — a proxy for "hard". This one uses the direct
measure, the share of a class's validation images the network gets wrong at the last epoch end.
Caveat: it steers training by the validation set, which then stops being an unbiased estimate;
judge such a run on the test set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from siam_workbench.base.fields import Field
from siam_workbench.parts.miners import (
    EpochStats,
    PositiveMiner,
    register_miner,
    uniform_probabilities,
)
from siam_workbench.parts.miners.base import tensor


@register_miner
class ValidationErrorMiner(PositiveMiner):
    name = "val-error"
    label = "validation error (example plug-in)"
    help = ("Draws anchor classes in proportion to (error + floor)^power, each class's share "
            "of misread validation images at the last epoch end.")
    params = {
        "error_power": Field(float, 1.0, "val-error miner: exponent of the error", min=0.0,
                             max=10.0, label="Error exponent — how strongly to prefer errors"),
        "error_floor": Field(float, 0.05, "val-error miner: added to every class's error so "
                             "that no class is starved", min=0.0, max=1.0,
                             label="Error floor — the least a class is drawn"),
    }

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        super().__init__(num_classes, present, settings)
        self._probs = uniform_probabilities(self.present)
        self._error = np.full(num_classes, np.nan)

    def probabilities(self) -> np.ndarray:
        return self._probs

    def update(self, stats: EpochStats) -> None:
        acc = stats.val_accuracy if stats.val_accuracy is not None else stats.train_accuracy
        if acc is None:
            return
        error = 1.0 - np.asarray(acc, dtype=np.float64)
        # A class without validation images keeps the mean error, so it is neither starved nor
        # favoured.
        known = np.isfinite(error) & self.present
        fill = float(error[known].mean()) if known.any() else 1.0
        error = np.where(known, error, fill)
        weight = (error + float(self.setting("error_floor"))) ** float(self.setting("error_power"))
        weight = np.where(self.present, weight, 0.0)
        total = float(weight.sum())
        self._probs = weight / total if total > 0 else uniform_probabilities(self.present)
        self._error = np.where(self.present, error, np.nan)

    def series(self) -> dict[str, np.ndarray]:
        return {"error": self._error}

    def state_dict(self) -> dict[str, Any]:
        return {"probabilities": tensor(self._probs), "error": tensor(self._error)}

    def load_state_dict(self, state: dict[str, Any], same_labels: bool) -> None:
        self._probs = state["probabilities"].numpy().astype(np.float64)
        self._error = state["error"].numpy().astype(np.float64)
        if not same_labels:
            self._probs = np.where(self.present, self._probs, 0.0)
            total = float(self._probs.sum())
            self._probs = (self._probs / total if total > 0
                           else uniform_probabilities(self.present))

"""Uniform anchor classes: the baseline every positive miner is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np

from siam_workbench.parts.miners.base import PositiveMiner, uniform_probabilities
from siam_workbench.parts.miners.registry import register_miner


@register_miner
class RandomPositive(PositiveMiner):
    name = "random"
    label = "random"
    short = "rnd"
    help = "Every class with samples is equally likely as an anchor class."

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        return "<b>Random positives</b>: every class with samples has probability 1/C."

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        super().__init__(num_classes, present, settings)
        self._probs = uniform_probabilities(self.present)

    def probabilities(self) -> np.ndarray:
        return self._probs

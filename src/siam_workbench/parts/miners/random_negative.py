"""Uniform negatives: any other class with samples, equally likely."""

from __future__ import annotations

from typing import Any

import numpy as np

from siam_workbench.parts.miners.base import NegativeMiner, uniform_probabilities
from siam_workbench.parts.miners.registry import register_miner


@register_miner
class RandomNegative(NegativeMiner):
    name = "random"
    label = "random"
    short = "rnd"
    help = "The negative class is uniform over the other classes with samples."

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        return "<b>Random negatives</b>: uniformly from the other classes."

    def sample(self, anchor_cls: np.ndarray, coin: np.ndarray, u: np.ndarray,
               uniform_negative: np.ndarray) -> np.ndarray:
        return uniform_negative

    def distribution(self, anchor_class: int) -> np.ndarray:
        others = self.present.copy()
        others[int(anchor_class)] = False
        return uniform_probabilities(others)

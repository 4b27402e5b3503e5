"""Three parts in one plug-in file: a miner, a loss and a backbone, each with what it declares
about itself (docs/ARCHITECTURE.md, "Parts and plug-ins").

    [project]
    plugins = ["plugins/own_parts.py"]

    [mining]
    positive = "loose-first"
    loose_power = 1.5

    [loss]
    kind = "soft-margin"

    [loss.soft-margin]        # this loss's own α: it does not collide with [loss] alpha
    alpha = 0.3

    [model]
    backbone = "tiny37"

Trust the project (``siam trust PROJECT``); the form then shows the parameters under their
labels, greyed out while another part is chosen, and the Miners tab shows the miner's
parameters and its description.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from siam_workbench.base.fields import Field
from siam_workbench.model.backbones import register_model
from siam_workbench.parts.losses import Loss, register_loss
from siam_workbench.parts.miners import (
    EpochStats,
    PositiveMiner,
    register_miner,
    uniform_probabilities,
)
from siam_workbench.parts.miners.base import tensor


@register_miner
class LooseFirst(PositiveMiner):
    """Anchor classes in proportion to their spread, d^power (auto-probabilistic with one
    exponent and no memory)."""

    name = "loose-first"
    label = "loose classes first (plug-in)"
    short = "loose"
    help = "Draws anchor classes in proportion to d^power, each class's spread around its center."
    params = {"loose_power": Field(float, 1.0, "loose-first: exponent of the spread", min=0.0,
                                   max=8.0, label="Spread exponent — preference for loose "
                                   "classes")}

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        super().__init__(num_classes, present, settings)
        self._probs = uniform_probabilities(self.present)

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        return ("<b>Loose classes first</b>: P<sub>i</sub> ∝ d<sub>i</sub><sup>power</sup> "
                f"with <b>power = {cls.value(settings, 'loose_power'):g}</b>.")

    def probabilities(self) -> np.ndarray:
        return self._probs

    def update(self, stats: EpochStats) -> None:
        d = np.where(self.present & np.isfinite(stats.mean_distance), stats.mean_distance, 0.0)
        w = np.where(self.present, np.maximum(d, 1e-9) ** float(self.setting("loose_power")), 0)
        total = float(w.sum())
        self._probs = w / total if total > 0 else uniform_probabilities(self.present)

    def state_dict(self) -> dict[str, Any]:
        return {"probabilities": tensor(self._probs)}

    def load_state_dict(self, state: dict[str, Any], same_labels: bool) -> None:
        self._probs = state["probabilities"].numpy().astype(np.float64)


@register_loss
class SoftMargin(Loss):
    """log(1 + exp(d_ap − d_an + α)) on the unit sphere: never exactly zero, so every triplet
    keeps a gradient."""

    name = "soft-margin"
    label = "soft-margin triplet (plug-in)"
    help = "softplus(d_ap − d_an + α) on the unit sphere: a triplet loss that never saturates."
    space = "l2"
    parts = ("soft",)
    # Its own α, with another default and range than the built-in margin: it is stored as
    # loss."soft-margin".alpha and shown under its own label.
    params = {"alpha": Field(float, 0.3, "soft-margin: margin α on the unit sphere", min=0.0,
                             max=2.0, label="α — soft margin on the sphere")}

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        per = F.softplus(d_ap - d_an + self.margin)
        return {"loss": per, "soft": per}


@register_model("tiny37", input_size=37, label="tiny37 — two convolutions (plug-in)",
                help="A small two-layer network for quick experiments on 37×37 glyphs.")
def tiny37(embedding_dim: int = 25) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 5, stride=2), nn.ReLU(),  # 37 → 17
                         nn.Conv2d(8, 16, 5, stride=2), nn.ReLU(),  # 17 → 7
                         nn.Flatten(), nn.Linear(16 * 7 * 7, embedding_dim))


__all__ = ["LooseFirst", "SoftMargin", "tiny37"]

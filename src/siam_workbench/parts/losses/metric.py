"""The paper's metric loss (§3.4): contrastive pull + triplet push + cluster stability.

In the softplus space ``a(x) = log(1 + eˣ)`` (eq. 5): ``g1 = ρ·d_ap``, ``g2 = τ·softplus(d_ap −
d_an + α)``, ``g3 = ξ·d(x_i, c_i)`` for i ∈ {a, p, n}, with ``c_i`` the (detached) center of i's
class; the loss is ``g1² + g2² + Σ g3²`` (the paper: "the output of this block is g²").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from siam_workbench.base.fields import Field
from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.common import ALPHA
from siam_workbench.parts.losses.registry import register_loss


@register_loss
class MetricLoss(Loss):
    name = "metric"
    label = "metric (paper §3.4)"
    help = "ρ·d_ap pull, τ·softplus(d_ap − d_an + α) push and ξ·distance to the class center."
    space = "softplus"
    uses_centers = True
    parts = ("g1", "g2", "g3")
    params = {
        "alpha": ALPHA,
        "rho": Field(float, 0.1, "Metric loss: weight ρ of the anchor-positive pull g1",
                     min=0.0, max=1e3, label="ρ (rho) — anchor–positive pull"),
        "tau": Field(float, 1.0, "Metric loss: weight τ of the triplet part g2", min=0.0,
                     max=1e3, label="τ (tau) — triplet push"),
        "xi": Field(float, 1.0, "Metric loss: weight ξ of the cluster-stability part g3",
                    min=0.0, max=1e3, label="ξ (xi) — pull toward the class center"),
        "centers": Field(str, "epoch", "Class centers g3 pulls toward: 'epoch' = the epoch-end "
                         "reference pass (paper), 'ema' = a running mean of the training "
                         "embeddings updated every step", choices=("epoch", "ema"),
                         label="Centers for g3 — when they are refreshed"),
        "center_momentum": Field(float, 0.1, "'ema' centers: weight of each step's batch mean",
                                 min=0.0, max=1.0, label="EMA momentum of the centers"),
    }

    @classmethod
    def collapse_remedy(cls, settings: Any, values: Mapping[str, Mapping[str, Any]]
                        ) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """Softplus' flat region traps it; the triplet loss (with semi-hard triplets) has
        none."""
        why = ("With the metric loss this is softplus' flat region, where every distance is 0 "
               "and the loss sits at (τ·softplus(α))² (docs/METHODS.md §3b); the triplet loss "
               "with semi-hard triplets does not have one. ")
        suggestion: dict[str, dict[str, Any]] = {"loss": {"kind": "triplet",
                                                          "alpha": ALPHA.default}}
        if values.get("mining", {}).get("batch") == "all":
            suggestion["mining"] = {"batch": "semihard"}
        return why, suggestion

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        rho, tau, xi = (float(self.setting(k)) for k in ("rho", "tau", "xi"))
        g1_sq = (rho * d_ap) ** 2
        g2_sq = (tau * F.softplus(d_ap - d_an + self.margin)) ** 2
        assert dc_a is not None and dc_p is not None and dc_n is not None
        g3_sq = (xi * dc_a) ** 2 + (xi * dc_p) ** 2 + (xi * dc_n) ** 2
        return {"loss": g1_sq + g2_sq + g3_sq, "g1": g1_sq, "g2": g2_sq, "g3": g3_sq}

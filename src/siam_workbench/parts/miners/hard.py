"""Hard mining (Simo-Serra et al. 2015, adapted): of r× more candidate triplets, train on the
hardest 1/r by their own loss.

It ranks the embeddings the step already computed and the gradient flows from exactly the kept
triplets, so what is ranked is what is trained on (the earlier trainer re-augmented the kept
triplets before training on them).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from siam_workbench.base.fields import Field
from siam_workbench.parts.miners.base import BatchMiner
from siam_workbench.parts.miners.registry import register_miner


@register_miner
class Hard(BatchMiner):
    name = "hard"
    label = "hard (top 1/r by loss)"
    short = "hard"
    help = ("Keeps the hardest 1/r of the batch's triplets by loss; in the independent-triplet "
            "mode r× more triplets are drawn first (Simo-Serra et al. 2015).")
    params = {
        "hard_ratio": Field(int, 4, "Hard mining: draw r× more triplets, keep the hardest 1/r",
                            min=1, max=64, label="r — keep the hardest 1/r of the triplets"),
    }

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        return (f"<b>Hard triplets</b>: keep the hardest 1/r of the batch's triplets by loss "
                f"(<b>r = {cls.value(settings, 'hard_ratio')}</b>); with independent triplets, "
                "r× more are drawn first.")

    def oversample(self) -> int:
        return max(1, int(self.setting("hard_ratio")))

    def select(self, d_ap: torch.Tensor, d_an: torch.Tensor, loss: torch.Tensor,
               margin: float) -> torch.Tensor:
        flat = loss.detach().reshape(-1)
        keep = max(1, math.ceil(flat.numel() / self.oversample()))
        mask = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
        mask[select_hardest(flat, keep)] = True
        return mask.view(loss.shape)


def select_hardest(per_triplet_loss: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of the ``n`` triplets with the highest loss; NaN losses rank lowest so one broken
    triplet cannot fill the batch."""
    if per_triplet_loss.dim() != 1:
        raise ValueError(f"per_triplet_loss must be 1-D, got shape {tuple(per_triplet_loss.shape)}")
    m = per_triplet_loss.shape[0]
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    if n >= m:
        return torch.arange(m, device=per_triplet_loss.device)
    loss = torch.nan_to_num(per_triplet_loss.detach().float(), nan=-math.inf)
    return torch.topk(loss, n, largest=True, sorted=False).indices

"""Semi-hard triplets (Schroff et al. 2015, FaceNet): the negative is farther than the positive
but inside the margin, so the triplet still teaches without the noise of the hardest ones."""

from __future__ import annotations

import torch

from siam_workbench.parts.miners.base import BatchMiner
from siam_workbench.parts.miners.registry import register_miner


@register_miner
class SemiHard(BatchMiner):
    name = "semihard"
    label = "semi-hard"
    short = "semi"
    help = ("Keeps triplets with d_ap < d_an < d_ap + α: negatives farther than the positive "
            "but still inside the margin (FaceNet).")

    def select(self, d_ap: torch.Tensor, d_an: torch.Tensor, loss: torch.Tensor,
               margin: float) -> torch.Tensor:
        ap = d_ap.detach()
        an = d_an.detach()
        mask = (an > ap) & (an < ap + margin)
        return mask.expand(loss.shape)

"""Train on every triplet the batch holds (the paper's setting: each drawn triplet counts)."""

from __future__ import annotations

import torch

from siam_workbench.parts.miners.base import BatchMiner
from siam_workbench.parts.miners.registry import register_miner


@register_miner
class AllTriplets(BatchMiner):
    name = "all"
    label = "all triplets"
    quiet = True  # the paper's setting: run ids and the project tree leave it out
    help = ("Every valid triplet of the batch is trained on; in the P×K mode that is every "
            "anchor × positive × negative of the batch.")

    def select(self, d_ap: torch.Tensor, d_an: torch.Tensor, loss: torch.Tensor,
               margin: float) -> torch.Tensor:
        return torch.ones(loss.shape, dtype=torch.bool, device=loss.device)

"""Embedding passes, class centers ("ideal vectors") and nearest-center classification.

Shared by the trainer (epoch end), evaluation, query and the GUI, so accuracy means the same
thing everywhere: the share of images whose nearest class center is their own class.
Everything works in blocks so 900 k reference images or 11,172 centers never need an N×C matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.train.losses.registry import space_for_loss  # noqa: F401  (re-exported)
from core.train.losses.spaces import SPACES, to_space  # noqa: F401  (re-exported)


def images_to_input(images: Tensor, device: torch.device | str) -> Tensor:
    """uint8 ``[B,H,W]`` (ink 255) → float ``[B,1,H,W]`` in [0,1] on ``device``."""
    return images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


@torch.no_grad()
def embed(
    model: nn.Module,
    images: Tensor,
    device: torch.device | str,
    space: str = "softplus",
    batch: int = 1024,
) -> Tensor:
    """Embed uint8 images in batches (eval mode restored afterwards); returns float32 on CPU."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, images.shape[0], batch):
            x = images_to_input(images[start:start + batch], device)
            out.append(to_space(model(x), space).float().cpu())
    finally:
        model.train(was_training)
    if not out:
        dim = _out_dim(model)
        return torch.zeros(0, dim)
    return torch.cat(out)


def _out_dim(model: nn.Module) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else 0


def class_centers(emb: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Mean embedding per class and mean distance of each class's samples to its center.

    Empty classes get NaN rows / NaN distance, which the miners and the classifier skip.
    """
    labels = labels.to(torch.int64)
    dim = emb.shape[1]
    sums = torch.zeros(num_classes, dim, dtype=torch.float64)
    sums.index_add_(0, labels, emb.double())
    counts = torch.bincount(labels, minlength=num_classes).double()
    centers = sums / counts.clamp(min=1).unsqueeze(1)
    dist = torch.linalg.vector_norm(emb.double() - centers[labels], dim=1)
    mean_dist = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, labels, dist)
    mean_dist = mean_dist / counts.clamp(min=1)
    empty = counts == 0
    centers[empty] = float("nan")
    mean_dist[empty] = float("nan")
    return centers.float(), mean_dist.float()


def nearest_centers(
    emb: Tensor, centers: Tensor, k: int = 5, block: int = 8192
) -> tuple[Tensor, Tensor]:
    """Top-k nearest centers per embedding: ``(distances [N,k], class indices [N,k])``."""
    valid = ~torch.isnan(centers).any(dim=1)
    ids = torch.nonzero(valid).squeeze(1)
    c = centers[valid].to(emb.device)
    k = min(k, int(c.shape[0]))
    dists, idx = [], []
    c_sq = (c * c).sum(1)
    for start in range(0, emb.shape[0], block):
        e = emb[start:start + block]
        # ‖e−c‖² = ‖e‖² − 2e·c + ‖c‖²: one matmul instead of an N×C×D broadcast.
        d2 = (e * e).sum(1, keepdim=True) - 2.0 * e @ c.T + c_sq
        d, i = torch.topk(d2, k, dim=1, largest=False)
        dists.append(d.clamp(min=0).sqrt())
        idx.append(ids.to(i.device)[i])
    if not dists:
        return torch.zeros(0, k), torch.zeros(0, k, dtype=torch.int64)
    return torch.cat(dists), torch.cat(idx)


def topk_accuracy(pred_idx: Tensor, labels: Tensor) -> tuple[float, float]:
    """(top-1, top-5) share of rows whose label is among the first 1 / 5 predictions."""
    if pred_idx.shape[0] == 0:
        return float("nan"), float("nan")
    hits = pred_idx == labels.to(pred_idx.device).unsqueeze(1)
    top1 = hits[:, :1].any(1).float().mean().item()
    top5 = hits[:, :5].any(1).float().mean().item()
    return top1, top5

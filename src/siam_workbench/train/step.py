"""One training step's loss, for both batch layouts: the embedded batch → candidate triplets →
the loss per triplet → the batch miner's choice → the mean over the kept triplets.

Kept apart from the trainer loop so the arithmetic can be tested on hand-made embeddings, and so
that what hard mining ranks is provably what the gradient flows from: the mask the batch miner
returns multiplies the very loss tensor that is back-propagated (for the built-in triplet loss
on P×K batches, an equal sum over per-pair counts of the same mask: :func:`_pk_hinge`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.spaces import dist, pairwise_dist, to_space
from siam_workbench.parts.miners.base import BatchMiner


@dataclass
class StepLoss:
    loss: Tensor  # scalar to back-propagate
    parts: dict[str, Tensor]  # detached means of the loss's parts over the kept triplets
    kept: int  # triplets trained on
    candidates: int  # triplets the batch offered
    mask: Tensor  # bool, the batch miner's choice (shape of the candidate tensor)
    # Mean anchor–negative distance over the candidates, in the loss's space: how spread out the
    # batch is. Near 0 against the margin, every embedding sits in one place (a collapse).
    spread: float = float("nan")
    # Share of the candidate triplets inside the margin (d_an < d_ap + α): the progress signal
    # when the kept loss cannot move (semi-hard keeps only 0 < loss < α, so it sits near α/2).
    active: float = float("nan")


def active_share(d_ap: Tensor, d_an: Tensor, margin: float) -> float:
    """Share of (broadcast) triplets whose negative is not yet a margin farther than the
    positive — falls as the network separates the classes, whatever the batch miner keeps."""
    with torch.no_grad():
        return float((d_an.detach() < d_ap.detach() + margin).float().mean())


def reduce_kept(per: dict[str, Tensor], mask: Tensor) -> tuple[Tensor, dict[str, Tensor], int]:
    """Mean of every entry of ``per`` over the ``mask``-ed triplets (0 when none is kept)."""
    m = mask.to(per["loss"].dtype)
    kept = int(mask.sum())
    n = max(kept, 1)
    loss = (per["loss"] * m).sum() / n
    parts = {k: ((v.detach() * m).sum() / n) for k, v in per.items() if k != "loss"}
    return loss, parts, kept


def triplet_step(emb: Tensor, centers: Tensor | None, labels: Tensor, loss_fn: Loss,
                 miner: BatchMiner) -> StepLoss:
    """Independent triplets: ``emb`` holds anchors, positives and negatives stacked (3·T rows),
    ``labels`` their classes (for the center of each sample)."""
    s = to_space(emb, loss_fn.space)
    t = s.shape[0] // 3
    sa, sp, sn = s[:t], s[t:2 * t], s[2 * t:]
    d_ap, d_an = dist(sa, sp), dist(sa, sn)
    dc: list[Tensor | None] = [None, None, None]
    if loss_fn.uses_centers and centers is not None:
        c = centers[labels]
        dc = [dist(sa, c[:t]), dist(sp, c[t:2 * t]), dist(sn, c[2 * t:])]
    per = loss_fn.per_triplet(d_ap, d_an, *dc)
    mask = _select(miner, d_ap, d_an, per["loss"], loss_fn.margin)
    loss, parts, kept = reduce_kept(per, mask)
    return StepLoss(loss, parts, kept, t, mask, float(d_an.detach().mean()),
                    active_share(d_ap, d_an, loss_fn.margin))


def _select(miner: BatchMiner, d_ap: Tensor, d_an: Tensor, loss: Tensor,
            margin: float) -> Tensor:
    """The batch miner's mask, checked (a plug-in's fault is one line naming it)."""
    from siam_workbench.parts.miners import checks

    got = checks.call(miner, "select()", miner.select, d_ap, d_an, loss, margin)
    return checks.mask(miner, got, loss.shape)


class PKLayout:
    """Index tables of a P×K batch (rows grouped in blocks of K by class): for every row, the
    K−1 other rows of its block (positives) and the B−K rows of other blocks (negatives)."""

    def __init__(self, p: int, k: int, device: torch.device | str = "cpu") -> None:
        self.p, self.k = int(p), int(k)
        b = self.p * self.k
        rows = torch.arange(b)
        block = rows // self.k
        same = block[:, None] == block[None, :]
        self.pos = rows.expand(b, b)[same & (rows[:, None] != rows[None, :])].view(b, self.k - 1)
        self.neg = rows.expand(b, b)[~same].view(b, b - self.k)
        self.pos, self.neg = self.pos.to(device), self.neg.to(device)
        self.labels_of_rows = block.to(device)  # block index of each row

    @property
    def triplets(self) -> int:
        return self.p * self.k * (self.k - 1) * (self.p * self.k - self.k)


def pk_step(emb: Tensor, centers: Tensor | None, labels: Tensor, layout: PKLayout,
            loss_fn: Loss, miner: BatchMiner) -> StepLoss:
    """Every (anchor, positive, negative) of a P×K batch at once, as ``[B, K−1, B−K]`` broadcast
    views of one distance matrix (no triplet list is materialised)."""
    s = to_space(emb, loss_fn.space)
    d = pairwise_dist(s)
    if _hinge_of_distances(loss_fn):
        return _pk_hinge(d, layout, loss_fn, miner)
    d_ap = d.gather(1, layout.pos)[:, :, None]  # [B, K−1, 1]
    d_an = d.gather(1, layout.neg)[:, None, :]  # [B, 1, B−K]
    dc: list[Tensor | None] = [None, None, None]
    if loss_fn.uses_centers and centers is not None:
        own = dist(s, centers[labels])  # [B]
        dc = [own[:, None, None], own[layout.pos][:, :, None], own[layout.neg][:, None, :]]
    per = loss_fn.per_triplet(d_ap, d_an, *dc)
    shape = torch.broadcast_shapes(*(v.shape for v in per.values()), d_ap.shape, d_an.shape)
    per = {k: v.expand(shape) for k, v in per.items()}
    mask = _select(miner, d_ap, d_an, per["loss"], loss_fn.margin).expand(shape)
    loss, parts, kept = reduce_kept(per, mask)
    return StepLoss(loss, parts, kept, layout.triplets, mask, float(d_an.detach().mean()),
                    active_share(d_ap, d_an, loss_fn.margin))


def _hinge_of_distances(loss_fn: Loss) -> bool:
    """The built-in triplet loss, ``max(0, d_ap − d_an + α)`` and nothing else (a subclass that
    redefines ``per_triplet`` takes the general path)."""
    from siam_workbench.parts.losses.triplet import TripletLoss

    return (isinstance(loss_fn, TripletLoss)
            and type(loss_fn).per_triplet is TripletLoss.per_triplet)


def _pk_hinge(d: Tensor, layout: PKLayout, loss_fn: Loss, miner: BatchMiner) -> StepLoss:
    """The P×K triplet loss with its gradient through ``[B, K−1]`` and ``[B, B−K]`` tensors only.

    Over the kept triplets whose hinge is open (``d_ap − d_an + α > 0``) the loss is linear:
    ``Σ (d_ap − d_an + α) = Σ d_ap·n_p − Σ d_an·n_n + α·n``, with ``n_p`` (``n_n``) the number
    of such triplets of each anchor–positive (anchor–negative) pair. The same value and the same
    gradient as the general path (tests/core/train/test_step.py), without back-propagating
    through the ``[B, K−1, B−K]`` hinge, mask and product — on one CPU thread ~3× cheaper. The
    batch miner sees exactly what it sees on the general path (the detached hinge values).
    """
    d_ap2 = d.gather(1, layout.pos)  # [B, K−1]
    d_an2 = d.gather(1, layout.neg)  # [B, B−K]
    margin = loss_fn.margin
    with torch.no_grad():
        ap, an = d_ap2.detach()[:, :, None], d_an2.detach()[:, None, :]
        hinge = (ap + margin - an).clamp_(min=0.0)  # [B, K−1, B−K], the per-triplet loss
        mask = _select(miner, ap, an, hinge, margin).expand(hinge.shape)
        inside = hinge > 0  # d_an < d_ap + α, bit for bit (x − y > 0 ⇔ x > y in floats)
        weight = mask & inside
        # Counts, not float sums: count_nonzero skips the bool → float copy of [B, K−1, B−K].
        kept = int(torch.count_nonzero(mask))
        n_p = torch.count_nonzero(weight, dim=2).to(d.dtype)
        n_n = torch.count_nonzero(weight, dim=1).to(d.dtype)
        spread = float(d_an2.detach().mean())
        active = int(torch.count_nonzero(inside)) / max(inside.numel(), 1)
    n = max(kept, 1)
    loss = ((d_ap2 * n_p).sum() - (d_an2 * n_n).sum() + margin * float(n_p.sum())) / n
    return StepLoss(loss, {"triplet": loss.detach()}, kept, layout.triplets, mask, spread,
                    active)

"""The miner interface: what every part of triplet selection implements.

A training step needs three decisions, and each is a *role* with interchangeable miners:

* **positive** — which classes anchors (and their positives) come from: a distribution over
  classes (:class:`PositiveMiner`), e.g. the paper's auto-probabilistic ``P_k``.
* **negative** — given an anchor's class, which class a negative comes from
  (:class:`NegativeMiner`), e.g. auto-clustering. In the P×K batch mode the same choice decides
  which classes join the anchors in a batch.
* **batch** — which of the triplets an embedded batch holds are trained on (:class:`BatchMiner`),
  e.g. all of them, semi-hard ones, or the hardest share (hard mining).

Positive and negative miners are updated at every epoch end from :class:`EpochStats` (class
centers, spreads, per-class accuracies), expose per-class arrays for the Miners view
(:meth:`Miner.series`) and checkpoint their state as tensors and primitives only (checkpoints
load with ``weights_only=True``). Sampling is vectorised numpy over uniforms the
:class:`~siam_workbench.parts.miners.sampler.Sampler` draws, so a seeded run is reproducible and a
resumed one continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from siam_workbench.base.part import Part

#: Role names, in the order the config and the GUI list them.
ROLES: tuple[str, ...] = ("positive", "negative", "batch")


@dataclass
class EpochStats:
    """What an epoch end tells the miners. Arrays are indexed by class; NaN marks classes
    without samples (or without validation samples)."""

    epoch: int  # 0-based epoch that just ended
    centers: np.ndarray  # float [C, D] class centers in the loss's space
    mean_distance: np.ndarray  # float [C] mean distance of a class's samples to its center
    present: np.ndarray  # bool [C] classes with training samples
    train_accuracy: np.ndarray | None = None  # float [C] top-1 on the un-augmented reference
    val_accuracy: np.ndarray | None = None  # float [C] top-1 on the validation data


class Miner(Part):
    """Base of every miner. Subclasses set :attr:`name`, :attr:`role`, :attr:`label`,
    :attr:`short`, :attr:`help` and :attr:`params` (the ``[mining]`` settings they read), may
    override :meth:`~siam_workbench.base.part.Part.describe`, and are registered with
    :func:`siam_workbench.parts.miners.register_miner`."""

    role: ClassVar[str] = ""
    section: ClassVar[str] = "mining"

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        """``settings`` is any object with the ``[mining]`` keys as attributes
        (``Config().mining``); ``present`` marks the classes that have training samples."""
        self.num_classes = int(num_classes)
        self.present = np.asarray(present, dtype=bool).copy()
        self.settings = settings

    def update(self, stats: EpochStats) -> None:
        """Fold one epoch's statistics into the miner's tables (default: nothing to learn)."""

    def series(self) -> dict[str, np.ndarray]:
        """Per-class float arrays ``[C]`` worth plotting per epoch (logged to mining.h5 under
        ``/extra/<name>``, shown by the Miners view)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any], same_labels: bool) -> None:
        """Restore :meth:`state_dict`. ``same_labels`` is False when the training set changed
        since the save (then drop what refers to classes that became empty)."""


class PositiveMiner(Miner):
    """Chooses anchor classes: a probability per class (0 for classes without samples)."""

    role = "positive"

    def probabilities(self) -> np.ndarray:
        """float64 ``[C]`` summing to 1 (a copy is not required; callers do not mutate)."""
        raise NotImplementedError


class NegativeMiner(Miner):
    """Chooses a negative class for each anchor class."""

    role = "negative"

    def sample(self, anchor_cls: np.ndarray, coin: np.ndarray, u: np.ndarray,
               uniform_negative: np.ndarray) -> np.ndarray:
        """Negative classes for ``anchor_cls`` (int64 ``[n]``), from two uniforms per anchor.

        ``uniform_negative`` is the uniform choice among the other present classes made from
        ``u`` (the sampler computes it once; most miners start from it). Must never return the
        anchor's class nor a class without samples.
        """
        raise NotImplementedError

    def distribution(self, anchor_class: int) -> np.ndarray:
        """float64 ``[C]``: probability of each negative class given ``anchor_class``."""
        raise NotImplementedError

    def clusters(self) -> np.ndarray:
        """int64 ``[C]`` cluster id per class (−1: none); miners without clusters say −1."""
        return np.full(self.num_classes, -1, dtype=np.int64)

    def cluster_edges(self) -> np.ndarray:
        """int64 ``[E, 2]`` class pairs that formed the clusters (empty when none)."""
        return np.zeros((0, 2), dtype=np.int64)


class BatchMiner(Miner):
    """Chooses which triplets of an embedded batch are trained on.

    :meth:`select` sees every candidate triplet's distances and loss, as tensors of one
    broadcast shape (``[T]`` for independent triplets; ``[B, K−1, B−K]`` for a P×K batch), and
    returns a boolean mask of that shape. The loss is averaged over the kept triplets, and the
    gradient flows from exactly those: hard mining ranks and trains on the same embeddings.
    """

    role = "batch"

    def oversample(self) -> int:
        """In the independent-triplet mode, draw this many times more triplets than are kept
        (so that a selective miner still trains on ``train.triplets`` per step)."""
        return 1

    def select(self, d_ap: torch.Tensor, d_an: torch.Tensor, loss: torch.Tensor,
               margin: float) -> torch.Tensor:
        raise NotImplementedError


def uniform_probabilities(present: np.ndarray) -> np.ndarray:
    """Uniform float64 distribution over the ``True`` entries of ``present`` (zeros elsewhere)."""
    present = np.asarray(present, dtype=bool)
    out = np.zeros(present.shape[0], dtype=np.float64)
    k = int(present.sum())
    if k:
        out[present] = 1.0 / k
    return out


def tensor(a: np.ndarray) -> torch.Tensor:
    """A checkpoint-safe copy of a numpy array."""
    return torch.from_numpy(np.array(a, copy=True))


def floor_index(u: np.ndarray, size: np.ndarray | int) -> np.ndarray:
    """``floor(u·size)`` clipped to ``size − 1`` (u in [0, 1)); ``size`` may be an array."""
    idx = (u * size).astype(np.int64)
    return np.minimum(idx, np.maximum(np.asarray(size, dtype=np.int64) - 1, 0))

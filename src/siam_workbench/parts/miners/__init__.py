"""Miners: the parts that choose what a training step learns from (see :mod:`.base`).

Built-in miners, one file each: positives ``random`` and ``auto-probabilistic`` (paper §3.2);
negatives ``random``, ``auto-clustering`` (§3.3) and ``distance`` (Kondrashev et al.); batch
miners ``all``, ``semihard`` and ``hard`` (Simo-Serra et al.). :class:`.sampler.Sampler` composes
one positive and one negative miner into independent triplets (the paper's mode) or P×K batches.
A miner of your own is a class registered with :func:`register_miner` in a plug-in file
(docs/ARCHITECTURE.md; a worked example is in ``examples/plugins/``).
"""

# Importing registers the built-in miners; this order is the order of the choices.
# isort: off
from siam_workbench.parts.miners import random_positive, auto_probabilistic  # noqa: F401
from siam_workbench.parts.miners import random_negative, auto_clustering, distance  # noqa: F401
from siam_workbench.parts.miners import all_triplets, semihard, hard  # noqa: F401
# isort: on
from siam_workbench.parts.miners.base import (
    ROLES,
    BatchMiner,
    EpochStats,
    Miner,
    NegativeMiner,
    PositiveMiner,
    uniform_probabilities,
)
from siam_workbench.parts.miners.registry import FIELDS, MINERS, miner_class, register_miner

__all__ = ["ROLES", "FIELDS", "MINERS", "BatchMiner", "EpochStats", "Miner", "NegativeMiner",
           "PositiveMiner", "miner_class", "register_miner", "uniform_probabilities"]

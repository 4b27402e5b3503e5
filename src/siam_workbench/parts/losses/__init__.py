"""Losses: registered classes scoring triplets from their distances (see :mod:`.base`), the one
definition of each embedding space (:mod:`.spaces`), and plain-function forms for one-off use
(:mod:`.functional`). Built in: ``metric`` (paper §3.4), ``triplet``, ``contrastive``; a loss
of your own is a class registered with :func:`register_loss` in a plug-in file."""

# Importing registers the built-in losses; this order is the order of the choices.
# isort: off
from siam_workbench.parts.losses import metric, contrastive, triplet  # noqa: F401
# isort: on
from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.functional import (
    contrastive_loss,
    contrastive_per_sample,
    metric_loss,
    metric_per_sample,
    triplet_loss,
    triplet_per_sample,
)
from siam_workbench.parts.losses.registry import (
    FIELDS,
    LOSSES,
    loss_class,
    register_loss,
    space_for_loss,
)

__all__ = ["FIELDS", "LOSSES", "Loss", "contrastive_loss", "contrastive_per_sample",
           "loss_class", "metric_loss", "metric_per_sample", "register_loss", "space_for_loss",
           "triplet_loss", "triplet_per_sample"]

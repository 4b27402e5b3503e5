"""The loss interface: a per-triplet loss written on distances.

Every loss here is a function of five distances per triplet: anchor–positive ``d_ap``,
anchor–negative ``d_an`` and each sample's distance to its class center (``dc_a``, ``dc_p``,
``dc_n``; only losses with :attr:`Loss.uses_centers` look at them). Written that way, one
definition serves both batch layouts: independent triplets pass ``[T]`` tensors, a P×K batch
passes broadcastable views of its distance matrix (``[B, K−1, 1]`` against ``[B, 1, B−K]``) and
never materialises the triplets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor

from siam_workbench.base.part import Part


class Loss(Part):
    """Base of every loss; see :class:`siam_workbench.base.part.Part` for what a part declares."""

    section: ClassVar[str] = "loss"
    # siam_workbench.parts.losses.spaces.SPACES; a loss may set its own per instance (triplet)
    space: str = "raw"
    uses_centers: ClassVar[bool] = False
    parts: ClassVar[tuple[str, ...]] = ()  # names of the parts per_triplet returns

    def __init__(self, settings: Any) -> None:
        """``settings`` is ``Config().loss`` (or any object with the ``[loss]`` keys)."""
        self.settings = settings

    @classmethod
    def collapse_remedy(cls, settings: Any, values: Mapping[str, Mapping[str, Any]]
                        ) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """When guided training sees the embedding collapse under this loss
        (:func:`siam_workbench.infer.advice.collapsed`): why this loss does that, as a
        sentence, and the settings that leave it — or None, for the generic advice (a smaller
        learning rate). ``values`` is the whole config as plain tables."""
        return None

    @property
    def margin(self) -> float:
        """The margin α, which semi-hard mining also uses."""
        return float(self.setting("alpha"))

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        """``{"loss": total, part: value, …}`` per triplet, broadcast over the inputs' shapes;
        the parts add up to the total."""
        raise NotImplementedError

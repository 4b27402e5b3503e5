"""The loss interface: a per-triplet loss written on distances.

Every loss here is a function of five distances per triplet: anchor–positive ``d_ap``,
anchor–negative ``d_an`` and each sample's distance to its class center (``dc_a``, ``dc_p``,
``dc_n``; only losses with :attr:`Loss.uses_centers` look at them). Written that way, one
definition serves both batch layouts: independent triplets pass ``[T]`` tensors, a P×K batch
passes broadcastable views of its distance matrix (``[B, K−1, 1]`` against ``[B, 1, B−K]``) and
never materialises the triplets.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from siam_workbench.base.fields import Field


class Loss:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    help: ClassVar[str] = ""
    # siam_workbench.parts.losses.spaces.SPACES; a loss may set its own per instance (triplet)
    space: str = "raw"
    uses_centers: ClassVar[bool] = False
    parts: ClassVar[tuple[str, ...]] = ()  # names of the parts per_triplet returns
    params: ClassVar[dict[str, Field]] = {}

    def __init__(self, settings: Any) -> None:
        """``settings`` is ``Config().loss`` (or any object with the ``[loss]`` keys)."""
        self.settings = settings

    def setting(self, key: str) -> Any:
        value = getattr(self.settings, key, None)
        return self.params[key].default if value is None and key in self.params else value

    @property
    def margin(self) -> float:
        """The margin α, which semi-hard mining also uses."""
        return float(self.setting("alpha"))

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        """``{"loss": total, part: value, …}`` per triplet, broadcast over the inputs' shapes;
        the parts add up to the total."""
        raise NotImplementedError

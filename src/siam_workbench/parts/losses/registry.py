"""Which losses exist, and the ``[loss]`` settings they declare (the schema's ``[loss]`` section
is :data:`FIELDS`, as ``[mining]`` is the miners'; see siam_workbench.parts.miners.registry)."""

from __future__ import annotations

from dataclasses import replace

from siam_workbench.base.errors import SiamError
from siam_workbench.base.fields import Field
from siam_workbench.base.part import PartRegistry, assign_keys
from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.spaces import SPACES

LOSSES: PartRegistry[type[Loss]] = PartRegistry("a loss")

_KIND = Field(str, "triplet", "Loss function", label="Loss — what a triplet is scored by")
#: The ``[loss]`` section of the schema (siam_workbench.project.config.SCHEMA["loss"] is this dict).
FIELDS: dict[str, Field] = {"kind": _KIND}


def register_loss(cls: type[Loss]) -> type[Loss]:
    """Class decorator: make ``cls`` available as ``[loss] kind = "<cls.name>"``; its params
    join ``[loss]``, flat where every loss reading the key declares it identically (the built-in
    losses' ``alpha``), as ``<name>.<key>`` where it differs (a plug-in's own ``alpha``)."""
    if not cls.name:
        raise SiamError(f"loss {cls.__name__}: needs a name")
    if cls.space not in SPACES:
        raise SiamError(f"loss {cls.name!r}: space must be one of {', '.join(SPACES)}")
    add = assign_keys(cls, FIELDS, list(LOSSES.values()), ("kind",))
    LOSSES.add(cls.name, cls)
    FIELDS.update(add)
    FIELDS["kind"] = replace(FIELDS["kind"], choices=tuple(LOSSES))
    return cls


def loss_class(name: str) -> type[Loss]:
    try:
        return LOSSES[name]
    except KeyError:
        raise SiamError(f"loss.kind must be one of {', '.join(LOSSES)}; got {name!r}") from None


def space_for_loss(kind: str, settings: object = None) -> str:
    """The embedding space a loss measures in (where its class centers live), for its
    ``[loss]`` settings (a loss may choose by a setting: the triplet loss's ``normalize``)."""
    return loss_class(kind)(settings if settings is not None else object()).space

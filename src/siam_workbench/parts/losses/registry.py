"""Which losses exist, and the ``[loss]`` settings they declare (the schema's ``[loss]`` section
is :data:`FIELDS`, as ``[mining]`` is the miners'; see siam_workbench.parts.miners.registry)."""

from __future__ import annotations

from dataclasses import replace

from siam_workbench.base.errors import SiamError
from siam_workbench.base.fields import Field
from siam_workbench.base.partnames import check_class_name, same_part
from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.spaces import SPACES

LOSSES: dict[str, type[Loss]] = {}

_KIND = Field(str, "triplet", "Loss function", label="Loss — what a triplet is scored by")
#: The ``[loss]`` section of the schema (siam_workbench.project.config.SCHEMA["loss"] is this dict).
FIELDS: dict[str, Field] = {"kind": _KIND}


def register_loss(cls: type[Loss]) -> type[Loss]:
    """Class decorator: make ``cls`` available as ``[loss] kind = "<cls.name>"``; its params
    join ``[loss]`` (a key two losses share, such as ``alpha``, must be declared identically)."""
    if not cls.name:
        raise SiamError(f"loss {cls.__name__}: needs a name")
    if cls.space not in SPACES:
        raise SiamError(f"loss {cls.name!r}: space must be one of {', '.join(SPACES)}")
    known = LOSSES.get(cls.name)
    if known is not None and not same_part(known, cls):
        raise SiamError(f"a loss named {cls.name!r} already exists ({known.__module__}."
                        f"{known.__qualname__}); a plug-in cannot replace a registered part")
    check_class_name(cls, list(LOSSES.values()))
    for key, field in cls.params.items():
        old = FIELDS.get(key)
        others = [c for c in LOSSES.values() if key in c.params
                  and c.__qualname__ != cls.__qualname__]
        if key == "kind" or (old is not None and old != field and others):
            raise SiamError(f"loss {cls.name!r}: parameter loss.{key} is already declared "
                            "differently")
    LOSSES[cls.name] = cls
    FIELDS.update(cls.params)
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

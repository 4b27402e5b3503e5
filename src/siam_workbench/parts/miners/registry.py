"""Which miners exist, and the ``[mining]`` settings they declare.

The ``[mining]`` section of the configuration schema *is* :data:`FIELDS`: the three role keys
(``positive``, ``negative``, ``batch``, whose choices are the registered names) plus every
registered miner's own parameters. Registering a miner — built in, from a project's plug-in file
or from an installed package — therefore adds it to validation, ``siam train --set``, the
config form and ``siam parts`` with no other change.
"""

from __future__ import annotations

from dataclasses import replace

from siam_workbench.base.errors import SiamError
from siam_workbench.base.fields import Field
from siam_workbench.base.part import PartRegistry, assign_keys
from siam_workbench.parts.miners.base import ROLES, Miner

#: role → name → miner class, in registration order.
MINERS: dict[str, PartRegistry[type[Miner]]] = {role: PartRegistry(f"a {role} miner")
                                                 for role in ROLES}

_ROLE_FIELDS = {
    "positive": Field(str, "auto-probabilistic", "Anchor/positive class miner",
                      label="Positive miner — which classes anchors come from"),
    "negative": Field(str, "auto-clustering", "Negative class miner",
                      label="Negative miner — which classes negatives come from"),
    "batch": Field(str, "semihard", "Which triplets of an embedded batch are trained on "
                   "(paper: all)",
                   label="Batch miner — which triplets of a batch are trained on"),
}

#: The ``[mining]`` section of the schema (siam_workbench.project.config.SCHEMA["mining"] is this
#: dict).
FIELDS: dict[str, Field] = dict(_ROLE_FIELDS)


def register_miner(cls: type[Miner]) -> type[Miner]:
    """Class decorator: make ``cls`` available as ``[mining] <cls.role> = "<cls.name>"``.

    Its :attr:`~Miner.params` join the ``[mining]`` section: flat where no other miner declared
    that key differently (two miners may share a knob), as ``<name>.<key>`` where one did
    (:func:`siam_workbench.base.part.assign_keys`). Registering the same class twice is harmless (a
    plug-in module imported again).
    """
    if cls.role not in ROLES:
        raise SiamError(f"miner {cls.__name__}: role must be one of {', '.join(ROLES)}, "
                        f"got {cls.role!r}")
    if not cls.name or not isinstance(cls.name, str):
        raise SiamError(f"miner {cls.__name__}: needs a name")
    everyone = [m for by_name in MINERS.values() for m in by_name.values()]
    add = assign_keys(cls, FIELDS, everyone, tuple(_ROLE_FIELDS))
    MINERS[cls.role].add(cls.name, cls, everyone)
    FIELDS.update(add)
    role_field = FIELDS[cls.role]
    FIELDS[cls.role] = replace(role_field, choices=tuple(MINERS[cls.role]))
    return cls


def miner_class(role: str, name: str) -> type[Miner]:
    """The registered class, or one line naming the role and the known names."""
    try:
        return MINERS[role][name]
    except KeyError:
        known = ", ".join(MINERS.get(role, {})) or "none"
        raise SiamError(f"mining.{role} must be one of {known}; got {name!r}") from None

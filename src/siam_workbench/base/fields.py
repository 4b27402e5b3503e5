"""One setting of the configuration schema.

Kept apart from :mod:`siam_workbench.project.config` so that parts (miners, losses) can declare the
settings
they read without importing the whole schema, and the schema can collect them from the parts'
registries without an import cycle.

A field says everything a form, ``siam parts`` and the help need to show it: its kind and range,
a ``label`` (the form's text; the key stays in the tooltip), a ``unit`` and ``used_when`` — the
setting it depends on and the values under which it has any effect (the form greys it out
otherwise). A part's own parameters need no ``used_when`` for the part itself: a miner's
parameter is used while its role names that miner, a loss's while ``loss.kind`` names that loss
(:func:`siam_workbench.project.partinfo.unused`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    kind: type  # int, float, bool, str or list (of str)
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    label: str = ""  # human label for forms, e.g. "γ (gamma) — amplification"
    unit: str = ""  # shown after the value: "px", "°", "× steps"
    #: ``("section.key", (values…))``: the setting has an effect only while that one has one of
    #: these values (``("augment.blur", (True,))``); None: always (or decided by its part).
    used_when: tuple[str, tuple[Any, ...]] | None = None

    def title(self, key: str) -> str:
        """The label, or the key in words when none was declared (``blur_p`` → "Blur p")."""
        text = self.label or key.rsplit(".", 1)[-1].replace("_", " ").capitalize()
        return f"{text} ({self.unit})" if self.unit and self.unit not in text else text

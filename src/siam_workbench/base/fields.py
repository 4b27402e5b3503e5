"""One setting of the configuration schema.

Kept apart from :mod:`siam_workbench.project.config` so that parts (miners, losses) can declare the
settings
they read without importing the whole schema, and the schema can collect them from the parts'
registries without an import cycle.
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

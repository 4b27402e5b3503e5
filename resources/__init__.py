"""Files shipped with Siam Workbench: the style sheet and icons of the desktop app, the named
alphabets' class lists and the default settings presets.

They live in one top-level folder, outside the layers, because both halves use them: the
engine reads the alphabets and presets, the GUI the style sheet and icons. Installed as package
data, so :func:`path` works the same from a checkout and from a wheel.
"""

from __future__ import annotations

from importlib import resources as _res
from pathlib import Path


def path(*parts: str) -> Path:
    """Filesystem path of a shipped file, e.g. ``path("alphabets", "digits.txt")``."""
    return Path(str(_res.files(__name__).joinpath(*parts)))


def read_text(*parts: str) -> str:
    return path(*parts).read_text(encoding="utf-8")

"""Qt-free adapters between the GUI and engine modules that may not exist in every build.

The workbench is written against the engine's documented contracts (siam_workbench.data.alphabets,
siam_workbench.data.fonts, siam_workbench.data.render, siam_workbench.train.trainer,
siam_workbench.infer.evaluate). :func:`require` imports one and turns "not built yet"
into a :class:`SiamError` the GUI can show, instead of an ImportError at start-up; panels that
need a missing module show a placeholder naming it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import SCHEMA

_PURPOSE = {
    "alphabets": "named alphabets",
    "fonts": "font discovery and coverage",
    "render": "glyph rendering",
    "trainer": "training",
    "evaluate": "run evaluation",
}
_MODULES = {
    "alphabets": "siam_workbench.data.alphabets",
    "fonts": "siam_workbench.data.fonts",
    "render": "siam_workbench.data.render",
    "trainer": "siam_workbench.train.trainer",
    "evaluate": "siam_workbench.infer.evaluate",
}


def available(name: str) -> bool:
    try:
        require(name)
    except SiamError:
        return False
    return True


def require(name: str) -> ModuleType:
    """Import an engine module by short name or raise a user-facing error naming the missing
    part."""
    full = _MODULES.get(name, f"core.{name}")
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            what = _PURPOSE.get(name, name)
            raise SiamError(f"this build has no {full} ({what}) yet") from None
        raise


# -- progress callbacks ------------------------------------------------------------------------
def progress_adapter(fn: Callable[[str, int, int], None]) -> Callable[..., None]:
    """Accept ``progress(done, total)`` or ``progress(label, done, total)`` from the engine."""

    def cb(*args: Any) -> None:
        if len(args) >= 3:
            fn(str(args[0]), int(args[-2]), int(args[-1]))
        elif len(args) == 2:
            fn("", int(args[0]), int(args[1]))

    return cb


def call_with_supported(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` dropping keyword arguments its signature does not accept."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(*args, **kwargs)
    return fn(*args, **{k: v for k, v in kwargs.items() if k in params})


# -- font role tokens --------------------------------------------------------------------------
def face_token(face: Any) -> str:
    """What the Data tab writes into ``data.*_fonts`` for one face: its file name, with ``#i``
    for faces beyond the first in a collection (the same spelling as the face id)."""
    path = Path(face.path)
    index = int(getattr(face, "index", 0) or 0)
    if index or path.suffix.lower() in (".ttc", ".otc"):
        return f"{path.name}#{index}"  # a collection: the name alone would match every face
    return path.name


def missing_tokens(tokens: list[str], faces: list[Any]) -> list[str]:
    """Role tokens that name no installed face (fonts that disappeared between sessions)."""
    fonts = require("fonts")
    return [t for t in tokens if not fonts.match_faces(t, faces)]


# -- repairing a project file ------------------------------------------------------------------
_KEY_RE = re.compile(r"\b([a-z_]+)\.([a-z_0-9]+)\b")
_UNKNOWN_KEY_RE = re.compile(r"unknown key ([a-z_]+)\.([A-Za-z_0-9-]+)")
_SECTION_RE = re.compile(r"unknown section \[([^\]]+)\]")


def offending_key(message: str) -> tuple[str, str | None] | None:
    """The ``(section, key)`` a config error names (key None for an unknown section).

    Pass the message without its file prefix (``SiamError.path``): a path such as
    ``.../project.toml`` would otherwise read as section ``project``, key ``toml``.
    """
    m = _SECTION_RE.search(message)
    if m:
        return m.group(1), None
    m = _UNKNOWN_KEY_RE.search(message)
    if m:
        return m.group(1), m.group(2)
    for m in _KEY_RE.finditer(message):
        section, key = m.group(1), m.group(2)
        if key in SCHEMA.get(section, {}):
            return section, key
    return None


def reset_key(file: Path, section: str, key: str | None,
              rename_to: str | None = None) -> Path:
    """Fix ``section.key`` in ``file``: rename it to ``rename_to`` keeping its value (a typo),
    or remove it (or the whole unknown section) so its default applies. Comments and layout
    are kept (:func:`siam_workbench.project.tomledit.fix_key`); the original is kept as
    ``project.toml.bak``, whose path is returned."""
    from siam_workbench.project.tomledit import fix_key

    return fix_key(file, section, key, rename_to)


def suggested_key(message: str) -> str | None:
    """The key a config error suggests (``did you mean `epochs`?``), if any."""
    m = re.search(r"did you mean `([A-Za-z_0-9]+)`", message)
    return m.group(1) if m else None

"""Plug-ins: miners and losses written outside this package.

Two ways in, both ending in :func:`core.train.miners.register_miner` /
:func:`core.train.losses.register_loss` calls at import time:

* a Python file named in a project's ``[project] plugins`` list (paths relative to the project
  folder), imported when the project is opened — opening a project runs its plug-ins, exactly as
  running its code would;
* an installed package that declares an entry point in the group ``siam_workbench.plugins``
  (``[project.entry-points."siam_workbench.plugins"] my_miners = "my_pkg.miners"``), imported
  the first time any project is opened.

Once registered, a part is an ordinary choice: validated by the schema, settable with
``siam train --set``, listed by ``siam parts``, shown in the config form and the Miners view.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from core.errors import SiamError

ENTRY_POINT_GROUP = "siam_workbench.plugins"

_loaded_files: dict[str, tuple[int, ModuleType]] = {}  # resolved path → (mtime_ns, module)
_entry_points_done = False


def load_entry_points() -> list[str]:
    """Import every installed ``siam_workbench.plugins`` entry point once; their names."""
    global _entry_points_done
    if _entry_points_done:
        return []
    _entry_points_done = True
    names = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken third-party package must not stop the app
            raise SiamError(f"plug-in entry point {ep.name!r} ({ep.value}) failed to load: "
                            f"{type(exc).__name__}: {exc}") from None
        names.append(ep.name)
    return names


def load_plugin_file(path: Path) -> ModuleType:
    """Import one plug-in file (again only if it changed since it was last imported)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise SiamError("plug-in file not found", path)
    mtime = path.stat().st_mtime_ns
    known = _loaded_files.get(str(path))
    if known is not None and known[0] == mtime:
        return known[1]
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"siam_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SiamError("not a Python file", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SiamError as exc:
        sys.modules.pop(name, None)
        raise SiamError(f"plug-in refused: {exc}", path) from None
    except Exception as exc:
        sys.modules.pop(name, None)
        raise SiamError(f"plug-in failed to load: {type(exc).__name__}: {exc}", path) from None
    _loaded_files[str(path)] = (mtime, module)
    return module


def load_project_plugins(root: Path, files: Iterable[str]) -> list[ModuleType]:
    """The entry points, then each of a project's plug-in files (relative to ``root``)."""
    load_entry_points()
    out = []
    for item in files:
        p = Path(item).expanduser()
        out.append(load_plugin_file(p if p.is_absolute() else Path(root) / p))
    return out

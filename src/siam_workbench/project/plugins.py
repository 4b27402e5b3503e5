"""Plug-ins: miners and losses written outside this package.

Two ways in, both ending in :func:`siam_workbench.parts.miners.register_miner` /
:func:`siam_workbench.parts.losses.register_loss` calls at import time:

* a Python file named in a project's ``[project] plugins`` list (paths inside the project
  folder), imported when the project is opened — and only if the user trusted that project with
  these files as they are now (:mod:`siam_workbench.project.trust`; otherwise the project opens in
  restricted mode and nothing is imported);
* an installed package that declares an entry point in the group ``siam_workbench.plugins``
  (``[project.entry-points."siam_workbench.plugins"] my_miners = "my_pkg.miners"``), imported
  the first time any project is opened (installing a package is the user's act of trust).

Once registered, a part is an ordinary choice: validated by the schema, settable with
``siam train --set``, listed by ``siam parts``, shown in the config form and the Miners view.

A project's plug-ins are one set: committed only when every file loads (a refused file leaves
nothing registered) and removed again — parts, settings and choices — when another project
opens, so one project's code never runs for the next one in the same process.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import require_file

ENTRY_POINT_GROUP = "siam_workbench.plugins"

_entry_points_done = False
_active: tuple[str, str] | None = None  # (project root, fingerprint) whose plug-ins are loaded
_active_changes: list[_Change] = []
_active_modules: list[ModuleType] = []


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
        except (Exception, SystemExit) as exc:  # a broken third-party package: one line
            raise SiamError(f"plug-in entry point {ep.name!r} ({ep.value}) failed to load: "
                            f"{_describe(exc)}") from None
        names.append(ep.name)
    return names


# -- registry transactions ---------------------------------------------------------------------
@dataclass
class _Change:
    table: dict[Any, Any]
    key: Any
    had: bool
    old: Any
    new: Any


def _tables() -> list[dict[Any, Any]]:
    """Every process-wide registry a plug-in can add to (importing registers the built-ins)."""
    from siam_workbench.model import backbones as models
    from siam_workbench.parts import losses, miners

    return [miners.FIELDS, losses.LOSSES, losses.FIELDS, models.MODELS, models.INPUT_SIZES,
            *miners.MINERS.values()]


def _snapshot() -> list[dict[Any, Any]]:
    return [dict(t) for t in _tables()]


def _changes_since(before: list[dict[Any, Any]]) -> list[_Change]:
    out = []
    for table, old in zip(_tables(), before):
        for key, value in table.items():
            if key not in old or old[key] is not value:
                out.append(_Change(table, key, key in old, old.get(key), value))
    return out


def _undo(changes: list[_Change]) -> None:
    """Take back what a plug-in registered (entries changed since by someone else stay), then
    make the role and kind choices list the registered parts again."""
    for ch in reversed(changes):
        if ch.table.get(ch.key) is not ch.new:
            continue
        if ch.had:
            ch.table[ch.key] = ch.old
        else:
            del ch.table[ch.key]
    from siam_workbench.parts.losses import registry as lreg
    from siam_workbench.parts.miners import registry as mreg

    for role, by_name in mreg.MINERS.items():
        mreg.FIELDS[role] = replace(mreg.FIELDS[role], choices=tuple(by_name))
    lreg.FIELDS["kind"] = replace(lreg.FIELDS["kind"], choices=tuple(lreg.LOSSES))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def _exec_file(path: Path, source: bytes | None = None) -> ModuleType:
    """Import ``path``; with ``source``, run exactly those bytes (the ones whose fingerprint
    was checked, so a file swapped in between is never what runs)."""
    path = Path(path).expanduser().resolve()
    require_file(path, "plug-in file")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"siam_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SiamError("not a Python file", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if source is None:
            spec.loader.exec_module(module)
        else:
            exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102
    except SiamError as exc:
        sys.modules.pop(name, None)
        raise SiamError(f"plug-in refused: {exc}", path) from None
    except (Exception, SystemExit) as exc:  # SystemExit: sys.exit() at import is a fault too
        sys.modules.pop(name, None)
        raise SiamError(f"plug-in failed to load: {_describe(exc)}", path) from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_plugin_file(path: Path) -> ModuleType:
    """Import one plug-in file; if it fails, whatever it registered before failing is removed.

    This runs the file: callers check trust first (:func:`load_project_plugins`)."""
    before = _snapshot()
    try:
        return _exec_file(path)
    except BaseException:
        _undo(_changes_since(before))
        raise


def load_project_plugins(root: Path, paths: Iterable[Path], fingerprint: str = "") -> \
        list[ModuleType]:
    """The entry points, then a trusted project's plug-in files as one set: the previous
    project's plug-ins are removed first; if any file fails, none of this set stays."""
    global _active, _active_changes, _active_modules
    load_entry_points()
    paths = list(paths)
    key = (str(Path(root).resolve()), fingerprint)
    if fingerprint and _active == key:
        return list(_active_modules)
    unload_project_plugins()
    contents = None
    if fingerprint:  # run the bytes that were trusted, read once
        from siam_workbench.project import trust

        contents = [(p, trust.read_plugin(p)) for p in paths]
        if trust.fingerprint_of(root, contents) != fingerprint:
            raise SiamError("a plug-in file changed while the project opened; open it again "
                            "(and trust it again if you still do)", root)
    before = _snapshot()
    modules: list[ModuleType] = []
    try:
        for i, path in enumerate(paths):
            modules.append(_exec_file(path, contents[i][1] if contents else None))
    except BaseException:
        _undo(_changes_since(before))
        _forget(modules)
        raise
    _active, _active_changes, _active_modules = key, _changes_since(before), modules
    return list(modules)


def unload_project_plugins() -> None:
    """Remove the loaded project's plug-in parts, their settings and their choices."""
    global _active, _active_changes, _active_modules
    if _active_changes:
        _undo(_active_changes)
    _forget(_active_modules)
    _active, _active_changes, _active_modules = None, [], []


def _forget(modules: list[ModuleType]) -> None:
    for module in modules:
        sys.modules.pop(module.__name__, None)

"""The example projects and plug-ins that ship with the package.

A checkout keeps them in the repository's ``projects/`` and ``examples/`` folders; a wheel
carries the same files as ``siam_workbench.projects`` / ``siam_workbench.examples`` (mapped in
``pyproject.toml``). Installed, they sit in site-packages, which a user cannot (and should not)
write to — a project writes its data and runs beside ``project.toml`` — so an example is
always *copied* to a folder of the user's before it is opened.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError

#: The repository root when running from a checkout (src layout: src/siam_workbench/project/).
_CHECKOUT = Path(__file__).resolve().parents[3]


def _root(kind: str) -> Traversable | None:
    """``projects`` or ``examples``: the checkout's folder, else the installed package's."""
    folder = _CHECKOUT / kind
    if (_CHECKOUT / "pyproject.toml").is_file() and folder.is_dir():
        return folder
    try:
        return resources.files(f"siam_workbench.{kind}")
    except ModuleNotFoundError:
        return None


def shipped_projects() -> dict[str, Traversable]:
    """Name → folder of every shipped example project (a folder with a ``project.toml``)."""
    root = _root("projects")
    if root is None:
        return {}
    return {d.name: d for d in sorted(root.iterdir(), key=lambda d: d.name)
            if d.is_dir() and d.joinpath("project.toml").is_file()}


def shipped_plugins() -> dict[str, Traversable]:
    """File name → file of every shipped example plug-in (``examples/plugins/*.py``)."""
    root = _root("examples")
    if root is None or not root.joinpath("plugins").is_dir():
        return {}
    return {f.name: f for f in sorted(root.joinpath("plugins").iterdir(), key=lambda f: f.name)
            if f.name.endswith(".py") and not f.name.startswith("_")}


def checkout_project(name: str) -> Path | None:
    """The checkout's own copy of a shipped project (opened in place), or None when installed."""
    folder = _CHECKOUT / "projects" / name
    if (_CHECKOUT / "pyproject.toml").is_file() and (folder / "project.toml").is_file():
        return folder
    return None


def copy_example(name: str, dest: Path) -> Path:
    """Copy shipped project ``name`` (its ``project.toml`` and README) into the new folder
    ``dest``; refuses an existing ``project.toml`` there, so nothing a user made is replaced."""
    projects = shipped_projects()
    if name not in projects:
        known = ", ".join(projects) or "none (the package was installed without them)"
        raise SiamError(f"no shipped example project named {name!r} (shipped: {known})", dest)
    dest = Path(dest).expanduser()
    if (dest / "project.toml").exists():
        raise SiamError("already holds a project.toml; choose another folder", dest)
    dest.mkdir(parents=True, exist_ok=True)
    for item in projects[name].iterdir():
        if item.is_file() and item.name in ("project.toml", "README.md"):
            write_text_atomic(dest / item.name, item.read_text(encoding="utf-8"))
    return dest


def copy_plugin(name: str, dest: Path) -> Path:
    """Copy shipped plug-in file ``name`` into folder ``dest`` (never over an existing file)."""
    plugins = shipped_plugins()
    if name not in plugins:
        raise SiamError(f"no shipped plug-in named {name!r} (shipped: {', '.join(plugins)})", dest)
    target = Path(dest).expanduser() / name
    if target.exists():
        raise SiamError("exists already; remove it or choose another folder", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, plugins[name].read_text(encoding="utf-8"))
    return target


def user_projects_dir() -> Path:
    """Where an installed app keeps its copies of the examples (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "siam-workbench" / "projects"


def example_project(name: str = "quickstart") -> Path:
    """A folder the app can open and write to for shipped project ``name``: the checkout's own
    folder, else the user's copy (made on first use and kept, with its runs, afterwards)."""
    own = checkout_project(name)
    if own is not None:
        return own
    dest = user_projects_dir() / name
    if (dest / "project.toml").is_file():
        return dest
    return copy_example(name, dest)


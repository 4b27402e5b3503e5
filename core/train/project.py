"""Projects: a folder with ``project.toml``, its glyph files under ``data/`` and runs under
``runs/``. Loading validates the whole file so a typo is reported by key before any work starts.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import write_text_atomic
from core.errors import SiamError
from core.train.config import Config
from core.train.plugins import load_entry_points, load_project_plugins

PROJECT_FILE = "project.toml"


@dataclass
class RunInfo:
    """What the project panel and Runs tab show without opening checkpoints."""

    path: Path
    id: str
    status: str  # running | finished | stopped | failed | unknown
    epoch: int
    epochs: int
    best_top1: float | None
    message: str = ""


@dataclass
class Project:
    root: Path
    config: Config

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def name(self) -> str:
        return self.config.project.name or self.root.name

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.root / p

    def dataset_paths(self) -> dict[str, Path]:
        d = self.config.data
        return {"train": self.resolve(d.train), "val": self.resolve(d.val),
                "test": self.resolve(d.test)}

    def save(self) -> None:
        write_text_atomic(self.file, self.config.to_toml())

    def runs(self) -> list[RunInfo]:
        if not self.runs_dir.is_dir():
            return []
        out = [read_run_info(p) for p in sorted(self.runs_dir.iterdir()) if is_run_dir(p)]
        return out


def load_project(path: str | Path) -> Project:
    """Open a project folder (or its ``project.toml``); raise naming the file and key on error."""
    path = Path(path).expanduser()
    file = path if path.name == PROJECT_FILE or path.suffix == ".toml" else path / PROJECT_FILE
    if not file.exists():
        raise SiamError(f"not a project (no {PROJECT_FILE} found)", path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SiamError(f"invalid TOML: {exc}", file) from None
    except OSError as exc:
        raise SiamError(f"cannot read ({exc.strerror})", file) from None
    plugins = raw.get("project", {}).get("plugins", []) if isinstance(raw.get("project"),
                                                                       dict) else []
    if plugins:
        if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
            raise SiamError("project.plugins must be a list of file names", file)
        load_project_plugins(_plugin_base(file), plugins)
    else:
        load_entry_points()
    try:
        config = Config(raw)
    except SiamError as exc:
        raise SiamError(str(exc), file) from None
    return Project(root=file.parent.resolve(), config=config)


def _plugin_base(file: Path) -> Path:
    """Folder that plug-in paths are relative to: the project's, also for the copy of the
    config a run keeps in ``runs/<id>/config.toml``."""
    run_dir = file.parent
    if (file.name == "config.toml" and run_dir.parent.name == "runs"
            and (run_dir.parent.parent / PROJECT_FILE).exists()):
        return run_dir.parent.parent
    return file.parent


def create_project(folder: str | Path, config: Config | None = None, name: str = "") -> Project:
    """Make a new project folder; refuses to overwrite an existing project."""
    folder = Path(folder).expanduser()
    if (folder / PROJECT_FILE).exists():
        raise SiamError("already holds a project", folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = config or Config()
    if name:
        config = config.replace({"project": {"name": name}})
    project = Project(root=folder.resolve(), config=config)
    project.save()
    return project


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.toml").exists()


def read_run_info(path: Path) -> RunInfo:
    status: dict[str, Any] = {}
    try:
        status = json.loads((path / "status.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        pass
    return RunInfo(
        path=path,
        id=path.name,
        status=str(status.get("status", "unknown")),
        epoch=int(status.get("epoch", 0)),
        epochs=int(status.get("epochs", 0)),
        best_top1=status.get("best_top1"),
        message=str(status.get("message", "")),
    )

"""Projects: a folder with ``project.toml``, its glyph files under ``data/`` and runs under
``runs/``. Loading validates the whole file so a typo is reported by key before any work starts.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import write_bytes_atomic, write_text_atomic
from core.errors import SiamError
from core.paths import check_inside, require_file
from core.train.config import Config
from core.train.plugins import load_entry_points, load_project_plugins
from core.train.runfiles import effective_status

PROJECT_FILE = "project.toml"
_MAX_TOML_BYTES = 1 << 20


@dataclass
class RunInfo:
    """What the project panel and Runs tab show without opening checkpoints."""

    path: Path
    id: str
    status: str  # starting | running | paused | finished | stopped | failed | interrupted | unknown
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

    def output_path(self, key: str) -> Path:
        """The file ``data.<key>`` names, if the tool may write it: inside the project folder.

        Files outside the project may be read (shared data), never created or replaced.
        """
        path = self.resolve(getattr(self.config.data, key))
        return check_inside(path, self.root, f"data.{key}")

    def output_dataset_paths(self) -> dict[str, Path]:
        """:meth:`dataset_paths`, each checked by :meth:`output_path` (for rendering)."""
        return {role: self.output_path(role) for role in ("train", "val", "test")}

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
    require_file(file, "project file")  # a FIFO would block the read forever
    if file.stat().st_size > _MAX_TOML_BYTES:
        raise SiamError(f"is {file.stat().st_size:,} bytes; a project file is at most "
                        f"{_MAX_TOML_BYTES:,}", file)
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
    project = Project(root=file.parent.resolve(), config=config)
    if file.name == PROJECT_FILE:  # a run's config.toml is checked by the run that reads it
        check_data_settings(project, file)
    return project


def check_data_settings(project: Project, file: Path) -> None:
    """Settings that only fail at render or training time, checked when the project opens:
    the alphabet must resolve, the images must fit the network, the test distortion must parse.
    """
    from core.data.alphabets import resolve_alphabet
    from core.data.distort import parse_distort_spec
    from core.train.models import INPUT_SIZES

    d, m = project.config.data, project.config.model
    try:
        resolve_alphabet(d.alphabet, base=project.root)
    except SiamError as exc:
        raise SiamError(f"data.alphabet: {exc}", file) from None
    want = INPUT_SIZES.get(m.backbone)
    if want is not None and d.image_size != want:
        raise SiamError(f"data.image_size is {d.image_size} but model.backbone {m.backbone} "
                        f"takes {want}×{want} images; set data.image_size = {want}", file)
    if 2 * d.margin >= d.image_size - 1:
        raise SiamError(f"data.margin {d.margin} leaves no room in a {d.image_size}-pixel "
                        "image", file)
    try:
        parse_distort_spec(d.test_distort)
    except SiamError as exc:
        raise SiamError(f"data.test_distort: {exc}", file) from None


def _plugin_base(file: Path) -> Path:
    """Folder that plug-in paths are relative to: the project's, also for the copy of the
    config a run keeps in ``runs/<id>/config.toml``."""
    run_dir = file.parent
    if (file.name == "config.toml" and run_dir.parent.name == "runs"
            and (run_dir.parent.parent / PROJECT_FILE).exists()):
        return run_dir.parent.parent
    return file.parent


def create_project(folder: str | Path, config: Config | None = None, name: str = "",
                   alphabet: str | None = None, preset: str = "recipe",
                   overrides: Sequence[str] = ()) -> Project:
    """Make a new project folder; refuses to overwrite an existing project.

    Without ``config`` the project gets the default recipe (or ``preset``) sized to
    ``alphabet`` (core.train.recipe). A class-list file outside the folder is copied in, so the
    project still opens when the file moves."""
    from core.train.recipe import new_project_config

    folder = Path(folder).expanduser()
    if (folder / PROJECT_FILE).exists():
        raise SiamError("already holds a project", folder)
    class_list = None
    if config is None:
        class_list = _class_list_file(alphabet)
        config = new_project_config(str(class_list) if class_list else alphabet, preset=preset,
                                    overrides=overrides)
        if class_list is not None:
            config = config.replace({"data": {"alphabet": class_list.name}})
    folder.mkdir(parents=True, exist_ok=True)
    if class_list is not None:
        _copy_class_list(class_list, folder / class_list.name)
    if name:
        config = config.replace({"project": {"name": name}})
    project = Project(root=folder.resolve(), config=config)
    project.save()
    return project


def _class_list_file(alphabet: str | None) -> Path | None:
    """The class-list file ``alphabet`` names (relative to the working folder), or None for a
    named alphabet or nothing."""
    from core.data.alphabets import NAMED

    if not alphabet or alphabet.strip() in NAMED:
        return None
    path = Path(alphabet).expanduser()
    return path.resolve() if path.is_file() else None  # else resolve_alphabet says why


def _copy_class_list(src: Path, dest: Path) -> None:
    if dest.exists():
        if dest.resolve() == src or dest.read_bytes() == src.read_bytes():
            return
        raise SiamError("exists with other content; the class list was not copied", dest)
    write_bytes_atomic(dest, src.read_bytes())


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.toml").exists()


def read_run_info(path: Path) -> RunInfo:
    """The run's ``status.json``; a live status without a live trainer reads "interrupted"."""
    status: dict[str, Any] = {}
    try:
        status = json.loads((path / "status.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        pass
    if not isinstance(status, dict):
        status = {}
    state, message = effective_status(path, str(status.get("status", "unknown")))
    best = status.get("best_top1")
    return RunInfo(
        path=path,
        id=path.name,
        status=state,
        epoch=_int(status.get("epoch")),
        epochs=_int(status.get("epochs")),
        best_top1=float(best) if isinstance(best, (int, float)) else None,
        message=message or str(status.get("message", "")),
    )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0

"""Projects: a folder with ``project.toml``, its glyph files under ``data/`` and runs under
``runs/``. Loading validates the whole file so a typo is reported by key before any work starts.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siam_workbench.base.atomic import write_bytes_atomic, write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import check_inside, is_regular_file, require_file
from siam_workbench.project import trust
from siam_workbench.project.config import Config
from siam_workbench.project.plugins import (
    load_entry_points,
    load_project_plugins,
    unload_project_plugins,
)
from siam_workbench.project.runfiles import effective_status
from siam_workbench.project.runfolder import RUNS, RunFolder

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
    #: Set when the project lists plug-ins the user has not trusted (restricted mode): none
    #: of them was imported; :meth:`require_trust` refuses what needs them.
    restricted: trust.TrustState | None = None
    #: Settings that name a plug-in's part and were shown as their defaults in restricted mode.
    restricted_keys: list[str] = field(default_factory=list)

    def restricted_line(self) -> str:
        """One line: which plug-ins did not load, why, and the command that trusts them."""
        state = self.restricted
        if state is None:
            return ""
        files = ", ".join(p.relative_to(state.root).as_posix() for p in state.paths)
        held = (f"; {', '.join(self.restricted_keys)} shown as default"
                if self.restricted_keys else "")
        return (f"restricted mode: plug-ins {files} not loaded ({state.reason}){held}; "
                f"trust the project to enable them: siam trust {state.root}")

    def require_trust(self, what: str) -> None:
        """Refuse ``what`` (e.g. "training") in restricted mode, saying what trust enables."""
        if self.restricted is not None:
            raise SiamError(f"{what} needs this project's plug-ins; {self.restricted_line()}",
                            self.file)

    def check_config_writable(self) -> None:
        """In restricted mode the config holds defaults in place of plug-in settings: writing
        it would lose the user's plug-in choices, so it is refused."""
        if self.restricted is not None and self.restricted_keys:
            self.require_trust("saving the settings")

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def name(self) -> str:
        return self.config.project.name or self.root.name

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS

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
        self.check_config_writable()
        write_text_atomic(self.file, self.config.to_toml())

    def runs(self) -> list[RunInfo]:
        if not self.runs_dir.is_dir():
            return []
        out = [read_run_info(p) for p in sorted(self.runs_dir.iterdir()) if is_run_dir(p)]
        return out


def read_project_file(path: str | Path) -> tuple[Path, dict[str, Any], list[str]]:
    """``project.toml`` (or a run's ``config.toml``) parsed, with its plug-in list; runs no
    code. Raises naming the file."""
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
        raise SiamError(f"invalid TOML: {exc}", file, line=toml_error_line(exc)) from None
    except OSError as exc:
        raise SiamError(f"cannot read ({exc.strerror})", file) from None
    plugins = raw.get("project", {}).get("plugins", []) if isinstance(raw.get("project"),
                                                                       dict) else []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise SiamError("project.plugins must be a list of file names", file, section="project",
                        key="plugins")
    return file, raw, plugins


def project_plugins(path: str | Path) -> tuple[Path, list[Path]]:
    """A project's folder and its plug-in files (each checked to lie inside it); runs no code."""
    file, _raw, plugins = read_project_file(path)
    if file.name != PROJECT_FILE:
        raise SiamError(f"not a project (no {PROJECT_FILE} found)", path)
    root = file.parent.resolve()
    return root, trust.plugin_paths(root, plugins, file)


def load_project(path: str | Path) -> Project:
    """Open a project folder (or its ``project.toml``); raise naming the file and key on error.

    Its plug-ins are imported only if the user trusted them (:mod:`siam_workbench.project.trust`);
    otherwise the project opens in restricted mode (:attr:`Project.restricted`). A run's
    ``config.toml`` never imports anything: the parts it names must already be registered.
    """
    file, raw, plugins = read_project_file(path)
    state: trust.TrustState | None = None
    if file.name != PROJECT_FILE:
        load_entry_points()  # a run's config.toml: its plug-ins are never imported
    elif plugins:
        root = file.parent.resolve()
        paths = trust.plugin_paths(root, plugins, file)
        state = trust.check(root, paths)
        if state.trusted:
            load_project_plugins(root, paths, state.fingerprint)
            state = None
        else:
            unload_project_plugins()
            load_entry_points()
    else:
        unload_project_plugins()
        load_entry_points()
    held: list[str] = []
    try:
        config = Config(raw)
    except SiamError as exc:
        if state is None:
            if plugins and file.name != PROJECT_FILE:
                raise exc.at(file, suffix=" (a run's config never loads plug-ins: the parts "
                             f"it names come from its project's trusted plug-ins "
                             f"{', '.join(plugins)})") from None
            raise exc.at(file) from None
        config, held = _restricted_config(raw, file)
    project = Project(root=file.parent.resolve(), config=config, restricted=state,
                      restricted_keys=held)
    if file.name == PROJECT_FILE:  # a run's config.toml is checked by the run that reads it
        check_data_settings(project, file, backbone_known="model.backbone" not in held)
    return project


def check_data_settings(project: Project, file: Path, backbone_known: bool = True) -> None:
    """Settings that only fail at render or training time, checked when the project opens:
    the alphabet must resolve, the images must fit the network, the test distortion must parse.
    """
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.data.distort import parse_distort_spec
    from siam_workbench.model.backbones import INPUT_SIZES

    d, m = project.config.data, project.config.model
    try:
        resolve_alphabet(d.alphabet, base=project.root)
    except SiamError as exc:
        raise SiamError(f"data.alphabet: {exc}", file, section="data", key="alphabet") from None
    want = INPUT_SIZES.get(m.backbone) if backbone_known else None
    if want is not None and d.image_size != want:
        raise SiamError(f"data.image_size is {d.image_size} but model.backbone {m.backbone} "
                        f"takes {want}×{want} images; set data.image_size = {want}", file,
                        section="data", key="image_size")
    if 2 * d.margin >= d.image_size - 1:
        raise SiamError(f"data.margin {d.margin} leaves no room in a {d.image_size}-pixel "
                        "image", file, section="data", key="margin")
    try:
        parse_distort_spec(d.test_distort)
    except SiamError as exc:
        raise SiamError(f"data.test_distort: {exc}", file, section="data",
                        key="test_distort") from None


def _restricted_config(raw: dict[str, Any], file: Path) -> tuple[Config, list[str]]:
    """The config of a project whose plug-ins did not load: settings that name a part no
    loaded code provides (or a setting no loaded part declares) take their defaults, so the
    data, runs and curves can still be browsed. The names of those settings."""
    from siam_workbench.project.config import SCHEMA

    held: list[str] = []
    clean: dict[str, Any] = {}
    for section, table in raw.items():
        if section not in ("mining", "loss", "model") or not isinstance(table, dict):
            clean[section] = table
            continue
        kept = {}
        for key, value in table.items():
            f = SCHEMA[section].get(key)
            unknown = f is None or (f.choices is not None and value not in f.choices)
            if section == "model" and key == "backbone":
                from siam_workbench.model.backbones import MODELS

                unknown = value not in MODELS
            if unknown:
                held.append(f"{section}.{key}")
            else:
                kept[key] = value
        clean[section] = kept
    try:
        return Config(clean), held
    except SiamError as exc:
        raise exc.at(file) from None


def create_project(folder: str | Path, config: Config | None = None, name: str = "",
                   alphabet: str | None = None, preset: str = "recipe",
                   overrides: Sequence[str] = ()) -> Project:
    """Make a new project folder; refuses to overwrite an existing project.

    Without ``config`` the project gets the default recipe (or ``preset``) sized to
    ``alphabet`` (siam_workbench.project.recipe). A class-list file outside the folder is copied
    in, so the project still opens when the file moves."""
    from siam_workbench.project.config import new_project_config

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
    from siam_workbench.data.alphabets import NAMED

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


def toml_error_line(exc: Exception) -> int | None:
    """The line tomllib names in its message ("... (at line 3, column 5)"), if any."""
    line = getattr(exc, "lineno", None)  # Python 3.14 gives it as a field
    if isinstance(line, int):
        return line
    import re

    m = re.search(r"at line (\d+)", str(exc))
    return int(m.group(1)) if m else None


def is_run_dir(path: Path) -> bool:
    return RunFolder(path).is_run()


def read_run_info(path: Path) -> RunInfo:
    """The run's ``status.json``; a live status without a live trainer reads "interrupted"."""
    status: dict[str, Any] = {}
    file = RunFolder(path).status
    try:
        if is_regular_file(file):  # a FIFO in its place would hang the run list
            status = json.loads(file.read_text(encoding="utf-8"))
        elif file.exists():
            status = {"message": "status.json is not a regular file (ignored)"}
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

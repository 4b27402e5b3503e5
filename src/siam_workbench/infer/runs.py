"""Run management: delete, rename, notes, the best run, and the evaluations kept with a run.

A run folder is the unit (DESIGN §4); everything here works on it whole. Deleting first renames
the folder out of the way (one atomic step, so a run is either listed complete or not at all)
and then removes it; renaming is one ``os.rename``. A run that is training is refused: its
status says ``running`` or ``paused`` and was written recently (a run whose process died shows
as interrupted once its status is old, and may then be removed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import is_regular_file
from siam_workbench.project.project import Project, RunInfo, is_run_dir
from siam_workbench.project.runfolder import EVALUATIONS, NOTES, RUNS, RunFolder  # noqa: F401 - names kept here

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,119}$")


def check_run(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    return run_dir


def _check_project_run(run_dir: Path) -> None:
    from siam_workbench.base.paths import is_inside
    from siam_workbench.project.project import PROJECT_FILE

    runs = run_dir.absolute().parent
    project = runs.parent
    if (run_dir.is_symlink() or runs.name != RUNS or not (project / PROJECT_FILE).is_file()
            or not is_inside(run_dir, project) or runs.is_symlink()):
        raise SiamError("is not a run of a project (PROJECT/runs/<id>); refused to delete it",
                        run_dir)


def is_active(run_dir: Path) -> bool:
    """True while a trainer holds the run folder's lock: a status file alone can outlive a
    killed trainer, the lock cannot."""
    from siam_workbench.base.locks import holder, run_lock_path

    return holder(run_lock_path(Path(run_dir))) is not None


def delete_run(run_dir: Path, force: bool = False) -> None:
    """Remove a run folder; refuses a run that is training unless ``force``, and any folder
    that is not a run of a project (``PROJECT/runs/<id>``, not a link): ``siam run delete``
    never deletes outside a project, whatever folder holds a ``config.toml``."""
    run_dir = check_run(run_dir)
    _check_project_run(run_dir)
    if not force and is_active(run_dir):
        raise SiamError("the run is training; stop it before deleting it", run_dir)
    trash = run_dir.with_name(f".deleted-{run_dir.name}-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(run_dir, trash)
    except OSError as exc:
        raise SiamError(f"cannot delete ({exc.strerror or exc})", run_dir) from None
    shutil.rmtree(trash, ignore_errors=True)


def rename_run(run_dir: Path, new_name: str) -> Path:
    """Give a run folder a new name (letters, digits, ``._+-``); returns the new path."""
    run_dir = check_run(run_dir)
    new_name = new_name.strip()
    if not _NAME_RE.match(new_name):
        raise SiamError(f"{new_name!r} is not a usable run name (letters, digits and . _ + - "
                        "only, at most 120)")
    target = run_dir.with_name(new_name)
    if target == run_dir:
        return run_dir
    if target.exists():
        raise SiamError("a run of that name exists already", target)
    if is_active(run_dir):
        raise SiamError("the run is training; stop it before renaming it", run_dir)
    try:
        os.rename(run_dir, target)
    except OSError as exc:
        raise SiamError(f"cannot rename ({exc.strerror or exc})", run_dir) from None
    return target


def read_notes(run_dir: Path) -> str:
    try:
        file = RunFolder(run_dir).notes
        return file.read_text(encoding="utf-8") if is_regular_file(file) else ""
    except (OSError, UnicodeDecodeError):
        return ""


def write_notes(run_dir: Path, text: str) -> None:
    """Replace the run's free-text notes (``notes.md``; empty text removes them)."""
    run_dir = check_run(run_dir)
    path = RunFolder(run_dir).notes
    if not text.strip():
        path.unlink(missing_ok=True)
        return
    write_text_atomic(path, text if text.endswith("\n") else text + "\n")


def split_path(project: Project, split: str) -> Path:
    """The project's glyph file for ``split`` (train / val / test / drawn)."""
    if split == "drawn":
        return project.resolve(project.config.data.drawn)
    try:
        return project.dataset_paths()[split]
    except KeyError:
        raise SiamError(f"unknown split {split!r} (train, val, test or drawn)") from None


def has_checkpoint(run_dir: Path) -> bool:
    return RunFolder(run_dir).has_checkpoint()


def best_run(project: Project, runs: list[RunInfo] | None = None) -> RunInfo | None:
    """The run with a checkpoint and the highest best top-1 (newest wins ties; runs without a
    score count below every scored one)."""
    runs = project.runs() if runs is None else runs
    usable = [r for r in runs if has_checkpoint(r.path)]
    if not usable:
        return None
    scored = [(r.best_top1 if r.best_top1 is not None else -1.0, i, r)
              for i, r in enumerate(usable)]
    return max(scored, key=lambda t: (t[0], t[1]))[2]


# -- evaluations kept with the run -----------------------------------------------------------

def save_evaluation(run_dir: str | Path, split: str, result: dict[str, Any],
                    checkpoint: str = "best") -> None:
    """Remember ``result`` in ``runs/<id>/evaluations.json`` under ``split`` (test, val,
    drawn, or a file name) so the Runs table can show it; written atomically."""
    path = RunFolder(run_dir).evaluations
    table = read_evaluations(run_dir)
    table[split] = {"top1": result["top1"], "top5": result["top5"], "n": result["n"],
                    "data": str(result.get("data", "")), "checkpoint": checkpoint,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_text_atomic(path, json.dumps(table, indent=1, ensure_ascii=False) + "\n")


def read_evaluations(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``split → {top1, top5, n, data, checkpoint, time}``; {} when none or unreadable."""
    try:
        file = RunFolder(run_dir).evaluations
        table = json.loads(file.read_text(encoding="utf-8")) if is_regular_file(file) else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(v, dict)}

"""The one owner of a run folder's layout (DESIGN §4): every file name of ``runs/<id>/``.

Writers (the trainer, :mod:`siam_workbench.project.runfiles`, fine-tuning, run management) and
readers (the run list, analysis, evaluation, the GUI) ask a :class:`RunFolder` for a path instead of
spelling ``"checkpoints" / "last.pt"`` themselves, so a renamed or added file is one edit here
and "is this a run with weights?" has one answer. How each file is written safely stays in
:mod:`siam_workbench.project.runfiles`; this module only names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

#: File names inside a run folder (the run's own copy of its settings marks a folder as a run).
CONFIG = "config.toml"
METRICS = "metrics.jsonl"
MINING = "mining.h5"
STATUS = "status.json"
CENTERS = "centers.npy"
CHECKPOINTS = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"
NOTES = "notes.md"
EVALUATIONS = "evaluations.json"
FINETUNE = "finetune.json"
ENROLLED = "enrolled.json"
#: The folder of a project that holds its runs.
RUNS = "runs"

Which = Literal["best", "last"]


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run folder; nothing is read or created by building one."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def mining(self) -> Path:
        return self.path / MINING

    @property
    def status(self) -> Path:
        return self.path / STATUS

    @property
    def centers(self) -> Path:
        return self.path / CENTERS

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last(self) -> Path:
        return self.checkpoints / LAST

    @property
    def best(self) -> Path:
        return self.checkpoints / BEST

    @property
    def notes(self) -> Path:
        return self.path / NOTES

    @property
    def evaluations(self) -> Path:
        return self.path / EVALUATIONS

    @property
    def finetune(self) -> Path:
        return self.path / FINETUNE

    @property
    def enrolled(self) -> Path:
        return self.path / ENROLLED

    def checkpoint(self, which: Which = "best") -> Path:
        """``best.pt`` or ``last.pt``; ``best`` falls back to ``last`` where a run has no best
        yet (it was stopped in its first epoch). The path may not exist."""
        if which == "last":
            return self.last
        return self.best if self.best.exists() else self.last

    def is_run(self) -> bool:
        """A folder holding the run's own ``config.toml`` (written once training got going)."""
        return self.path.is_dir() and self.config.exists()

    def has_checkpoint(self) -> bool:
        """Weights to query, evaluate or draw against (best or last)."""
        return self.best.exists() or self.last.exists()

    def can_resume(self) -> bool:
        """A resume continues from ``last.pt`` only."""
        return self.last.exists()

    def has_mining(self) -> bool:
        return self.mining.exists()

    def has_metrics(self) -> bool:
        return self.metrics.exists()

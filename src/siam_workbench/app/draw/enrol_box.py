"""The Draw tab's "New class from these drawings": enrol labelled drawings whose label is not a
class of the run as a new class of it (``siam_workbench.infer.enrol``; ``siam enrol RUN
--from-drawings`` is the command-line twin). The weights are not touched; the run's class set
(``runs/<id>/enrolled.json``) gains the class, and the tab reloads the model so the nearest
classes include it at once.

Which drawings: the selected ones when some are selected (they must share one label),
otherwise every saved drawing with the label typed above. Excluded drawings are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from siam_workbench.app.style import set_role
from siam_workbench.app.workers import run_in_thread

#: Marks an enrolled class in the nearest-classes list.
ENROLLED_MARK = "✚"


class EnrolBox(QWidget):
    """``context()`` → (run model or None, drawings store or None, selected rows, label).
    ``enrolled(run_dir)`` fires after a class was written."""

    enrolled = Signal(object)

    def __init__(self, context: Callable[[], tuple[Any, Any, list[int], str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.runner: Any = None
        self.button = QPushButton("New class from these drawings")
        self.button.clicked.connect(self.start)
        self.status = QLabel()
        self.status.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.button)
        lay.addWidget(self.status, 1)
        self.refresh()

    def plan(self) -> tuple[Any, str, list[int]] | str:
        """(run, label, rows) to enrol, or why not (the button's tooltip)."""
        run, store, selected, label = self._context()
        if run is None:
            return "Load a trained run first"
        if store is None or not len(store):
            return "Save labelled drawings first"
        drawings = store.drawings
        if selected:
            labels = {drawings[r].label for r in selected if r < len(drawings)}
            if len(labels) != 1:
                return "Select drawings of one label"
            (label,) = labels
            rows = [r for r in selected if not drawings[r].excluded]
        else:
            rows = [i for i, d in enumerate(drawings) if d.label == label and not d.excluded]
        if not label:
            return "Type the new class's label, or select its drawings"
        if label in run.trained_classes:
            return f"“{label}” is already a class of the run's alphabet"
        if not rows:
            return f"No saved drawing is labelled “{label}”"
        return run, label, rows

    def refresh(self) -> None:
        plan = self.plan() if self.runner is None else "Enrolling…"
        ok = not isinstance(plan, str)
        self.button.setEnabled(ok)
        self.button.setToolTip(
            f"Enrol {len(plan[2])} drawing(s) as the new class “{plan[1]}” of "
            f"{plan[0].run_dir.name} (no retraining: its center is their mean embedding)"
            if ok else plan)

    def start(self) -> bool:
        plan = self.plan()
        if isinstance(plan, str) or self.runner is not None:
            return False
        run, label, rows = plan
        _, store, _, _ = self._context()
        images = np.stack([store.drawings[r].image for r in rows])
        origins = [f"{Path(store.path).name}#{r}" for r in rows]
        run_dir = Path(run.run_dir)

        def work() -> Any:
            from siam_workbench.infer.enrol import enrol

            return enrol(run_dir, label, images, origins=origins,
                         sources=["drawn"] * len(rows))

        set_role(self.status, "hint")
        self.status.setText(f"Enrolling “{label}”…")
        self.runner = run_in_thread(work, self, "siam-enrol",
                                    lambda cs: self._done(run_dir, label, cs),
                                    lambda m, _d: self._failed(m))
        self.runner.finished.connect(self._finished)
        self.refresh()
        return True

    def _done(self, run_dir: Path, label: str, cs: Any) -> None:
        entry = cs.get(label)
        set_role(self.status)
        self.status.setText(f"{ENROLLED_MARK} “{label}” enrolled in {run_dir.name} from "
                            f"{len(entry.samples) if entry else 0} drawing(s)")
        self.enrolled.emit(run_dir)

    def _failed(self, message: str) -> None:
        set_role(self.status, "error")
        self.status.setText(f"Not enrolled: {message}")

    def _finished(self) -> None:
        self.runner = None
        self.refresh()

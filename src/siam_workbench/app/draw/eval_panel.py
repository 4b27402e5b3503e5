"""Draw › Evaluate on the drawings: the loaded run over every saved drawing — top-1 / top-5
and each misread drawing with what it was read as. The work is
:func:`siam_workbench.infer.evaluate.evaluate` on ``drawn.h5`` in a worker thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.font_model import glyph_pixmap
from siam_workbench.app.style import set_role
from siam_workbench.app.workers import run_in_thread


class DrawingsEvalPanel(QGroupBox):
    """``evaluate(run, drawn_path, drawings)``; ``evaluated(result)`` and ``finished()``."""

    evaluated = Signal(object)
    finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Evaluate on the drawings", parent)
        self.eval_btn = QPushButton("Evaluate")
        self.eval_btn.setToolTip("Run the model on every saved drawing")
        self.eval_label = QLabel()
        self.eval_label.setWordWrap(True)
        self.missed_list = QListWidget()
        self.missed_list.setIconSize(QSize(32, 32))
        self.missed_list.setMaximumHeight(150)
        self._runner: Any = None
        eb = QVBoxLayout(self)
        er = QHBoxLayout()
        er.addWidget(self.eval_btn)
        er.addWidget(self.eval_label, 1)
        eb.addLayout(er)
        eb.addWidget(self.missed_list)

    def busy(self) -> bool:
        return self._runner is not None

    def clear(self) -> None:
        self.eval_label.clear()
        self.missed_list.clear()

    def evaluate(self, run: Any, path: Path, drawings: list[Any]) -> bool:
        from siam_workbench.infer.evaluate import evaluate

        if self._runner is not None:
            return False
        set_role(self.eval_label, "hint")
        self.eval_label.setText("Evaluating…")
        self.missed_list.clear()

        def work() -> dict[str, Any]:
            result = evaluate(run, path, keep_predictions=True)
            result["classes"] = list(run.classes)
            return result

        def failed(message: str, _details: str) -> None:
            set_role(self.eval_label, "error")
            self.eval_label.setText(message)

        runner = run_in_thread(work, self, "siam-eval-drawn",
                               lambda r: self._show(r, drawings), failed)
        runner.finished.connect(self._done)
        self._runner = runner
        return True

    def _done(self) -> None:
        self._runner = None
        self.finished.emit()

    def _show(self, result: dict[str, Any], drawings: list[Any]) -> None:
        classes = result["classes"]
        unknown = result.get("unknown_classes", 0)
        set_role(self.eval_label)
        self.eval_label.setText(
            f"top-1 <b>{result['top1']:.1%}</b> · top-5 {result['top5']:.1%} of "
            f"{result['n']} drawing(s)"
            + (f" · {unknown} of classes the run does not know" if unknown else ""))
        labels, pred, rows = result["labels"], result["pred"], result["rows"]
        missed = np.flatnonzero(pred[:, 0] != labels)
        for i in missed:
            row = int(rows[i])
            img = drawings[row].image if row < len(drawings) else None
            truth, got = classes[int(labels[i])], classes[int(pred[i, 0])]
            rank = np.flatnonzero(pred[i] == labels[i])
            where = f" (it is #{int(rank[0]) + 1})" if rank.size else ""
            item = QListWidgetItem(f"drawn “{truth}” → read “{got}”{where}")
            if img is not None:
                item.setIcon(QIcon(glyph_pixmap(img, 32)))
            self.missed_list.addItem(item)
        if not missed.size:
            self.missed_list.addItem("No misrecognised drawing.")
        self.evaluated.emit(result)

"""The Evaluate page's few-shot mode: W-way K-shot episodes on the chosen glyph file, the run's
nearest support center beside pixel 1-NN on the same episodes (mean ± 95 % interval).

:class:`FewShotBox` holds the switch and the way / shot / episodes / seed choices;
:class:`EpisodeJob` runs :func:`siam_workbench.infer.episodes.evaluate_episodes` on a worker thread
with progress in episodes. ``siam eval RUN --episodes N --way W --shot K`` is the twin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from siam_workbench.app.workers import RunEvaluationJob

#: Most-confused pairs shown (as the Evaluate page's nearest-center mode).
TOP_PAIRS = 30


class EpisodeJob(RunEvaluationJob):
    """Few-shot episodes (:func:`siam_workbench.infer.episodes.evaluate_episodes`) with ``options``
    (way, shot, episodes, seed); loading and progress as every run evaluation."""

    def __init__(self, run_dir: Path, data: Path, checkpoint: str, options: dict[str, Any]
                 ) -> None:
        super().__init__(run_dir, data, checkpoint)
        self.options = dict(options)

    def evaluate(self, run: Any) -> Any:
        """The episodes' figures and, as :class:`~siam_workbench.app.evaluate_panel.EvaluateJob`
        builds them, the per-class table and the most-confused pairs over every query
        (``siam eval RUN --episodes N --per-class CSV --confused N``)."""
        from siam_workbench.infer.episodes import evaluate_episodes, json_fields
        from siam_workbench.infer.evaluate import confused_pairs, per_class_table

        result = evaluate_episodes(run, self.data, progress=self._progress, cancel=self._cancel,
                                   keep_predictions=True, **self.options)
        names = result["class_names"]
        return {"result": json_fields(result), "per_class": per_class_table(result, names),
                "pairs": confused_pairs(result, names, TOP_PAIRS)}


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    s = QSpinBox()
    s.setRange(low, high)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class FewShotBox(QWidget):
    """Few-shot switch and options, one row under the Evaluate page's run/data row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled_box = QCheckBox("Few-shot episodes")
        self.enabled_box.setToolTip(
            "Instead of nearest trained center: W classes (which the run may never have "
            "seen), K samples of each as supports, queries drawn by other sources (drawers, "
            "faces); a query is right when its nearest support center is its class. Pixel "
            "1-NN runs on the same episodes.")
        self.way = _spin(2, 1000, 5, "W: classes per episode")
        self.shot = _spin(1, 100, 1, "K: support samples per class")
        self.episodes = _spin(1, 100_000, 200, "Number of episodes")
        self.seed = _spin(0, 2**31 - 1, 0, "Episode seed: the same seed draws the same episodes")
        self.within = QCheckBox("within alphabet")
        self.within.setToolTip("All W classes of an episode from one group: the part of the "
                               "class name before its last '/' (Omniglot's alphabet)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.enabled_box)
        for label, widget in (("way", self.way), ("shot", self.shot),
                              ("episodes", self.episodes), ("seed", self.seed)):
            lay.addWidget(QLabel(label))
            lay.addWidget(widget)
        lay.addWidget(self.within)
        lay.addStretch(1)
        self.enabled_box.toggled.connect(self._sync)
        self._sync()

    def _sync(self, *_: object) -> None:
        for w in (self.way, self.shot, self.episodes, self.seed, self.within):
            w.setEnabled(self.enabled_box.isChecked())

    def active(self) -> bool:
        return self.enabled_box.isChecked()

    def options(self) -> dict[str, Any]:
        return {"episodes": self.episodes.value(), "way": self.way.value(),
                "shot": self.shot.value(), "seed": self.seed.value(),
                "within_group": self.within.isChecked()}


def summary_html(run_dir: Path, r: dict[str, Any]) -> str:
    """The result line: the run's top-1 ± interval beside pixel 1-NN's."""
    def pct(v: float, ci: float) -> str:
        return "n/a" if v != v else f"{v:.1%}" + ("" if ci != ci else f" ± {ci:.1%}")

    where = " within alphabet" if r.get("within_group") else ""
    return (f"<b>{run_dir.name}</b> on <b>{Path(r['data']).name}</b>: {r['way']}-way "
            f"{r['shot']}-shot{where}, {r['episodes']:,} episodes ({r['queries_total']:,} "
            f"queries from other sources than the supports, seed {r['seed']}): top-1 "
            f"<b>{pct(r['top1'], r['ci95'])}</b> · pixel 1-NN "
            f"{pct(r.get('pixel_top1', float('nan')), r.get('pixel_ci95', float('nan')))}"
            + (f"<br>{r['classes_known_to_run']:,} of the episodes' classes are classes "
               "the run trained on" if r.get("classes_known_to_run") else ""))

"""Placeholder panels for the Miners, Draw and Runs tabs (built in a later issue).

Each says what the tab will show, and — from the open project — whether what it needs already
exists, so the tab is useful (and never blank) until the real panel lands.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.project import Project, RunInfo


def _runs(project: Project | None) -> list[RunInfo]:
    if project is None:
        return []
    try:
        return project.runs()
    except OSError:
        return []


def _miners_status(project: Project | None) -> str:
    runs = [r for r in _runs(project) if (r.path / "mining.h5").exists()]
    if not runs:
        return ("Needed: a run with a mining log (<code>runs/&lt;id&gt;/mining.h5</code>). "
                "Start one in the <b>Train</b> tab; every epoch adds a row.")
    return (f"Ready: {len(runs)} run(s) with mining logs, latest <code>{runs[-1].id}</code> "
            f"({runs[-1].epoch} epoch(s)).")


def _draw_status(project: Project | None) -> str:
    runs = [r for r in _runs(project)
            if (r.path / "checkpoints" / "best.pt").exists()
            or (r.path / "checkpoints" / "last.pt").exists()]
    if not runs:
        return ("Needed: a trained run (a checkpoint and <code>centers.npy</code>). "
                "Train one in the <b>Train</b> tab.")
    best = max(runs, key=lambda r: r.best_top1 if r.best_top1 is not None else -1.0)
    acc = f", best top-1 {best.best_top1:.1%}" if best.best_top1 is not None else ""
    return f"Ready: {len(runs)} run(s) with checkpoints; best <code>{best.id}</code>{acc}."


def _runs_status(project: Project | None) -> str:
    runs = _runs(project)
    if not runs:
        return "Needed: at least one run. Runs appear under <code>runs/</code> as you train."
    rows = "".join(
        f"<tr><td><code>{r.id}</code></td><td>{r.status}</td><td>{r.epoch}/{r.epochs}</td>"
        f"<td>{'' if r.best_top1 is None else f'{r.best_top1:.1%}'}</td></tr>"
        for r in runs[-8:])
    return (f"{len(runs)} run(s) so far:<table cellspacing=6><tr><th align=left>run</th>"
            f"<th align=left>status</th><th align=left>epochs</th><th align=left>best top-1"
            f"</th></tr>{rows}</table>")


PANELS: dict[str, tuple[str, list[str], Callable[[Project | None], str]]] = {
    "Miners": (
        "What the miners prioritise",
        ["Per-class sampling probabilities of the auto-probabilistic positive miner, as a "
         "sorted bar chart with the class glyphs (hardest classes first).",
         "Their history over epochs as a heat map (class × epoch) from mining.h5.",
         "The auto-clustering graph: the η closest center pairs and the clusters they form, "
         "with the negatives drawn from each cluster.",
         "Mean distance of each class to its center, to see which classes are still spread."],
        _miners_status),
    "Draw": (
        "Draw a character and ask the network",
        ["A canvas to draw a glyph with the mouse or a pen.",
         "What the network sees: the drawing normalised to the model's input size.",
         "The top-k nearest classes with their glyphs and distances.",
         "Label the drawing and save it to a \"drawn\" glyph file for training."],
        _draw_status),
    "Runs": (
        "Compare runs",
        ["Every run's loss and accuracy curves overlaid, chosen from a list.",
         "A table of final and best top-1 / top-5 (train, validation, test) per run, with the "
         "settings that differ between runs.",
         "Evaluate a run on the test file, resume it, or export it."],
        _runs_status),
}


class Placeholder(QWidget):
    """Title, what the tab will show, and what it needs from the project (live)."""

    def __init__(self, tab: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title, bullets, self._status_fn = PANELS[tab]
        self.tab = tab
        card = QFrame()
        card.setFrameShape(QFrame.Shape.StyledPanel)
        card.setMaximumWidth(820)
        head = QLabel(f"<h2>{tab}: {title}</h2><p><i>This panel is coming in a later "
                      "version of Siam Workbench.</i> It will show:</p>"
                      "<ul>" + "".join(f"<li>{b}</li>" for b in bullets) + "</ul>")
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.RichText)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(24, 16, 24, 20)
        inner.addWidget(head)
        inner.addWidget(self.status)
        # Stretches rather than an alignment flag: an aligned widget loses height-for-width, and
        # the word-wrapped labels would be clipped.
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 4)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(2)
        self.update_project(None)

    def update_project(self, project: Project | None) -> None:
        if project is None:
            self.status.setText("<p>Open a project to see what is available.</p>")
        else:
            self.status.setText(f"<p><b>In this project:</b> {self._status_fn(project)}</p>")

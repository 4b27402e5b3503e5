"""The left dock: what the project holds — its glyph files (with counts) and its runs.

Counts come from :func:`siam_workbench.data.glyphs.read_info`, which reads labels but no images, so
a refresh
stays cheap even for 11,172-class files. A file that cannot be read is listed with its error
instead of being hidden: that is exactly the file the user needs to hear about.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QLabel,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.base.errors import SiamError
from siam_workbench.data.glyphs import read_info
from siam_workbench.project.project import Project
from siam_workbench.project.runfolder import RunFolder

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 3  # the second line (counts / run state) as plain text
_STATUS_ICONS = {
    "finished": QStyle.StandardPixmap.SP_DialogApplyButton,
    "running": QStyle.StandardPixmap.SP_MediaPlay,
    "paused": QStyle.StandardPixmap.SP_MediaPause,
    "stopped": QStyle.StandardPixmap.SP_MediaStop,
    "failed": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "interrupted": QStyle.StandardPixmap.SP_MessageBoxWarning,
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def run_recipe(run_dir: Path) -> str:
    """What tells runs apart at a glance: "ap / ac · semi · triplet" from its config.toml, each
    miner by its declared short name (read as plain TOML: a bad file just gives no line)."""
    from siam_workbench.project.partinfo import run_tokens

    try:
        with open(RunFolder(run_dir).config, "rb") as fh:
            cfg = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    mining, loss = cfg.get("mining", {}), cfg.get("loss", {})
    if not isinstance(mining, dict) or not isinstance(loss, dict):
        return ""
    pair = run_tokens({k: mining[k] for k in ("positive", "negative") if k in mining})
    miners = " / ".join(pair)
    batch = run_tokens({"batch": mining["batch"]}) if "batch" in mining else []
    if batch:
        miners += f" · {batch[0]}"
    kind = loss.get("kind", "")
    return " · ".join(x for x in (miners, str(kind)) if x)


class ProjectPanel(QWidget):
    """Tree of datasets and runs; double-clicking a run asks the window to show it."""

    runActivated = Signal(object)  # Path of the run folder
    datasetActivated = Signal(str)  # split name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # One column of two-line items: long run ids and counts both fit a narrow dock.
        self.tree = QTreeWidget()
        self.tree.setColumnCount(1)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(False)
        # Elide at the end: run ids differ in their time and miner, which the middle lost.
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.tree.setIndentation(12)
        self.setMinimumWidth(210)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header)
        lay.addWidget(self.tree, 1)
        self.datasets = QTreeWidgetItem(self.tree, ["Datasets"])
        self.runs = QTreeWidgetItem(self.tree, ["Runs"])
        for item in (self.datasets, self.runs):
            f = item.font(0)
            f.setBold(True)
            item.setFont(0, f)
        self.project: Project | None = None
        #: (run folder, state) of the run this window is training: shown instead of the
        #: status file, which the trainer rewrites only at epoch ends.
        self.live: tuple[Path, str] | None = None
        self.refresh(None)

    def refresh(self, project: Project | None = None, keep: bool = False) -> None:
        """Re-read counts and run states (``keep``: stay on the current project)."""
        if not keep:
            self.project = project
        project = self.project
        self.datasets.takeChildren()
        self.runs.takeChildren()
        if project is None:
            self.header.setText("<i>No project open</i>")
            return
        desc = project.config.project.description
        self.header.setText(
            f"<b>{project.name}</b><br><small>{desc}</small><br>"
            f"<small>alphabet <code>{project.config.data.alphabet}</code> · "
            f"{project.config.data.image_size}px</small>")
        self.header.setToolTip(str(project.root))
        dim = QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
        for split, path in project.dataset_paths().items():
            item = QTreeWidgetItem(self.datasets)
            item.setData(0, PATH_ROLE, str(path))
            item.setData(0, KIND_ROLE, "dataset")
            if not path.exists():
                self._set(item, f"{split}", "not rendered", str(path))
                item.setForeground(0, dim)
                continue
            try:
                info = read_info(path)
            except (SiamError, OSError) as exc:
                self._set(item, split, "unreadable — see tooltip", str(exc))
                item.setForeground(0, QBrush(Qt.GlobalColor.red))
                continue
            excl = f" · {info['excluded']:,} excluded" if info["excluded"] else ""
            render = info["attrs"].get("render")
            imported = isinstance(render, dict) and bool(render.get("importer"))
            noun = "sources" if imported else "faces"  # drawers, scans … are not faces
            self._set(item, f"{split} · {info['sources']} {noun}",
                      f"{info['samples']:,} samples · {info['classes']:,} classes{excl}",
                      f"{path}\n{info['sources']} sources, image size {info['image_size']}, "
                      f"{info['min_per_class']}–{info['max_per_class']} samples per class")
        try:
            runs = project.runs()
        except OSError:
            runs = []
        style = self.style()
        for run in reversed(runs):  # newest first
            if self.live is not None and run.path == self.live[0]:
                run.status = self.live[1]
            item = QTreeWidgetItem(self.runs)
            item.setData(0, PATH_ROLE, str(run.path))
            item.setData(0, KIND_ROLE, "run")
            epochs = f"{run.epoch}/{run.epochs}" if run.epochs else f"{run.epoch}"
            # Short enough for the panel's default width at 1280×720; the tooltip says "best".
            recipe = run_recipe(run.path)
            self._set(item, run.id, f"{run.status} · {epochs} · {_pct(run.best_top1)}",
                      f"{run.path}\n{recipe}\n{run.message or run.status}\nbest validation "
                      f"top-1 {_pct(run.best_top1)}\nDouble-click to plot it")
            if recipe:  # a line of its own between the id and the state
                item.setText(0, f"{run.id}\n  {recipe}\n  {item.data(0, DETAIL_ROLE)}")
            icon = _STATUS_ICONS.get(run.status)
            if icon is not None:
                item.setIcon(0, style.standardIcon(icon))
        if not runs:
            QTreeWidgetItem(self.runs, ["(none yet)"]).setDisabled(True)
        self.datasets.setExpanded(True)
        self.runs.setExpanded(True)

    @staticmethod
    def _set(item: QTreeWidgetItem, title: str, detail: str, tip: str) -> None:
        # One fact a line on screen: "5,642 samples · 62 classes" was cut to "5,642 sample…s".
        item.setText(0, f"{title}\n  " + detail.replace(" · ", "\n  ", 1)
                     if "samples · " in detail else f"{title}\n  {detail}")
        item.setData(0, DETAIL_ROLE, detail)
        item.setToolTip(0, tip)

    def run_items(self) -> list[QTreeWidgetItem]:
        return [self.runs.child(i) for i in range(self.runs.childCount())
                if self.runs.child(i).data(0, KIND_ROLE) == "run"]

    def _activated(self, item: QTreeWidgetItem, _col: int) -> None:
        kind = item.data(0, KIND_ROLE)
        if kind == "run":
            self.runActivated.emit(Path(item.data(0, PATH_ROLE)))
        elif kind == "dataset":
            self.datasetActivated.emit(item.text(0).split()[0])

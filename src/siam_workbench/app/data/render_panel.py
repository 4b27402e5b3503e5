"""Data › Render: render the project's train / val / test glyph files from the fonts' roles on a
worker thread (:class:`siam_workbench.app.workers.RenderJob` around
:func:`siam_workbench.data.render_splits.render_splits`) with progress, glyphs/s, ETA and Cancel;
say what is on disk, which glyphs were missing (by face) and how many exclusions were kept."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app import dialogs
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.style import set_role
from siam_workbench.app.workers import JobRunner, RenderJob


def missing_names(missing: dict[str, list[str]], limit: int = 6) -> str:
    """“ℤ ℚ in DejaVuSerif, ß in Gulim …” — which glyphs a render skipped, by face."""
    items = [(face, names) for face, names in missing.items() if names]
    shown, n = [], 0
    for face, names in items:
        take = names[:max(0, limit - n)]
        if not take:
            break
        short = face.split("#")[0].rsplit(".", 1)[0]
        shown.append(f"{' '.join(take)}{' …' if len(take) < len(names) else ''} in {short}")
        n += len(take)
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" and {rest} more face(s) (tooltip)" if rest > 0 else "")


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


class RenderPanel(QGroupBox):
    """Render button, progress, Cancel and the outcome. ``stateChanged("rendering"|"idle")``,
    ``throughputChanged(glyphs/s)`` and ``finished()`` once the files are in place (or not)."""

    stateChanged = Signal(str)
    throughputChanged = Signal(float)
    finished = Signal()

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__("Render", parent)
        self.doc = doc
        self.cancel_note = ""  # "Render cancelled, nothing written." after a cancel
        self.runner: JobRunner | None = None
        self.job: RenderJob | None = None
        self.last_render: dict[str, Any] | None = None
        self.blocked = ""  # why this project is never rendered (its data are imported samples)
        self._rate = 0.0
        self._last_progress: tuple[float, int] | None = None
        self._render_started = 0.0
        self.render_btn = QPushButton("Render datasets")
        self.render_btn.setToolTip("Render train / val / test glyph files from the fonts' roles "
                                   "(Ctrl+Shift+R)")
        self.render_btn.clicked.connect(lambda: self.render())
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.render_progress = QProgressBar()
        self.render_progress.setRange(0, 1)
        self.render_progress.setValue(0)
        self.render_progress.setFormat("")
        self.render_info = QLabel("")
        self.render_info.setWordWrap(True)
        rl = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.render_btn)
        row.addWidget(self.render_progress, 1)
        row.addWidget(self.cancel_btn)
        rl.addLayout(row)
        rl.addWidget(self.render_info)

    def update_buttons(self) -> None:
        has = self.doc.project is not None
        self.render_btn.setEnabled(has and self.runner is None and not self.blocked)
        self.cancel_btn.setEnabled(self.runner is not None)

    def describe_existing(self) -> None:
        """What is on disk already, so an idle Render box still says something useful."""
        project = self.doc.project
        if project is None:
            self.render_info.setText("")
            return
        parts = []
        if self.blocked:
            self.render_info.setText(self.blocked)
            return
        if self.last_render is not None and self.runner is None and all(
                p.exists() for p in project.dataset_paths().values()):
            # The files seen changing are the ones this render wrote: its report (samples,
            # missing glyphs, exclusions kept) says more than "On disk" would.
            return
        for split, path in project.dataset_paths().items():
            if path.exists():
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
                parts.append(f"{split} ({path.name}, {when})")
        note = self.cancel_note + " " if self.cancel_note else ""
        self.render_info.setText(note + (
            "On disk: " + ", ".join(parts) if parts else
            "Not rendered yet. Render writes the train, val and test glyph files from the "
            "fonts' roles."))

    def render(self, force: bool | None = None) -> bool:
        """Render the project's splits on a worker thread. ``force`` None asks before replacing
        existing files."""
        project = self.doc.project
        if project is None or self.runner is not None or self.blocked:
            return False
        self.cancel_note = ""
        existing = [p for p in project.dataset_paths().values() if p.exists()]
        if existing and force is None:
            force = dialogs.ask(self, "Replace datasets?",
                                "These files exist and will be replaced:\n"
                                + "\n".join(f"  {p.name}" for p in existing)
                                + "\n\nThe old files stay until the new ones are complete.")
            if not force:
                return False
        job = RenderJob(project, force=bool(force))
        runner = JobRunner(job, "siam-render", self)
        job.progress.connect(self._render_progress)
        runner.succeeded.connect(self._render_done)
        runner.failed.connect(self._render_failed)
        runner.cancelled.connect(self._render_cancelled)
        runner.finished.connect(self._render_finished)
        self.job, self.runner = job, runner
        self._rate = 0.0
        self._last_progress = None
        self._render_started = time.monotonic()
        self.render_progress.setRange(0, 0)
        self.render_progress.setFormat("preparing…")
        self.render_info.setText("Resolving fonts…")
        self.stateChanged.emit("rendering")
        self.update_buttons()
        runner.start()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()  # thread-safe; render_splits checks it between blocks
            self.render_info.setText("Cancelling…")
            self.cancel_btn.setEnabled(False)

    def _render_progress(self, _label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if self._last_progress is not None:
            t0, d0 = self._last_progress
            if now > t0 and done > d0:
                inst = (done - d0) / (now - t0)
                self._rate = inst if self._rate == 0 else 0.7 * self._rate + 0.3 * inst
        self._last_progress = (now, done)
        self.render_progress.setRange(0, max(1, total))
        self.render_progress.setValue(done)
        self.render_progress.setFormat(f"{done:,} / {total:,} glyphs")
        eta = (total - done) / self._rate if self._rate > 0 else None
        self.render_info.setText(f"{self._rate:,.0f} glyphs/s · ETA {_fmt_eta(eta)}")
        self.throughputChanged.emit(self._rate)

    def _render_done(self, reports: dict[str, Any]) -> None:
        self.last_render = reports
        secs = time.monotonic() - self._render_started
        parts, details = [], []
        for split, rep in reports.items():
            missing = sum(getattr(rep, "missing_per_face", {}).values())
            kept = getattr(rep, "kept_exclusions", 0)
            parts.append(f"{split}: {rep.samples:,} samples, {rep.faces} faces"
                         + (f", {missing:,} glyph{'s' * (missing != 1)} missing: "
                            + missing_names(getattr(rep, "missing_classes", {}))
                            if missing else "")
                         + (f", {kept:,} exclusion{'s' * (kept != 1)} kept" if kept else ""))
            for face, names in getattr(rep, "missing_classes", {}).items():
                details.append(f"{split} · {face}: {' '.join(names)}")
        set_role(self.render_info)
        self.render_info.setText(f"Rendered in {secs:.1f}s — " + "; ".join(parts))
        self.render_info.setToolTip("Missing glyphs (the face has no such character):\n"
                                    + "\n".join(details) if details else "")

    def _render_failed(self, message: str, details: str) -> None:
        set_role(self.render_info, "error")
        self.render_info.setText(f"Render failed: {message}")
        dialogs.error(self, "Render failed",
                      f"{message}\n\nExisting glyph files were left unchanged.", details)

    def _render_cancelled(self) -> None:
        # Kept until the next render: a later "On disk / Not rendered yet" line must not
        # hide that the render was cancelled.
        self.cancel_note = "Render cancelled, nothing written."
        self.describe_existing()

    def _render_finished(self) -> None:
        self.job = None
        self.runner = None
        self.render_progress.setRange(0, 1)
        self.render_progress.setValue(1 if self.last_render else 0)
        self.render_progress.setFormat("")
        self.stateChanged.emit("idle")
        self.throughputChanged.emit(0.0)
        self.update_buttons()
        self.finished.emit()


"""The Train tab: settings form, run controls, live curves, progress and an event log.

Threading: the trainer runs inside a :class:`siam_workbench.app.workers.TrainJob` on its own
QThread. Its events arrive here as queued ``Signal(object)`` emissions and are only *buffered* by
:meth:`TrainTab._on_event`; a 100 ms timer (:meth:`TrainTab._flush`) folds the buffer into the
:class:`History`, the progress labels and the plots, so the GUI redraws at most 10 times a
second however fast the iterations come. Pause / resume / stop call the job's thread-safe
methods directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app import dialogs
from siam_workbench.app.augment_panel import AugmentPreview
from siam_workbench.app.config_form import ConfigForm, describe_changes
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.history import History, read_metrics
from siam_workbench.app.notices import NoticesPanel
from siam_workbench.app.plots import TrainingPlots
from siam_workbench.app.settings import settings as app_settings
from siam_workbench.app.workers import JobRunner, TrainJob, make_trainer_factory, run_in_thread
from siam_workbench.base.errors import SiamError
from siam_workbench.infer.advice import Notice, Snapshot, advise, advise_run
from siam_workbench.project.project import Project, load_project, read_run_info
from siam_workbench.project.runfolder import RunFolder

FLUSH_MS = 100  # ≤ 10 GUI updates per second
CONFIRM_KEY = "train/confirm_changes"
LOG_EVERY_S = 2.0  # an iteration line in the log at most this often


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def loss_note(config: Any) -> str:
    """What the loss plot must say when its curve is no progress signal: semi-hard mining keeps
    only triplets with 0 < loss < α, so their mean sits near α/2 however well training goes."""
    try:
        if config.mining.batch != "semihard":
            return ""
        from siam_workbench.parts.losses import loss_class

        alpha = loss_class(config.loss.kind)(config.loss).margin
    except (AttributeError, KeyError, TypeError, ValueError):
        return ""
    return (f"semi-hard: loss ≈ α/2 = {alpha / 2:g} by design\n(0 < loss < α kept) — "
            "watch the active triplets")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


class TrainTab(QWidget):
    """Form + controls + plots; owns at most one training job at a time."""

    stateChanged = Signal(str)  # idle | starting | training | paused | stopping
    throughputChanged = Signal(float)
    runsChanged = Signal()  # a run folder appeared or changed status
    renderRequested = Signal()
    jobFinished = Signal()
    trainerEvent = Signal(object)  # every (copied) trainer event, for the Miners tab

    #: Builds the trainer factory; tests swap in a fake trainer here.
    factory_maker: Callable[..., Callable[[], Any]] = staticmethod(make_trainer_factory)

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.history = History()
        self.runner: JobRunner | None = None
        self.job: TrainJob | None = None
        self.state = "idle"
        self.run_dir: Path | None = None
        self._pending: list[Any] = []
        self._started_at = 0.0
        self._done_iters = 0
        self._total_iters = 0
        self._epochs = 0
        self._iterations = 0
        self._last_log = 0.0
        self._last_iter: Any = None
        self._flushes = 0
        self.blocked_reason = ""  # set while another job (rendering) must keep Start disabled
        self.snapshot: Snapshot | None = None  # what the live run recorded, for the notices
        self.notices: list[Notice] = []
        self._advice_tag = 0

        self.form = ConfigForm(doc)
        self.form.validityChanged.connect(lambda _ok: self._update_buttons())
        # What differs from the last run, always in view; confirmed on Start unless turned off.
        self.changes_label = QLabel()
        self.changes_label.setWordWrap(True)
        self.changes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.confirm_check = QCheckBox("Ask before starting with changed settings")
        self.confirm_check.setToolTip("On Start, list the settings that differ from the last "
                                      "run and ask; untick for “don't ask again”")
        self.confirm_check.setChecked(
            str(app_settings().value(CONFIRM_KEY, "true")).lower() != "false")
        self.confirm_check.toggled.connect(
            lambda on: app_settings().setValue(CONFIRM_KEY, "true" if on else "false"))
        doc.configChanged.connect(lambda _keys: self._show_changes())

        self.start_btn = QPushButton("Start")
        self.start_btn.setToolTip("Start a new run with these settings (Ctrl+R)")
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setToolTip("Pause after the current iteration; Resume continues")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop and save a resumable checkpoint")
        self.resume_btn = QToolButton()
        self.resume_btn.setText("Resume from run…")
        self.resume_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.resume_menu = QMenu(self.resume_btn)
        self.resume_menu.aboutToShow.connect(self._fill_resume_menu)
        self.resume_btn.setMenu(self.resume_menu)
        self.paper_btn = QPushButton("Paper defaults")
        self.paper_btn.setToolTip("Set loss, mining, augment, train and model to the paper's "
                                  "values (undoable)")
        self.start_btn.clicked.connect(self.start)
        self.pause_btn.clicked.connect(self.toggle_pause)
        self.stop_btn.clicked.connect(self.stop)
        self.paper_btn.clicked.connect(self.form.apply_paper_defaults)
        self.recipe_btn = QPushButton("Recipe defaults")
        self.recipe_btn.setToolTip("Set loss, mining, augment and train to the measured default "
                                   "recipe, sized to the alphabet (undoable; siam train "
                                   "--preset recipe)")
        self.recipe_btn.clicked.connect(self.form.apply_recipe_defaults)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.progress_label.setMinimumWidth(190)

        controls = QHBoxLayout()
        for w in (self.start_btn, self.pause_btn, self.stop_btn, self.resume_btn):
            controls.addWidget(w)
        controls.addSpacing(12)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.progress_label)

        self.plots = TrainingPlots()
        self.notices_panel = NoticesPanel()
        self.notices_panel.applyRequested.connect(self.apply_notice)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Trainer events appear here.")
        # Follow the end unless the user scrolled up: a notice card appearing beside the log
        # shrinks it, and QPlainTextEdit then stopped following by itself.
        self._log_follow = True
        self.log.verticalScrollBar().actionTriggered.connect(
            lambda _a: QTimer.singleShot(0, self._log_scrolled))

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.form, 1)
        ll.addWidget(self.changes_label)
        ll.addWidget(self.confirm_check)
        presets = QHBoxLayout()
        presets.addWidget(self.recipe_btn)
        presets.addWidget(self.paper_btn)
        ll.addLayout(presets)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.log)
        bottom.addWidget(self.notices_panel)
        bottom.setStretchFactor(0, 1)
        bottom.setStretchFactor(1, 1)
        # The curves and the augmentation preview share the big pane: editing an augment
        # setting while idle brings the preview forward (it refreshes 300 ms after the edit).
        self.augment_preview = AugmentPreview(doc)
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.views.addTab(self.plots, "Curves")
        self.views.addTab(self.augment_preview, "Augmentation preview")
        self.views.setTabToolTip(1, "The training glyphs as the [augment] settings distort "
                                 "them (CLI: siam augment)")
        doc.configChanged.connect(self._config_changed)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.views)
        right.addWidget(bottom)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 1)
        right.setSizes([700, 150])

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setCollapsible(0, False)
        self.splitter = split

        lay = QVBoxLayout(self)
        lay.addLayout(controls)
        lay.addWidget(split, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(FLUSH_MS)
        self.timer.timeout.connect(self._flush)
        doc.projectChanged.connect(self._project_changed)
        self._load_reference()
        self._update_buttons()

    # -- state -------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner is not None

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_project = self.doc.project is not None
        idle = not self.busy
        self.start_btn.setEnabled(has_project and idle and self.form.is_valid()
                                  and not self.blocked_reason)
        self.start_btn.setToolTip(
            self.blocked_reason or ("Start a new run with these settings (Ctrl+R)"
                                    if self.form.is_valid()
                                    else "Fix the settings marked in red first"))
        self.resume_btn.setEnabled(has_project and idle)
        self.paper_btn.setEnabled(has_project and idle)
        self.recipe_btn.setEnabled(has_project and idle)
        self.form.set_editable(idle)
        running = self.state in ("starting", "training", "paused")
        self.pause_btn.setEnabled(running and self.state != "starting")
        self.pause_btn.setText("Resume" if self.state == "paused" else "Pause")
        self.stop_btn.setEnabled(running)

    def set_blocked(self, reason: str) -> None:
        """Keep Start disabled (with ``reason`` as tooltip) while e.g. the data is rendered."""
        self.blocked_reason = reason
        self._update_buttons()

    def _config_changed(self, keys: Any) -> None:
        """An ``augment.*`` edit while idle shows the preview, which is about to redraw."""
        if not self.busy and any(str(k).startswith("augment.") for k in keys or ()):
            self.views.setCurrentWidget(self.augment_preview)

    def _project_changed(self) -> None:
        self._load_reference()
        if not self.busy:
            self.history = History()
            self.plots.set_epochs(0, 0)
            self.plots.set_loss_note("")
            self.plots.show_history(self.history, force=True)
            self._clear_log()
            self.run_dir = None
            self.notices_panel.clear()
            self.notices = []
            self._reset_progress()
            project = self.doc.project
            runs = project.runs() if project is not None else []
            if runs:
                # Show the project's own latest run rather than an empty (or stale) plot.
                self.show_run(runs[-1].path)
            else:
                self.plots.set_summary("No run in this project yet: press Start.")
        self._update_buttons()

    def _reset_progress(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress_label.setText("")

    # -- actions -----------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a new run with the form's settings; False if it could not start."""
        project = self.doc.project
        if project is None or self.busy:
            return False
        if project.restricted is not None:  # its plug-ins did not run: training needs them
            dialogs.error(self, "Training needs trust", project.restricted_line())
            return False
        if not self.form.is_valid():
            dialogs.error(self, "Invalid settings",
                          "\n".join(self.form.errors().values()) or "Fix the settings first.")
            return False
        try:
            config = self.form.config()
        except SiamError as exc:
            dialogs.error(self, "Invalid settings", str(exc))
            return False
        changes = self._confirm_changes()
        if changes is None:
            return False
        train = project.dataset_paths()["train"]
        if not train.exists():
            if dialogs.ask(self, "Render the data first?",
                           f"The training data ({train.name}) has not been rendered yet.\n\n"
                           "Render the project's datasets now (Data tab)?", default=True):
                self.renderRequested.emit()
            return False
        self.history = History()
        self.plots.set_epochs(config.train.epochs, config.train.iterations)
        self.plots.set_loss_note(loss_note(config))
        self.plots.show_history(self.history, force=True)
        self.plots.set_summary("Starting…")
        self._clear_log()
        self.snapshot = Snapshot(config=config)
        self.notices_panel.clear()
        self._append_log(f"Starting a new run ({config.mining.positive} / "
                         f"{config.mining.negative}, {config.loss.kind} loss)")
        for line in changes:
            self._append_log(f"  changed: {line}")
        self._launch(self.factory_maker(project, config))
        return True

    # -- changed settings --------------------------------------------------------------------
    def _load_reference(self) -> None:
        """The last run's settings, against which the form marks what changed."""
        project = self.doc.project
        runs = project.runs() if project is not None else []
        ref, name = None, ""
        for info in reversed(runs):
            try:
                ref, name = load_project(RunFolder(info.path).config).config, info.id
                break
            except SiamError:
                continue
        self.form.set_reference(ref, name)
        self._show_changes()

    def change_lines(self) -> tuple[list[str], bool]:
        """Lines naming what differs (from the last run if there is one, else the defaults)."""
        against_last = self.form.reference is not None
        diffs = self.form.differences("last" if against_last else "default")
        return describe_changes(diffs, against_last), against_last

    def _show_changes(self) -> None:
        lines, against_last = self.change_lines()
        where = f"the last run ({self.form.reference_name})" if against_last else "the defaults"
        if not lines:
            self.changes_label.setText(f"Settings as in {where}." if against_last else
                                       "All settings at their defaults.")
        else:
            names = ", ".join(line.split(" (", 1)[0] for line in lines[:4])
            more = f" and {len(lines) - 4} more" if len(lines) > 4 else ""
            self.changes_label.setText(f"<b>{len(lines)} setting(s) differ from {where}</b> "
                                       f"(marked ●): {names}{more}")
        self.changes_label.setToolTip("\n".join(lines))

    def _confirm_changes(self) -> list[str] | None:
        """The changed settings' lines, or None if the user did not want to start with them."""
        lines, against_last = self.change_lines()
        if not lines or not against_last or not self.confirm_check.isChecked():
            return lines
        text = (f"These settings differ from the last run ({self.form.reference_name}):\n\n"
                + "\n".join(f"• {line}" for line in lines)
                + "\n\nStart a new run with them? (Untick “Ask before starting with changed "
                "settings” not to be asked again; Edit → Undo reverts a change.)")
        return lines if dialogs.ask(self, "Start with changed settings?", text,
                                    default=True) else None

    def resume_run(self, run_dir: Path) -> bool:
        """Continue ``run_dir`` from its last checkpoint (train.epochs may be raised in the
        form to extend a finished run)."""
        project = self.doc.project
        if project is None or self.busy:
            return False
        if project.restricted is not None:
            dialogs.error(self, "Training needs trust", project.restricted_line())
            return False
        run_dir = Path(run_dir)
        config = None
        try:
            run_config = load_project(RunFolder(run_dir).config).config
            form_cfg = self.form.config()
            config = run_config.replace({"train": {
                "epochs": max(run_config.train.epochs, form_cfg.train.epochs),
                "device": form_cfg.train.device,
                "eval_max": form_cfg.train.eval_max}})
        except SiamError as exc:
            dialogs.error(self, "Cannot resume", str(exc))
            return False
        self.history = read_metrics(run_dir)
        self.plots.set_epochs(config.train.epochs, config.train.iterations)
        self.plots.set_loss_note(loss_note(config))
        self.plots.show_history(self.history, force=True)
        self._clear_log()
        self.snapshot = Snapshot(config=config)
        self.notices_panel.clear()
        self._append_log(f"Resuming {run_dir.name} from its last checkpoint")
        self._launch(self.factory_maker(project, config, resume=run_dir))
        return True

    def _launch(self, factory: Callable[[], Any]) -> None:
        self.views.setCurrentWidget(self.plots)  # a run's curves are what matters now
        job = TrainJob(factory)
        runner = JobRunner(job, "siam-train", self)
        job.event.connect(self._on_event)  # bound method of a GUI object: queued
        runner.succeeded.connect(self._on_final)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)
        runner.finished.connect(self._on_thread_finished)
        self.job, self.runner = job, runner
        self._pending.clear()
        self._started_at = time.monotonic()
        self._done_iters = 0
        self._total_iters = 0
        self._last_iter = None
        self.progress.setRange(0, 0)  # busy until RunStarted says how much there is
        self.progress.setFormat("starting…")
        self._set_state("starting")
        self.timer.start()
        runner.start()

    def toggle_pause(self) -> None:
        if self.state == "paused":
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        if self.job is not None and self.state == "training":
            self.job.pause()  # direct call: the worker thread is busy inside run()
            self._append_log("Paused (after the current iteration).")
            self._set_state("paused")
            self.runsChanged.emit()

    def resume(self) -> None:
        if self.job is not None and self.state == "paused":
            self.job.resume()
            self._append_log("Resumed.")
            self._set_state("training")
            self.runsChanged.emit()

    def stop(self) -> None:
        if self.job is not None and self.state in ("starting", "training", "paused"):
            self.job.stop()
            self._append_log("Stopping at the next iteration; the run keeps a resumable "
                             "checkpoint…")
            self._set_state("stopping")

    def wait(self, ms: int) -> bool:
        """Block until the job's thread ended (used when closing); True if it did."""
        return self.runner is None or self.runner.wait(ms)

    def _fill_resume_menu(self) -> None:
        menu = self.resume_menu
        menu.clear()
        project = self.doc.project
        runs = project.runs() if project else []
        ok = [r for r in runs if RunFolder(r.path).can_resume()]
        for r in reversed(ok):
            act = menu.addAction(f"{r.id}  ({r.status}, epoch {r.epoch}/{r.epochs}, "
                                 f"best {_pct(r.best_top1)})")
            act.triggered.connect(lambda _=False, p=r.path: self.resume_run(p))
        if not ok:
            act = menu.addAction("No run with a checkpoint yet")
            act.setEnabled(False)

    # -- showing a finished run --------------------------------------------------------------
    def show_run(self, run_dir: Path, project: Project | None = None) -> bool:
        """Plot a past run from its metrics.jsonl (not while training)."""
        if self.busy:
            return False
        run_dir = Path(run_dir)
        info = read_run_info(run_dir)
        self.history = read_metrics(run_dir)
        self.views.setCurrentWidget(self.plots)
        try:
            run_config = load_project(RunFolder(run_dir).config).config
        except SiamError:
            run_config = None
        self.plots.set_epochs(info.epochs, run_config.train.iterations if run_config else None)
        self.plots.set_loss_note(loss_note(run_config))
        self.plots.show_history(self.history, force=True)
        self.run_dir = run_dir
        self.plots.set_summary(
            f"Run <b>{info.id}</b>: {info.status}, epoch {info.epoch}/{info.epochs}, "
            f"best top-1 {_pct(info.best_top1)} ({self.history.accuracy_set})")
        self._clear_log()
        self._append_log(f"Showing {run_dir} ({len(self.history)} iterations, "
                         f"{len(self.history.epochs)} epochs)")
        if info.message:
            self._append_log(info.message)
        self._reset_progress()
        self.notices_panel.clear()
        self._advice_tag += 1
        tag = self._advice_tag
        run_in_thread(lambda: (tag, advise_run(run_dir)), self, "siam-advice",
                      self._advice_read, lambda m, d: None)
        return True

    def _advice_read(self, result: tuple[int, list[Notice]]) -> None:
        tag, notices = result
        if tag == self._advice_tag and not self.busy:
            self._show_notices(notices)

    def _show_notices(self, notices: list[Notice]) -> None:
        new = [n for n in notices if n.code not in {m.code for m in self.notices}]
        self.notices = notices
        self.notices_panel.set_notices(notices)
        if self.busy:
            for n in new:
                self._append_log(f"Notice: {n.title}. Next run: {n.suggestion_text()}")

    def apply_notice(self, notice: Notice) -> bool:
        """Write a notice's suggestion into the project's settings (one undoable edit)."""
        if self.doc.project is None:
            return False
        try:
            changed = self.doc.set_values(notice.suggestion, f"Apply notice: {notice.title}")
        except SiamError as exc:
            dialogs.error(self, "Cannot apply the suggestion", str(exc))
            return False
        self.notices_panel.mark_applied(notice)
        self._append_log(f"Applied for the next run: {notice.suggestion_text()}")
        return changed

    # -- events (GUI thread) -----------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        self._pending.append(event)  # cheap; the timer does the work
        self.trainerEvent.emit(event)

    def _flush(self) -> None:
        events, self._pending = self._pending, []
        if not events:
            return
        self._flushes += 1
        now = time.monotonic()
        for ev in events:
            name = type(ev).__name__
            if name == "IterationFinished":
                self.history.add_event(ev)
                if self.snapshot is not None and self.snapshot.add_iteration(ev) is not None:
                    self._show_notices(advise(self.snapshot))
                self._done_iters += 1
                self._last_iter = ev
                if now - self._last_log >= LOG_EVERY_S:
                    self._last_log = now
                    parts = " ".join(f"{k}={v:.4g}" for k, v in ev.parts.items())
                    self._append_log(f"epoch {ev.epoch + 1} it {ev.iteration + 1}/"
                                     f"{ev.iterations}: loss {ev.loss:.4g} {parts} "
                                     f"({ev.images_per_s:,.0f} images/s)")
            elif name == "EpochFinished":
                self.history.add_event(ev)
                self._advise_live(ev)
                val = (f", val top-1 {_pct(ev.val_top1)} top-5 {_pct(ev.val_top5)}"
                       if ev.val_top1 is not None else "")
                best = " ★ best" if ev.is_best else ""
                self._append_log(f"Epoch {ev.epoch + 1}/{ev.epochs}: loss {ev.loss:.4g}, "
                                 f"train top-1 {_pct(ev.top1)} top-5 {_pct(ev.top5)}{val} "
                                 f"({ev.seconds:.1f}s){best}")
                self.runsChanged.emit()
            elif name == "RunStarted":
                self._on_run_started(ev)
            elif name == "RunPreparing":
                self._on_preparing(ev)
            elif name == "RunFinished":
                self._append_log(f"Finished after {ev.epochs_done} epochs; best top-1 "
                                 f"{_pct(ev.best_top1)}.")
            elif name == "RunStopped":
                self._append_log(f"Stopped at epoch {ev.epochs_done + 1}; resumable from "
                                 f"{_run_relative(RunFolder(ev.run_dir).last, ev.run_dir)}.")
            elif name == "RunFailed":
                self._append_log(f"FAILED: {ev.message}")
        self.plots.show_history(self.history)
        self._update_progress()

    def _on_preparing(self, ev: Any) -> None:
        """Say what the start is waiting for (loading images, first center pass…)."""
        stage = str(ev.stage)
        if ev.total:
            self.progress.setRange(0, int(ev.total))
            self.progress.setValue(int(ev.done))
            self.progress.setFormat(f"{stage}: {ev.done:,}/{ev.total:,}")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(stage)
        self.plots.set_summary(f"Starting… {stage}")
        if stage != getattr(self, "_last_stage", None):
            self._last_stage = stage
            self._append_log(f"Preparing: {stage}")

    def _advise_live(self, ev: Any) -> None:
        if self.snapshot is None:
            return
        self.snapshot.add_epoch(ev)
        self._show_notices(advise(self.snapshot))

    def _on_run_started(self, ev: Any) -> None:
        self.run_dir = Path(ev.run_dir)
        self._epochs, self._iterations = ev.epochs, ev.iterations
        self._total_iters = max(0, (ev.epochs - ev.start_epoch) * ev.iterations)
        self._done_iters = 0
        self._started_at = time.monotonic()
        if ev.start_epoch:
            self.history = read_metrics(self.run_dir, History())
        self.history.add_event(ev)  # the pixel 1-NN baseline
        if self.snapshot is not None:
            self.snapshot.pixel_nn_val = getattr(ev, "pixel_nn_val_top1", None)
        self._append_log(f"Run {self.run_dir.name} on {ev.device}: {ev.num_classes:,} classes, "
                         f"{ev.train_samples:,} training samples, {ev.epochs} epochs × "
                         f"{ev.iterations} iterations × {ev.triplets:,} triplets"
                         + (f" (from epoch {ev.start_epoch + 1})" if ev.start_epoch else ""))
        self.progress.setRange(0, max(1, ev.epochs * ev.iterations))
        self.plots.set_epochs(ev.epochs, ev.iterations)
        if self.state == "starting":
            self._set_state("training")
        self.runsChanged.emit()

    def _update_progress(self) -> None:
        it = self._last_iter
        if it is None or not self._iterations:
            return
        done_global = it.epoch * it.iterations + it.iteration + 1
        self.progress.setValue(done_global)
        self.progress.setFormat(f"epoch {it.epoch + 1}/{self._epochs} · iteration "
                                f"{it.iteration + 1}/{it.iterations}")
        elapsed = time.monotonic() - self._started_at
        eta = None
        if self._done_iters and self._total_iters:
            remaining = max(0, self._total_iters - self._done_iters)
            eta = elapsed / self._done_iters * remaining
        self.progress_label.setText(f"{it.images_per_s:,.0f} images/s · ETA {_fmt_eta(eta)}")
        self.plots.set_summary(
            f"Run <b>{self.run_dir.name if self.run_dir else ''}</b>: loss {it.loss:.4g}"
            + (f", last val top-1 {_pct(self._last_val())}" if self._last_val() is not None
               else ""))
        self.throughputChanged.emit(float(it.images_per_s))

    def _last_val(self) -> float | None:
        g = self.history.epoch_values["val_top1"]
        if not len(g):
            g = self.history.epoch_values["top1"]
        v = g.view()[-1] if len(g) else None
        return None if v is None or v != v else float(v)

    def _on_final(self, final: Any) -> None:
        self._flush()
        if type(final).__name__ == "RunFailed":
            self._report_failure(final.message)

    def _on_cancelled(self) -> None:
        self._append_log("Stopped before the run started.")

    def _on_failed(self, message: str, details: str) -> None:
        self._flush()
        self._append_log(f"ERROR: {message}")
        self._report_failure(message, details)

    def _report_failure(self, message: str, details: str = "") -> None:
        hint = ""
        if self.run_dir and RunFolder(self.run_dir).can_resume():
            hint = ("\n\nThe run keeps its last checkpoint; continue it with "
                    f"“Resume from run…” → {self.run_dir.name}.")
        dialogs.error(self, "Training failed", message + hint, details)
        if "render it first" in message:
            if dialogs.ask(self, "Render the data?", "Render the project's datasets now?",
                           default=True):
                self.renderRequested.emit()

    def _on_thread_finished(self) -> None:
        self._flush()
        self.timer.stop()
        self.job = None
        self.runner = None
        self._reset_progress()
        self.progress.setValue(1 if self._done_iters else 0)
        self.throughputChanged.emit(0.0)
        self._set_state("idle")
        self._load_reference()  # the run just made is the new "last run"
        self.runsChanged.emit()
        self.jobFinished.emit()

    def _clear_log(self) -> None:
        self.log.clear()
        self._log_follow = True

    def _log_scrolled(self) -> None:
        sb = self.log.verticalScrollBar()
        self._log_follow = sb.value() >= sb.maximum() - 2

    def _append_log(self, line: str) -> None:
        self.log.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {line}")
        if self._log_follow:
            sb = self.log.verticalScrollBar()
            sb.setValue(sb.maximum())


def _run_relative(path: Path, run_dir: str | Path) -> str:
    """``<run id>/checkpoints/last.pt``: the file as the user finds it in the project."""
    run = Path(run_dir)
    return f"{run.name}/{path.relative_to(run).as_posix()}"

"""The main window: menus, toolbar, project panel, the five tabs and the status bar.

It owns the :class:`ProjectDocument` and the rules around it: opening a project (and what to do
when it is not one or holds a bad value), saving, undo, and closing — which must never lose an
edit or leave a trainer thread running.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QStyle,
    QTabWidget,
    QWidget,
)

import siam_workbench.resources
from siam_workbench.app import dialogs, settings
from siam_workbench.app.data_tab import DataTab
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.help_pages import METHODS_HTML, HelpDialog, shortcuts_html
from siam_workbench.app.project_panel import ProjectPanel
from siam_workbench.app.startup import SettledTracker
from siam_workbench.app.watcher import ProjectWatcher
from siam_workbench.app.workers import JobRunner, prewarm_imports, run_in_thread
from siam_workbench.base.errors import SiamError
from siam_workbench.project.project import PROJECT_FILE, Project, create_project, load_project
from siam_workbench.project.tomledit import fix_key

if TYPE_CHECKING:
    from siam_workbench.app.draw_tab import DrawTab
    from siam_workbench.app.label_view import LabelView
    from siam_workbench.app.miners_tab import MinersTab
    from siam_workbench.app.runs_tab import RunsTab
    from siam_workbench.app.train_tab import TrainTab

TAB_NAMES = ("Data", "Train", "Miners", "Draw", "Runs", "Label")
#: The window's attribute for each tab, in TAB_NAMES order.
TAB_ATTRS = ("data_tab", "train_tab", "miners_tab", "draw_tab", "runs_tab", "label_tab")
DEFAULT_SIZE = QSize(1400, 900)
STOP_WAIT_MS = 120_000  # how long closing waits for a stopping trainer to save its checkpoint


def default_project() -> Path:
    """The quickstart example: the checkout's ``projects/quickstart``, or, installed from a
    wheel, the user's copy of it (made on first start: site-packages is no place for runs)."""
    from siam_workbench.project.examples import example_project

    return example_project("quickstart")


def device_text() -> str:
    try:
        from siam_workbench.model.backbones import device_label, resolve_device

        return device_label(resolve_device("auto"))
    except Exception as exc:  # noqa: BLE001 - the status bar must not stop the app
        return f"device unknown ({type(exc).__name__})"


def _build_tab(attr: str, doc: ProjectDocument) -> QWidget:
    """A tab, its module imported now: only the Data tab is built with the window, the others
    (and pyqtgraph, which only they use) when first shown or asked for — start-up work saved
    for the tabs a user has not opened yet (issue 21, item 13)."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)
    if attr == "train_tab":
        from siam_workbench.app.train_tab import TrainTab

        tab: QWidget = TrainTab(doc)
        if doc.project is not None:  # built after the project opened: show it as it would
            tab._project_changed()
        return tab
    if attr == "miners_tab":
        from siam_workbench.app.miners_tab import MinersTab

        return MinersTab(doc)
    if attr == "draw_tab":
        from siam_workbench.app.draw_tab import DrawTab

        return DrawTab(doc)
    if attr == "runs_tab":
        from siam_workbench.app.runs_tab import RunsTab

        return RunsTab(doc)
    if attr == "label_tab":
        from siam_workbench.app.label_view import LabelView

        return LabelView(doc)
    raise KeyError(attr)


def _lazy_tab(attr: str) -> Any:
    def get(self: MainWindow) -> Any:
        return self.tab(attr)

    return property(get, doc=f"The {attr.split('_')[0].capitalize()} tab (built on first use).")


class MainWindow(QMainWindow):
    train_tab: TrainTab = _lazy_tab("train_tab")
    miners_tab: MinersTab = _lazy_tab("miners_tab")
    draw_tab: DrawTab = _lazy_tab("draw_tab")
    runs_tab: RunsTab = _lazy_tab("runs_tab")
    label_tab: LabelView = _lazy_tab("label_tab")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = ProjectDocument(self)
        self._close_confirmed = False
        self._closing = False
        self.setWindowTitle("Siam Workbench")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks)

        self.data_tab = DataTab(self.doc)
        self._built: dict[str, QWidget] = {"data_tab": self.data_tab}
        self._stale_tabs: set[QWidget] = set()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for attr, name in zip(TAB_ATTRS, TAB_NAMES):
            page = self.data_tab if attr == "data_tab" else QLabel(f"Opening {name}…")
            if isinstance(page, QLabel):
                page.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(page, name)
        self.setCentralWidget(self.tabs)

        self.panel = ProjectPanel()
        self.dock = QDockWidget("Project", self)
        self.dock.setObjectName("project-dock")
        self.dock.setWidget(self.panel)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.resizeDocks([self.dock], [300], Qt.Orientation.Horizontal)

        self.device_label = QLabel(device_text())
        self.device_label.setToolTip("Training device chosen by train.device = \"auto\"")
        self.state_label = QLabel("idle")
        self.speed_label = QLabel("")
        sb = self.statusBar()
        sb.addPermanentWidget(self.speed_label)
        sb.addPermanentWidget(self.state_label)
        sb.addPermanentWidget(self.device_label)

        # The window's readiness signal: every part loaded after a project opened. Then, and
        # not before (it would compete with the loaders for the CPU), the training stack is
        # imported in the background while the user looks around.
        self.tracker = SettledTracker(self.loading_parts, self)
        self.tracker.settled.connect(self._settled)
        self.tracker.changed.connect(self._loading_changed)
        self._prewarm: JobRunner | None = None

        self.watcher = ProjectWatcher(self)
        self._make_actions()
        self._make_menus()
        self._connect()
        self._update_title()
        self._update_actions()

        geometry = settings.load_geometry("main")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(DEFAULT_SIZE)
        state = settings.settings().value("window/state")
        if state is not None:
            self.restoreState(state)
        else:  # first start: a project panel that does not eat the tabs' room at 1280 px
            QTimer.singleShot(0, lambda: self.resizeDocks([self.dock], [235],
                                                          Qt.Orientation.Horizontal))

    # -- actions & menus ---------------------------------------------------------------------
    def _action(self, text: str, slot: object, shortcut: QKeySequence | str | None = None,
                icon: QStyle.StandardPixmap | None = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            act.setIcon(self.style().standardIcon(icon))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(slot)
        return act

    def _make_actions(self) -> None:
        sp = QStyle.StandardPixmap
        ks = QKeySequence.StandardKey
        self.new_act = self._action("&New project…", self.new_project, ks.New,
                                    sp.SP_FileDialogNewFolder, "Create a project in a new folder")
        self.open_act = self._action("&Open project…", self.open_project_dialog, ks.Open,
                                     sp.SP_DialogOpenButton, "Open a project folder")
        self.save_act = self._action("&Save project", self.save_project, ks.Save,
                                     sp.SP_DialogSaveButton, "Write project.toml")
        self.quit_act = self._action("&Quit", self.close, ks.Quit)
        self.undo_act = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.undo_act.setShortcut(ks.Undo)
        self.undo_act.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        self.redo_act = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.redo_act.setShortcuts([QKeySequence(ks.Redo), QKeySequence("Ctrl+Shift+Z")])
        self.redo_act.setIcon(self.style().standardIcon(sp.SP_ArrowForward))
        self.refresh_act = self._action("&Refresh project panel", self.refresh, "F5",
                                        sp.SP_BrowserReload)
        self.edit_toml_act = self._action("Edit project.toml…", self.edit_project_file)
        self.render_act = self._action("&Render datasets", self.render, "Ctrl+Shift+R",
                                       sp.SP_DriveHDIcon, "Render train / val / test glyph files")
        self.start_act = self._action("&Start training", self.start_training, "Ctrl+R",
                                      sp.SP_MediaPlay, "Start a new run with the Train settings")
        self.pause_act = self._action("&Pause / resume", lambda: self.train_tab.toggle_pause(),
                                      "Ctrl+P", sp.SP_MediaPause, "Pause or resume training")
        self.stop_act = self._action("S&top", lambda: self.train_tab.stop(), "Ctrl+.",
                                     sp.SP_MediaStop, "Stop training (resumable)")

    def _make_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.new_act)
        file_menu.addAction(self.open_act)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self.save_act)
        file_menu.addSeparator()
        file_menu.addAction(self.edit_toml_act)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_act)
        edit = mb.addMenu("&Edit")
        edit.addAction(self.undo_act)
        edit.addAction(self.redo_act)
        view = mb.addMenu("&View")
        view.addAction(self.refresh_act)
        view.addAction(self.dock.toggleViewAction())
        view.addSeparator()
        for i, name in enumerate(TAB_NAMES):
            act = self._action(name, lambda _=False, i=i: self.tabs.setCurrentIndex(i),
                               f"Ctrl+{i + 1}")
            view.addAction(act)
        run = mb.addMenu("&Run")
        for act in (self.render_act, self.start_act, self.pause_act, self.stop_act):
            run.addAction(act)
        help_menu = mb.addMenu("&Help")
        self.methods_act = self._action("&Methods and formulas", self.show_methods, "F1")
        help_menu.addAction(self.methods_act)
        help_menu.addAction(self._action("&Keyboard shortcuts", self.show_shortcuts))
        help_menu.addSeparator()
        help_menu.addAction(self._action("&About", self._about))

        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setIconSize(QSize(18, 18))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act in (self.new_act, self.open_act, self.save_act, None, self.undo_act,
                    self.redo_act, None, self.render_act, self.start_act, self.pause_act,
                    self.stop_act):
            if act is None:
                tb.addSeparator()
            else:
                tb.addAction(act)

    def _connect(self) -> None:
        self.doc.modifiedChanged.connect(lambda _m: self._update_title())
        self.doc.projectChanged.connect(self._project_changed)
        self.data_tab.stateChanged.connect(self._job_state)
        self.data_tab.throughputChanged.connect(
            lambda v: self.speed_label.setText(f"{v:,.0f} glyphs/s" if v else ""))
        self.watcher.changed.connect(self._files_changed)
        self.data_tab.datasetsChanged.connect(self.refresh)
        self.data_tab.stateChanged.connect(self._render_state)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.panel.runActivated.connect(self.show_run)
        self.panel.datasetActivated.connect(self._show_dataset)

    def _wire(self, attr: str, tab: Any) -> None:
        """Connect a tab just built to the window (and to the tabs built before it)."""
        if attr == "train_tab":
            tab.stateChanged.connect(self._job_state)
            tab.throughputChanged.connect(
                lambda v: self.speed_label.setText(f"{v:,.0f} images/s" if v else ""))
            tab.runsChanged.connect(self.refresh)
            tab.stateChanged.connect(self._live_status)
            tab.renderRequested.connect(self._render_requested)
            tab.jobFinished.connect(self._job_finished)
            # The Miners tab follows a live run from its first event: built when one starts.
            tab.stateChanged.connect(lambda state: self.miners_tab if state == "starting"
                                     else None)
            if "miners_tab" in self._built:
                tab.trainerEvent.connect(self._built["miners_tab"].on_trainer_event)
            tab.set_blocked("Wait for rendering to finish"
                            if self.data_tab.render_runner is not None else "")
        elif attr == "miners_tab":
            if "train_tab" in self._built:
                self._built["train_tab"].trainerEvent.connect(tab.on_trainer_event)
        elif attr == "runs_tab":
            tab.runsChanged.connect(self.refresh)
            tab.showRun.connect(self.show_run)
            tab.active_run = lambda: self.train_tab.run_dir if self.train_busy() else None

    def tab(self, attr: str) -> Any:
        """The tab named ``attr`` (:data:`TAB_ATTRS`), built and put in its place now if it was
        not yet."""
        tab = self._built.get(attr)
        if tab is not None:
            return tab
        tab = _build_tab(attr, self.doc)
        self._built[attr] = tab
        i = TAB_ATTRS.index(attr)
        current = self.tabs.currentIndex()
        placeholder = self.tabs.widget(i)
        self.tabs.blockSignals(True)
        self.tabs.removeTab(i)
        self.tabs.insertTab(i, tab, TAB_NAMES[i])
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()
        self._wire(attr, tab)
        self._update_actions()
        return tab

    def built_tabs(self) -> list[str]:
        """The tabs built so far (:data:`TAB_ATTRS` names)."""
        return [a for a in TAB_ATTRS if a in self._built]

    def _tab_shown(self, index: int) -> None:
        attr = TAB_ATTRS[index] if 0 <= index < len(TAB_ATTRS) else None
        if attr is not None and attr not in self._built:
            self.tab(attr)  # built now, with the open project: nothing stale to refresh
            return
        self._refresh_current_tab()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = settings.recent_projects()
        for path in recent:
            act = self.recent_menu.addAction(str(path))
            act.triggered.connect(lambda _=False, p=path: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    # -- state -------------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project

    def busy(self) -> bool:
        return self.train_busy() or self.data_tab.busy

    def train_busy(self) -> bool:
        """A training job runs (False while the Train tab is not even built)."""
        tab = self._built.get("train_tab")
        return bool(tab is not None and tab.busy)

    def train_state(self) -> str:
        tab = self._built.get("train_tab")
        return tab.state if tab is not None else "idle"

    def loading_parts(self) -> list[str]:
        """The parts still loading after a project opened (besides loader threads, which
        :class:`SettledTracker` adds): those that chain several jobs."""
        if self.doc.project is None:
            return []
        parts = []
        if not self.data_tab.wait_idle():
            parts.append("fonts")
        if self.data_tab.browser.busy():
            parts.append("glyph browser")
        return parts

    def _loading_changed(self, names: list[str]) -> None:
        self.state_label.setToolTip("Still loading: " + ", ".join(names) if names else "")
        self._job_state(self.train_state())

    #: Import the training stack once settled (off for a window that closes at once).
    prewarm = True

    def _settled(self, seconds: float) -> None:
        if self._prewarm is None and self.prewarm and self.isVisible() and not self._closing \
                and not self._close_confirmed:
            self._prewarm = run_in_thread(prewarm_imports, self, "siam-prewarm")
        self._job_state(self.train_state())

    def _update_title(self) -> None:
        p = self.doc.project
        title = f"{p.name} — {p.root}[*] — Siam Workbench" if p else "Siam Workbench"
        self.setWindowTitle(title)
        self.setWindowModified(self.doc.modified)

    def _update_actions(self) -> None:
        has = self.doc.project is not None
        idle = not self.busy()
        self.save_act.setEnabled(has)
        self.edit_toml_act.setEnabled(has)
        self.render_act.setEnabled(has and idle)
        self.start_act.setEnabled(has and idle)
        state = self.train_state()
        self.pause_act.setEnabled(state in ("training", "paused"))
        self.stop_act.setEnabled(state in ("starting", "training", "paused"))
        self.new_act.setEnabled(idle)
        self.open_act.setEnabled(idle)
        self.recent_menu.setEnabled(idle)

    def _job_state(self, state: str) -> None:
        label = {"training": "training", "paused": "paused", "starting": "starting…",
                 "stopping": "stopping…", "rendering": "rendering"}.get(state, "idle")
        if self.busy() and state == "idle":
            label = "rendering" if self.data_tab.busy else self.train_state()
        elif label == "idle" and self.doc.project is not None and not self.tracker.done:
            label = "loading…"
        self.state_label.setText(label)
        self._update_actions()

    def _render_state(self, state: str) -> None:
        # Training reads the glyph files: no Start while they are being replaced.
        tab = self._built.get("train_tab")
        if tab is not None:
            tab.set_blocked("Wait for rendering to finish" if state == "rendering" else "")

    def _live_status(self, state: str) -> None:
        """The run this window trains shows its live state at once (status.json is only
        rewritten at an epoch end), e.g. "running" right after Resume."""
        busy = self.train_busy() and self.train_tab.run_dir is not None
        live = {"training": "running", "paused": "paused", "stopping": "stopping"}.get(state)
        self.panel.live = (self.train_tab.run_dir, live) if busy and live else None
        self.panel.refresh(keep=True)

    def _files_changed(self) -> None:
        """Something under the project changed on disk (a data file deleted or replaced, a run
        added or removed by another program): re-read what shows it."""
        self.panel.refresh(keep=True)
        self.data_tab.files_changed()
        self._mark_stale()
        self._refresh_current_tab()

    def _mark_stale(self) -> None:
        self._stale_tabs = {self._built[a] for a in ("miners_tab", "draw_tab", "runs_tab",
                                                      "label_tab") if a in self._built}

    def _project_changed(self) -> None:
        self.watcher.watch(self.doc.project)
        self.panel.refresh(self.doc.project)
        self._update_title()
        self._job_state(self.train_state())  # "loading…" while the parts load

    def refresh(self) -> None:
        self.panel.refresh(keep=True)
        # Run-based tabs re-read runs (and the Draw tab reloads a model) only when seen: a run
        # changing status must not start background loads for tabs nobody is looking at.
        self._mark_stale()
        self._refresh_current_tab()

    def _refresh_current_tab(self, *_: object) -> None:
        tab = self.tabs.currentWidget()
        if tab in self._stale_tabs:
            self._stale_tabs.discard(tab)
            tab.refresh()

    # -- opening & saving --------------------------------------------------------------------
    def open_project_dialog(self) -> None:
        start = str(self.doc.project.root.parent) if self.doc.project else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open project folder", start)
        if folder:
            self.open_project(Path(folder))

    def new_project(self) -> None:
        if not self._can_replace_project():
            return
        from siam_workbench.app.new_project_dialog import NewProjectDialog

        start = self.doc.project.root.parent if self.doc.project else Path.home()
        dialog = NewProjectDialog(start, self)
        if dialog.exec() == NewProjectDialog.DialogCode.Accepted:
            self.create_and_open(*dialog.choice())

    def create_and_open(self, folder: Path, alphabet: str | None = None,
                        preset: str = "recipe") -> bool:
        """Make a project sized to ``alphabet`` with ``preset`` (as ``siam new``) and open it."""
        try:
            create_project(folder, name=Path(folder).name, alphabet=alphabet, preset=preset)
        except (SiamError, OSError) as exc:
            dialogs.error(self, "New project", str(exc))
            return False
        return self.open_project(folder, ask_save=False)

    def _can_replace_project(self) -> bool:
        if self.busy():
            dialogs.info(self, "Busy", "Stop training or rendering before switching projects.")
            return False
        return self._maybe_save()

    def open_project(self, path: Path, ask_save: bool = True) -> bool:
        """Open ``path`` (folder or project.toml). Bad input is explained, never fatal."""
        if ask_save and not self._can_replace_project():
            return False
        if not ask_save and self.busy():
            return False
        path = Path(path).expanduser()
        for _attempt in range(5):  # each reset fixes one key; then try again
            try:
                project = load_project(path)
            except SiamError as exc:
                if not self._explain_load_error(path, exc):
                    return False
                continue
            break
        else:
            return False
        if project.restricted is not None:  # its plug-ins did not run: ask before they do
            from siam_workbench.app import trust_dialog

            try:
                answer = trust_dialog.ask_trust(self, project)
                if answer == trust_dialog.TRUST:
                    project = load_project(path)
            except SiamError as exc:
                dialogs.error(self, "Cannot open project", str(exc))
                return False
            if answer == trust_dialog.CANCEL:
                return False
        self.tracker.start()
        self.doc.set_project(project)
        settings.remember_project(project.root)
        self.statusBar().showMessage(project.restricted_line() or f"Opened {project.root}",
                                     0 if project.restricted else 5000)
        return True

    def _explain_load_error(self, path: Path, exc: SiamError) -> bool:
        """Show why ``path`` did not open; True if the user fixed it and we should retry."""
        message = str(exc)
        file = path if path.suffix == ".toml" else path / PROJECT_FILE
        if not file.exists():
            if path.is_dir() and dialogs.ask(
                    self, "Not a project",
                    f"{path}\nis not a Siam Workbench project (it has no {PROJECT_FILE}).\n\n"
                    "Create a new project in this folder?"):
                try:
                    create_project(path, name=path.name)
                except (SiamError, OSError) as err:
                    dialogs.error(self, "New project", str(err))
                    return False
                return True
            if not path.is_dir():
                dialogs.error(self, "Cannot open project", message)
            return False
        key = (exc.section, exc.key) if exc.section is not None else None
        hint = exc.hint if key is not None and key[1] else None
        options = ["Open project.toml for editing"]
        actions: list[tuple[str, str | None]] = []
        if key is not None:
            name = f"{key[0]}.{key[1]}" if key[1] else f"[{key[0]}]"
            if hint is not None:
                options.append(f"Rename {name} to {key[0]}.{hint} (keep its value)")
                actions.append(("rename", hint))
            options.append(f"Remove {name} (its default applies)" if key[1] and
                           exc.unknown else f"Reset {name} to its default")
            actions.append(("remove", None))
        choice = dialogs.choose(self, "Invalid project", f"The project could not be opened:\n\n"
                                f"{message}", options, default=1 if len(options) > 1 else 0)
        if choice == 0:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(file)))
            return False
        if choice >= 1 and key is not None and choice - 1 < len(actions):
            what, new = actions[choice - 1]
            try:
                backup = fix_key(file, key[0], key[1], new)
            except (OSError, SiamError, ValueError) as err:
                dialogs.error(self, "Cannot fix the file", str(err))
                return False
            done = f"Renamed {name} to {key[0]}.{new}" if what == "rename" else f"Reset {name}"
            self.statusBar().showMessage(f"{done}; comments kept; the old file is kept as "
                                         f"{backup.name}", 8000)
            return True
        return False

    def save_project(self) -> bool:
        if self.doc.project is None:
            return False
        try:
            self.doc.save()
        except (SiamError, OSError) as exc:
            dialogs.error(self, "Cannot save project",
                          f"{exc}\n\nYour changes are still here; save again after fixing "
                          "the folder, or Undo them.")
            return False
        self.statusBar().showMessage(f"Saved {self.doc.project.file}", 4000)
        return True

    def _maybe_save(self) -> bool:
        """If the project has unsaved edits: Save / Discard / Cancel. True = go ahead."""
        if not self.doc.modified:
            return True
        choice = dialogs.choose(self, "Unsaved changes",
                                f"{self.doc.project.name} has unsaved changes.",
                                ["Save", "Discard changes"], default=0)
        if choice == 0:
            return self.save_project()
        return choice == 1

    def edit_project_file(self) -> None:
        if self.doc.project is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.doc.project.file)))

    # -- running -----------------------------------------------------------------------------
    def render(self) -> None:
        self.tabs.setCurrentWidget(self.data_tab)
        self.data_tab.render()

    def _render_requested(self) -> None:
        self.tabs.setCurrentWidget(self.data_tab)
        self.data_tab.render()

    def start_training(self) -> None:
        self.tabs.setCurrentWidget(self.train_tab)
        self.train_tab.start()

    def show_run(self, run_dir: Path) -> None:
        if self.train_tab.show_run(run_dir):
            self.tabs.setCurrentWidget(self.train_tab)
        else:
            self.statusBar().showMessage("Training is running; stop it to view another run.",
                                         5000)

    def _show_dataset(self, split: str) -> None:
        self.tabs.setCurrentWidget(self.data_tab)
        self.data_tab.browser.select_dataset(split)

    def _job_finished(self) -> None:
        self._update_actions()
        if self._closing:
            QTimer.singleShot(0, self.close)

    # -- closing -----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._close_confirmed:
            if self.train_busy() and not dialogs.ask(
                    self, "Training is running",
                    "Stop training and close? The run saves a checkpoint and can be resumed."):
                event.ignore()
                return
            if self.data_tab.busy and not dialogs.ask(
                    self, "Rendering is running",
                    "Cancel rendering and close? Existing glyph files stay as they were."):
                event.ignore()
                return
            if not self._maybe_save():
                event.ignore()
                return
            self._close_confirmed = True
        if self.train_busy():
            # Stop, then close once the worker has saved its checkpoint and ended.
            self._closing = True
            self.train_tab.stop()
            self.state_label.setText("stopping…")
            self.statusBar().showMessage("Stopping training at the next iteration (the run "
                                         "keeps a resumable checkpoint)…")
            deadline = time.monotonic() + STOP_WAIT_MS / 1000
            if QApplication.instance() is None or self._closing_blocks:
                self.train_tab.wait(max(0, int((deadline - time.monotonic()) * 1000)))
            else:
                event.ignore()
                return
        self.tracker.stop()
        self.data_tab.shutdown()
        # Imports cannot be interrupted; Qt aborts if a QThread is destroyed while running.
        if self._prewarm is not None:
            self._prewarm.wait(60_000)
        settings.save_geometry("main", self.saveGeometry())
        s = settings.settings()
        s.setValue("window/state", self.saveState())
        s.sync()
        event.accept()

    #: When True, closing blocks in ``QThread.wait`` instead of deferring (app shutdown path).
    _closing_blocks = False

    def show_methods(self) -> HelpDialog:
        dlg = HelpDialog("Methods — Siam Workbench", METHODS_HTML, self)
        dlg.show()
        self._help = dlg
        return dlg

    def show_shortcuts(self) -> HelpDialog:
        acts = [a for a in self.findChildren(QAction) if a.shortcuts()]
        dlg = HelpDialog("Keyboard shortcuts — Siam Workbench", shortcuts_html(acts), self)
        dlg.show()
        self._help = dlg
        return dlg

    def _about(self) -> None:
        dialogs.info(self, "About Siam Workbench",
                     "Siam Workbench — train Siamese metric networks on huge alphabets, with "
                     "auto-probabilistic and auto-clustering mining.")

    @staticmethod
    def icon() -> QIcon:
        icon = QIcon(str(siam_workbench.resources.path("icons", "siam-workbench.svg")))
        if icon.isNull():  # no SVG image plugin: fall back to a stock icon
            return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
        return icon

"""Entry point: ``siam-workbench [PROJECT] [--screenshot DIR]``.

Without PROJECT the last project (QSettings) opens, else ``projects/quickstart``. With
``--screenshot DIR`` the window opens the project, waits for the Data tab's background work,
shows every tab with real content (the Train tab plots the best run read back from its
metrics.jsonl, the Runs tab evaluates it on the test file, the Miners tab measures why), saves
``DIR/<tab>-<W>x<H>.png`` for every ``--size`` (default 1280×720 and 1920×1080) plus the
Miners' Why and Clusters views and the Runs' Evaluate page, and exits 0; it works with
``QT_QPA_PLATFORM=offscreen`` and never touches the user's settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import siam_workbench.resources

SCREENSHOT_SIZES = ("1280x720", "1920x1080")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="siam-workbench",
        description="Siam Workbench: render glyph data, train Siamese metric networks with "
                    "auto-probabilistic / auto-clustering mining, and watch them learn.")
    p.add_argument("project", nargs="?", help="project folder or its project.toml "
                   "(default: the last one opened, else projects/quickstart)")
    p.add_argument("--screenshot", metavar="DIR",
                   help="save a PNG of every tab to DIR and exit (works offscreen)")
    p.add_argument("--timeout", type=float, default=180.0,
                   help="--screenshot: longest wait for background work, seconds")
    p.add_argument("--size", action="append", metavar="WxH",
                   help="--screenshot: window size (repeatable; default 1280x720 and "
                        "1920x1080)")
    p.add_argument("--timing", action="store_true",
                   help="print a JSON line when the window is shown, the project opened and "
                        "every part has loaded (settled): wall clock and CPU seconds")
    p.add_argument("--quit-when-settled", action="store_true",
                   help="close once every part has loaded (start-up benchmarks; implies "
                        "--timing)")
    return p.parse_args(argv)


def make_app(argv: Sequence[str]) -> object:
    """The QApplication, Fusion style (its palette follows the system's light/dark scheme)."""
    from PySide6.QtWidgets import QApplication

    from siam_workbench.app import settings

    settings.configure()
    app = QApplication.instance() or QApplication(list(argv))
    app.setStyle("Fusion")
    app.setStyleSheet(siam_workbench.resources.read_text("style.qss"))
    app.setApplicationDisplayName("Siam Workbench")
    from siam_workbench.app.gc_collector import install

    install(app)  # cycles collected on the GUI thread only (a worker's collection can deadlock)
    # pyqtgraph is imported (antialiased) with the first tab that plots: main_window._build_tab
    return app


def wait_until(app: object, condition: Callable[[], bool], timeout: float) -> bool:
    """Spin the event loop until ``condition()`` or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()  # type: ignore[attr-defined]
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def choose_project(arg: str | None) -> Path:
    from siam_workbench.app import settings
    from siam_workbench.app.main_window import default_project

    if arg:
        return Path(arg).expanduser()
    last = settings.last_project()
    if last is not None and (last / "project.toml").exists():
        return last
    return default_project()


def _mines(run_dir: Path) -> bool:
    try:
        from siam_workbench.project.project import load_project
        from siam_workbench.project.runfolder import RunFolder

        return load_project(RunFolder(run_dir).config).config.mining.positive != "random"
    except Exception:  # noqa: BLE001 - a broken run is simply not preferred
        return False


def _show_run_everywhere(w: object, app: object, runs: list, timeout: float) -> None:
    """Put a finished run on every tab: its curves, its miners, a drawing it reads, a comparison,
    an evaluation on the test file."""
    from siam_workbench.app.workers import live_threads
    from siam_workbench.infer.runs import best_run

    best = best_run(w.project, runs)
    run = best.path if best is not None else runs[-1].path
    w.train_tab.show_run(run)
    # The Miners tab is most telling for a run whose positive miner is not uniform.
    mined = next((r.path for r in reversed(runs) if _mines(r.path)), run)
    loaded: list[str] = []
    w.miners_tab.loaded.connect(loaded.append)
    w.miners_tab.show_run(mined)
    wait_until(app, lambda: mined.name in loaded and w.miners_tab.glyphs.resolved, timeout)
    w.draw_tab.load_model(run)
    wait_until(app, lambda: w.draw_tab.run_model is not None, timeout)
    # A hand-drawn "A": two slanted strokes and a bar, as a user would draw it with the mouse.
    # Standing on the canvas's baseline guide (em size mode) when the project uses it.
    side = w.draw_tab.canvas.width()
    base = int(side * (w.draw_tab.canvas.baseline or 0.92))
    w.draw_tab.canvas.draw_polyline([(side * 0.22, base), (side / 2, base - side * 0.6),
                                     (side * 0.78, base)], 20)
    w.draw_tab.canvas.draw_polyline([(side * 0.33, base - side * 0.22),
                                     (side * 0.67, base - side * 0.22)], 20)
    wait_until(app, lambda: bool(w.draw_tab.matches), timeout)
    w.runs_tab.set_checked([r.id for r in runs[-4:]])
    wait_until(app, lambda: len(w.runs_tab.summaries) == min(4, len(runs)), timeout)
    panel = w.runs_tab.evaluate_panel
    panel.select_run(run)
    panel.select_split("test")
    if panel.start():
        wait_until(app, lambda: not panel.busy(), timeout)
    w.runs_tab.select_run(run.name)
    wait_until(app, lambda: not live_threads(), timeout)


def _grab(w: object, path: Path) -> bool:
    if not w.grab().save(str(path)):
        print(f"siam-workbench: cannot write {path}", file=sys.stderr)
        return False
    print(path)
    return True


def screenshot(window: object, app: object, out: Path, timeout: float,
               sizes: Sequence[str] = SCREENSHOT_SIZES) -> int:
    """Grab every tab of ``window`` at every size into ``out``; returns the exit code."""
    from siam_workbench.app.main_window import TAB_NAMES
    from siam_workbench.app.workers import live_threads
    from siam_workbench.project.runfolder import RunFolder

    w = window  # MainWindow
    out.mkdir(parents=True, exist_ok=True)
    wait_until(app, lambda: w.data_tab.wait_idle() and not w.data_tab.browser.busy(), timeout)
    project = w.project
    if project is not None:
        runs = project.runs()
        finished = [r for r in runs if r.status == "finished"] or \
                   [r for r in runs if RunFolder(r.path).has_metrics()]
        if finished:
            _show_run_everywhere(w, app, finished, timeout)
    settle = lambda: wait_until(app, lambda: False, 0.5)  # noqa: E731 - layout, deferred paints
    for size in sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        w.resize(width, height)
        settle()
        for i, name in enumerate(TAB_NAMES):
            w.tabs.setCurrentIndex(i)
            settle()
            if name == "Miners" and len(w.miners_tab.table_model.rows):
                w.miners_tab.views.setCurrentIndex(0)
                # Selected once the tab is on screen (showing it refreshes the run list).
                w.miners_tab.select_class(int(w.miners_tab.table_model.rows[0]))
                wait_until(app, lambda: not live_threads(), timeout)
                settle()
            if name == "Runs":
                w.runs_tab.pages.setCurrentIndex(0)
                settle()
            if not _grab(w, out / f"{name.lower()}-{width}x{height}.png"):
                return 1
            if name == "Miners" and w.miners_tab.history is not None:
                for view, label in ((3, "why"), (2, "clusters")):
                    w.miners_tab.views.setCurrentIndex(view)
                    wait_until(app, lambda: not live_threads(), timeout)
                    settle()
                    if not _grab(w, out / f"miners-{label}-{width}x{height}.png"):
                        return 1
                w.miners_tab.views.setCurrentIndex(0)
            if name == "Train":
                preview = w.train_tab.augment_preview
                w.train_tab.views.setCurrentWidget(preview)
                settle()  # laid out: it may ask for more rows at this size
                wait_until(app, lambda p=preview: not p.busy()
                           and p.wanted_samples() == p.samples, timeout)
                settle()
                if not _grab(w, out / f"train-augment-{width}x{height}.png"):
                    return 1
                w.train_tab.views.setCurrentWidget(w.train_tab.plots)
            if name == "Runs" and w.runs_tab.evaluate_panel.last is not None:
                w.runs_tab.pages.setCurrentIndex(1)
                settle()
                if not _grab(w, out / f"runs-evaluate-{width}x{height}.png"):
                    return 1
                w.runs_tab.pages.setCurrentIndex(0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot:
        # Reproducible shots: private settings (default geometry, no recent list).
        os.environ.setdefault("SIAM_WORKBENCH_SETTINGS_DIR",
                              tempfile.mkdtemp(prefix="siam-wb-settings-"))
    app = make_app(sys.argv[:1])
    from siam_workbench.app import dialogs
    from siam_workbench.app.main_window import MainWindow

    if args.screenshot:
        dialogs.handler = dialogs.RecordingHandler(ask_answer=False, echo=True)
    window = MainWindow()
    window.setWindowIcon(MainWindow.icon())
    project = choose_project(args.project)
    if args.screenshot:
        sizes = args.size or list(SCREENSHOT_SIZES)
        window.resize(*(int(v) for v in sizes[0].lower().split("x")))
        window.show()
        app.processEvents()
        if not window.open_project(project, ask_save=False):
            print(f"siam-workbench: cannot open {project}", file=sys.stderr)
        code = screenshot(window, app, Path(args.screenshot), args.timeout, sizes)
        window._close_confirmed = True
        window._closing_blocks = True
        window.close()
        return code
    if args.timing or args.quit_when_settled:
        from siam_workbench.app.startup import StartupReport

        window._startup_report = StartupReport(window, args.quit_when_settled)
    window.show()
    if project.exists() or args.project:
        open_after_paint(window, project)
    window._closing_blocks = False
    return int(app.exec())


def open_after_paint(window: object, project: Path) -> None:
    """Show the window at once and open ``project`` once it has been painted: the window
    paints first (saying what it opens), then each tab fills in with its own indicator as its
    part loads (fonts scan, runs list, data summary) — issue 21, item 13. (A zero-delay timer
    alone runs before the first paint: Qt posts the paint behind it.)"""
    from PySide6.QtCore import QEvent, QObject, QTimer

    window.statusBar().showMessage(f"Opening {project}…")

    class _FirstPaint(QObject):
        def __init__(self) -> None:
            super().__init__(window)
            self.fired = False

        def open(self) -> None:
            if not self.fired:
                self.fired = True
                window.removeEventFilter(self)
                window.open_project(project, ask_save=False)

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt
            if event.type() == QEvent.Type.Paint and not self.fired:
                QTimer.singleShot(0, self.open)
            return False

    opener = _FirstPaint()
    window.installEventFilter(opener)
    QTimer.singleShot(1000, opener.open)  # never painted (minimised, no screen): open anyway


if __name__ == "__main__":
    sys.exit(main())

"""Entry point: ``siam-workbench [PROJECT] [--screenshot DIR]``.

Without PROJECT the last project (QSettings) opens, else ``projects/quickstart``. With
``--screenshot DIR`` the window opens the project, waits for the Data tab's background work,
shows every tab with real content (the Train tab plots the latest finished run read back from
its metrics.jsonl), saves ``DIR/<tab>.png`` and exits 0; it works with
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

import resources

SCREENSHOT_SIZE = (1400, 900)


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
    return p.parse_args(argv)


def make_app(argv: Sequence[str]) -> object:
    """The QApplication, Fusion style (its palette follows the system's light/dark scheme)."""
    from PySide6.QtWidgets import QApplication

    from workbench import settings

    settings.configure()
    app = QApplication.instance() or QApplication(list(argv))
    app.setStyle("Fusion")
    app.setStyleSheet(resources.read_text("style.qss"))
    app.setApplicationDisplayName("Siam Workbench")
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)
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
    from workbench import settings
    from workbench.main_window import default_project

    if arg:
        return Path(arg).expanduser()
    last = settings.last_project()
    if last is not None and (last / "project.toml").exists():
        return last
    return default_project()


def _mines(run_dir: Path) -> bool:
    try:
        from core.train.project import load_project

        return load_project(run_dir / "config.toml").config.mining.positive != "random"
    except Exception:  # noqa: BLE001 - a broken run is simply not preferred
        return False


def _show_run_everywhere(w: object, app: object, runs: list, timeout: float) -> None:
    """Put a finished run on every tab: its curves, its miners, a drawing it reads, a comparison."""
    from workbench.workers import live_threads

    run = runs[-1].path
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
    w.draw_tab.canvas.draw_polyline([(70, 330), (180, 50), (290, 330)], 20)
    w.draw_tab.canvas.draw_polyline([(115, 225), (245, 225)], 20)
    wait_until(app, lambda: bool(w.draw_tab.matches), timeout)
    w.runs_tab.set_checked([r.id for r in runs[-4:]])
    wait_until(app, lambda: len(w.runs_tab.summaries) == min(4, len(runs)), timeout)
    wait_until(app, lambda: not live_threads(), timeout)


def screenshot(window: object, app: object, out: Path, timeout: float) -> int:
    """Grab every tab of ``window`` into ``out``; returns the exit code."""
    from workbench.main_window import TAB_NAMES
    from workbench.workers import live_threads

    w = window  # MainWindow
    out.mkdir(parents=True, exist_ok=True)
    wait_until(app, lambda: w.data_tab.wait_idle() and not w.data_tab.browser.busy(), timeout)
    project = w.project
    if project is not None:
        runs = project.runs()
        finished = [r for r in runs if r.status == "finished"] or \
                   [r for r in runs if (r.path / "metrics.jsonl").exists()]
        if finished:
            _show_run_everywhere(w, app, finished, timeout)
    saved = []
    for i, name in enumerate(TAB_NAMES):
        w.tabs.setCurrentIndex(i)
        wait_until(app, lambda: False, 0.4)  # layout, pyqtgraph's deferred paints
        if name == "Miners" and len(w.miners_tab.table_model.rows):
            # Selected once the tab is on screen (showing it refreshes the run list).
            w.miners_tab.select_class(int(w.miners_tab.table_model.rows[0]))
            wait_until(app, lambda: not live_threads(), timeout)
            wait_until(app, lambda: False, 0.4)
        path = out / f"{name.lower()}.png"
        if not w.grab().save(str(path)):
            print(f"siam-workbench: cannot write {path}", file=sys.stderr)
            return 1
        saved.append(path)
    for p in saved:
        print(p)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot:
        # Reproducible shots: private settings (default geometry, no recent list).
        os.environ.setdefault("SIAM_WORKBENCH_SETTINGS_DIR",
                              tempfile.mkdtemp(prefix="siam-wb-settings-"))
    app = make_app(sys.argv[:1])
    from workbench import dialogs
    from workbench.main_window import MainWindow

    if args.screenshot:
        dialogs.handler = dialogs.RecordingHandler(ask_answer=False, echo=True)
    window = MainWindow()
    window.setWindowIcon(MainWindow.icon())
    project = choose_project(args.project)
    if args.screenshot:
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        app.processEvents()
        if not window.open_project(project, ask_save=False):
            print(f"siam-workbench: cannot open {project}", file=sys.stderr)
        code = screenshot(window, app, Path(args.screenshot), args.timeout)
        window._close_confirmed = True
        window._closing_blocks = True
        window.close()
        return code
    window.show()
    if project.exists() or args.project:
        window.open_project(project, ask_save=False)
    window._closing_blocks = False
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())

"""GUI test fixtures. Qt runs offscreen, settings go to a private folder, and every dialog is
captured by a :class:`siam_workbench.app.dialogs.RecordingHandler` instead of blocking.

These environment variables must be set before anything imports Qt, hence at module top.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import tempfile
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["SIAM_WORKBENCH_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="siam-wb-test-settings-")

import pytest  # noqa: E402

from siam_workbench.app import dialogs, settings  # noqa: E402

settings.configure()

HANG_LIMIT_S = 150  # a GUI test that takes longer than this is hung: dump stacks and exit

TINY = """\
[project]
name = "tiny digits"
description = "GUI test project"

[data]
alphabet = "digits"
image_size = 37
train_fonts = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"]
val_fonts = ["DejaVuSerif.ttf"]
test_fonts = ["DejaVuSansMono.ttf"]
test_distort = "rotate=3,noise=0.03"
test_variants = 2

[mining]
eta = 5

[train]
epochs = {epochs}
iterations = {iterations}
triplets = 8
device = "cpu"
eval_max = 200
"""


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test():
    """A background job still running when the process exits aborts it ("QThread: Destroyed
    while thread … is still running"): every test waits for the jobs it started."""
    yield
    import time

    from PySide6.QtWidgets import QApplication

    from siam_workbench.app.workers import live_threads

    app = QApplication.instance()
    deadline = time.monotonic() + 120
    while app is not None and live_threads() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


@pytest.fixture(scope="session", autouse=True)
def _collect_on_the_gui_thread(qapp):
    """As the app does (make_app): no worker thread runs Python's cycle collector, so no widget
    a test left in a cycle is destroyed off the GUI thread (that deadlocked a run)."""
    from siam_workbench.app.gc_collector import install

    install(qapp)
    yield


@pytest.fixture(autouse=True)
def _hang_guard():
    """No test may hang forever: dump every thread's stack and exit after HANG_LIMIT_S."""
    # The real stderr: pytest's capture of sys.stderr is a temporary file that an exit from
    # the watchdog discards, and a CI log then showed only `Error 1` with no stacks.
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def recorder():
    """Captures dialogs; questions answered yes, choices cancelled unless a test sets them."""
    old = dialogs.handler
    rec = dialogs.RecordingHandler(ask_answer=True, choose_answer=-1)
    dialogs.handler = rec
    yield rec
    dialogs.handler = old


def write_project(root: Path, epochs: int = 2, iterations: int = 5, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.toml").write_text(TINY.format(epochs=epochs, iterations=iterations) + extra,
                                       encoding="utf-8")
    return root


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj")


@pytest.fixture
def rendered_dir(tmp_path: Path) -> Path:
    """A tiny project with its glyph files rendered by the engine directly (fast)."""
    from siam_workbench.data.render_splits import render_splits
    from siam_workbench.project.project import load_project

    root = write_project(tmp_path / "rendered")
    render_splits(load_project(root), workers=1)
    return root


@pytest.fixture
def make_window(qtbot, recorder):
    """Factory for a MainWindow with a project open; stops any job and closes on teardown."""
    from siam_workbench.app.main_window import MainWindow
    from siam_workbench.app.workers import live_threads

    windows = []

    def make(project: Path | None = None):
        w = MainWindow()
        qtbot.addWidget(w)
        w.show()
        if project is not None:
            assert w.open_project(project), recorder.shown
        windows.append(w)
        return w

    yield make
    for w in windows:
        try:
            if w.train_tab.busy:
                w.train_tab.stop()
                w.train_tab.wait(60_000)
            w.data_tab.shutdown(10_000)
        except RuntimeError:  # already deleted by a test that closed it
            pass
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)

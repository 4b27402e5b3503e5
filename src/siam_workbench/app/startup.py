"""When the window has *settled*: every part that loads on opening a project has loaded.

The main window fills in part by part after a project opens (fonts scanned and their roles
known, the glyph browser's first page, the latest run plotted, the runs compared, the class
thumbnails' fonts found…), each on a worker thread. :class:`SettledTracker` is the window's own
readiness signal: it polls the parts it knows and every loader thread still alive, and emits
``settled(seconds)`` once none is left. The status bar names what is still loading until then;
``siam-workbench --timing`` prints when it happened and ``benchmarks/startup.py`` times it.

A tab that loads only when first shown (Draw's model, the augmentation preview) is not waited
for: it shows its own indicator when it is opened.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

from siam_workbench.app.workers import live_threads

POLL_MS = 50
#: Threads that are not loading anything the window shows.
BACKGROUND_THREADS = frozenset({"siam-prewarm"})


def loader_threads() -> list[str]:
    """Names of the job threads still running that load something the window shows."""
    return sorted(t.objectName() for t in live_threads()
                  if t.objectName() not in BACKGROUND_THREADS)


class SettledTracker(QObject):
    """Emits ``settled(seconds since start())`` once ``pending()`` and the loader threads have
    been empty for two polls in a row (a result that starts the next job is delivered between
    polls, never missed). ``pending`` lists the window's parts still loading, by name."""

    settled = Signal(float)
    changed = Signal(list)  # the names still loading, whenever they change

    def __init__(self, pending: Callable[[], list[str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending = pending
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._t0 = time.monotonic()
        self._quiet = 0
        self._last: list[str] = []
        self.done = True  # nothing waited for until start()
        self.seconds: float | None = None

    def start(self) -> None:
        """Start (again) waiting: a project is being opened."""
        self._t0 = time.monotonic()
        self._quiet = 0
        self.done = False
        self.seconds = None
        self._timer.start()

    def stop(self) -> None:
        """Stop waiting (the window closes): no ``settled`` after this."""
        self._timer.stop()

    def loading(self) -> list[str]:
        """What is still loading now (parts by name, then loader threads)."""
        return list(dict.fromkeys([*self._pending(), *loader_threads()]))

    def _poll(self) -> None:
        names = self.loading()
        if names != self._last:
            self._last = names
            self.changed.emit(names)
        self._quiet = 0 if names else self._quiet + 1
        if self._quiet >= 2:
            self._timer.stop()
            self.done = True
            self.seconds = time.monotonic() - self._t0
            self.settled.emit(self.seconds)


def cpu_seconds() -> float:
    """CPU time of this process, all its threads, plus its finished child processes."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


class StartupReport(QObject):
    """``siam-workbench --timing``: one JSON line on stdout when the window is first painted
    (``shown``), when the project has opened (``opened``) and when the window has settled
    (``settled``), each with the wall clock (``time``, seconds since the epoch, comparable
    across processes) and :func:`cpu_seconds`; with ``quit_when_settled`` the window then
    closes (start-up benchmarks)."""

    def __init__(self, window: Any, quit_when_settled: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.quit = quit_when_settled
        self.shown = False
        if quit_when_settled:
            window.prewarm = False
        window.installEventFilter(self)
        window.doc.projectChanged.connect(lambda: self.emit("opened"))
        window.tracker.settled.connect(self._settled)

    def emit(self, event: str, **extra: Any) -> None:
        line = {"event": event, "time": time.time(), "cpu": cpu_seconds(), **extra}
        print(json.dumps(line), flush=True)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if not self.shown and event.type() == QEvent.Type.Paint:
            self.shown = True
            self.emit("shown")
        return False

    def _settled(self, seconds: float) -> None:
        project = self.window.project
        self.emit("settled", runs=len(project.runs()) if project is not None else 0,
                  project=str(project.root) if project is not None else None,
                  tabs=self.window.built_tabs())
        if self.quit:
            sys.stdout.flush()
            QTimer.singleShot(0, self.window.close)

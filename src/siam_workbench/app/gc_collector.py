"""Python's cycle collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a generation's threshold is
crossed. In this app that is often a worker thread (a font scan, a run reader), and a widget or
action left in a reference cycle is then destroyed there: Qt's destructor takes its object
lock and asks shiboken for a Python override, which waits for the GIL, while the GUI thread,
holding the GIL, waits for that same lock in another destructor. Both threads stop for good
(seen as a hung GUI test: a worker in ``gc_collect_main`` → ``QObject::~QObject`` →
``GilState::acquire``, the GUI thread in ``QObject::~QObject`` → ``QBasicMutex::lockInternal``).

So automatic collection is switched off and the same thresholds are checked from a timer on
the GUI thread, which collects the generations a normal run would have collected. Workers
never collect; garbage waits at most one interval.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Owns the collection while it lives (install one per QApplication)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0  # how often this collector ran a collection (tests)
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as gc would."""
        counts = gc.get_count()
        if counts[0] <= self.thresholds[0]:
            return
        generation = 0
        if counts[1] > self.thresholds[1]:
            generation = 2 if counts[2] > self.thresholds[2] else 1
        gc.collect(generation)
        self.collections += 1


def install(app: QObject) -> MainThreadCollector:
    """One collector for ``app``, parented to it so it lives as long as the application."""
    existing = app.findChild(MainThreadCollector)
    return existing if existing is not None else MainThreadCollector(app)

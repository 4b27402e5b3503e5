"""Python's cycle collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a generation's threshold is
crossed. In this app that is often a worker thread (a font scan, a run reader), and a widget or
action left in a reference cycle is then destroyed there: Qt's destructor takes its object
lock and asks shiboken for a Python override, which waits for the GIL, while the GUI thread,
holding the GIL, waits for that same lock in another destructor. Both threads stop for good
(seen as a hung GUI test: a worker in ``gc_collect_main`` → ``QObject::~QObject`` →
``GilState::acquire``, the GUI thread in ``QObject::~QObject`` → ``QBasicMutex::lockInternal``).

So automatic collection is switched off and the same rule is applied from a timer on the GUI
thread: the oldest generation whose count passed its threshold is collected, and — as CPython
does — the full (oldest) collection only once the objects promoted to it since the last one
reach a quarter of those it held then. Without that rule a full pass over the ~300,000 objects
of a loaded app (~300 ms) would run every minute of a training run. Workers never collect;
garbage waits at most one interval.
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
        self.full_collections = 0
        # CPython's long_lived_total / long_lived_pending: objects in the oldest generation
        # after the last full collection, and objects promoted into it since.
        self._long_lived_total = 0
        self._long_lived_pending = 0
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect what an enabled collector would have collected by now (at most one pass)."""
        counts = gc.get_count()
        t0, t1, t2 = self.thresholds
        if counts[0] <= t0:
            return
        if counts[2] > t2 and self._long_lived_pending >= self._long_lived_total // 4:
            gc.collect(2)
            self.full_collections += 1
            self._long_lived_total = len(gc.get_objects(generation=2))
            self._long_lived_pending = 0
        elif counts[1] > t1:
            young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
            found = gc.collect(1)  # the survivors move to the oldest generation
            self._long_lived_pending += max(0, young - found)
        else:
            gc.collect(0)
        self.collections += 1


def install(app: QObject) -> MainThreadCollector:
    """One collector for ``app``, parented to it so it lives as long as the application."""
    existing = app.findChild(MainThreadCollector)
    return existing if existing is not None else MainThreadCollector(app)

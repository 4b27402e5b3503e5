"""Python's cycle collector runs on the GUI thread only (app/gc_collector.py): garbage that a
worker's allocations would have collected on the worker is collected by the GUI thread's
timer instead."""

from __future__ import annotations

import gc
import threading

from siam_workbench.app.gc_collector import MainThreadCollector, install


class _Cycle:
    """Records on which thread it was finalised."""

    where: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.where.append(threading.current_thread().name)


def test_cycles_are_collected_on_the_gui_thread_not_by_a_worker(qtbot, qapp):
    collector = install(qapp)
    assert install(qapp) is collector and isinstance(collector, MainThreadCollector)
    assert not gc.isenabled()
    _Cycle.where.clear()
    for _ in range(50):
        _Cycle()  # unreachable cycles: only the collector frees them

    kept: list[list[int]] = []

    def allocate() -> None:  # kept objects, far past gen 0's threshold: an enabled gc would
        kept.extend([i] for i in range(20 * gc.get_threshold()[0]))  # collect right here

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert _Cycle.where == []  # nothing collected on the worker
    before = collector.collections
    qtbot.waitUntil(lambda: len(_Cycle.where) == 50, timeout=30_000)
    assert set(_Cycle.where) == {threading.main_thread().name}
    assert collector.collections > before
    kept.clear()

"""Worker plumbing with a fake trainer: fast, deterministic checks of the threading contract."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from tests_workbench_helpers import wait_idle

from siam_workbench.app.workers import TrainJob, copy_event, live_threads
from siam_workbench.train.events import (
    EpochFinished,
    IterationFinished,
    RunFinished,
    RunStarted,
    RunStopped,
)


class FakeTrainer:
    """Implements the Trainer contract: subscribe / run / pause / resume / stop."""

    def __init__(self, run_dir: Path, iterations: int = 50, fail_at: int | None = None,
                 delay: float = 0.002) -> None:
        self.run_dir = run_dir
        self.iterations, self.fail_at, self.delay = iterations, fail_at, delay
        self.subs = []
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self.state = "idle"
        self.thread = None

    def subscribe(self, cb):
        self.subs.append(cb)

    def _emit(self, ev):
        for cb in self.subs:
            cb(ev)

    def pause(self):
        self._go.clear()

    def resume(self):
        self._go.set()

    def stop(self):
        self._stop.set()
        self._go.set()

    def run(self):
        self.thread = threading.current_thread()
        self.state = "running"
        self._emit(RunStarted(run_dir=self.run_dir, num_classes=3, train_samples=9, device="CPU",
                              start_epoch=0, epochs=1, iterations=self.iterations, triplets=4))
        for i in range(self.iterations):
            if not self._go.is_set():
                self.state = "paused"
                self._go.wait()
                self.state = "running"
            if self._stop.is_set():
                ev = RunStopped(run_dir=self.run_dir, epochs_done=0)
                self._emit(ev)
                return ev
            if i == self.fail_at:
                raise RuntimeError("boom in the training loop")
            time.sleep(self.delay)
            self._emit(IterationFinished(epoch=0, iteration=i, iterations=self.iterations,
                                         step=i, loss=1.0 / (i + 1), parts={"a": 0.5, "b": 0.1},
                                         images_per_s=1000.0, lr=1e-3))
        z = np.arange(3.0)
        self._emit(EpochFinished(epoch=0, epochs=1, top1=0.5, top5=1.0, val_top1=None,
                                 val_top5=None, loss=0.2, seconds=0.1, probabilities=z,
                                 clusters=z.astype(int), mean_distance=z,
                                 centers=np.ones((3, 2))))
        ev = RunFinished(run_dir=self.run_dir, epochs_done=1, best_top1=0.5)
        self._emit(ev)
        return ev


def _fake_tab(make_window, project_dir, tmp_path, **kw):
    w = make_window(project_dir)
    (project_dir / "data").mkdir()
    (project_dir / "data" / "train.h5").write_bytes(b"")  # only has to exist
    made = []

    def maker(project, config, resume=None, run_dir=None):
        def factory():
            t = FakeTrainer(tmp_path / "run", **kw)
            made.append(t)
            return t
        return factory

    w.train_tab.factory_maker = maker
    return w, made


def test_events_arrive_on_the_gui_thread_with_copied_arrays(make_window, qtbot, project_dir,
                                                            tmp_path):
    w, made = _fake_tab(make_window, project_dir, tmp_path, iterations=30)
    main = threading.current_thread()
    tab = w.train_tab

    class Probe(QObject):
        def __init__(self):
            super().__init__()
            self.threads = []

        def got(self, ev):  # a bound method of a GUI-thread QObject: delivered queued
            self.threads.append(threading.current_thread() is main)

    probe = Probe()
    assert tab.start()
    tab.job.event.connect(probe.got)
    wait_idle(qtbot, w, timeout=60_000)
    assert probe.threads and all(probe.threads)
    assert made[0].thread is not main
    assert len(tab.history) == 30 and set(tab.history.parts) == {"a", "b"}
    assert list(tab.plots.part_curves) == ["a", "b"]
    assert not [t for t in live_threads() if t.objectName() == "siam-train"]


def test_copy_event_copies_numpy_arrays():
    z = np.zeros(3)
    ev = EpochFinished(epoch=0, epochs=1, top1=0, top5=0, val_top1=None, val_top5=None, loss=0,
                       seconds=0, probabilities=z, clusters=z, mean_distance=z, centers=z)
    c = copy_event(ev)
    assert c is not ev and c.probabilities is not z and np.array_equal(c.probabilities, z)


def test_exception_in_the_worker_is_a_dialog_with_details(make_window, qtbot, recorder,
                                                          project_dir, tmp_path):
    w, _ = _fake_tab(make_window, project_dir, tmp_path, iterations=30, fail_at=10)
    assert w.train_tab.start()
    wait_idle(qtbot, w, timeout=60_000)
    err = recorder.errors()[-1]
    assert err.title == "Training failed" and "boom in the training loop" in err.text
    assert "ERROR" in w.train_tab.log.toPlainText()
    assert w.train_tab.state == "idle" and w.train_tab.start_btn.isEnabled()
    assert len(w.train_tab.history) == 10  # the points before the failure stay plotted


def test_stop_before_the_trainer_exists(make_window, qtbot, project_dir, tmp_path):
    w, made = _fake_tab(make_window, project_dir, tmp_path)
    made = []
    job = TrainJob(lambda: made.append(FakeTrainer(tmp_path / "r")) or made[-1])
    job.stop()  # before work(): the trainer is built but never run
    assert job.cancel_requested_before_start()
    assert job.work() is None
    assert made[0].state == "idle"


def test_finished_is_relayed_only_after_the_thread_wound_down(qtbot):
    """Qt emits ``QThread.finished`` before the worker deleted the job (its deleteLater) and
    ended. A tab that drops its runner on ``finished`` must not free a job the worker is still
    deleting: the relay waits until the thread has really ended and the job is gone."""
    import shiboken6
    from PySide6.QtCore import Qt

    from siam_workbench.app.workers import FunctionJob, JobRunner

    job = FunctionJob(lambda: 42)
    runner = JobRunner(job, "siam-test-finish")
    # Runs on the worker inside Qt's finish, before the deferred deletes: widens the window in
    # which an early relay would arrive.
    runner.thread.finished.connect(lambda: time.sleep(0.3), Qt.ConnectionType.DirectConnection)
    seen = {}

    def on_finished():
        seen["ended"] = runner.thread.wait(0)
        seen["job_alive"] = shiboken6.isValid(job)
        seen["live"] = runner.thread in live_threads()

    runner.finished.connect(on_finished)
    results = []
    runner.succeeded.connect(results.append)
    with qtbot.waitSignal(runner.finished, timeout=30_000):
        runner.start()
    assert results == [42]
    assert seen == {"ended": True, "job_alive": False, "live": False}

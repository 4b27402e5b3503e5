"""Miners tab: live events from a real training run, a finished run's mining.h5, random miners,
an older mining.h5 with missing fields, and 11,172 classes without stalling the GUI thread."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from PySide6.QtCore import QPointF, QTimer
from tests_workbench_helpers import wait_no_threads as _idle
from wb2_helpers import epoch_event, hangul_classes, trained_tiny, write_synthetic_run

from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.miners_tab import LIVE, MinersTab, is_uniform
from siam_workbench.app.workers import JobRunner, TrainJob
from siam_workbench.project.project import load_project
from siam_workbench.train.events import RunStarted


class _ReplayTrainer:
    """A Trainer stand-in for TrainJob that re-sends a real run's recorded events."""

    def __init__(self, events: list) -> None:
        self.events = events
        self.subscribers: list = []

    def subscribe(self, fn) -> None:
        self.subscribers.append(fn)

    def run(self):
        for ev in self.events:
            for fn in self.subscribers:
                fn(ev)
            time.sleep(0.002 if type(ev).__name__ == "IterationFinished" else 0.02)
        return self.events[-1]


def _open(qtbot, root: Path | None) -> tuple[ProjectDocument, MinersTab]:
    doc = ProjectDocument()
    if root is not None:
        doc.set_project(load_project(root))
    tab = MinersTab(doc)
    qtbot.addWidget(tab)
    tab.resize(1080, 760)
    tab.show()
    return doc, tab




def _write_project(root: Path, alphabet: str = "latin") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.toml").write_text(f'[project]\nname = "synthetic"\n\n[data]\n'
                                       f'alphabet = "{alphabet}"\n', encoding="utf-8")
    return root


def test_live_training_events_and_finished_run(qtbot):
    tr = trained_tiny()
    doc, tab = _open(qtbot, tr.root)
    # A finished run opens by default, read back from its mining.h5.
    qtbot.waitUntil(lambda: tab.history is not None and tab.source == str(tr.run_dir),
                    timeout=60_000)
    from_file = tab.history
    assert from_file.positive == "auto-probabilistic" and from_file.negative == "auto-clustering"
    assert from_file.num_epochs == 3 and not from_file.missing

    # Replay the real run's events through the real TrainJob on its QThread: copied, then
    # queued to the GUI thread exactly as during training.
    redraw_times: list[float] = []
    tab.redrawn.connect(lambda: redraw_times.append(time.monotonic()))
    job = TrainJob(lambda: _ReplayTrainer(tr.events))
    runner = JobRunner(job, "replay-train", tab)
    job.event.connect(tab.on_trainer_event)
    runner.start()
    qtbot.waitUntil(lambda: tab.source == LIVE and tab.history is not None
                    and tab.history.num_epochs == 3 and tab.live.finished == "finished",
                    timeout=60_000)
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=60_000)
    qtbot.waitUntil(lambda: len(tab.live.edges) == 3, timeout=60_000)
    qtbot.waitUntil(lambda: not tab._timer.isActive(), timeout=60_000)  # last throttled flush
    live = tab.history
    # Throttled: events are only stored; the 100 ms timer redraws (≤ 10 Hz), not every event.
    span = redraw_times[-1] - redraw_times[0] if redraw_times else 0.0
    assert 1 <= len(redraw_times) <= 2 + 10 * span, redraw_times
    assert len(redraw_times) < len(tr.events) / 5

    # auto-probabilistic: non-uniform per-class probabilities, identical to mining.h5.
    p = live.probabilities[-1]
    assert not is_uniform(p) and p.max() > 1.5 / p.size
    np.testing.assert_allclose(live.probabilities, from_file.probabilities, rtol=1e-6)
    # The events carry what mining.h5 records: the edges and the per-class series.
    assert sorted(live.edges) == sorted(from_file.edges)
    assert all(np.array_equal(live.edges[e], from_file.edges[e]) for e in live.edges)
    assert set(live.extra) == set(from_file.extra)
    for name in live.extra:
        np.testing.assert_allclose(live.extra[name], from_file.extra[name], rtol=1e-6)
    assert tab.prob_stack.currentWidget() is tab.prob_plots
    xs, log_ys = tab.curve.getData()  # log10 values: the axis is logarithmic by default
    assert len(xs) == 12 and np.all(np.diff(log_ys) <= 1e-9)  # most sampled first
    assert 10 ** log_ys[0] == pytest.approx(p.max())
    assert len(tab.bars.order) == 12 and tab.bars.values[0] == pytest.approx(p.max())
    assert tab.table_model.rowCount() == 12

    # Hover the curve: class, probability, mean distance and rank change.
    vb = tab.curve_plot.getPlotItem().vb
    tab._curve_hover(vb.mapViewToScene(QPointF(0, float(log_ys[0]))))
    top = int(np.argmax(p))
    assert tab.hover_label.text().startswith("rank 1:")
    assert live.classes[top] in tab.hover_label.text()
    assert "mean distance" in tab.hover_label.text() and "rank change" in tab.hover_label.text()

    # Search and select a class: its history over epochs and its nearest classes.
    tab.search.setText("C")
    assert tab.table_model.rowCount() == 1
    assert tab.selected == live.classes.index("C")
    hx, hy = tab.history_curve.getData()
    assert len(hx) == 3
    # Nearest classes (by centers.npy) and training samples arrive from a worker.
    qtbot.waitUntil(lambda: len(tab.neighbors.entries) == 6, timeout=60_000)
    assert tab.neighbors.entries[0][1] == "C"
    assert all(d > 0 for _i, _t, d in tab.neighbors.entries[1:])
    assert all(lab.pixmap() is not None and not lab.pixmap().isNull()
               for lab in tab.neighbors._sample_labels)
    _idle(qtbot)
    tab.search.clear()

    # auto-clustering: clusters and the graph with the edges read from mining.h5.
    tab.views.setCurrentIndex(2)
    clusters = live.clusters[-1]
    assert (clusters >= 0).sum() >= 2
    # Nodes are placed by a PCA of the centers, computed on a worker when the view shows.
    qtbot.waitUntil(lambda: tab.graph.stack.currentWidget() is tab.graph.plot, timeout=60_000)
    assert len(tab.graph.nodes.data) == 12
    ex, _ = tab.graph.edges_item.getData()
    assert ex is not None and len(ex) == 2 * len(live.edges[2])
    assert "clusters" in tab.graph.count_label.text()
    member = int(np.flatnonzero(clusters >= 0)[0])
    tab.graph.select_class(member)
    same = [live.classes[i] for i in np.flatnonzero(clusters == clusters[member])]
    assert sorted(tab.graph.member_texts()) == sorted(same)

    # Heat map and the epoch slider.
    tab.views.setCurrentIndex(1)
    assert tab.heat_stack.currentWidget() is tab.heat_plot
    assert tab.heat_image.image.shape == (12, 3)
    tab.epoch_slider.setValue(0)
    assert tab.epoch_index == 0 and "after epoch 1" in tab.epoch_label.text()
    _idle(qtbot)


def test_random_miners_say_uniform(qtbot, tmp_path):
    root = _write_project(tmp_path / "p")
    write_synthetic_run(root / "runs" / "rnd", [chr(65 + i) for i in range(20)], epochs=2,
                        eta=10, positive="random", negative="random")
    _doc, tab = _open(qtbot, root)
    qtbot.waitUntil(lambda: tab.history is not None, timeout=60_000)
    assert tab.prob_stack.currentWidget() is tab.prob_message
    assert "uniform" in tab.prob_message.text() and "random" in tab.prob_message.text()
    assert tab.table_model.rowCount() == 20  # mean distances are still listed
    tab.views.setCurrentIndex(1)
    assert tab.heat_stack.currentWidget() is tab.heat_message
    tab.views.setCurrentIndex(2)
    assert tab.graph.stack.currentWidget() is tab.graph.message
    assert "random" in tab.graph.message.text() and "no cluster" in tab.graph.message.text()
    _idle(qtbot)


def test_old_mining_file_missing_fields_and_nothing_yet(qtbot, tmp_path):
    root = _write_project(tmp_path / "p")
    doc, tab = _open(qtbot, root)
    # No run at all: a clear message, not a blank pane.
    assert tab.stack.currentWidget() is tab.empty and "Train" in tab.empty.text()

    run = root / "runs" / "old"
    run.mkdir(parents=True)
    (run / "config.toml").write_text("[mining]\npositive = \"auto-probabilistic\"\n"
                                     "negative = \"auto-clustering\"\n", encoding="utf-8")
    classes = [chr(65 + i) for i in range(8)]
    with h5py.File(run / "mining.h5", "w") as h5:  # an older writer: no probabilities, edges
        h5.create_dataset("classes", data=np.array(classes, dtype=object),
                          dtype=h5py.string_dtype("utf-8"))
        h5.create_dataset("clusters", data=np.array([[0, 0, 1, 1, -1, -1, 2, 2]] * 2))
        h5.create_dataset("mean_distance", data=np.random.default_rng(0).random((2, 8)))
    tab.refresh()
    tab.show_run(run)
    qtbot.waitUntil(lambda: tab.history is not None, timeout=60_000)
    assert tab.banner.isVisible()
    for name in ("/probabilities", "/edges", "centers.npy"):
        assert name in tab.banner.text()
    assert tab.prob_stack.currentWidget() is tab.prob_message
    assert "missing" in tab.prob_message.text()
    assert tab.table_model.rowCount() == 8  # the rest is shown
    tab.views.setCurrentIndex(2)
    assert "3 clusters" in tab.graph.count_label.text()
    tab.views.setCurrentIndex(1)
    assert tab.heat_stack.currentWidget() is tab.heat_message  # no probabilities to map
    tab.heat_kind.setCurrentIndex(1)
    assert tab.heat_stack.currentWidget() is tab.heat_plot

    # A mining.h5 that is not HDF5 at all: the error inline, the app stays up.
    bad = root / "runs" / "broken"
    bad.mkdir()
    (bad / "config.toml").write_text("", encoding="utf-8")
    (bad / "mining.h5").write_bytes(b"garbage")
    tab.refresh()
    tab.show_run(bad)
    qtbot.waitUntil(lambda: tab.stack.currentWidget() is tab.empty, timeout=60_000)
    assert "not a readable HDF5 file" in tab.empty.text()
    _idle(qtbot)


def test_11172_classes_do_not_block_the_gui(qtbot, tmp_path):
    classes = hangul_classes()
    root = _write_project(tmp_path / "big", alphabet="hangul-11172")
    data = write_synthetic_run(root / "runs" / "big", classes, epochs=4, eta=1000)
    doc, tab = _open(qtbot, None)

    import torch  # noqa: F401 - the app has torch loaded long before (siam_workbench.model.backbones at start-up)

    # Each tick records wall time and the GUI thread's own CPU time.
    ticks: list[tuple[float, float]] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append((time.perf_counter(), time.thread_time())))
    timer.start()
    qtbot.wait(100)

    doc.set_project(load_project(root))  # reads mining.h5 + centers on a worker, then draws
    qtbot.waitUntil(lambda: tab.history is not None and tab.redraws >= 1, timeout=60_000)
    assert len(tab.history.classes) == 11_172
    assert tab.table_model.rowCount() == 11_172
    assert len(tab.curve.xData) == 11_172  # all classes (drawn peak-downsampled)
    tab.views.setCurrentIndex(1)  # heat map of 4 × 11,172
    qtbot.wait(60)
    tab.views.setCurrentIndex(2)  # cluster graph: only clustered nodes are drawn, and it says so
    qtbot.waitUntil(lambda: tab.graph.stack.currentWidget() is tab.graph.plot, timeout=60_000)
    shown = len(tab.graph.nodes.data)
    assert 0 < shown < 11_172 and "only the" in tab.graph.note.text()
    tab.graph.select_class(int(np.flatnonzero(data["clusters"][-1] >= 0)[0]))
    tab.views.setCurrentIndex(0)
    tab.select_class(int(np.argmax(data["probabilities"][-1])))
    qtbot.wait(60)
    tab.epoch_slider.setValue(1)
    qtbot.wait(60)

    # Live: RunStarted + EpochFinished events carrying 11,172 classes.
    tab.on_trainer_event(RunStarted(run_dir=root / "runs" / "live", num_classes=11_172,
                                    train_samples=0, device="cpu", start_epoch=0, epochs=3,
                                    iterations=1, triplets=1, classes=classes))
    for e in range(3):
        tab.on_trainer_event(epoch_event(data, e, 3))
        qtbot.wait(40)
    qtbot.waitUntil(lambda: tab.source == LIVE and tab.history is not None
                    and tab.history.num_epochs == 3, timeout=60_000)
    qtbot.wait(300)
    _idle(qtbot)
    timer.stop()
    wall, cpu = np.diff(np.array(ticks), axis=0).T
    # A gap is the GUI thread not getting back to its event loop. On a loaded two-core machine
    # the OS also hands the CPU to other processes (and to this test's worker threads) in the
    # middle of a short paint, which stretches the wall-clock gap without any long GUI work, so
    # a wall gap over 200 ms must at least not be the GUI thread's own work.
    slow = wall >= 0.200
    report = (f"max wall gap {wall.max() * 1000:.0f} ms; over 200 ms: "
              f"{[(round(w * 1000), round(c * 1000)) for w, c in zip(wall[slow], cpu[slow])]}"
              " (wall ms, GUI-thread CPU ms)")
    assert len(ticks) > 20, report
    # The bound catches work that scales with C on the GUI thread (building 11,172 table rows
    # took 2.6 s of its CPU); the figure itself is benchmarks/gui_scale.py's, since even CPU
    # time stretches on a loaded machine (369 ms seen at load 12 where an idle one takes ~100,
    # 174 ms at load 4 for one scatter of the clustered nodes): a tighter bound here would be a
    # speed goal in a test, which fails CI on a busy machine.
    assert cpu.max() < 1.0, "GUI thread busy too long: " + report
    print(report)


def test_live_epochs_draw_from_the_events_alone(qtbot, tmp_path, monkeypatch):
    """Issue 18: the live tab draws what EpochFinished carries (edges, the miners' series);
    it never opens the mining.h5 the trainer just rewrote — here there is none, and every
    reader of one fails."""
    import siam_workbench.app.miners_tab as miners_tab
    import siam_workbench.infer.mining_log as mining_log
    from siam_workbench.train.events import EpochFinished, RunFinished

    reads: list[tuple] = []

    def refuse(*args, **_kwargs):
        reads.append(args)
        raise OSError("no mining log may be read for a live run")

    for module, name in ((h5py, "File"), (mining_log, "read_mining"),
                         (mining_log, "load_run_mining"), (miners_tab, "load_run_mining")):
        monkeypatch.setattr(module, name, refuse)
    root = _write_project(tmp_path / "p")
    run = root / "runs" / "live"
    run.mkdir(parents=True)
    _doc, tab = _open(qtbot, root)
    classes = [chr(65 + i) for i in range(12)]
    rng = np.random.default_rng(4)
    tab.on_trainer_event(RunStarted(run_dir=run, num_classes=12, train_samples=0, device="cpu",
                                    start_epoch=0, epochs=2, iterations=1, triplets=1,
                                    classes=classes))
    edges = {0: np.array([[0, 1], [2, 3]]), 1: np.array([[0, 1], [1, 2], [4, 5]])}
    clusters = np.array([0, 0, 0, 1, 1, 1, 2, 2, -1, -1, 3, 3])
    for e in range(2):
        tab.on_trainer_event(EpochFinished(
            epoch=e, epochs=2, top1=0.5, top5=0.8, val_top1=None, val_top5=None, loss=1.0,
            seconds=1.0, probabilities=rng.dirichlet(np.ones(12)), clusters=clusters,
            mean_distance=rng.random(12), centers=rng.normal(size=(12, 8)).astype(np.float32),
            edges=edges[e], series={"positive.error": rng.random(12)}))
    qtbot.waitUntil(lambda: tab.source == LIVE and tab.history is not None
                    and tab.history.num_epochs == 2, timeout=30_000)
    assert not (run / "mining.h5").exists()
    assert tab.table_model.rowCount() == 12 and tab.prob_stack.currentWidget() is tab.prob_plots
    assert tab.series_combo.findData("positive.error") >= 0  # the event's own series
    tab.views.setCurrentWidget(tab.graph)
    qtbot.waitUntil(lambda: tab.graph.stack.currentWidget() is tab.graph.plot, timeout=30_000)
    ex, _ = tab.graph.edges_item.getData()
    assert len(ex) == 2 * len(edges[1])  # the last epoch's edges, from the event
    tab.epoch_slider.setValue(0)
    qtbot.waitUntil(lambda: len(tab.graph.edges_item.getData()[0]) == 2 * len(edges[0]),
                    timeout=10_000)
    tab.views.setCurrentIndex(1)
    assert tab.heat_kind.findData("positive.error") >= 0
    tab.on_trainer_event(RunFinished(run_dir=run, epochs_done=2, best_top1=None))
    qtbot.waitUntil(lambda: tab.live.finished == "finished", timeout=10_000)
    _idle(qtbot)
    assert not reads, reads

"""The Miners tab's view model imports no Qt and tells events apart by their type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_miners_model_imports_without_qt():
    # Loaded from their files: the app package's __init__ starts Qt, the modules must not.
    code = ("import sys, importlib.util as u\n"
            "for name in ('miners_model', 'miners_labels'):\n"
            "    s = u.spec_from_file_location(name, f'src/siam_workbench/app/{name}.py')\n"
            "    m = u.module_from_spec(s); sys.modules[name] = m; s.loader.exec_module(m)\n"
            "assert sys.modules['miners_model'].live_event_kind(object()) is None\n"
            "assert sys.modules['miners_model'].MinersModel().history is None\n"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert out.returncode == 0, out.stderr


def test_events_are_told_apart_by_type_not_by_name():
    from siam_workbench.app.miners_model import live_event_kind, miner_help
    from siam_workbench.train.events import IterationFinished, RunStopped

    class RunStopped2(RunStopped):  # a subclass is still a stop
        pass

    class IterationFinishedLookalike:  # a class-name match is no event
        pass

    stop = RunStopped2.__new__(RunStopped2)
    assert live_event_kind(stop) == "stopped"
    assert live_event_kind(IterationFinishedLookalike()) is None
    assert live_event_kind(IterationFinished.__new__(IterationFinished)) is None
    lines = miner_help("auto-probabilistic", "auto-clustering")
    assert len(lines) == 2 and "paper §3.2" in lines[0] and "(negative)" in lines[1]
    assert miner_help("not-loaded", "random")[0].startswith("<b>random</b> (negative)")


def test_scatter_labels_all_when_few_else_the_outliers():
    import numpy as np

    from siam_workbench.app.miners_model import scatter_labels

    assert scatter_labels([0.2, 0.3, np.nan, 0.5], [0.1, 0.0, 0.4, 0.9]) == [0, 1, 3]
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.02, 62)
    e = rng.uniform(0.0, 0.3, 62)
    p[7], e[40], p[12] = 0.5, 0.99, 0.001  # most sampled, most wrong, least sampled
    chosen = scatter_labels(p, e, limit=14)
    assert len(chosen) == 14 and len(set(chosen)) == 14
    assert {7, 40, 12} <= set(chosen)


# -- the view model, driven without Qt ------------------------------------------------------
def _started(run_dir, classes):
    from siam_workbench.train.events import RunStarted

    return RunStarted(run_dir=run_dir, num_classes=len(classes), train_samples=0, device="cpu",
                      start_epoch=0, epochs=3, iterations=1, triplets=1, classes=classes)


def _epoch(epoch, c, rng, series=None, edges=None):
    import numpy as np

    from siam_workbench.train.events import EpochFinished

    p = rng.dirichlet(np.ones(c))
    clusters = np.arange(c) // 3
    clusters[-2:] = -1
    return EpochFinished(
        epoch=epoch, epochs=3, top1=0.5, top5=0.8, val_top1=None, val_top5=None, loss=1.0,
        seconds=1.0, probabilities=p, clusters=clusters, mean_distance=rng.random(c),
        centers=rng.normal(size=(c, 4)).astype(np.float32),
        val_accuracy=rng.random(c),
        edges=np.array([[0, 1], [1, 2], [3, 4]]) if edges is None else edges,
        series={} if series is None else series)


def _no_mining_reads(monkeypatch):
    """Every way to open a mining log fails: what the model shows came from the events."""
    import h5py

    import siam_workbench.infer.mining_log as mining_log

    def refuse(*_a, **_k):
        raise AssertionError("the live view read a run file")

    monkeypatch.setattr(h5py, "File", refuse)
    monkeypatch.setattr(mining_log, "read_mining", refuse)
    monkeypatch.setattr(mining_log, "load_run_mining", refuse)


def test_live_epochs_update_the_model_from_the_events_alone(tmp_path, monkeypatch):
    import numpy as np

    from siam_workbench.app.miners_model import LIVE, MinersModel

    _no_mining_reads(monkeypatch)
    run = tmp_path / "runs" / "live"
    run.mkdir(parents=True)  # no mining.h5, no config.toml
    assert not (run / "mining.h5").exists()
    classes = [chr(65 + i) for i in range(12)]
    rng = np.random.default_rng(0)
    m = MinersModel()
    assert m.on_event(_started(run, classes)) == "started"
    assert m.show_live() is None and "Open a project" in m.empty_live_html()
    first = _epoch(0, 12, rng)  # epoch 0: the plug-in series does not exist yet
    second = _epoch(1, 12, rng, series={"positive.error": np.linspace(1, 0, 12)},
                    edges=np.array([[5, 6], [6, 7]]))
    for ev in (first, second):
        assert m.on_event(ev) == "epoch"
    assert m.live_dirty and m.flush_live() is True and not m.live_dirty
    h = m.history
    assert m.source == LIVE and h.num_epochs == 2 and h.classes == classes
    np.testing.assert_allclose(h.probabilities[1], second.probabilities)
    assert sorted(h.edges) == [0, 1] and h.edges[1].tolist() == [[5, 6], [6, 7]]
    assert set(h.extra) == {"positive.error", "val_accuracy"}
    assert np.isnan(h.extra["positive.error"][0]).all()  # before the series appeared: NaN
    np.testing.assert_allclose(h.extra["positive.error"][1], np.linspace(1, 0, 12))
    np.testing.assert_allclose(m.centers, second.centers)

    m.data_changed(to_last=True)
    assert m.epoch_index == 1 and m.epoch_text() == "after epoch 2 (2/2)"
    view = m.probability_view()
    assert not view.message and view.values[0] == second.probabilities.max()
    assert np.all(np.diff(view.values) <= 0) and view.reference == 1 / 12
    graph = m.cluster_view()
    assert graph.edges.tolist() == [[5, 6], [6, 7]]
    assert graph.needs_positions and "Placing" in graph.message  # PCA not run yet
    key, centers = m.start_placing()
    assert m.start_placing() is None  # running already
    assert m.positions_placed(key, centers[:, :2])
    graph = m.cluster_view()
    assert not graph.message and not graph.needs_positions and graph.positions.shape == (12, 2)
    assert "latest class centers" in graph.note
    m.series_name = "positive.error"
    series = m.probability_view()
    assert series.series == "positive.error" and series.reference_label == "mean"
    assert series.values.tolist() == sorted(series.values.tolist(), reverse=True)

    # A resumed run repeats epoch 1: its row and edges are replaced, not added.
    again = _epoch(1, 12, rng, edges=np.zeros((0, 2), np.int64))
    m.on_event(again)
    assert m.flush_live() is True
    assert m.history.num_epochs == 2 and m.history.edges[1].shape == (0, 2)
    np.testing.assert_allclose(m.history.probabilities[1], again.probabilities)
    assert m.on_event(type("RunFinished2", (), {})()) is None  # not an event
    from siam_workbench.train.events import RunFinished

    assert m.on_event(RunFinished(run_dir=run, epochs_done=2, best_top1=None)) == "finished"
    assert m.live.finished == "finished" and m.live_text() == "live (finished)"
    assert m.why_view().may_measure and m.why_view().run_dir == run


def test_view_model_messages_selection_and_epochs(tmp_path):
    import numpy as np

    from siam_workbench.app.miners_model import MinersModel
    from siam_workbench.infer.mining_log import MiningHistory, RunMining

    c, e = 10, 3
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(c), size=e)
    h = MiningHistory(classes=list("abcdefghij"), epochs=np.arange(e), probabilities=p,
                      clusters=np.full((e, c), -1), mean_distance=rng.random((e, c)),
                      positive="auto-probabilistic", negative="random")
    m = MinersModel()
    m.source = str(tmp_path / "runs" / "r1")
    m.run_loaded(RunMining(tmp_path, h, None, ["no centers.npy"]))
    m.data_changed(to_last=True)
    assert m.epoch_index == 2 and m.stale == {"probabilities", "history", "clusters", "why"}
    assert m.take_stale("history") and not m.take_stale("history")
    assert "cannot place" in m.banner()
    assert m.set_epoch(99) == 2 and m.set_epoch(-5) == 0
    graph = m.cluster_view()
    assert "random" in graph.message and not graph.message_side and graph.positions is None
    assert m.selection_view().index is None and m.selection_view().x_range == (0.8, 3.2)
    assert not m.select(10) and m.select(4) and m.selected == 4
    sel = m.selection_view()
    assert sel.index == 4 and sel.title.startswith("<b>e</b>")
    np.testing.assert_allclose(sel.y, p[:, 4])
    assert sel.marker == 1.0 and len(sel.ticks) == 3
    assert "probability" in m.class_details(4) and m.class_details(99) == ""

    # Uniform and missing probabilities say so instead of drawing a curve.
    h.probabilities[:] = 1 / c
    assert "uniform" in m.probability_view().message
    h.probabilities = None
    assert "/probabilities is missing" in m.probability_view().message
    # The data shrank under the selection: it is dropped.
    m.history = MiningHistory(classes=list("ab"), epochs=np.arange(1),
                              probabilities=np.array([[0.3, 0.7]]), clusters=None,
                              mean_distance=None)
    m.data_changed(to_last=False)
    assert m.selected is None and m.epoch_index == 0


def test_run_choice_follows_live_or_the_newest_run_with_a_mining_log(tmp_path):
    from siam_workbench.app.miners_model import LIVE, LiveMining, MinersModel
    from siam_workbench.project.project import RunInfo

    runs = []
    for name, mined in (("a", True), ("b", True), ("c", False)):
        path = tmp_path / name
        path.mkdir()
        if mined:
            (path / "mining.h5").write_bytes(b"")
        runs.append(RunInfo(path, name, "finished", 2, 2, None))
    m = MinersModel()
    assert m.next_source(runs, True, False) == str(tmp_path / "b")
    entries = m.run_entries(runs)
    assert [d for _t, d in entries] == [str(tmp_path / n) for n in "cba"]
    assert "(no mining log)" in entries[0][0] and "(no mining log)" not in entries[1][0]
    m.live = LiveMining(classes=[])
    assert m.next_source(runs, True, False) == LIVE
    m.follow_live = False
    assert m.next_source(runs, True, False) == str(tmp_path / "b")
    assert m.next_source([], True, False) == LIVE


def test_cluster_labels_never_overlap_on_a_crowded_graph():
    import numpy as np

    from siam_workbench.app.miners_labels import boxes_overlap, label_priority, place_labels

    rng = np.random.default_rng(3)
    n_clusters = 64
    sizes_of = rng.integers(1, 5, n_clusters)
    clusters = np.repeat(np.arange(n_clusters), sizes_of)
    n = clusters.size
    # Cluster centres spread over a 600 × 400 view, members a few pixels from their centre.
    centre = rng.uniform([20, 20], [580, 380], size=(n_clusters, 2))
    anchors = centre[clusters] + rng.normal(scale=6, size=(n, 2))
    sizes = np.column_stack([rng.uniform(8, 30, n), np.full(n, 15.0)])
    probs = rng.random(n)
    order = label_priority(clusters, probs, n)
    placed = place_labels(anchors, sizes, order, bounds=(600, 400))
    boxes = [(x, y, x + sizes[i, 0], y + sizes[i, 1]) for i, (x, y) in placed.items()]
    assert len(boxes) > n // 3  # most of them still carry a label …
    assert len(boxes) < n  # … but the crowd cannot hold all of them
    for a in range(len(boxes)):
        assert 0 <= boxes[a][0] and boxes[a][2] <= 600 and 0 <= boxes[a][1] \
            and boxes[a][3] <= 400
        for b in range(a + 1, len(boxes)):
            assert not boxes_overlap(boxes[a], boxes[b]), (boxes[a], boxes[b])
    # The largest clusters go first: the first label always finds a spot, and their classes
    # keep a label more often than those of the smallest clusters.
    size = np.bincount(clusters)[clusters]
    assert size[order[0]] == size.max() and int(order[0]) in placed
    kept = np.isin(np.arange(n), list(placed))
    assert kept[size == size.max()].mean() > kept[size == size.min()].mean()
    # Each label sits beside its own node.
    for i, (x, y) in placed.items():
        ax, ay = anchors[i]
        assert x - 40 <= ax <= x + sizes[i, 0] + 40 and y - 20 <= ay <= y + sizes[i, 1] + 20
    # Unclustered classes come after every clustered one.
    unclustered = np.where(np.arange(n) < 5, -1, clusters)
    pri = label_priority(unclustered, probs, n)
    assert set(pri[-5:].tolist()) == set(range(5))

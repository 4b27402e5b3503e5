"""History (Qt-free): live events and metrics.jsonl give the same curves."""

from __future__ import annotations

import json
import math

import numpy as np

from siam_workbench.app.history import History, read_metrics
from siam_workbench.train.events import EpochFinished, IterationFinished


def test_read_metrics_flattened_parts_and_torn_line(tmp_path):
    lines = [
        {"event": "start", "time": 1.0},
        {"event": "iteration", "epoch": 0, "iteration": 0, "step": 0, "loss": 4.0, "g1": 1.0,
         "g2": 2.0, "g3": 0.5, "images_per_s": 100.0, "lr": 0.001, "time": 1.0},
        {"event": "iteration", "epoch": 0, "iteration": 1, "step": 1, "loss": 3.0, "g1": 0.5,
         "g2": 1.5, "g3": None, "images_per_s": 110.0, "lr": 0.001, "time": 2.0},
        {"event": "epoch", "epoch": 0, "top1": 0.5, "top5": 0.9, "val_top1": None,
         "val_top5": None, "loss": 3.5},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"event": "iteration", "ste'
    (tmp_path / "metrics.jsonl").write_text(text)
    h = read_metrics(tmp_path)
    assert list(h.steps.view()) == [1, 2]
    assert list(h.loss.view()) == [4.0, 3.0]
    assert set(h.parts) == {"g1", "g2", "g3"}
    assert h.parts["g1"].view().tolist() == [1.0, 0.5]
    assert math.isnan(h.parts["g3"].view()[1])
    assert h.epochs.view().tolist() == [1]
    assert h.epoch_values["top1"].view().tolist() == [0.5]
    assert math.isnan(h.epoch_values["val_top1"].view()[0])


def test_events_feed_history_and_duplicates_are_skipped():
    h = History()
    for step in range(300):  # beyond the initial capacity
        h.add_event(IterationFinished(epoch=0, iteration=step, iterations=300, step=step,
                                      loss=1.0 / (step + 1), parts={"g1": 0.1}, lr=1e-3,
                                      images_per_s=50.0))
    h.add_event(IterationFinished(epoch=0, iteration=5, iterations=300, step=5, loss=9.0,
                                  parts={}, lr=1e-3, images_per_s=1.0))  # replayed
    assert len(h) == 300
    assert h.smooth.view()[-1] < h.smooth.view()[0]
    z = np.zeros(3)
    ev = EpochFinished(epoch=0, epochs=2, top1=0.3, top5=0.6, val_top1=0.2, val_top5=0.5,
                       loss=1.0, seconds=1.0, probabilities=z, clusters=z, mean_distance=z,
                       centers=z.reshape(3, 1))
    h.add_event(ev)
    h.add_event(ev)
    assert h.epochs.view().tolist() == [1]
    assert h.epoch_values["val_top1"].view().tolist() == [0.2]


def test_signal_emits_cannot_exhaust_true():
    """PySide6 6.12 / Python 3.11 drop a reference to True per emit
    (siam_workbench.app.qtcompat)."""
    import sys

    from PySide6.QtCore import QObject, Signal

    import siam_workbench.app  # noqa: F401 - applies the guard
    from siam_workbench.app import qtcompat

    class Emitter(QObject):
        sig = Signal(int)

    e = Emitter()
    if sys.version_info < (3, 12) and qtcompat.emit_leaks_true():
        assert qtcompat._guarded and sys.getrefcount(True) > qtcompat.PIN // 2
    for i in range(20_000):  # would abort the interpreter without the guard
        e.sig.emit(i)

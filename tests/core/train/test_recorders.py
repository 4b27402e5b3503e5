"""The run's files are written by subscribers of the trainer's events
(siam_workbench.train.recorders):
EpochFinished carries everything mining.h5 records for the epoch (the live Miners view needs
not read the file back), each recorder writes its file from events alone, and old flat
iteration records still read."""

from __future__ import annotations

import json

import numpy as np

from siam_workbench.infer.curves import read_curves
from siam_workbench.infer.mining_log import read_mining
from siam_workbench.project.runfiles import MiningLog, iteration_parts, read_metrics
from siam_workbench.project.runfolder import RunFolder
from siam_workbench.train import events as E
from siam_workbench.train.recorders import MetricsRecorder, MiningRecorder
from siam_workbench.train.trainer import Trainer


def test_epoch_event_carries_what_mining_h5_records(make_project):
    trainer = Trainer(make_project(epochs=2, iterations=2))
    seen: list[E.EpochFinished] = []
    on_disk: list[bool] = []

    def look(ev: E.TrainerEvent) -> None:
        if isinstance(ev, E.EpochFinished):
            seen.append(ev)
            f = RunFolder(trainer.run_dir)  # the recorders wrote before subscribers hear
            on_disk.append(f.last.exists() and any(
                r.get("event") == "epoch" and r["epoch"] == ev.epoch
                for r in read_metrics(f.metrics)))

    trainer.subscribe(look)
    trainer.run()
    assert len(seen) == 2 and all(on_disk)
    history = read_mining(RunFolder(trainer.run_dir).mining)
    with __import__("h5py").File(RunFolder(trainer.run_dir).mining) as h5:
        for ev in seen:
            stored = h5[f"edges/{ev.epoch}"][()].reshape(-1, 2)
            assert ev.edges.dtype == np.int64 and ev.edges.shape[1] == 2
            assert np.array_equal(ev.edges, stored)
            for name, arr in ev.series.items():
                assert arr.shape == (12,)
                assert np.allclose(h5[f"extra/{name}"][ev.epoch], arr, equal_nan=True)
            assert "val_accuracy" not in ev.series  # it has its own field
            assert np.allclose(history.probabilities[ev.epoch], ev.probabilities)
            assert ev.train_seconds >= 0 and ev.eval_seconds >= 0


def _epoch(epoch: int, c: int = 3, **kw) -> E.EpochFinished:
    rng = np.random.default_rng(epoch)
    return E.EpochFinished(
        epoch=epoch, epochs=2, top1=0.5, top5=1.0, val_top1=None, val_top5=None, loss=0.25,
        seconds=1.5, probabilities=np.full(c, 1 / c), clusters=np.array([0, 0, -1]),
        mean_distance=rng.random(c), centers=rng.random((c, 2)),
        edges=np.array([[0, 1]]), series={"positive.mine": np.array([1.0, 2.0, 3.0])},
        train_seconds=1.0, eval_seconds=0.5, **kw)


def test_recorders_write_their_files_from_events_alone(tmp_path):
    f = RunFolder(tmp_path)
    metrics = MetricsRecorder(f)
    mining = MiningRecorder(MiningLog(f.mining, ["a", "b", "c"], "p", "n"))
    for ev in (E.RunStarted(run_dir=tmp_path, num_classes=3, train_samples=9, device="CPU",
                            start_epoch=0, epochs=2, iterations=1, triplets=4,
                            pixel_nn_val_top1=0.25, pixel_nn_val_top5=0.5,
                            torch_device="cpu", threads=1),
               E.IterationFinished(epoch=0, iteration=0, iterations=1, step=0, loss=0.3,
                                   parts={"g1": 0.1, "g2": 0.2}, images_per_s=9.0, lr=0.1,
                                   spread=0.4, active=0.5, step_images_per_s=8.0),
               _epoch(0, val_accuracy=np.array([1.0, np.nan, 0.0])),
               E.RunStopped(run_dir=tmp_path, epochs_done=1, iteration=0)):
        metrics(ev)
        mining(ev)
    metrics.close()
    recs = read_metrics(f.metrics)
    assert [r["event"] for r in recs] == ["start", "baseline", "iteration", "epoch", "stopped"]
    start, base, it, ep, stop = recs
    assert (start["device"], start["classes"], start["samples"]) == ("cpu", 3, 9)
    assert "processes" not in start and (base["top1"], base["top5"]) == (0.25, 0.5)
    assert it["parts"] == {"g1": 0.1, "g2": 0.2} and it["images_per_s"] == 8.0
    assert (it["spread"], it["active"], it["lr"]) == (0.4, 0.5, 0.1)
    assert (ep["seconds"], ep["train_seconds"], ep["eval_seconds"]) == (1.5, 1.0, 0.5)
    assert (stop["epoch"], stop["iteration"]) == (1, 0)
    h = read_mining(f.mining)
    assert h.series("positive.mine").tolist() == [[1.0, 2.0, 3.0]]
    assert np.isnan(h.series("val_accuracy")[0, 1])
    curves = read_curves(tmp_path)
    assert sorted(curves.parts) == ["g1", "g2"]


def test_old_flat_iteration_records_still_read(tmp_path):
    old = [{"event": "iteration", "time": 1.0, "epoch": 0, "iteration": i, "step": i,
            "loss": 0.5 - i / 10, "triplet": 0.5 - i / 10, "images_per_s": 10.0, "images": 8,
            "triplets": 4, "lr": 0.1, "spread": 0.2, "active": 0.3} for i in range(3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert iteration_parts(old[0]) == {"triplet": 0.5}
    curves = read_curves(tmp_path / "metrics.jsonl")
    assert list(curves.parts) == ["triplet"]  # spread, active, lr ... are not parts
    assert np.allclose(curves.parts["triplet"], [0.5, 0.4, 0.3])

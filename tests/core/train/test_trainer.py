import json
import threading
import time

import h5py
import numpy as np
import pytest
import torch

from siam_workbench.base.errors import SiamError
from siam_workbench.model.checkpoint import load_checkpoint
from siam_workbench.parts.losses import loss_class
from siam_workbench.project.runfiles import read_metrics
from siam_workbench.train import events as E
from siam_workbench.train.trainer import Trainer


def run_collect(trainer):
    seen = []
    trainer.subscribe(seen.append)
    final = trainer.run()
    return final, seen


def test_training_writes_the_run_contract_and_learns(make_project):
    project = make_project(epochs=3, iterations=12)
    final, seen = run_collect(Trainer(project))
    assert isinstance(final, E.RunFinished)
    run = final.run_dir
    for name in ("config.toml", "metrics.jsonl", "mining.h5", "centers.npy", "status.json",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / name).exists(), name
    kinds = [type(e).__name__ for e in seen]
    first = kinds.index("RunStarted")
    assert set(kinds[:first]) == {"RunPreparing"} and kinds[-1] == "RunFinished"
    stages = [e.stage for e in seen[:first]]
    assert any("loading" in s for s in stages) and any("center" in s for s in stages)
    assert kinds.count("IterationFinished") == 36 and kinds.count("EpochFinished") == 3
    it = next(e for e in seen if isinstance(e, E.IterationFinished))
    assert set(it.parts) == set(loss_class(project.config.loss.kind).parts)  # its own parts
    recs = read_metrics(run / "metrics.jsonl")
    assert sum(r["event"] == "iteration" for r in recs) == 36
    assert [r["epoch"] for r in recs if r["event"] == "epoch"] == [0, 1, 2]
    with h5py.File(run / "mining.h5") as h5:
        assert h5["probabilities"].shape == (3, 12)
        assert h5["clusters"].shape == (3, 12) and h5["mean_distance"].shape == (3, 12)
        assert np.allclose(h5["probabilities"][()].sum(1), 1.0, atol=1e-4)
    assert np.load(run / "centers.npy").shape == (12, 25)
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["epoch"] == 3
    last = [e for e in seen if isinstance(e, E.EpochFinished)][-1]
    # 12 classes: chance is 8 %; held-out "fonts" of the synthetic glyphs must do far better.
    assert last.val_top1 is not None and last.val_top1 > 0.5, last.val_top1
    # AP: after an epoch the positive distribution is no longer uniform
    assert last.probabilities.std() > 1e-4


@pytest.mark.parametrize("positive", ["random", "auto-probabilistic"])
@pytest.mark.parametrize("negative", ["random", "auto-clustering", "hard", "distance"])
def test_every_miner_combination_trains(make_project, positive, negative):
    project = make_project(positive, negative, epochs=1, iterations=2, name=f"{positive}{negative}")
    final, _ = run_collect(Trainer(project))
    assert isinstance(final, E.RunFinished)


@pytest.mark.parametrize("kind", ["contrastive", "triplet"])
def test_other_losses_train(make_project, kind):
    project = make_project(epochs=1, iterations=3)
    config = project.config.replace({"loss": {"kind": kind}})
    final, seen = run_collect(Trainer(project, config=config))
    assert isinstance(final, E.RunFinished)
    parts = next(e for e in seen if isinstance(e, E.IterationFinished)).parts
    assert parts and "g1" not in parts


def test_pause_resume_stop_then_resume_run(make_project):
    project = make_project(epochs=2, iterations=30)
    trainer = Trainer(project)
    iters = []
    trainer.subscribe(lambda e: iters.append(e) if isinstance(e, E.IterationFinished) else None)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("final", trainer.run()))
    thread.start()
    deadline = time.time() + 60
    while len(iters) < 3 and time.time() < deadline:
        time.sleep(0.01)
    trainer.pause()
    # The loop honours the flag at the next iteration boundary (after an epoch-end pass, if one
    # is under way), so wait for it to say so, then check that nothing happens while paused.
    while trainer.state != "paused" and time.time() < deadline:
        time.sleep(0.01)
    assert trainer.state == "paused"
    n_paused = len(iters)
    time.sleep(0.5)
    assert len(iters) == n_paused
    trainer.resume()
    while len(iters) < n_paused + 3 and time.time() < deadline:
        time.sleep(0.01)
    assert len(iters) >= n_paused + 3
    trainer.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(result["final"], E.RunStopped)
    run = trainer.run_dir
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    stopped_at = (ckpt["epoch"], ckpt["iteration"])
    assert stopped_at != (0, 0)
    assert json.loads((run / "status.json").read_text())["status"] == "stopped"

    final, seen = run_collect(Trainer(project, resume=run))
    assert isinstance(final, E.RunFinished)
    first_iter = next(e for e in seen if isinstance(e, E.IterationFinished))
    assert (first_iter.epoch, first_iter.iteration) == stopped_at
    recs = read_metrics(run / "metrics.jsonl")
    keys = [(r["epoch"], r["iteration"]) for r in recs if r["event"] == "iteration"]
    assert len(keys) == len(set(keys)) == 2 * 30  # every iteration exactly once


def test_nan_loss_fails_cleanly_and_keeps_last_good_checkpoint(make_project, monkeypatch):
    project = make_project(epochs=3, iterations=3)
    trainer = Trainer(project)
    original = Trainer._step_loss
    calls = {"n": 0}

    def poisoned(self):
        out, n = original(self)
        calls["n"] += 1
        if calls["n"] > 4:  # after the first epoch (3 iterations) has been checkpointed
            out.loss = out.loss * float("nan")
        return out, n

    monkeypatch.setattr(Trainer, "_step_loss", poisoned)
    final, seen = run_collect(trainer)
    assert isinstance(final, E.RunFailed)
    assert "nan" in final.message and "epoch 2" in final.message
    ckpt = load_checkpoint(trainer.run_dir / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert json.loads((trainer.run_dir / "status.json").read_text())["status"] == "failed"


def test_missing_training_data_makes_no_run_folder(make_project):
    project = make_project()
    (project.root / "data" / "train.h5").unlink()
    final, _ = run_collect(Trainer(project))
    assert isinstance(final, E.RunFailed)
    assert "train.h5" in final.message and "render" in final.message
    assert not project.runs_dir.exists() or not any(project.runs_dir.iterdir())


def test_resume_refuses_changed_method(make_project):
    project = make_project(epochs=1, iterations=2)
    final, _ = run_collect(Trainer(project))
    changed = project.config.replace({"loss": {"kind": "contrastive"}})
    with pytest.raises(SiamError, match="loss.kind"):
        Trainer(project, config=changed, resume=final.run_dir)
    # extending the number of epochs is allowed
    longer = project.config.replace({"train": {"epochs": 2}})
    final2, _ = run_collect(Trainer(project, config=longer, resume=final.run_dir))
    assert isinstance(final2, E.RunFinished) and final2.epochs_done == 2


def test_cuda_request_without_cuda_is_a_clear_failure(make_project):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    project = make_project()
    config = project.config.replace({"train": {"device": "cuda"}})
    final, _ = run_collect(Trainer(project, config=config))
    assert isinstance(final, E.RunFailed) and "CUDA" in final.message


def test_data_paths_come_from_the_run_config(make_project):
    project = make_project(epochs=1, iterations=1)
    (project.root / "data" / "val.h5").rename(project.root / "data" / "other-val.h5")
    config = project.config.replace({"data": {"val": "data/other-val.h5"}})
    final, seen = run_collect(Trainer(project, config=config))
    epoch = next(e for e in seen if isinstance(e, E.EpochFinished))
    assert isinstance(final, E.RunFinished) and epoch.val_top1 is not None


def _stop_after(trainer, n: int) -> None:
    """Ask the trainer to stop once ``n`` iterations have finished (on its own thread)."""
    def cb(ev):
        if isinstance(ev, E.IterationFinished) and ev.step + 1 >= n:
            trainer.stop()
    trainer.subscribe(cb)


def test_stop_mid_epoch_skips_the_epoch_end_and_eval_recomputes_centers(make_project):
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.parts.centers import class_centers, embed

    project = make_project(epochs=2, iterations=10)
    trainer = Trainer(project)
    _stop_after(trainer, 10 + 4)  # the first epoch ends, then 4 iterations of the second
    final, seen = run_collect(trainer)
    assert isinstance(final, E.RunStopped)
    assert [type(e).__name__ for e in seen].count("EpochFinished") == 1  # no second epoch end
    ckpt = load_checkpoint(trainer.run_dir / "checkpoints" / "last.pt")
    assert (ckpt["step"], ckpt["centers_step"]) == (14, 10)
    run = load_run(trainer.run_dir, which="last")
    assert run.meta["centers"].startswith("recomputed")
    train = project.resolve(project.config.data.train)
    from siam_workbench.data.glyphs import load_glyphs

    data = load_glyphs(train)
    want, _ = class_centers(embed(run.model, data.images, "cpu", run.space), data.labels, 12)
    assert torch.allclose(run.centers, want, atol=1e-5)
    assert not torch.allclose(run.centers, ckpt["centers"], atol=1e-3)  # they were stale


def test_preprocessing_travels_with_the_run(make_project, monkeypatch):
    from siam_workbench.infer import query as Q
    from siam_workbench.infer.evaluate import load_run

    project = make_project(epochs=1, iterations=2)
    config = project.config.replace({"data": {"margin": 4}})
    final, _ = run_collect(Trainer(project, config=config))
    run = load_run(final.run_dir)
    assert run.preprocess.margin == 4 and run.preprocess.image_size == 37
    seen = []
    real = Q.normalize_glyph
    monkeypatch.setattr(Q, "normalize_glyph",
                        lambda img, size, margin=2, **kw: seen.append((size, margin))
                        or real(img, size, margin, **kw))
    img = np.zeros((50, 50), dtype=np.uint8)
    img[10:40, 20:30] = 255
    Q.query(run, [img], k=3)
    assert seen == [(37, 4)]

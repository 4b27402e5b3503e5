"""Guided-training notices (siam_workbench.infer.advice) on recorded runs of the synthetic
project."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from siam_workbench.infer import advice
from siam_workbench.infer.advice import Snapshot, advise, advise_run, snapshot_of_run
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.train.trainer import Trainer


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Four short runs recorded once: a healthy-clustering one, η far too large, η far too
    small and γ far too large (12 synthetic classes, 3 epochs × 4 iterations)."""
    from tests.conftest import make_tiny_project

    root = make_tiny_project(tmp_path_factory.mktemp("advice") / "synthetic", epochs=3,
                             iterations=4)
    from siam_workbench.project.project import load_project

    project = load_project(root)
    torch.set_num_threads(1)
    runs = {}
    for name, upd in (("healthy", {"mining": {"eta": 3, "gamma": 1.0}}),
                      ("eta-large", {"mining": {"eta": 1000}}),
                      ("eta-small", {"mining": {"eta": 1}}),
                      ("gamma-large", {"mining": {"gamma": 20.0}}),
                      ("frozen", {"train": {"lr": 1e-8, "epochs": 4}})):
        run_dir = root / "runs" / name
        final = Trainer(project, config=project.config.replace(upd), run_dir=run_dir).run()
        assert type(final).__name__ == "RunFinished"
        runs[name] = run_dir
    return runs


def codes(run_dir) -> set[str]:
    return {n.code for n in advise_run(run_dir)}


def test_collapsed_clusters_are_noticed_with_a_smaller_eta(recorded):
    notices = {n.code: n for n in advise_run(recorded["eta-large"])}
    n = notices["clusters-collapsed"]
    assert n.suggestion["mining"]["eta"] < 1000
    # The suggestion is a valid config for the next run.
    Config().replace(n.suggestion)
    assert "clusters-collapsed" not in codes(recorded["healthy"])


def test_sparse_clusters_are_noticed_with_a_larger_eta(recorded):
    notices = {n.code: n for n in advise_run(recorded["eta-small"])}
    assert notices["clusters-sparse"].suggestion["mining"]["eta"] > 1
    assert "clusters-sparse" not in codes(recorded["healthy"])
    assert "clusters-sparse" not in codes(recorded["eta-large"])


def test_degenerate_sampling_is_noticed_with_a_smaller_gamma(recorded):
    notices = {n.code: n for n in advise_run(recorded["gamma-large"])}
    assert notices["sampling-degenerate"].suggestion["mining"]["gamma"] < 20
    assert "sampling-degenerate" not in codes(recorded["healthy"])


def test_plateau_is_noticed_on_a_run_that_does_not_learn(recorded):
    assert "loss-plateau" in codes(recorded["frozen"])
    assert "loss-plateau" not in codes(recorded["healthy"])


def test_below_pixel_baseline_uses_the_logged_baseline(recorded):
    snap = snapshot_of_run(recorded["frozen"])
    assert snap.pixel_nn_val is not None
    last = snap.epochs[-1]["val_top1"]
    assert ("below-pixel-nn" in codes(recorded["frozen"])) == (last < snap.pixel_nn_val)
    # Above the baseline: no notice.
    snap.pixel_nn_val = 0.0
    assert advice.below_pixel_baseline(snap) is None


def _epochs(triples):
    return [{"epoch": i, "top1": t, "val_top1": v, "loss": loss}
            for i, (t, v, loss) in enumerate(triples)]


def test_climbing_loss_and_memorised_faces_from_their_epoch_records():
    cfg = Config()
    climbing = Snapshot(cfg, epochs=_epochs([(0.5, 0.4, 10.0), (0.6, 0.5, 8.0),
                                             (0.6, 0.5, 9.0), (0.6, 0.5, 10.5)]))
    n = advice.loss_climbing(climbing)
    assert n is not None and n.suggestion["train"]["lr"] < cfg.train.lr
    steady = Snapshot(cfg, epochs=_epochs([(0.5, 0.4, 10.0), (0.6, 0.5, 8.0),
                                           (0.6, 0.5, 7.0)]))
    assert advice.loss_climbing(steady) is None
    memo = Snapshot(cfg, epochs=_epochs([(0.6, 0.55, 5), (0.75, 0.6, 4), (0.85, 0.62, 3),
                                         (0.95, 0.63, 2)]))
    n = advice.memorising_faces(memo)
    assert n is not None and n.suggestion["augment"]["p"] > cfg.augment.p
    Config().replace(n.suggestion)
    learning = Snapshot(cfg, epochs=_epochs([(0.6, 0.55, 5), (0.75, 0.7, 4),
                                             (0.85, 0.8, 3)]))
    assert advice.memorising_faces(learning) is None


def test_siam_advise_prints_the_notices(recorded):
    proc = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "advise",
                           str(recorded["eta-large"]), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "clusters-collapsed" in {n["code"] for n in json.loads(proc.stdout)}


def test_siam_train_prints_each_notice_once(tmp_path):
    from tests.conftest import make_tiny_project

    root = make_tiny_project(tmp_path / "synthetic", epochs=3, iterations=3)
    proc = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "train", str(root),
                           "--set", "mining.eta=1000"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "notice: Auto-clustering collapsed" in ln]
    assert len(lines) == 1 and "--set mining.eta=" in lines[0]


def test_cluster_warning_for_the_miners_view():
    from siam_workbench.infer.advice import cluster_shares, cluster_warning

    healthy = np.array([0, 0, 1, 1, 2, 2, -1, -1, -1, 3])
    assert cluster_warning(healthy) is None
    collapsed = np.array([0] * 8 + [-1, 1, 1, -1])
    assert cluster_shares(collapsed) == (8 / 12, 10 / 12, 12)
    assert "collapsed" in cluster_warning(collapsed)
    sparse = np.array([0, 0] + [-1] * 10)
    assert "no cluster" in cluster_warning(sparse)
    # Classes without samples do not count.
    present = np.array([True] * 2 + [False] * 10)
    assert cluster_warning(sparse, present) is None


def test_plateau_waits_for_a_decaying_schedule_while_accuracy_rises():
    """A flat loss with accuracy still climbing 3 points an epoch is no plateau; a flat loss
    with flat accuracy is one, schedule or not."""
    rising = [{"loss": 0.25, "val_top1": 0.80 + 0.03 * i} for i in range(4)]
    flat = [{"loss": 0.25, "val_top1": 0.80} for _ in range(4)]
    for schedule in ("cosine", "constant"):
        cfg = Config().replace({"train": {"lr_schedule": schedule, "epochs": 20}})
        assert advice.loss_plateau(Snapshot(config=cfg, epochs=rising)) is None, schedule
        notice = advice.loss_plateau(Snapshot(config=cfg, epochs=flat))
        assert notice is not None and notice.code == "loss-plateau", schedule
    # Late in a decaying schedule a small gain no longer hides a plateau.
    cfg = Config().replace({"train": {"lr_schedule": "cosine", "epochs": 5}})
    slow = [{"loss": 0.25, "val_top1": 0.80 + 0.005 * i} for i in range(4)]
    assert advice.loss_plateau(Snapshot(config=cfg, epochs=slow)) is not None
    cfg = Config().replace({"train": {"lr_schedule": "cosine", "epochs": 20}})
    assert advice.loss_plateau(Snapshot(config=cfg, epochs=slow)) is None


def test_a_collapsed_embedding_is_noticed_with_a_way_out():
    """Top-1 at chance after an epoch (the metric loss's softplus dead zone, seen on the
    quickstart benchmark) is a warning that names the loss to switch to; a learning run is not."""
    n = 62
    metric = Config().replace({"loss": {"kind": "metric", "alpha": 1.0, "xi": 0.1}})
    dead = Snapshot(config=metric, epochs=[{"loss": 0.7, "val_top1": 0.015}],
                    mean_distance=np.zeros(n))
    notice = advice.collapsed(dead)
    assert notice is not None and notice.severity == "warning"
    assert notice.suggestion == {"loss": {"kind": "triplet",
                                          "alpha": SCHEMA["loss"]["alpha"].default}}
    assert "softplus" in notice.detail and advise(dead)[0].code == "collapsed"
    triplet = Config().replace({"loss": {"kind": "triplet"}, "train": {"lr": 0.003}})
    notice = advice.collapsed(Snapshot(config=triplet, epochs=[{"val_top1": 0.015}],
                                       mean_distance=np.zeros(n)))
    assert notice is not None and notice.suggestion == {"train": {"lr": 0.001}}
    learning = Snapshot(config=metric, epochs=[{"val_top1": 0.40}], mean_distance=np.ones(n))
    assert advice.collapsed(learning) is None
    assert advice.collapsed(Snapshot(config=metric, epochs=[{"val_top1": 0.015}])) is None


def _spreads(values, iterations=40):
    cfg = Config().replace({"train": {"iterations": iterations},
                            "loss": {"kind": "metric", "alpha": 10.0}})
    return Snapshot(config=cfg, spreads=list(values))


def test_a_collapse_is_seen_from_the_spread_of_the_batch():
    """Spreads pinned far below the margin, not growing: a collapse (half an epoch suffices);
    a run whose spread grows, or one at the margin's scale, is none."""
    shrinking = [0.01 * 0.9 ** i for i in range(20)]
    assert advice.spread_collapsed(_spreads(shrinking)) is not None
    assert advice.collapsed(_spreads(shrinking)).code == "collapsed"
    assert advice.spread_collapsed(_spreads(shrinking[:10])) is None  # not yet half an epoch
    growing = [0.01 * 1.2 ** i for i in range(20)]  # a fresh network learning
    assert advice.spread_collapsed(_spreads(growing)) is None
    assert advice.spread_collapsed(_spreads([3.0] * 20)) is None  # flat at the margin's scale


def test_siam_train_says_collapse_within_the_first_epoch(tmp_path):
    """The paper's metric loss with a rate that cannot move the weights: the loss is pinned at
    τ²·softplus(α)² from the first step; the notice comes before the first epoch ends, once,
    with the cause and a way out."""
    from tests.conftest import make_tiny_project

    root = make_tiny_project(tmp_path / "synthetic", epochs=1, iterations=12)
    proc = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "train", str(root),
                           "--preset", "paper", "--iterations", "12", "--triplets", "32",
                           "--set", "train.lr=1e-8"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    notice = [i for i, ln in enumerate(lines) if "notice: The embedding has collapsed" in ln]
    epoch = [i for i, ln in enumerate(lines) if "epoch 1/1" in ln]
    assert len(notice) == 1 and epoch and notice[0] < epoch[0]
    assert "learning rate" in lines[notice[0]] and "--set train.lr=" in lines[notice[0]]

"""Run management, evaluation details and run read-back for the views (siam_workbench.infer)."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.framing import Preprocess
from siam_workbench.infer import compare, mining_log, runs
from siam_workbench.infer import curves as run_curves
from siam_workbench.infer.evaluate import (
    confused_pairs,
    evaluate,
    load_run,
    per_class_table,
    run_preprocess,
)
from siam_workbench.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from siam_workbench.project.project import load_project
    from tests.conftest import make_tiny_project

    root = make_tiny_project(tmp_path_factory.mktemp("runs") / "synthetic", epochs=2, iterations=4)
    # The paper's metric loss, whose three parts (g1, g2, g3) the views plot separately.
    with (root / "project.toml").open("a") as f:
        f.write('\n[loss]\nkind = "metric"\nalpha = 10.0\n')
    torch.set_num_threads(1)
    project = load_project(root)
    out = []
    for name in ("first", "second"):
        final = Trainer(project, run_dir=root / "runs" / name).run()
        assert type(final).__name__ == "RunFinished"
        out.append(root / "runs" / name)
    return project, out


def test_evaluation_reports_progress_cancels_and_details(trained):
    project, (run_dir, _) = trained
    run = load_run(run_dir)
    seen = []
    result = evaluate(run, project.dataset_paths()["test"], keep_predictions=True,
                      progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, result["n"]) and seen[-1] == (result["n"], result["n"])
    table = per_class_table(result, run.classes)
    assert sum(r.n for r in table) == result["n"]
    overall = sum(r.top1 * r.n for r in table) / result["n"]
    assert overall == pytest.approx(result["top1"])
    assert [r.top1 for r in table] == sorted(r.top1 for r in table)  # worst first
    pairs = confused_pairs(result, run.classes, top=50)
    wrong = int((result["pred"][:, 0] != result["labels"]).sum())
    assert sum(p.count for p in pairs) == wrong
    import threading

    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        evaluate(run, project.dataset_paths()["test"], cancel=stop)


def test_evaluations_are_kept_and_shown_in_the_comparison(trained):
    project, (run_dir, other) = trained
    proc = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "eval", str(run_dir),
                           "--json",
                           "--confused", "3", "--per-class", str(run_dir.parent / "pc.csv")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["split"] == "test" and len(out["confused"]) <= 3
    assert (run_dir.parent / "pc.csv").read_text().startswith("index,class,n,top1")
    kept = runs.read_evaluations(run_dir)["test"]
    assert kept["top1"] == pytest.approx(out["top1"])
    summaries = [compare.summarize_run(p) for p in (run_dir, other)]
    header, rows = compare.comparison_table(summaries)
    assert rows[0][header.index("test_top1")] == pytest.approx(out["top1"])
    assert rows[1][header.index("test_top1")] is None
    assert summaries[0].accuracy_set == "val"


def test_notes_rename_delete_and_best(trained, tmp_path):
    import shutil

    project, (run_dir, _) = trained
    copy = project.runs_dir / "copy"
    shutil.copytree(run_dir, copy)
    runs.write_notes(copy, "γ = 2, first try")
    assert runs.read_notes(copy).strip() == "γ = 2, first try"
    renamed = runs.rename_run(copy, "renamed")
    assert renamed.exists() and not copy.exists()
    with pytest.raises(SiamError):
        runs.rename_run(renamed, "bad/name")
    with pytest.raises(SiamError):
        runs.rename_run(renamed, run_dir.name)  # exists
    best = runs.best_run(project)
    scores = [r.best_top1 for r in project.runs() if r.best_top1 is not None]
    assert best is not None and best.best_top1 == max(scores)
    # A run that is training now is refused.
    from siam_workbench.base.locks import FileLock, run_lock_path

    (renamed / "status.json").write_text(json.dumps({"status": "running"}))
    with FileLock(run_lock_path(renamed), renamed):  # as a live trainer holds it
        with pytest.raises(SiamError, match="training"):
            runs.delete_run(renamed)
    assert not runs.is_active(renamed)  # the status alone does not make it live
    runs.delete_run(renamed, force=True)
    assert not renamed.exists()
    assert not list(project.runs_dir.glob(".deleted-*"))


def test_run_files_read_back_for_the_views(trained):
    _, (run_dir, _) = trained
    curves = run_curves.read_curves(run_dir)
    assert len(curves.steps) == 8 and set(curves.parts) >= {"g1", "g2", "g3"}
    assert len(curves.epoch_starts) == 1
    assert np.isfinite(curves.throughput).all()
    assert run_curves.pixel_baseline(curves) is not None
    mining = mining_log.load_run_mining(run_dir)
    assert mining.config is not None and mining.history.positive == "auto-probabilistic"
    # A plug-in miner's per-class series under /extra/<name> is read as a named series.
    with h5py.File(run_dir / "mining.h5", "a") as h5:
        n_e, n_c = h5["probabilities"].shape
        h5.create_dataset("extra/error_rate", data=np.linspace(0, 1, n_e * n_c).reshape(n_e, n_c))
    h = mining_log.read_mining(run_dir / "mining.h5")
    assert h.series("error_rate").shape == (n_e, n_c)
    assert run_preprocess(run_dir) == Preprocess("fit", 2, 37)
    assert run_preprocess(run_dir, {"preprocess": {"margin": 4, "size_mode": "em"}}) == \
        Preprocess("em", 4, 37)

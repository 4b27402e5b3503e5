"""RunFolder alone names a run's files: the trainer writes where it says, the readers (run list,
analysis, evaluation, fine-tuning, the Draw tab) find them there."""

from __future__ import annotations

from pathlib import Path

from siam_workbench.project import runfolder
from siam_workbench.project.runfolder import RunFolder


def test_names_are_those_of_the_run_folder_contract(tmp_path):
    f = RunFolder(tmp_path / "r")
    assert f.path == tmp_path / "r" and RunFolder(str(tmp_path / "r")) == f
    assert (f.config.name, f.metrics.name, f.mining.name, f.status.name, f.centers.name) == (
        "config.toml", "metrics.jsonl", "mining.h5", "status.json", "centers.npy")
    assert f.last == tmp_path / "r" / "checkpoints" / "last.pt"
    assert f.best == tmp_path / "r" / "checkpoints" / "best.pt"
    assert (f.notes.name, f.evaluations.name, f.finetune.name, f.enrolled.name) == (
        "notes.md", "evaluations.json", "finetune.json", "enrolled.json")
    assert runfolder.RUNS == "runs"


def test_checkpoint_choice_and_tests(tmp_path):
    f = RunFolder(tmp_path)
    assert not f.is_run() and not f.has_checkpoint() and not f.can_resume()
    assert f.checkpoint("best") == f.last  # no best yet: the last one stands in
    f.config.write_text("")
    f.checkpoints.mkdir()
    f.last.write_bytes(b"x")
    assert f.is_run() and f.has_checkpoint() and f.can_resume()
    assert f.checkpoint("best") == f.last
    f.best.write_bytes(b"x")
    assert f.checkpoint("best") == f.best and f.checkpoint("last") == f.last
    f.last.unlink()
    assert f.has_checkpoint() and not f.can_resume()


def test_a_trained_run_is_found_by_every_reader(make_project):
    from siam_workbench.infer.curves import read_curves
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.infer.run_config import read_run_config
    from siam_workbench.infer.runs import has_checkpoint
    from siam_workbench.project.project import is_run_dir
    from siam_workbench.train.finetune import source_checkpoint
    from siam_workbench.train.trainer import Trainer

    final = Trainer(make_project(epochs=1, iterations=2)).run()
    f = RunFolder(final.run_dir)
    written = {p.name for p in Path(final.run_dir).iterdir()}
    assert {f.config.name, f.metrics.name, f.mining.name, f.status.name, f.centers.name,
            f.checkpoints.name} <= written
    assert f.best.exists() and f.last.exists()
    assert is_run_dir(f.path) and has_checkpoint(f.path) and read_run_config(f.path)
    assert source_checkpoint(f.path) == f.best
    assert load_run(f.path).meta["checkpoint"] == str(f.best)
    assert len(read_curves(f.path).steps) == 2


def test_draw_tab_asks_the_run_folder(tmp_path):
    from siam_workbench.app.draw_tab import has_checkpoint
    from siam_workbench.project.project import RunInfo

    f = RunFolder(tmp_path)
    info = RunInfo(path=tmp_path, id="r", status="finished", epoch=0, epochs=1, best_top1=None)
    assert not has_checkpoint(info)
    f.checkpoints.mkdir()
    f.best.write_bytes(b"x")
    assert has_checkpoint(info)

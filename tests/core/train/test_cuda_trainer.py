"""The trainer on a CUDA device (skipped without one; benchmarks/gpu_check.sh runs these)."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.cuda


def test_tiny_run_on_cuda_finishes_and_loads_on_cpu(make_project):
    from siam_workbench.infer.evaluate import evaluate, load_run
    from siam_workbench.train.trainer import Trainer

    project = make_project(epochs=2, iterations=6)
    config = project.config.replace({"train": {"device": "cuda"}})
    trainer = Trainer(project, config=config, run_dir=project.root / "runs" / "gpu")
    trainer.run()
    assert trainer.state == "finished", trainer.state
    assert next(trainer.model.parameters()).is_cuda
    run = load_run(project.root / "runs" / "gpu", device="cpu")  # checkpoints cross devices
    assert not next(run.model.parameters()).is_cuda
    result = evaluate(run, project.root / "data" / "test.h5")
    assert result["top1"] > 0.3  # 12 classes: chance is 0.083


def test_cuda_resume_on_cpu(make_project):
    from siam_workbench.train.trainer import Trainer

    project = make_project(epochs=1, iterations=4)
    config = project.config.replace({"train": {"device": "cuda"}})
    run_dir = project.root / "runs" / "gpu"
    Trainer(project, config=config, run_dir=run_dir).run()
    more = config.replace({"train": {"device": "cpu", "epochs": 2}})
    trainer = Trainer(project, config=more, resume=run_dir)
    trainer.run()
    assert trainer.state == "finished" and trainer.epoch == 2
    assert torch.device(trainer.device).type == "cpu"

"""`train.threads = 0`: the thread count is chosen by measuring, leaves the run's arithmetic
untouched, and is recorded in the run (metrics start record, status.json, config.toml)."""

from __future__ import annotations

import json
import tomllib

import torch

from siam_workbench.model import perf
from siam_workbench.model.backbones import build_model


def _clock(cost: dict[int, float]):
    """A clock that runs ``cost[threads]`` per call: what a step costs at each count."""
    t = [0.0]

    def clock() -> float:
        t[0] += cost[torch.get_num_threads()]
        return t[0]

    return clock


def test_more_threads_only_when_clearly_faster():
    model = build_model("mokin37", 8)
    before = torch.get_num_threads()
    try:
        fast = perf.choose_threads(model, 37, 16, candidates=(1, 2), budget_s=100,
                                   clock=_clock({1: 1.0, 2: 0.5}))
        assert fast.threads == 2 == torch.get_num_threads()
        assert fast.measured[2]["wall_s"] < fast.measured[1]["wall_s"]
        assert set(fast.measured[1]) == {"wall_s", "cpu_s"}
        close = perf.choose_threads(model, 37, 16, candidates=(1, 2), budget_s=100,
                                    clock=_clock({1: 1.0, 2: 0.95}))
        assert close.threads == 1 == torch.get_num_threads()  # noise must not decide
        slow = perf.choose_threads(model, 37, 16, candidates=(1, 2), budget_s=100,
                                   clock=_clock({1: 1.0, 2: 3.0}))
        assert slow.threads == 1
        assert perf.choose_threads(model, 37, 16, candidates=(1,)).threads == 1
        busy = perf.choose_threads(model, 37, 16, candidates=(1, 2), budget_s=0.5,
                                   clock=_clock({1: 1.0, 2: 0.1}))
        assert busy.threads == 1 and set(busy.measured) == {1}  # bounded: 2 never tried
    finally:
        torch.set_num_threads(before)


def test_measuring_changes_neither_weights_nor_random_streams():
    torch.manual_seed(3)
    model = build_model("mokin37", 8)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.random.get_rng_state()
    before = torch.get_num_threads()
    try:
        perf.choose_threads(model, 37, 8, candidates=(1, 2), budget_s=0.2)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_the_run_records_its_thread_count(make_project):
    from siam_workbench.train.trainer import Trainer

    project = make_project(epochs=1, iterations=2)
    before = torch.get_num_threads()
    torch.set_num_threads(perf.resolve_threads(0))  # torch's own count: earlier tests set 1
    try:
        trainer = Trainer(project)
        trainer.run()
    finally:
        torch.set_num_threads(before)
    run = trainer.run_dir
    start = next(json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
                 if json.loads(line).get("event") == "start")
    chosen = start["threads"]
    assert chosen >= 1
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["train"]["threads"] == chosen  # a resume or a rerun uses the same count
    assert json.loads((run / "status.json").read_text())["threads"] == chosen
    if perf.resolve_threads(0) > 1:
        assert set(start["threads_measured"]) == {"1", str(perf.resolve_threads(0))}

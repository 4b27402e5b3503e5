"""The prefetched batch (siam_workbench.train.prefetch): same random stream as without it, exact
resume after a stop, and a worker thread that ends however the run ends."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from siam_workbench.project.runfiles import read_metrics
from siam_workbench.train import events as E
from siam_workbench.train.prefetch import Batch, BatchPrefetcher
from siam_workbench.train.trainer import Trainer


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "siam-prefetch" and t.is_alive()]


def _losses(run_dir) -> dict[tuple[int, int], float]:
    return {(r["epoch"], r["iteration"]): r["loss"]
            for r in read_metrics(run_dir / "metrics.jsonl") if r["event"] == "iteration"}


def _run(project, name: str, prefetch: str, monkeypatch) -> dict[tuple[int, int], float]:
    monkeypatch.setenv("SIAM_PREFETCH", prefetch)
    trainer = Trainer(project, run_dir=project.root / "runs" / name)
    assert isinstance(trainer.run(), E.RunFinished)
    return _losses(trainer.run_dir)


def _close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and np.allclose([a[k] for k in sorted(a)],
                                                [b[k] for k in sorted(b)], rtol=1e-5, atol=1e-6)


def test_seeded_runs_repeat_with_prefetch_and_match_without(make_project, monkeypatch):
    project = make_project(epochs=2, iterations=4)
    first = _run(project, "a", "1", monkeypatch)
    again = _run(project, "b", "1", monkeypatch)
    without = _run(project, "c", "0", monkeypatch)
    assert len(first) == 8
    assert _close(first, again)
    # The worker draws from the same sampler and generator in the same order.
    assert _close(first, without)
    assert not _workers()


def test_stop_mid_epoch_then_resume_continues_exactly(make_project, monkeypatch):
    monkeypatch.setenv("SIAM_PREFETCH", "1")
    project = make_project(epochs=2, iterations=6)
    whole = _run(project, "whole", "1", monkeypatch)
    trainer = Trainer(project, run_dir=project.root / "runs" / "parts")

    def on(ev):  # stop with the next batch already prepared (its draws must be undone)
        if isinstance(ev, E.IterationFinished) and (ev.epoch, ev.iteration) == (0, 2):
            trainer.stop()

    trainer.subscribe(on)
    assert isinstance(trainer.run(), E.RunStopped)
    assert not _workers()
    resumed = Trainer(project, resume=trainer.run_dir)
    assert isinstance(resumed.run(), E.RunFinished)
    parts = _losses(trainer.run_dir)
    assert _close(whole, parts)
    assert not _workers()


def test_pause_then_stop_ends_the_worker(make_project, monkeypatch):
    monkeypatch.setenv("SIAM_PREFETCH", "1")
    project = make_project(epochs=1, iterations=200)
    trainer = Trainer(project)
    iters: list[E.IterationFinished] = []
    trainer.subscribe(lambda e: iters.append(e) if isinstance(e, E.IterationFinished) else None)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("final", trainer.run()))
    thread.start()
    deadline = time.time() + 120
    while len(iters) < 2 and time.time() < deadline:
        time.sleep(0.01)
    trainer.pause()
    while trainer.state != "paused" and time.time() < deadline:
        time.sleep(0.01)
    assert trainer.state == "paused" and _workers()  # the worker waits, holding its batch
    trainer.stop()
    thread.join(60)
    assert not thread.is_alive() and isinstance(result["final"], E.RunStopped)
    assert not _workers()


def test_an_exception_in_the_step_ends_the_worker(make_project, monkeypatch):
    monkeypatch.setenv("SIAM_PREFETCH", "1")
    project = make_project(epochs=1, iterations=20)
    trainer = Trainer(project)
    original = Trainer._step_loss
    calls = {"n": 0}

    def broken(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return original(self)

    monkeypatch.setattr(Trainer, "_step_loss", broken)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.run()
    assert trainer.state == "failed"
    assert not _workers()


def test_worker_errors_reach_the_caller_and_cancel_rolls_back():
    state = {"n": 0}

    def prepare() -> Batch:
        state["n"] += 1
        if state["n"] == 3:
            raise ValueError("bad batch")
        return Batch(np.array([state["n"]]), None, None)  # type: ignore[arg-type]

    pf = BatchPrefetcher(prepare, lambda: state["n"], lambda n: state.update(n=n))
    assert int(pf.take(more=True).rows[0]) == 1  # prepared now; 2 starts in the background
    assert pf.taken == 0  # nothing prefetched was taken yet
    assert int(pf.take(more=True).rows[0]) == 2  # the prefetched one; 3 fails in the worker
    assert pf.taken == 1 and pf.waited >= 0.0  # the loop's wait for it is counted
    with pytest.raises(ValueError, match="bad batch"):
        pf.take(more=True)
    state["n"] = 10
    assert int(pf.take(more=True).rows[0]) == 11
    pf.cancel()  # the pending 12 is dropped and its draw undone
    assert state["n"] == 11
    pf.close()
    assert not pf.alive
    pf.close()  # idempotent


def test_prefetch_by_default_only_with_a_core_beyond_the_step_threads(monkeypatch):
    import os

    import torch

    from siam_workbench.train.prefetch import prefetch_wanted

    cpu = torch.device("cpu")
    monkeypatch.delenv("SIAM_PREFETCH", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert prefetch_wanted(cpu, False, threads=1)
    assert not prefetch_wanted(cpu, False, threads=2)  # no core left for the worker
    assert not prefetch_wanted(cpu, True, threads=1)  # a distributed rank never
    monkeypatch.setenv("SIAM_PREFETCH", "1")
    assert prefetch_wanted(cpu, False, threads=2)  # forced

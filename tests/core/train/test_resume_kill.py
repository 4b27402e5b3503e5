"""A run killed with SIGKILL mid-epoch resumes from last.pt, losing at most the current epoch."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from siam_workbench.project.runfiles import read_metrics

ROOT = Path(__file__).resolve().parents[3]


def test_kill_minus_9_mid_epoch_then_resume(make_project, tmp_path):
    project = make_project(epochs=3, iterations=25)
    run_dir = tmp_path / "killed-run"
    cmd = [sys.executable, "-m", "siam_workbench.cli", "train", str(project.root), "--run-dir",
           str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + 600  # generous: CI machines run at load 5 on 2 cores
    try:
        while time.time() < deadline:
            recs = read_metrics(metrics)
            done_epoch = any(r["event"] == "epoch" for r in recs)
            in_second = [r for r in recs if r["event"] == "iteration" and r["epoch"] == 1]
            if done_epoch and len(in_second) >= 5:
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.02)
        else:
            raise AssertionError("training did not reach the second epoch in time")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    resume = subprocess.run(cmd[:5] + ["--resume", str(run_dir), "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert resume.returncode == 0, resume.stderr
    recs = read_metrics(metrics)
    epochs = [r["epoch"] for r in recs if r["event"] == "epoch"]
    assert epochs == [0, 1, 2]
    keys = [(r["epoch"], r["iteration"]) for r in recs if r["event"] == "iteration"]
    assert len(keys) == len(set(keys)) == 75  # the lost part of epoch 2 was redone once

"""``siam-workbench --screenshot DIR PROJECT`` works offscreen and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parents[2]


def test_screenshot_mode_grabs_every_tab(tmp_path, rendered_dir):
    import torch

    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    torch.set_flush_denormal(True)
    torch.set_num_threads(1)  # the GUI tests share 2 cores
    final = Trainer(load_project(rendered_dir)).run()
    assert type(final).__name__ == "RunFinished"
    out = tmp_path / "shots"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("SIAM_WORKBENCH_SETTINGS_DIR", None)  # the app must pick a private one itself
    proc = subprocess.run(
        [sys.executable, "-m", "siam_workbench.app", "--screenshot", str(out), str(rendered_dir),
         "--timeout", "300", "--size", "1280x720"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ("data", "train", "miners", "draw", "runs", "miners-why", "miners-clusters"):
        img = QImage(str(out / f"{name}-1280x720.png"))
        assert not img.isNull(), name
        assert (img.width(), img.height()) == (1280, 720), name
    # The train tab shows the finished run read back from metrics.jsonl.
    assert "[error]" not in proc.stderr

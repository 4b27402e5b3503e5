"""Plug-in parts: the example miner from outside src/siam_workbench/ trains a run, and its
distribution comes
back through the API the Miners view reads (siam_workbench.infer.mining_log.read_mining)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.infer.mining_log import read_mining
from siam_workbench.parts.miners import MINERS
from siam_workbench.project import plugins
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.project import load_project
from siam_workbench.train.trainer import Trainer
from tests.conftest import TINY_TOML, trust_project, write_synth

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "plugins" / "error_miner.py"


def _project(tmp_path: Path, plugin_line: str, positive: str = "val-error") -> Path:
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    write_synth(root / "data" / "train.h5", 12, fonts=4)
    write_synth(root / "data" / "val.h5", 12, fonts=2, font_offset=10)
    text = TINY_TOML.format(positive=positive, negative="random", epochs=2, iterations=3)
    text = text.replace("[project]\n", f"[project]\n{plugin_line}\n", 1)
    (root / "project.toml").write_text(text)
    return root


def test_example_plugin_miner_trains_and_reads_back(tmp_path):
    (tmp_path / "proj" / "plugins").mkdir(parents=True)
    (tmp_path / "proj" / "plugins" / "error_miner.py").write_text(EXAMPLE.read_text())
    root = _project(tmp_path, 'plugins = ["plugins/error_miner.py"]')
    trust_project(root)
    project = load_project(root)
    # Registered: a choice of the schema, with its own settings, in the config.
    assert "val-error" in SCHEMA["mining"]["positive"].choices
    assert "error_power" in SCHEMA["mining"] and project.config.mining.positive == "val-error"
    assert Config().with_overrides(["mining.error_power=2"]).mining.error_power == 2.0

    final = Trainer(project).run()
    assert type(final).__name__ == "RunFinished", getattr(final, "message", "")
    history = read_mining(final.run_dir / "mining.h5")
    assert history.positive == "val-error" and history.num_epochs == 2
    error = history.extra["positive.error"]  # the miner's own series, one row per epoch
    assert error.shape == (2, 12) and np.all((error >= 0) & (error <= 1))
    probs = history.probabilities
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # The distribution is what the miner says: ∝ (error + floor)^power, per epoch.
    for e in range(2):
        want = (error[e] + 0.05) ** 1.0
        assert np.allclose(probs[e], want / want.sum(), atol=1e-5)
    val_acc = history.extra["val_accuracy"]
    assert np.allclose(error, 1.0 - val_acc, atol=1e-6)
    # The run resumes with the plug-in (its config names it; the project loads it again).
    longer = project.config.replace({"train": {"epochs": 3}})
    again = Trainer(load_project(root), config=longer, resume=final.run_dir).run()
    assert type(again).__name__ == "RunFinished"
    assert read_mining(final.run_dir / "mining.h5").num_epochs == 3


def test_siam_parts_lists_the_plugin(tmp_path):
    root = _project(tmp_path, 'plugins = ["error_miner.py"]')
    (root / "error_miner.py").write_text(EXAMPLE.read_text())
    trust_project(root)
    out = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "parts", "--project",
                          str(root)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "val-error" in out.stdout and "error_power" in out.stdout
    assert "auto-probabilistic" in out.stdout and "metric" in out.stdout


def test_entry_point_plugins_are_loaded(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    ep = importlib.metadata.EntryPoint(name="example", value="error_miner",
                                       group=plugins.ENTRY_POINT_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [ep] if group == plugins.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(plugins, "_entry_points_done", False)
    before = plugins._snapshot()
    try:
        assert plugins.load_entry_points() == ["example"]
        assert "val-error" in MINERS["positive"]
    finally:  # an entry point stays for the process; this test's must not outlive it
        plugins._undo(plugins._changes_since(before))
        sys.modules.pop("error_miner", None)


def test_broken_plugins_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(SiamError, match="bad.py: plug-in failed to load: RuntimeError: boom"):
        plugins.load_plugin_file(bad)
    clash = tmp_path / "clash.py"
    clash.write_text(
        "from siam_workbench.parts.miners import PositiveMiner, register_miner\n"
        "@register_miner\n"
        "class Mine(PositiveMiner):\n"
        "    name = 'auto-probabilistic'\n")
    with pytest.raises(SiamError, match="already exists"):
        plugins.load_plugin_file(clash)
    with pytest.raises(SiamError, match="plug-in file not found"):
        trust_project(_project(tmp_path, 'plugins = ["nope.py"]', positive="random"))


def test_siam_parts_reports_the_space_a_loss_trains_in(tmp_path):
    """The triplet loss's class default is raw, but ``normalize = true`` (its default) trains on
    the unit sphere: the listing says l2, and raw for a project that turns normalisation off."""
    from siam_workbench.cli.parts_cmds import collect

    by_name = {loss["name"]: loss["space"] for loss in collect()["losses"]}
    assert by_name["triplet"] == "l2"
    root = _project(tmp_path, "", positive="random")
    with (root / "project.toml").open("a") as f:
        f.write("\n[loss]\nnormalize = false\n")
    project = load_project(root)
    by_name = {loss["name"]: loss["space"] for loss in collect(project.config.loss)["losses"]}
    assert by_name["triplet"] == "raw"

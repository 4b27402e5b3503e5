"""The refactor into miner and loss parts changed no behaviour: the paper's independent-triplet
mode, with the settings of before, reproduces the metrics recorded from the trainer as it was
(commit 4b9127b, before the parts existed) on a tiny project, loss by loss and epoch by epoch.

Hard mining is deliberately not here: it used to rank triplets on one augmentation and train
on another, and now ranks and trains on the same embeddings (tests/core/train/test_step.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from siam_workbench.project.project import load_project
from siam_workbench.project.runfiles import read_metrics
from siam_workbench.train.trainer import Trainer
from tests.conftest import TINY_TOML, write_synth

GOLDEN = json.loads((Path(__file__).parent / "golden" / "paper_mode_metrics.json").read_text())
# The settings that did not exist then, at the values that reproduce the old behaviour.
BEFORE_TRAIN = 'batch_mode = "triplets"\nlr_schedule = "constant"\n'
BEFORE_AUGMENT = "\n[augment]\nelastic = false\nstroke = false\nblur = false\nnoise = false\n"
# The defaults of then, which the default recipe has since replaced.
BEFORE_DEFAULTS = 'alpha = 10.0\nnormalize = false\n'
BEFORE_MINING = 'batch = "all"\n'


@pytest.mark.parametrize("combo", sorted(GOLDEN))
def test_paper_mode_reproduces_recorded_metrics(tmp_path, combo):
    positive, negative, loss = combo.split("+")
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    write_synth(root / "data" / "train.h5", 12, fonts=4)
    write_synth(root / "data" / "val.h5", 12, fonts=2, font_offset=10)
    text = TINY_TOML.format(positive=positive, negative=negative, epochs=2, iterations=4)
    text = text.replace("[train]\n", "[train]\n" + BEFORE_TRAIN, 1) + BEFORE_AUGMENT
    text = text.replace("[mining]\n", "[mining]\n" + BEFORE_MINING, 1)
    text += f'\n[loss]\nkind = "{loss}"\n' + BEFORE_DEFAULTS
    (root / "project.toml").write_text(text)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the recording was made with one thread
    try:
        final = Trainer(load_project(root)).run()
    finally:
        torch.set_num_threads(threads)
    recs = read_metrics(final.run_dir / "metrics.jsonl")
    want = GOLDEN[combo]
    got_loss = [r["loss"] for r in recs if r["event"] == "iteration"]
    assert got_loss == pytest.approx(want["loss"], rel=1e-4)
    epochs = [r for r in recs if r["event"] == "epoch"]
    assert [r["val_top1"] for r in epochs] == pytest.approx(want["val_top1"], abs=1e-6)
    assert [r["top1"] for r in epochs] == pytest.approx(want["top1"], abs=1e-6)

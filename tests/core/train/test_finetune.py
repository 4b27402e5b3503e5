"""Fine-tuning on labelled samples (siam_workbench.train.finetune, ``siam train --finetune``): a
new run
that starts from the run's weights, keeps the fonts and learns classes only the labels know."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siam_workbench.cli import main as siam
from siam_workbench.data.glyphs import GlyphSet
from siam_workbench.infer.labeling import LabelSession
from siam_workbench.train.finetune import merge_labelled
from tests.conftest import make_tiny_project, synth_glyphs


def _set(n: int, classes: list[str], labels: list[int], size: int = 37) -> GlyphSet:
    return GlyphSet(images=torch.zeros(n, size, size, dtype=torch.uint8),
                    labels=torch.tensor(labels), sources=torch.zeros(n, dtype=torch.int64),
                    classes=classes, source_names=["font"], rows=np.arange(n))


def test_merge_matches_classes_by_name_and_repeats_real_rows(tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    for i in range(3):
        img = np.full((40, 40), 255, np.uint8)
        img[5:35, 10 + i * 5:14 + i * 5] = 0
        Image.fromarray(img).save(folder / f"{i}.png")
    s = LabelSession(folder, tmp_path / "labelled.h5", None)
    s.label("0.png", "B")
    s.label("1.png", "Z")  # a class the fonts do not have
    s.label("2.png", "B")
    out = s.write_glyphs()
    train = _set(30, ["A", "B"], [0, 1] * 15)
    merged, report = merge_labelled(train, [out], real_share=0.5)
    assert merged.classes == ["A", "B", "Z"] and report["new_classes"] == ["Z"]
    assert report["repeat"] == 10  # 3 real rows × 10 ≈ the 30 font rows
    real = merged.labels[30:].tolist()
    assert real == [1, 2, 1] * 10
    assert len(merged) == 60 and (merged.rows[30:] == -1).all()
    with pytest.raises(Exception, match="px"):
        merge_labelled(_set(2, ["A", "B"], [0, 1], size=32), [out])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    root = make_tiny_project(tmp_path_factory.mktemp("ft") / "proj", epochs=1, iterations=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        final = Trainer(load_project(root), run_dir=root / "runs" / "base").run()
    finally:
        torch.set_num_threads(threads)
    assert type(final).__name__ == "RunFinished", getattr(final, "message", "")
    return root, root / "runs" / "base"


def test_finetune_starts_from_the_run_and_learns_a_new_class(trained, tmp_path, capsys):
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.model.backbones import build_model

    root, base = trained
    folder = tmp_path / "crops"
    folder.mkdir()
    images, labels, _ = synth_glyphs(12, 1, font_offset=70)
    for n, im in enumerate(images[:4]):
        Image.fromarray(255 - im).save(folder / f"{n}.png")
    s = LabelSession(folder, root / "data" / "labelled.h5", None)
    for n in range(3):
        s.label(f"{n}.png", chr(65 + int(labels[n])))
    s.label("3.png", "new-class")
    s.write_glyphs()
    capsys.readouterr()
    code = siam(["train", str(root), "--finetune", str(base), "--with", "data/labelled.h5",
                 "--epochs", "1", "--iterations", "2", "--run-dir", str(root / "runs" / "ft"),
                 "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out.strip().splitlines()[-1])["status"] == "finished"
    ft = load_run(root / "runs" / "ft")
    src = load_run(base)
    assert "new-class" in ft.classes and "new-class" not in src.classes
    assert not torch.isnan(ft.centers[ft.classes.index("new-class")]).any()
    note = json.loads((root / "runs" / "ft" / "finetune.json").read_text())
    assert note["from"] == str(base) and note["real_samples"] == 4
    # The weights started from the run's: two small steps away from them, far from a new
    # network's initial weights (which is where training from scratch starts).
    cfg = src.meta
    torch.manual_seed(0)
    fresh = build_model(cfg["backbone"], src.centers.shape[1]).state_dict()
    w_src, w_ft = src.model.state_dict(), ft.model.state_dict()
    name = next(k for k, v in w_src.items() if v.dtype.is_floating_point and v.dim() > 1)
    assert (w_ft[name] - w_src[name]).norm() < (fresh[name] - w_src[name]).norm() / 2


def test_finetune_refuses_bad_input_in_one_line(trained, capsys):
    root, base = trained
    capsys.readouterr()
    assert siam(["train", str(root), "--finetune", str(base), "--with", "nope.h5"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope.h5" in err
    assert siam(["train", str(root), "--finetune", str(root / "runs" / "missing"),
                 "--with", "nope.h5"]) == 2
    assert siam(["train", str(root), "--finetune", str(base)]) == 2  # no --with

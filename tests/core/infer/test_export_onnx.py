"""ONNX export: the model agrees with PyTorch (embeddings within 1e-5, same top-1), carries its
classes, has a dynamic batch, and the reference script classifies with onnxruntime alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ort = pytest.importorskip("onnxruntime")  # the `onnx` extra; `make test` installs it
pytest.importorskip("onnx")

from siam_workbench.cli import main  # noqa: E402
from siam_workbench.data.glyphs import load_glyphs  # noqa: E402
from siam_workbench.infer.evaluate import load_run  # noqa: E402
from siam_workbench.infer.export import export_run  # noqa: E402
from siam_workbench.infer.query import prepare, query  # noqa: E402
from tests.conftest import TINY_TOML, write_synth  # noqa: E402


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    root = tmp_path_factory.mktemp("onnx") / "proj"
    (root / "data").mkdir(parents=True)
    write_synth(root / "data" / "train.h5", 12, fonts=4)
    write_synth(root / "data" / "val.h5", 12, fonts=2, font_offset=10)
    write_synth(root / "data" / "test.h5", 12, fonts=2, font_offset=20)
    (root / "project.toml").write_text(TINY_TOML.format(
        positive="auto-probabilistic", negative="auto-clustering", epochs=2, iterations=6))
    torch.set_num_threads(1)
    trainer = Trainer(load_project(root), run_dir=root / "runs" / "r")
    trainer.run()
    assert trainer.state == "finished"
    return root, root / "runs" / "r"


def _session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnx_matches_pytorch(trained_run, tmp_path):
    root, run_dir = trained_run
    run = load_run(run_dir)
    out = export_run(run, tmp_path / "model.onnx", fmt="onnx")
    sess = _session(out)
    images = load_glyphs(root / "data" / "test.h5").images
    x = images.unsqueeze(1).float().div(255.0).numpy()
    emb, dist = sess.run(["embedding", "distance"], {"image": x})
    ref_emb = run.embed(images).numpy()
    assert emb.shape == ref_emb.shape == (24, 25)
    np.testing.assert_allclose(emb, ref_emb, atol=1e-5, rtol=0)
    ref_dist, ref_idx = run.classify(images, k=5)
    assert dist.shape == (24, 12)
    np.testing.assert_array_equal(dist.argmin(1), ref_idx[:, 0].numpy())
    np.testing.assert_allclose(np.sort(dist, 1)[:, :5], ref_dist.numpy(), atol=1e-4)
    # the trained run is better than chance, so "same top-1" compares real predictions
    labels = load_glyphs(root / "data" / "test.h5").labels.numpy()
    assert (dist.argmin(1) == labels).mean() > 0.3
    # dynamic batch: 1 and 7 images run through the same file
    for b in (1, 7):
        e, d = sess.run(None, {"image": x[:b]})
        assert e.shape == (b, 25) and d.shape == (b, 12)
        np.testing.assert_allclose(e, ref_emb[:b], atol=1e-5, rtol=0)
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["siam.classes"]) == run.classes
    facts = json.loads(meta["siam.meta"])
    assert facts["image_size"] == 37 and facts["space"] == run.space


def test_empty_class_gets_infinite_distance(trained_run, tmp_path):
    _, run_dir = trained_run
    run = load_run(run_dir)
    run.centers[4] = float("nan")  # a class without samples
    sess = _session(export_run(run, tmp_path / "m.onnx", fmt="onnx"))
    _, dist = sess.run(None, {"image": np.zeros((2, 1, 37, 37), np.float32)})
    assert np.isinf(dist[:, 4]).all() and np.isfinite(np.delete(dist, 4, axis=1)).all()


def test_folder_bundle_and_reference_script(trained_run, tmp_path):
    root, run_dir = trained_run
    out = tmp_path / "bundle"
    code = main(["export", str(run_dir), "--format", "onnx", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"model.onnx", "centers.npy", "classes.json",
                                               "meta.json", "classify.py"}
    run = load_run(run_dir)
    np.testing.assert_array_equal(np.load(out / "centers.npy"), run.centers.numpy())
    assert json.loads((out / "classes.json").read_text()) == run.classes

    # A training glyph of class 3 ("D"), as dark ink on a larger light page, and class 7.
    data = load_glyphs(root / "data" / "train.h5")
    pngs = []
    for cls in (3, 7):
        glyph = data.images[int(np.flatnonzero(data.labels.numpy() == cls)[0])].numpy()
        png = tmp_path / f"q{cls}.png"
        Image.fromarray(255 - glyph).resize((120, 120), Image.Resampling.BILINEAR).save(png)
        pngs.append(png)
    # An isolated interpreter outside the repository: it cannot import core, and must not
    # need torch.
    code = ("import runpy, sys\n"
            f"sys.argv = ['classify.py', {str(pngs[0])!r}, {str(pngs[1])!r}, '--json', "
            "'--k', '3']\n"
            "try:\n"
            f"    runpy.run_path({str(out / 'classify.py')!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    assert e.code in (0, None), e.code\n"
            "assert 'torch' not in sys.modules and not any(m == 'siam_workbench' or "
            "m.startswith('siam_workbench.') for m in sys.modules), 'imported torch or core'\n")
    res = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         cwd="/", timeout=300)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    ref = query(run, pngs, k=3)
    assert [[m["class"] for m in g["matches"]] for g in got] == \
        [[m.label for m in r] for r in ref]
    for g, r in zip(got, ref):
        np.testing.assert_allclose([m["distance"] for m in g["matches"]],
                                   [m.distance for m in r], atol=1e-4)


def test_reference_preprocessing_matches_the_engine(tmp_path):
    """classify.py re-implements siam_workbench.data.imaging's normalisation; they must agree
    exactly."""
    from siam_workbench.infer import onnx_reference as ref

    rng = np.random.default_rng(0)
    cases = []
    a = np.full((90, 60), 250, np.uint8)
    a[20:70, 25:35] = 10  # dark ink on light paper, off-centre, not square
    cases.append(("dark.png", Image.fromarray(a)))
    b = np.zeros((40, 140), np.uint8)
    b[10:30, 5:130] = rng.integers(120, 256, (20, 125))  # light ink on dark, growing
    cases.append(("light.png", Image.fromarray(b)))
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[16:48, 30:34] = (0, 0, 0, 255)  # opaque strokes on a transparent page
    cases.append(("alpha.png", Image.fromarray(rgba, "RGBA")))
    rgb = np.full((50, 50, 3), 200, np.uint8)
    rgb[5:45, 5:12] = (30, 60, 90)
    cases.append(("rgb.jpg", Image.fromarray(rgb)))
    for name, im in cases:
        path = tmp_path / name
        im.save(path)
        for size in (37, 105):
            for mode in ("fit", "em"):
                np.testing.assert_array_equal(ref.prepare(path, size, mode=mode),
                                              prepare(path, size, mode=mode),
                                              err_msg=f"{name} at {size}px, {mode}")


def test_torchscript_stays_the_default(trained_run, tmp_path, capsys):
    _, run_dir = trained_run
    out = tmp_path / "m.pt"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert "torchscript" in capsys.readouterr().out
    m = torch.jit.load(str(out))
    assert m(torch.zeros(1, 1, 37, 37)).shape == (1, 25)


def test_existing_output_kept_without_force(trained_run, tmp_path, capsys):
    _, run_dir = trained_run
    out = tmp_path / "bundle"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out)]) == 0
    before = (out / "model.onnx").read_bytes()
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "bundle" in err[0]
    assert (out / "model.onnx").read_bytes() == before
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out),
                 "--force"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"bundle"}  # no temporary left behind
    # --force never replaces a folder that is not an export
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(other),
                 "--force"]) == 2
    assert "not an ONNX export folder" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "mine"


@pytest.mark.cuda
def test_export_from_a_cuda_run(trained_run, tmp_path):
    """A run loaded on the GPU exports the same CPU model, and stays on the GPU itself."""
    root, run_dir = trained_run
    run = load_run(run_dir, device="cuda")
    sess = _session(export_run(run, tmp_path / "m.onnx", fmt="onnx"))
    assert next(run.model.parameters()).is_cuda
    images = load_glyphs(root / "data" / "test.h5").images
    emb, _ = sess.run(None, {"image": images.unsqueeze(1).float().div(255.0).numpy()})
    np.testing.assert_allclose(emb, run.embed(images).numpy(), atol=1e-4, rtol=0)

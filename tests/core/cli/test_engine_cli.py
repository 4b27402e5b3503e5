"""siam train / eval / query / export / runs / new, and their bad-input contract:
exit 2, one line on stderr naming the file or key, nothing existing overwritten."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siam_workbench.cli import main

ROOT = Path(__file__).resolve().parents[3]


def siam(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def _frame_like_renders(path: Path) -> None:
    """Rewrite a synthetic glyph file framed as the renderer frames (``fit``: the ink box fills
    the image), as real project data is: a query frames its image the same way, so a query of
    a training glyph then shows the network what it was trained on."""
    from siam_workbench.data.glyphs import GlyphWriter, load_glyphs
    from siam_workbench.data.imaging import normalize_glyph

    data = load_glyphs(path)
    framed = np.stack([normalize_glyph(im, 37, 2, mode="fit") for im in data.images.numpy()])
    path.unlink()
    with GlyphWriter(path, data.classes, data.source_names, 37, alphabet="synthetic") as w:
        w.append(framed, data.labels.numpy(), data.sources.numpy())


@pytest.fixture
def trained(make_project, capsys):
    project = make_project(epochs=2, iterations=10)
    for split in ("train", "val", "test"):
        _frame_like_renders(project.root / "data" / f"{split}.h5")
    code, out, err = siam(capsys, "train", project.root, "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    return project, Path(summary["run"]), summary


def test_train_eval_query_export(trained, capsys, tmp_path):
    project, run, summary = trained
    assert summary["status"] == "finished" and summary["epochs_done"] == 2
    code, out, err = siam(capsys, "eval", run, "--data", project.root / "data" / "test.h5",
                          "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"top1", "top5", "n"} and result["n"] == 24
    assert result["top1"] > 0.3  # 12 classes: chance is 0.083
    assert result["top5"] >= result["top1"]

    # Query with a light-background, dark-ink, larger image of a training glyph.
    from siam_workbench.data.glyphs import load_glyphs

    data = load_glyphs(project.root / "data" / "train.h5")
    glyph = data.images[int(np.flatnonzero(data.labels.numpy() == 3)[0])].numpy()
    big = Image.fromarray(255 - glyph).resize((120, 120), Image.Resampling.BILINEAR)
    png = tmp_path / "query.png"
    big.save(png)
    code, out, err = siam(capsys, "query", run, png, "--k", "3", "--json")
    assert code == 0, err
    matches = json.loads(out)[0]["matches"]
    assert len(matches) == 3
    assert "D" in [m["class"] for m in matches]  # class 3 is "D"
    assert matches[0]["distance"] <= matches[1]["distance"] <= matches[2]["distance"]

    out_pt = tmp_path / "model.pt"
    code, out, err = siam(capsys, "export", run, "--out", out_pt)
    assert code == 0, err
    # Loads with plain torch in a fresh interpreter that cannot import this package.
    script = (
        "import json, torch, sys; extra = {'classes.json': '', 'meta.json': ''}; "
        f"m = torch.jit.load({str(out_pt)!r}, _extra_files=extra); "
        "assert not any(k.startswith('siam_workbench') for k in sys.modules); "
        "classes = json.loads(extra['classes.json']); meta = json.loads(extra['meta.json']); "
        "x = torch.zeros(2, 1, meta['image_size'], meta['image_size']); "
        "d, i = m.classify(x, 5); print(len(classes), tuple(d.shape), tuple(m(x).shape))"
    )
    res = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True,
                         cwd="/")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["12", "(2,", "5)", "(2,", "25)"]
    before = out_pt.read_bytes()
    code, _, err = siam(capsys, "export", run, "--out", out_pt)
    assert code == 2
    one_line_error(err, "model.pt", "already exists")
    assert out_pt.read_bytes() == before

    code, out, _ = siam(capsys, "runs", project.root, "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "finished"


def test_eval_defaults_to_project_test_file(trained, capsys):
    _, run, _ = trained
    code, out, err = siam(capsys, "eval", run, "--json")
    assert code == 0, err
    assert json.loads(out)["data"].endswith("test.h5")


def test_bad_glyph_files(trained, capsys, tmp_path):
    _, run, _ = trained
    missing = tmp_path / "missing.h5"
    code, _, err = siam(capsys, "eval", run, "--data", missing)
    assert code == 2
    one_line_error(err, "missing.h5", "not found")

    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"this is not hdf5" * 10)
    code, _, err = siam(capsys, "eval", run, "--data", corrupt)
    assert code == 2
    one_line_error(err, "corrupt.h5", "HDF5")

    import h5py

    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as h5:
        h5.attrs["schema"] = "something-else/2"
        h5["images"] = np.zeros((2, 37, 37), np.uint8)
    code, _, err = siam(capsys, "eval", run, "--data", wrong)
    assert code == 2
    one_line_error(err, "wrong.h5", "schema")


def test_bad_checkpoints(trained, capsys, tmp_path):
    _, run, _ = trained
    best = run / "checkpoints" / "best.pt"
    good = best.read_bytes()
    best.write_bytes(good[: len(good) // 3])
    code, _, err = siam(capsys, "eval", run, "--json", "--checkpoint", "best")
    assert code == 2
    one_line_error(err, "best.pt", "corrupt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buf = io.BytesIO()
    torch.save({"format": "siam-run/1", "payload": Evil()}, buf, pickle_protocol=2)
    best.write_bytes(buf.getvalue())
    code, out, err = siam(capsys, "eval", run, "--checkpoint", "best")
    assert code == 2 and "pwned" not in out
    one_line_error(err, "best.pt", "refused")


def test_bad_project_and_run_folders(make_project, capsys, tmp_path):
    project = make_project()
    text = (project.root / "project.toml").read_text()
    (project.root / "project.toml").write_text(text + "\n[loss]\nbeta = 3\n")
    code, _, err = siam(capsys, "train", project.root)
    assert code == 2
    one_line_error(err, "project.toml", "loss.beta")
    assert (project.root / "project.toml").read_text().endswith("beta = 3\n")

    code, _, err = siam(capsys, "train", tmp_path / "nowhere")
    assert code == 2
    one_line_error(err, "nowhere", "not a project")

    code, _, err = siam(capsys, "eval", tmp_path, "--data", project.root / "data" / "test.h5")
    assert code == 2
    one_line_error(err, "not a run folder")


def test_bad_images(trained, capsys, tmp_path):
    _, run, _ = trained
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    code, _, err = siam(capsys, "query", run, fake)
    assert code == 2
    one_line_error(err, "fake.png", "not a readable image")

    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    code, _, err = siam(capsys, "query", run, blank)
    assert code == 2
    one_line_error(err, "blank.png", "blank")


def test_cuda_without_cuda_exits_2(make_project, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    project = make_project()
    code, _, err = siam(capsys, "train", project.root, "--device", "cuda")
    assert code == 2
    one_line_error(err, "CUDA")


def test_set_overrides_and_new_project(capsys, tmp_path):
    code, out, err = siam(capsys, "new", tmp_path / "p", "--alphabet", "digits",
                          "--set", "train.epochs=3")
    assert code == 0, err
    text = (tmp_path / "p" / "project.toml").read_text()
    assert 'alphabet = "digits"' in text and "epochs = 3" in text
    code, _, err = siam(capsys, "new", tmp_path / "p")
    assert code == 2
    one_line_error(err, "already holds a project")


def test_every_subcommand_has_help():
    from siam_workbench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert {"train", "eval", "query", "export", "runs", "new"} <= set(sub.choices)
    for name in sub.choices:
        res = subprocess.run([sys.executable, "-m", "siam_workbench.cli", name, "--help"], cwd=ROOT,
                             capture_output=True, text=True)
        assert res.returncode == 0 and "usage: siam" in res.stdout, name

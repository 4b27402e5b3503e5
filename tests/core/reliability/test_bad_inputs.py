"""The bad-input corpus: every hostile or broken input the reliability review found, through
the ``siam`` command line. Each case: exit 2 with one line on stderr naming the file (or key)
and the problem, no traceback, and every file that existed before is unchanged. Inputs that
are legal but suspicious get exit 0 and a warning line instead.

The number of cases here is the "inputs tried" figure in README.md (Reliability).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import rel_faults as F
import torch
from PIL import Image

from siam_workbench.cli import main
from siam_workbench.data.glyphs import GlyphWriter
from siam_workbench.model.checkpoint import save_checkpoint

# -- shared material ---------------------------------------------------------------------------

TOML = """[project]
name = "corpus"

[data]
alphabet = "latin"
{extra}
[train]
epochs = 1
iterations = 2
triplets = 16
device = "cpu"
"""


def _glyph_file(path: Path, n: int = 24, classes: tuple[str, ...] = ("A", "B", "C")) -> Path:
    rng = np.random.default_rng(0)
    images = np.zeros((n, 37, 37), np.uint8)
    for i in range(n):
        x = 6 + 4 * (i % len(classes))
        images[i, 6:30, x:x + 5] = 255
        images[i, rng.integers(6, 28), 6:30] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    with GlyphWriter(path, list(classes), ["s0", "s1"], 37, force=True) as w:
        w.append(images, np.arange(n) % len(classes), np.arange(n) % 2)
    return path


def _project(root: Path, extra: str = "") -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for name in ("train", "val", "test"):
        _glyph_file(root / "data" / f"{name}.h5")
    (root / "project.toml").write_text(TOML.format(extra=extra))
    return root


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """One tiny finished run, copied by the cases that damage it."""
    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    root = _project(tmp_path_factory.mktemp("corpus") / "proj")
    tr = Trainer(load_project(root))
    final = tr.run()
    assert type(final).__name__ == "RunFinished", getattr(final, "message", "")
    return tr.run_dir


def _copy_run(run: Path, tmp: Path) -> Path:
    dst = tmp / "proj"
    shutil.copytree(run.parent.parent, dst)
    return dst / "runs" / run.name


def _png(path: Path, w: int, h: int) -> Path:
    # Mode "1" keeps a huge sheet tiny on disk (a few hundred bytes per row of zeros).
    Image.new("1", (w, h), 1).save(path, optimize=True)
    return path


def _resave(ckpt: Path, change: Callable[[dict], None], keep_digest: bool = False) -> None:
    state = torch.load(ckpt, weights_only=True)
    change(state)
    if keep_digest:
        torch.save(state, ckpt)
        return
    state.pop("digest", None)
    state.pop("format", None)
    save_checkpoint(ckpt, state)


def _flip_chunk_byte(path: Path, dataset: str = "images", chunk: int = 0) -> None:
    with h5py.File(path, "r") as h5:
        info = h5[dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        b = fh.read(1)
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes([b[0] ^ 0x5A]))


# -- issue 19: trust, plug-in faults, the last holes ------------------------------------------

POSITIVE_PLUGIN = """
import numpy as np
from siam_workbench.parts.miners import PositiveMiner, register_miner, uniform_probabilities

@register_miner
class BadPositive(PositiveMiner):
    name = "bad-positive"

    def probabilities(self):
        p = uniform_probabilities(self.present)
        {body}
"""

NEGATIVE_PLUGIN = """
import numpy as np
from siam_workbench.parts.miners import NegativeMiner, register_miner

@register_miner
class BadNegative(NegativeMiner):
    name = "bad-negative"

    def sample(self, anchor_cls, coin, u, uniform_negative):
        {body}

    def distribution(self, anchor_class):
        return np.full(self.num_classes, 1.0 / self.num_classes)
"""


def _plugin_project(tmp: Path, source: str, mining: str = "", trusted: bool = True) -> Path:
    from tests.conftest import trust_project

    root = _project(tmp / "p")
    (root / "my_miner.py").write_text(source)
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace("[project]\n",
                                             '[project]\nplugins = ["my_miner.py"]\n', 1)
                    + (f"\n[mining]\n{mining}\n" if mining else ""))
    if trusted:
        trust_project(root)
    return root


def _positive(body: str):
    def build(tmp, run):
        return ["train", _plugin_project(tmp, POSITIVE_PLUGIN.format(body=body),
                                         'positive = "bad-positive"')]
    return build


def _negative(body: str):
    def build(tmp, run):
        return ["train", _plugin_project(tmp, NEGATIVE_PLUGIN.format(body=body),
                                         'negative = "bad-negative"')]
    return build


def c_plugin_sys_exit(tmp, run):
    return ["train", _plugin_project(tmp, "import sys\nsys.exit(0)\n")]


def c_plugin_system_exit(tmp, run):
    return ["train", _plugin_project(tmp, "raise SystemExit('leaving')\n")]


def c_plugin_outside(tmp, run):
    root = _project(tmp / "p")
    (tmp / "evil.py").write_text("open('MARKER', 'w')\n")
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace("[project]\n",
                                             '[project]\nplugins = ["../evil.py"]\n', 1))
    return ["runs", root]


def c_plugin_replaces_builtin(tmp, run):
    return ["train", _plugin_project(
        tmp, "from siam_workbench.parts.miners import register_miner\n"
        "from siam_workbench.parts.miners.random_negative import RandomNegative\n"
        "@register_miner\nclass Mine(RandomNegative):\n    name = 'random'\n")]


def c_untrusted_train(tmp, run):
    return ["train", _plugin_project(tmp, "open('MARKER', 'w')\n", trusted=False)]


def c_runs_symlink(tmp, run):
    root = _project(tmp / "p")
    (tmp / "elsewhere").mkdir()
    (root / "runs").symlink_to(tmp / "elsewhere")
    return ["train", root]


def c_delete_outside_project(tmp, run):
    (tmp / "precious").mkdir()
    (tmp / "precious" / "config.toml").write_text("[train]\n")
    (tmp / "precious" / "thesis.tex").write_text("years of work")
    return ["run", "delete", tmp / "precious", "--yes"]


def c_drawn_other_layout(tmp, run):
    root = _project(tmp / "p")
    img = np.full((256, 256), 255, np.uint8)
    img[40:220, 100:140] = 0
    for _ in range(3):
        assert main(["draw", "add", str(root), str(_save(tmp / "d.png", img)),
                     "--label", "A"]) == 0
    with h5py.File(root / "drawn.h5", "r+") as h5:  # originals as one fixed-size block
        del h5["originals"]
        h5["originals"] = np.zeros((3, 256 * 256), np.uint8)
    return ["draw", "add", root, tmp / "d.png", "--label", "B"]


def c_metrics_fifo(tmp, run):
    r = _copy_run(run, tmp)
    (r / "metrics.jsonl").unlink()
    os.mkfifo(r / "metrics.jsonl")
    return ["compare", r]


# -- the corpus --------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    build: Callable[[Path, Path], list[object]]  # (tmp, trained run) → siam argv
    needles: tuple[str, ...]  # must appear in the error (or warning) line
    code: int = 2
    warning: bool = False  # exit 0 and a "warning:" line on stderr


def c_test_path_escapes(tmp, run):
    root = _project(tmp / "p", 'test = "../victim.txt"\n')
    (tmp / "victim.txt").write_text("precious")
    return ["render", "--project", root, "--force"]


def c_drawn_is_training_file(tmp, run):
    root = _project(tmp / "p", 'drawn = "data/train.h5"\n')
    img = np.full((40, 40), 255, np.uint8)
    img[5:35, 15:20] = 0
    Image.fromarray(img).save(tmp / "d.png")
    return ["draw", "add", root, tmp / "d.png", "--label", "A"]


def c_drawn_outside_project(tmp, run):
    root = _project(tmp / "p", 'drawn = "../elsewhere/drawn.h5"\n')
    img = np.full((40, 40), 255, np.uint8)
    img[5:35, 15:20] = 0
    Image.fromarray(img).save(tmp / "d.png")
    return ["draw", "add", root, tmp / "d.png", "--label", "A"]


def c_train_outside_autorender(tmp, run):
    root = _project(tmp / "p", 'train = "../shared/train.h5"\n')
    return ["train", root]


def c_external_storage(tmp, run):
    secret = tmp / "secret.bin"
    secret.write_bytes(bytes(range(256)) * 20)
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        del h5["images"]
        h5.create_dataset("images", shape=(24, 37, 37), dtype=np.uint8,
                          external=[(str(secret), 0, 24 * 37 * 37)])
    return ["inspect", g, "--grid", tmp / "sheet.png"]


def c_external_link(tmp, run):
    other = _glyph_file(tmp / "other.h5")
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        del h5["images"]
        h5["images"] = h5py.ExternalLink(str(other), "/images")
    return ["inspect", g]


def c_virtual_dataset(tmp, run):
    other = _glyph_file(tmp / "other.h5")
    g = _glyph_file(tmp / "g.h5")
    layout = h5py.VirtualLayout(shape=(24, 37, 37), dtype=np.uint8)
    layout[:] = h5py.VirtualSource(str(other), "images", shape=(24, 37, 37))
    with h5py.File(g, "r+") as h5:
        del h5["images"]
        h5.create_virtual_dataset("images", layout)
    return ["inspect", g]


def c_soft_link(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        h5.move("labels", "hidden_labels")
        h5["labels"] = h5py.SoftLink("/hidden_labels")
    return ["inspect", g]


def c_claims_1e10_images(tmp, run):
    g = tmp / "huge.h5"
    with h5py.File(g, "w") as h5:
        h5.attrs["schema"] = "siam-glyphs/1"
        h5.create_dataset("images", shape=(10**10, 37, 37), dtype=np.uint8,
                          chunks=(1024, 37, 37), compression="lzf")
        for name in ("labels", "sources"):
            h5.create_dataset(name, shape=(10**10,), dtype=np.int32, chunks=(8192,))
        h5.create_dataset("classes", data=np.array(["A"], dtype=object),
                          dtype=h5py.string_dtype())
        h5.create_dataset("source_names", data=np.array(["s"], dtype=object),
                          dtype=h5py.string_dtype())
    assert g.stat().st_size < 100_000
    return ["inspect", g]


def c_images_is_group(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        del h5["images"]
        h5.create_group("images")
    return ["inspect", g]


def c_excluded_strings(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        del h5["excluded"]
        h5.create_dataset("excluded", data=np.array(["yes"] * 24, dtype=object),
                          dtype=h5py.string_dtype())
    return ["inspect", g]


def c_excluded_wrong_length(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        del h5["excluded"]
        h5.create_dataset("excluded", data=np.zeros(5, bool))
    return ["exclude", g, "1"]


def c_labels_out_of_range(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    with h5py.File(g, "r+") as h5:
        h5["labels"][0] = 99
    return ["inspect", g]


def c_flipped_chunk(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    _flip_chunk_byte(g)
    return ["inspect", g]


def c_flipped_chunk_train(tmp, run):
    root = _project(tmp / "p")
    _flip_chunk_byte(root / "data" / "train.h5")
    return ["train", root]


def c_truncated_glyphs(tmp, run):
    g = _glyph_file(tmp / "g.h5")
    data = g.read_bytes()
    g.write_bytes(data[: len(data) // 2])
    return ["inspect", g]


def c_not_hdf5(tmp, run):
    g = tmp / "g.h5"
    g.write_text("just text")
    return ["inspect", g]


def c_checkpoint_image_size(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "best.pt", lambda s: s.update(image_size=99999))
    _png(tmp / "q.png", 40, 40)
    return ["query", r, tmp / "q.png"]


def c_checkpoint_preprocess(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "best.pt",
            lambda s: s.update(preprocess={"image_size": 37, "margin": 9999}))
    img = np.full((40, 40), 255, np.uint8)
    img[5:35, 15:20] = 0
    return ["query", r, _save(tmp / "q.png", img)]


def c_checkpoint_flipped_weights(tmp, run):
    r = _copy_run(run, tmp)
    ckpt = r / "checkpoints" / "best.pt"
    _resave(ckpt, lambda s: s["model"][next(iter(s["model"]))].mul_(1.5), keep_digest=True)
    return ["eval", r, "--data", r.parent.parent / "data" / "test.h5", "--checkpoint", "best"]


def c_checkpoint_nan_weights(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "best.pt",
            lambda s: s["model"][next(iter(s["model"]))].fill_(float("nan")))
    return ["eval", r, "--data", r.parent.parent / "data" / "test.h5", "--checkpoint", "best"]


def c_checkpoint_nan_centers(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "best.pt", lambda s: s["centers"].fill_(float("nan")))
    return ["export", r, "--out", tmp / "model.pt"]


def c_checkpoint_missing_keys(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "best.pt", lambda s: s.pop("centers"))
    return ["eval", r, "--data", r.parent.parent / "data" / "test.h5", "--checkpoint", "best"]


def c_checkpoint_wrong_embedding(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "best.pt", lambda s: s.update(embedding_dim=7))
    return ["eval", r, "--data", r.parent.parent / "data" / "test.h5", "--checkpoint", "best"]


def c_resume_other_backbone(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "last.pt", lambda s: s.update(backbone="lenet37"))
    return ["train", r.parent.parent, "--resume", r, "--epochs", "2"]


def c_resume_missing_keys(tmp, run):
    r = _copy_run(run, tmp)
    _resave(r / "checkpoints" / "last.pt", lambda s: s.pop("optimizer"))
    return ["train", r.parent.parent, "--resume", r, "--epochs", "2"]


def c_checkpoint_truncated(tmp, run):
    r = _copy_run(run, tmp)
    ckpt = r / "checkpoints" / "best.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:500])
    return ["eval", r, "--data", r.parent.parent / "data" / "test.h5", "--checkpoint", "best"]


def c_mining_damaged(tmp, run):
    r = _copy_run(run, tmp)
    m = r / "mining.h5"
    data = bytearray(m.read_bytes())
    m.write_bytes(bytes(data[: len(data) - 200]))
    return ["mining", r]


def c_png_12000(tmp, run):
    _png(tmp / "big.png", 12000, 12000)
    return ["query", run, tmp / "big.png"]


def c_png_20000_draw(tmp, run):
    root = _project(tmp / "p")
    _png(tmp / "big.png", 20000, 20000)
    return ["draw", "add", root, tmp / "big.png", "--label", "A"]


def c_png_bomb_import(tmp, run):
    (tmp / "imgs" / "A").mkdir(parents=True)
    _png(tmp / "imgs" / "A" / "big.png", 12000, 12000)
    return ["import", "folder", tmp / "imgs", "--out", tmp / "out.h5"]


def c_fifo_image(tmp, run):
    os.mkfifo(tmp / "pipe.png")
    return ["query", run, tmp / "pipe.png"]


def c_negative_original_shapes(tmp, run):
    root = _project(tmp / "p")
    img = np.full((40, 40), 255, np.uint8)
    img[5:35, 15:20] = 0
    assert main(["draw", "add", str(root), str(_save(tmp / "d.png", img)), "--label", "A"]) == 0
    with h5py.File(root / "drawn.h5", "r+") as h5:
        h5["original_shapes"][0] = [-40, -40]
    return ["draw", "list", root]


def _save(path: Path, img: np.ndarray) -> Path:
    Image.fromarray(img).save(path)
    return path


def c_csv_overwrite(tmp, run):
    victim = tmp / "victim.toml"
    victim.write_text("precious = true\n")
    return ["compare", run, "--csv", victim]


def c_export_overwrite(tmp, run):
    victim = tmp / "model.pt"
    victim.write_text("precious")
    return ["export", run, "--out", victim]


def c_out_is_folder(tmp, run):
    (tmp / "dir.pt").mkdir()
    return ["export", run, "--out", tmp / "dir.pt", "--force"]


def c_bad_alphabet(tmp, run):
    root = _project(tmp / "p")
    (root / "project.toml").write_text(TOML.format(extra="").replace('"latin"', '"klingon"'))
    return ["runs", root]


def c_image_size_vs_backbone(tmp, run):
    root = _project(tmp / "p", "image_size = 64\n")
    return ["runs", root]


def c_test_distort_typo(tmp, run):
    root = _project(tmp / "p", 'test_distort = "rotate=4,blurr=1"\n')
    return ["runs", root]


def c_huge_project_file(tmp, run):
    root = _project(tmp / "p")
    with (root / "project.toml").open("a") as fh:
        fh.write("# " + "x" * (2 << 20) + "\n")
    return ["runs", root]


def c_exclude_rows_out_of_range(tmp, run):
    return ["exclude", _glyph_file(tmp / "g.h5"), "5", "999"]


def c_label_not_in_alphabet(tmp, run):
    root = _project(tmp / "p")
    img = np.full((40, 40), 255, np.uint8)
    img[5:35, 15:20] = 0
    return ["draw", "add", root, _save(tmp / "d.png", img), "--label", "가"]


def c_blank_images(tmp, run):
    g = tmp / "g.h5"
    images = np.zeros((6, 37, 37), np.uint8)
    images[:3, 10:20, 10:20] = 255
    with GlyphWriter(g, ["A", "B"], ["s"], 37) as w:
        w.append(images, np.arange(6) % 2, np.zeros(6, np.int64))
    return ["inspect", g]


def c_grid_too_large(tmp, run):
    g = _glyph_file(tmp / "g.h5", n=2000, classes=tuple(f"k{i}" for i in range(1000)))
    return ["inspect", g, "--grid", tmp / "s.png", "--classes", "10000", "--faces", "2",
            "--scale", "16"]


CASES = [
    Case("data.test outside the project, render --force", c_test_path_escapes,
         ("data.test", "outside the project")),
    Case("data.drawn names a training file", c_drawn_is_training_file,
         ("train.h5", "not a drawings file")),
    Case("data.drawn outside the project", c_drawn_outside_project,
         ("data.drawn", "outside the project")),
    Case("data.train outside the project, auto-render", c_train_outside_autorender,
         ("data.train", "outside the project")),
    Case("HDF5 external storage", c_external_storage, ("g.h5", "external files")),
    Case("HDF5 external link", c_external_link, ("g.h5", "link to another file")),
    Case("HDF5 virtual dataset", c_virtual_dataset, ("g.h5", "virtual dataset")),
    Case("HDF5 soft link", c_soft_link, ("g.h5", "soft link")),
    Case("20 KB file claiming 10^10 images", c_claims_1e10_images, ("huge.h5", "claims")),
    Case("/images is a group", c_images_is_group, ("g.h5", "/images is a group")),
    Case("/excluded holds strings", c_excluded_strings, ("g.h5", "/excluded")),
    Case("/excluded of the wrong length", c_excluded_wrong_length, ("g.h5", "/excluded")),
    Case("/labels out of range", c_labels_out_of_range, ("g.h5", "/labels out of range")),
    Case("byte flipped in a compressed chunk", c_flipped_chunk, ("g.h5", "corrupt")),
    Case("corrupt training data", c_flipped_chunk_train, ("train.h5", "corrupt")),
    Case("truncated glyph file", c_truncated_glyphs, ("g.h5",)),
    Case("not an HDF5 file", c_not_hdf5, ("g.h5", "not a readable HDF5 file")),
    Case("checkpoint image_size 99999", c_checkpoint_image_size, ("best.pt", "image_size")),
    Case("checkpoint preprocess margin 9999", c_checkpoint_preprocess, ("best.pt", "preprocess")),
    Case("checkpoint weights changed on disk", c_checkpoint_flipped_weights,
         ("best.pt", "digest")),
    Case("checkpoint with NaN weights", c_checkpoint_nan_weights, ("best.pt", "NaN")),
    Case("checkpoint with all-NaN centers", c_checkpoint_nan_centers,
         ("best.pt", "all NaN")),
    Case("checkpoint missing keys", c_checkpoint_missing_keys, ("best.pt", "incomplete")),
    Case("checkpoint of another embedding size", c_checkpoint_wrong_embedding,
         ("best.pt", "embedding")),
    Case("resume from another backbone", c_resume_other_backbone, ("last.pt", "backbone")),
    Case("resume from a checkpoint missing keys", c_resume_missing_keys,
         ("last.pt", "incomplete")),
    Case("truncated checkpoint", c_checkpoint_truncated, ("best.pt", "corrupt")),
    Case("damaged mining.h5", c_mining_damaged, ("mining.h5",)),
    Case("12000×12000 PNG query", c_png_12000, ("big.png", "MP limit")),
    Case("20000×20000 PNG drawing", c_png_20000_draw, ("big.png", "MP limit")),
    Case("12000×12000 PNG import", c_png_bomb_import, ("big.png", "MP limit")),
    Case("FIFO as an image", c_fifo_image, ("pipe.png", "not a regular file")),
    Case("negative /original_shapes", c_negative_original_shapes,
         ("drawn.h5", "original_shapes"), code=0, warning=True),
    Case("compare --csv over an existing file", c_csv_overwrite,
         ("victim.toml", "already exists")),
    Case("export over an existing file", c_export_overwrite, ("model.pt", "already exists")),
    Case("--out is a folder", c_out_is_folder, ("dir.pt", "is a folder")),
    Case("unknown data.alphabet", c_bad_alphabet, ("project.toml", "data.alphabet")),
    Case("image_size the backbone does not take", c_image_size_vs_backbone,
         ("project.toml", "data.image_size")),
    Case("test_distort typo", c_test_distort_typo, ("project.toml", "data.test_distort")),
    Case("2 MB project file", c_huge_project_file, ("project.toml", "at most")),
    Case("exclude rows out of range", c_exclude_rows_out_of_range, ("g.h5", "999")),
    Case("draw label outside the alphabet", c_label_not_in_alphabet, ("가", "alphabet"),
         code=0, warning=True),
    Case("blank images", c_blank_images, ("blank",), code=0, warning=True),
    Case("contact sheet larger than memory allows", c_grid_too_large, ("g.h5", "MP")),
    # issue 19
    Case("untrusted project's plug-in, train", c_untrusted_train, ("siam trust",)),
    Case("plug-in path outside the project", c_plugin_outside,
         ("project.toml", "lies outside the project folder")),
    Case("plug-in replaces a built-in miner", c_plugin_replaces_builtin,
         ("my_miner.py", "'random' already exists")),
    Case("plug-in calls sys.exit(0) at import", c_plugin_sys_exit,
         ("my_miner.py", "sys.exit(0)")),
    Case("plug-in raises SystemExit at import", c_plugin_system_exit,
         ("my_miner.py", "sys.exit('leaving')")),
    Case("plug-in miner raises", _positive("raise RuntimeError('boom')"),
         ("'bad-positive' (my_miner.py)", "raised RuntimeError: boom")),
    Case("plug-in miner returns NaN", _positive("p[0] = np.nan\n        return p"),
         ("'bad-positive' (my_miner.py)", "non-finite")),
    Case("plug-in miner returns the wrong shape", _positive("return p[:-1]"),
         ("'bad-positive' (my_miner.py)", "probabilities() returned")),
    Case("plug-in probabilities not summing to 1", _positive("return p * 2"),
         ("'bad-positive' (my_miner.py)", "summing to 2")),
    Case("plug-in negative probabilities",
         _positive("p[0] = -p[1]\n        p[1] *= 2\n        return p"),
         ("'bad-positive' (my_miner.py)", "negative values")),
    Case("plug-in negatives out of range", _negative("return uniform_negative + 1000"),
         ("'bad-negative' (my_miner.py)", "out of range")),
    Case("plug-in negatives as floats", _negative("return uniform_negative.astype(float)"),
         ("'bad-negative' (my_miner.py)", "float64 values")),
    Case("plug-in negative is the anchor's class", _negative("return anchor_cls.copy()"),
         ("'bad-negative' (my_miner.py)", "anchor's own class")),
    Case("runs/ links outside the project", c_runs_symlink, ("runs/", "outside the project")),
    Case("run delete of a folder outside any project", c_delete_outside_project,
         ("precious", "not a run of a project")),
    Case("draw add into originals of another layout", c_drawn_other_layout,
         ("drawn.h5", "/originals")),
    Case("metrics.jsonl is a FIFO, compare", c_metrics_fifo,
         ("metrics.jsonl", "not a regular file")),
]


def _snapshot(folder: Path) -> dict[str, str]:
    """Digests of the files in ``folder``; lock files and caches of derived figures (the pixel
    baseline) are not data and are left out."""
    out = {}
    for p in folder.rglob("*"):
        if p.is_file() and not p.name.endswith(".lock") and p.name != ".baselines.json":
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input(case: Case, tmp_path: Path, trained_run: Path, capsys):
    argv = [str(a) for a in case.build(tmp_path, trained_run)]
    capsys.readouterr()
    before = _snapshot(tmp_path)
    run_before = _snapshot(trained_run)
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert code == case.code, (code, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if case.warning:
        hits = [ln for ln in lines if "warning" in ln]
        assert hits, err
        line = hits[0]
    else:
        assert len(lines) == 1, err
        line = lines[0]
        assert "error:" in line
    for needle in case.needles:
        assert needle in line, (needle, line)
    after = _snapshot(tmp_path)
    changed = [k for k, v in before.items() if after.get(k) != v]
    if case.code == 2:
        assert not changed, f"{changed} changed"  # nothing that existed is lost
        assert not [k for k in after if k.endswith((".tmp", ".staged"))]
    assert _snapshot(trained_run) == run_before


def test_fifo_project_file_does_not_hang(tmp_path: Path):
    root = tmp_path / "p"
    root.mkdir()
    os.mkfifo(root / "project.toml")
    r = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "runs", str(root)], env=F.env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a regular file" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_broken_pipe_is_quiet():
    """``siam alphabets | head -1``: the reader goes away; no traceback, no error line."""
    p = subprocess.Popen([sys.executable, "-c",
                          "import sys\nfrom siam_workbench.cli import main\n"
                          "sys.argv = ['siam']\n"
                          "for _ in range(400):\n"
                          "    code = main(['alphabets'])\n"
                          "    if code: sys.exit(code)\n"],
                         env=F.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert p.returncode == 141, (p.returncode, err)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# -- issue 19: holes whose right outcome is not an error ---------------------------------------

#: The tests below, each one input of the corpus (counted by test_corpus_size).
MORE_INPUTS = 8


def test_run_names_with_escape_sequences_are_shown_escaped(trained_run, tmp_path, capsys):
    r = _copy_run(trained_run, tmp_path)
    hostile = r.with_name("\x1b]0;owned\x07\x1b[2J\u202eevil")
    r.rename(hostile)
    status = hostile / "status.json"
    status.write_text(json.dumps({**json.loads(status.read_text()), "status": "\x1b[31mok"}))
    assert main(["runs", str(hostile.parent.parent)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;owned\\x07\\x1b[2J\\u202eevil" in out
    assert main(["runs", str(hostile.parent.parent), "--best"]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_a_metrics_line_that_is_not_a_record_is_skipped(trained_run, tmp_path, capsys):
    r = _copy_run(trained_run, tmp_path)
    with open(r / "metrics.jsonl", "a") as fh:
        fh.write("[]\n42\n\"text\"\nnull\n")
    for argv in (["compare", str(r)], ["advise", str(r)]):
        assert main(argv) == 0, capsys.readouterr().err
        assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("name", ["status.json", "metrics.jsonl"])
def test_fifo_run_files_do_not_hang_the_run_list(trained_run, tmp_path, name):
    r = _copy_run(trained_run, tmp_path)
    (r / name).unlink()
    os.mkfifo(r / name)
    res = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "runs", str(r.parent.parent)],
                         env=F.env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and r.name in res.stdout, res.stderr
    assert "Traceback" not in res.stderr


def _png16(path: Path) -> Path:
    a = np.full((60, 60), 40000, np.uint16)
    a[10:50, 25:32] = 1000  # visible ink: dark strokes on light 16-bit paper
    Image.fromarray(a).save(path)
    assert Image.open(path).mode.startswith("I")
    return path


def test_16_bit_png_with_visible_ink_is_read(trained_run, tmp_path, capsys):
    from siam_workbench.infer import onnx_reference as ref
    from siam_workbench.infer.query import prepare

    png = _png16(tmp_path / "ink16.png")
    assert main(["query", str(_copy_run(trained_run, tmp_path)), str(png)]) == 0, \
        capsys.readouterr().err
    eight = tmp_path / "ink8.png"
    Image.fromarray((np.asarray(Image.open(png)) // 257).astype(np.uint8)).save(eight)
    np.testing.assert_array_equal(prepare(png, 37), prepare(eight, 37))  # same picture
    np.testing.assert_array_equal(ref.prepare(png, 37), prepare(png, 37))  # classify.py too


def _bombs(tmp: Path) -> dict[str, Path]:
    out = {"big.png": _png(tmp / "big.png", 12000, 12000)}
    Image.new("1", (8000, 8000), 1).save(tmp / "big.gif")
    Image.new("1", (8000, 8000), 1).save(tmp / "big.tiff", compression="group4")
    out["big.gif"], out["big.tiff"] = tmp / "big.gif", tmp / "big.tiff"
    (tmp / "junk.gif").write_bytes(b"GIF89a" + bytes(range(256)) * 4)
    out["junk.gif"] = tmp / "junk.gif"
    os.mkfifo(tmp / "pipe.png")
    out["pipe.png"] = tmp / "pipe.png"
    return out


def test_classify_py_refuses_bombs_and_fifos_in_one_line(trained_run, tmp_path):
    """The torch-free deploy script refuses what ``siam query`` refuses (own process: a FIFO
    must not hang it, a bomb must not be decoded)."""
    bundle = tmp_path / "bundle"
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(bundle)]) == 0
    for name, path in _bombs(tmp_path).items():
        res = subprocess.run([sys.executable, str(bundle / "classify.py"), str(path)],
                             capture_output=True, text=True, timeout=120)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, (name, res.stderr)
        assert name in lines[0] and "Traceback" not in res.stderr, lines


def test_memory_precheck_honours_ulimit_v():
    """Under ``ulimit -v`` the available memory is what the limit leaves, not MemAvailable."""
    code = ("import resource; from siam_workbench.base.paths import available_memory as a; "
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY)); "
            "print(a())")
    res = subprocess.run([sys.executable, "-c", code], env=F.env(), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert 0 <= int(res.stdout) < 3 << 30


def test_a_class_list_larger_than_memory_is_refused_before_training(tmp_path, monkeypatch,
                                                                    capsys):
    import siam_workbench.base.paths

    root = _project(tmp_path / "p")
    _glyph_file(root / "data" / "train.h5", classes=("A", "B", "C") + tuple(
        f"x{i}" for i in range(100_000)))
    # 10⁵ classes need ~120 MB; let the limit leave 10 MB, as 10⁷ classes under ulimit -v.
    monkeypatch.setattr(siam_workbench.base.paths, "_address_space_left", lambda: 10 << 20)
    assert main(["train", str(root)]) == 2
    err = capsys.readouterr().err
    assert "training 100,003 classes" in err and "train.h5" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_corpus_size():
    """The README states how many inputs the corpus tries; keep it honest."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    # + the FIFO project file, the broken pipe and the issue-19 tests above
    total = len(CASES) + 2 + MORE_INPUTS
    assert f"{total} bad inputs" in readme, total


def test_undamaged_inputs_pass(tmp_path: Path, trained_run: Path, capsys):
    """Positive control: the corpus's material is sound before it is damaged."""
    g = _glyph_file(tmp_path / "g.h5")
    assert main(["inspect", str(g), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["blank"] == 0
    r = _copy_run(trained_run, tmp_path)
    assert main(["eval", str(r), "--data", str(r.parent.parent / "data" / "test.h5")]) == 0

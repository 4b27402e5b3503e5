"""Enrolment: classes added to a trained run from a few samples, without touching its weights,
seen by query, eval and both exports; the class-set file is written crash-safely; bad input is
one line and exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from siam_workbench.base.errors import SiamError
from siam_workbench.cli import main
from siam_workbench.data.drawn import DrawnStore
from siam_workbench.data.glyphs import GlyphWriter
from siam_workbench.infer import enrol as E
from siam_workbench.infer.classset import SCHEMA, classset_path, read_class_set
from siam_workbench.infer.evaluate import load_run
from siam_workbench.infer.query import prepare, query
from tests.conftest import synth_glyphs
from tests.core.infer.fewshot_helpers import shape_image, shape_pngs, train_tiny


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("enrol") / "proj")


@pytest.fixture
def run_dir(trained: Path, tmp_path: Path) -> Path:
    """A fresh copy of the trained project (its run inside), so each test enrols on its own."""
    proj = tmp_path / "proj"
    shutil.copytree(trained.parent.parent, proj)
    return proj / "runs" / "r"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_enrolled_class_is_what_query_returns_for_its_samples(run_dir, tmp_path, capsys):
    ckpts = {p.name: _sha(p) for p in (run_dir / "checkpoints").iterdir()}
    rings = shape_pngs(tmp_path / "img", "ring")
    boxes = shape_pngs(tmp_path / "img", "box")
    assert _cli(capsys, "enrol", run_dir, "--class", "ring", *rings)[0] == 0
    code, out, _ = _cli(capsys, "enrol", run_dir, *boxes, "--class", "box", "--json")
    assert code == 0 and json.loads(out)["total"] == 2
    code, out, err = _cli(capsys, "query", run_dir, *rings, *boxes, "--json", "--k", "3")
    assert code == 0, err
    tops = [r["matches"][0]["class"] for r in json.loads(out)]
    assert tops == ["ring"] * 3 + ["box"] * 3
    # the weights are untouched; the class set is beside the checkpoint
    assert {p.name: _sha(p) for p in (run_dir / "checkpoints").iterdir()} == ckpts
    raw = json.loads(classset_path(run_dir).read_text())
    assert raw["schema"] == SCHEMA
    ring = next(c for c in raw["classes"] if c["name"] == "ring")
    assert [s["origin"] for s in ring["samples"]] == [str(p) for p in rings]
    assert all(len(s["sha256"]) == 64 and s["added"] for s in ring["samples"])
    run = load_run(run_dir)
    assert run.classes[-2:] == ["ring", "box"] and run.enrolled == ["ring", "box"]
    assert run.trained_classes == load_run(run_dir, enrolled=False).classes
    code, out, _ = _cli(capsys, "enrol", run_dir, "--list", "--json")
    assert [r["class"] for r in json.loads(out)] == ["ring", "box"]


def test_api_takes_framed_arrays_and_updates_a_class(run_dir):
    run = load_run(run_dir, enrolled=False)
    framed = np.stack([prepare(shape_image("ring", v), run.image_size) for v in range(3)])
    cs = E.enrol(run_dir, "ring", framed[:2], origins=["scan#1", "scan#2"],
                 sources=["alice", "bob"])
    assert [s.source for s in cs.get("ring").samples] == ["alice", "bob"]
    cs = E.enrol(run_dir, "ring", framed)  # the first two again (counted once) + a new one
    entry = cs.get("ring")
    assert len(entry.samples) == 3
    expected = run.embed(torch.from_numpy(framed)).double().mean(0).float().numpy()
    np.testing.assert_allclose(entry.center, expected, atol=1e-5)
    assert E.load_class_set(run_dir).names == ["ring"]


def test_remove(run_dir, tmp_path, capsys):
    rings = shape_pngs(tmp_path / "img", "ring")
    assert _cli(capsys, "enrol", run_dir, "--class", "ring", *rings)[0] == 0
    code, out, _ = _cli(capsys, "enrol", run_dir, "--remove", "ring")
    assert code == 0 and "removed" in out
    assert "ring" not in load_run(run_dir).classes
    assert not classset_path(run_dir).exists()
    assert [m[0].label for m in query(load_run(run_dir), rings)] != ["ring"] * 3


def _novel_file(path: Path, names: list[str], seed: int = 9) -> Path:
    images, labels, sources = synth_glyphs(len(names), 3, seed=seed)
    with GlyphWriter(path, names, ["d1", "d2", "d3"], 37, alphabet="x") as w:
        w.append(images, labels, sources)
    return path


def test_from_glyph_file_enrols_classes_outside_the_alphabet(run_dir, tmp_path, capsys):
    src = _novel_file(tmp_path / "labelled.h5", ["A", "new1", "new2"])
    code, out, err = _cli(capsys, "enrol", run_dir, "--from", src, "--json")
    assert code == 0, err
    assert [r["class"] for r in json.loads(out)["enrolled"]] == ["new1", "new2"]
    cs = read_class_set(run_dir)
    assert {s.source for s in cs.get("new1").samples} == {"d1", "d2", "d3"}
    assert all(s.origin.startswith("labelled.h5#") for s in cs.get("new2").samples)
    # a trained name only with --force, and then it replaces the trained center in place
    code, _, err = _cli(capsys, "enrol", run_dir, "--from", src, "--classes", "A")
    assert code == 2 and "trained classes" in err and len(err.strip().splitlines()) == 1
    before = load_run(run_dir)
    assert _cli(capsys, "enrol", run_dir, "--from", src, "--classes", "A", "--force")[0] == 0
    after = load_run(run_dir)
    assert after.classes == before.classes + ["A"][:0]  # no new row for an override
    i = after.classes.index("A")
    assert not torch.allclose(after.centers[i], before.centers[i])
    assert read_class_set(run_dir).get("A").override


def test_from_drawings(run_dir, capsys):
    store = DrawnStore(run_dir.parent.parent / "drawn.h5", 37)
    for v in range(3):
        store.add(shape_image("ring", v), "ring")
    store.add(shape_image("box", 0), "A")  # a label of the alphabet: not enrolled
    code, out, err = _cli(capsys, "enrol", run_dir, "--from-drawings")
    assert code == 0, err
    assert "'ring': 3 samples" in out and "'A'" not in out
    assert [s.origin for s in read_class_set(run_dir).get("ring").samples] == \
        ["drawn.h5#0", "drawn.h5#1", "drawn.h5#2"]


def test_centers_of_other_weights_are_recomputed(run_dir, tmp_path):
    E.enrol(run_dir, "ring", shape_pngs(tmp_path / "img", "ring"))
    good = load_run(run_dir).centers[-1].clone()
    path = classset_path(run_dir)
    raw = json.loads(path.read_text())
    raw["checkpoint_digest"] = "another checkpoint"
    raw["classes"][0]["center"] = [0.0] * len(raw["classes"][0]["center"])
    path.write_text(json.dumps(raw))
    run = load_run(run_dir)
    assert run.meta["enrolled_centers"] == "recomputed for these weights"
    torch.testing.assert_close(run.centers[-1], good, atol=1e-5, rtol=0)


def test_torchscript_export_carries_enrolled_classes(run_dir, tmp_path, capsys):
    rings = shape_pngs(tmp_path / "img", "ring")
    E.enrol(run_dir, "ring", rings)
    out = tmp_path / "model.pt"
    assert _cli(capsys, "export", run_dir, "--out", out)[0] == 0
    extra = {"classes.json": ""}
    module = torch.jit.load(str(out), _extra_files=extra)
    classes = json.loads(extra["classes.json"])
    assert classes[-1] == "ring"
    x = torch.from_numpy(np.stack([prepare(p, 37) for p in rings])).unsqueeze(1).float() / 255
    _, idx = module.classify(x, 1)
    assert [classes[i] for i in idx[:, 0].tolist()] == ["ring"] * 3


def test_onnx_export_and_classify_py_carry_enrolled_classes(run_dir, tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import runpy

    rings = shape_pngs(tmp_path / "img", "ring")
    E.enrol(run_dir, "ring", rings)
    out = tmp_path / "bundle"
    code, _, err = _cli(capsys, "export", run_dir, "--format", "onnx", "--out", out)
    assert code == 0, err
    assert json.loads((out / "classes.json").read_text())[-1] == "ring"
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["siam.classes"])[-1] == "ring"
    clf = runpy.run_path(str(out / "classify.py"))["Classifier"](out / "model.onnx")
    assert [m[0][0] for m in clf.classify(rings, k=1)] == ["ring"] * 3


@pytest.mark.parametrize("argv, needle", [
    (["enrol", "{tmp}/nope", "--list"], "not a run folder"),
    (["enrol", "{run}", "--class", "w", "{white}"], "image is blank"),
    (["enrol", "{run}", "--remove", "ghost"], "is not enrolled"),
    (["enrol", "{run}", "--class", "A", "{ring}"], "trained classes"),
    (["enrol", "{run}", "--class", "ring"], "at least one image"),
    (["enrol", "{run}", "--class", "ring", "{tmp}/missing.png"], "not found"),
    (["enrol", "{run}"], "say what to enrol"),
    (["enrol", "{run}", "--from-drawings"], "no drawings yet"),
])
def test_bad_input_is_one_line_and_exit_2(run_dir, tmp_path, capsys, argv, needle):
    from PIL import Image

    Image.new("L", (40, 40), 255).save(tmp_path / "white.png")
    (ring,) = shape_pngs(tmp_path / "img", "ring", 1)
    args = [a.format(tmp=tmp_path, run=run_dir, white=tmp_path / "white.png", ring=ring)
            for a in argv]
    code, _, err = _cli(capsys, *args)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1, err
    assert not classset_path(run_dir).exists()


def test_damaged_class_set_is_one_line(run_dir, capsys):
    classset_path(run_dir).write_text('{"schema": "siam-classset/1", "image_size": 37, '
                                      '"classes": [{"name": "x", "center": [1, "a"]}]}')
    code, _, err = _cli(capsys, "query", run_dir, __file__)
    assert code == 2 and "damaged class set" in err and "enrolled.json" in err


def test_failed_write_before_rename_keeps_the_old_file(run_dir, tmp_path, monkeypatch):
    E.enrol(run_dir, "ring", shape_pngs(tmp_path / "img", "ring"))
    path = classset_path(run_dir)
    old = path.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(SiamError, match="cannot write"):
        E.enrol(run_dir, "box", shape_pngs(tmp_path / "img", "box"))
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".enrolled")) == []
    assert read_class_set(run_dir).names == ["ring"]


def test_concurrent_enrolments_keep_both_classes(run_dir):
    import threading

    run = load_run(run_dir, enrolled=False)
    framed = {k: np.stack([prepare(shape_image(k, v), 37) for v in range(3)])
              for k in ("ring", "box")}
    errors: list[BaseException] = []

    def go(name: str) -> None:
        try:
            E.enrol_many(run_dir, [E.Batch(name, framed[name], ["x"] * 3, [""] * 3)], run=run)
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(k,)) for k in ("ring", "box")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert sorted(read_class_set(run_dir).names) == ["box", "ring"]

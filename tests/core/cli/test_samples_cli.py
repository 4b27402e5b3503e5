"""Projects from imported samples: ``siam new --samples``, ``siam data add-samples | resplit |
split`` and the training file that merges fonts and samples by class name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.data.glyphs import GlyphFile, GlyphWriter, load_glyphs
from siam_workbench.data.samples import assign_roles, check_record, merge_extra_train, role_counts
from tests.conftest import make_tiny_project, synth_glyphs
from tests.core.cli.cli_helpers import assert_user_error, run

CLASSES = ["a", "b", "c"]



def scan_folders(root: Path, n: int = 5) -> list[Path]:
    """``n`` scan batches as ``siam import folder`` reads them (ROOT/<class>/<image>.png, one
    source per folder, named after it): dark strokes on white, jittered per batch."""
    images, labels, sources = synth_glyphs(len(CLASSES), n, size=48)
    out = []
    for s in range(n):
        folder = root / f"batch{s + 1}"
        for i in np.flatnonzero(sources == s):
            cdir = folder / CLASSES[labels[i]]
            cdir.mkdir(parents=True, exist_ok=True)
            for v in range(2):  # two scans per class and batch
                img = np.roll(images[i], v, axis=1)
                Image.fromarray(255 - img).save(cdir / f"scan{v}.png")
        out.append(folder)
    return out


def samples_h5(path: Path, sources: int, classes: list[str] | None = None,
               names: list[str] | None = None) -> Path:
    classes = classes or [chr(ord("A") + i) for i in range(4)]
    images, labels, src = synth_glyphs(len(classes), sources)
    names = names or [f"drawer{i + 1:02d}" for i in range(sources)]
    with GlyphWriter(path, classes, names, 37, alphabet="test",
                     render={"importer": "omniglot", "size": 37, "margin": 2}) as w:
        w.append(images, labels, src)
    return path


def files_sources(project: Path) -> dict[str, list[str]]:
    out = {}
    for role in ("train", "val", "test"):
        p = project / "data" / f"{role}.h5"
        if p.exists():
            with GlyphFile(p) as gf:
                out[role] = [gf.source_names[i] for i in np.unique(gf.sources)]
    return out


def test_project_from_scan_folders_holds_no_source_in_two_roles(capsys, tmp_path: Path):
    folders = scan_folders(tmp_path / "scans")
    proj = tmp_path / "proj"
    code, out, err = run(capsys, "new", proj, *[a for f in folders for a in ("--samples", f)],
                         "--split", "60/20/20", "--seed", "3")
    assert code == 0, err
    record = json.loads((proj / "data" / "split.json").read_text())
    assert check_record(record) == []
    found = files_sources(proj)
    assert set(found) == {"train", "val", "test"}
    seen: dict[str, str] = {}
    for role, names in found.items():
        for n in names:
            assert n not in seen, f"source {n} in {seen[n]} and {role}"
            seen[n] = role
    assert sorted(seen) == [f"batch{i}" for i in range(1, 6)]  # folders named the sources
    # The record says what the files hold: every source, its role, its sample count.
    for s in record["sources"]:
        assert seen[s["name"]] == s["role"]
        with GlyphFile(proj / record["files"][s["role"]]) as gf:
            assert (gf.sources == gf.source_names.index(s["name"])).sum() == s["samples"] == 6
    assert {r: len(v) for r, v in found.items()} == {"train": 3, "val": 1, "test": 1}
    assert record["seed"] == 3 and record["split"] == "60/20/20"
    assert len(record["inputs"]) == 5 and all((proj / i["path"]).exists()
                                               for i in record["inputs"])
    # The project: alphabet = the imported classes, real test not distorted, never rendered.
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.project.project import load_project

    project = load_project(proj)
    assert project.config.data.alphabet == "classes.txt"
    assert resolve_alphabet("classes.txt", base=proj).classes == CLASSES
    assert project.config.data.test_distort == ""
    assert project.config.data.samples == ["data/split.json"]
    assert "split.json" in (proj / "project.toml").read_text()
    code, out, err = run(capsys, "render", "--project", proj, "--force")
    assert_user_error(code, err, "imported samples", "siam data resplit")
    code, out, err = run(capsys, "data", "split", proj, "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert {r["name"]: r["role"] for r in listed["sources"]} == seen


def test_samples_project_trains_without_rendering(capsys, tmp_path: Path):
    proj = tmp_path / "proj"
    code, _, err = run(capsys, "new", proj, "--samples", samples_h5(tmp_path / "s.h5", 5),
                       "--set", "train.device=cpu", "--set", "train.batch_mode=pk",
                       "--set", "train.classes_per_batch=4", "--set", "train.samples_per_class=2")
    assert code == 0, err
    (proj / "data" / "test.h5").unlink()
    code, out, err = run(capsys, "train", proj, "--epochs", "1", "--iterations", "2", "--json")
    assert code == 0, err
    assert "rendering" not in err
    assert json.loads(out)["status"] == "finished"
    # A missing file comes back from the record, the same samples as before.
    before = load_glyphs(proj / "data" / "val.h5")
    code, _, err = run(capsys, "data", "resplit", proj)
    assert code == 0, err
    assert (proj / "data" / "test.h5").exists()
    again = load_glyphs(proj / "data" / "val.h5")
    assert np.array_equal(before.images.numpy(), again.images.numpy())
    assert before.source_names == again.source_names
    (proj / "data" / "train.h5").unlink()
    code, _, err = run(capsys, "train", proj, "--epochs", "1")
    assert_user_error(code, err, "imported samples")


def test_split_is_seeded(capsys, tmp_path: Path):
    src = samples_h5(tmp_path / "s.h5", 10)

    def split(name: str, seed: int) -> tuple[dict, np.ndarray]:
        code, _, err = run(capsys, "new", tmp_path / name, "--samples", src, "--seed", seed)
        assert code == 0, err
        record = json.loads((tmp_path / name / "data" / "split.json").read_text())
        return record["groups"], load_glyphs(tmp_path / name / "data" / "test.h5").images.numpy()

    a, a_test = split("a", 0)
    b, b_test = split("b", 0)
    c, _ = split("c", 1)
    assert a == b and np.array_equal(a_test, b_test)
    assert a != c
    assert {r: len(g) for r, g in a.items()} == {"train": 6, "val": 2, "test": 2}
    # The recorded assignment is a function of the groups, fractions and seed alone.
    assert assign_roles(list(reversed(sum(a.values(), []))),
                        {"train": 0.6, "val": 0.2, "test": 0.2}, 0) == a


def test_paper_protocol_counts_and_drawer_grouping(capsys, tmp_path: Path):
    assert role_counts(20, {"train": 0.6, "val": 0.2, "test": 0.2}) == \
        {"train": 12, "val": 4, "test": 4}
    # Two alphabets imported separately: drawer07 of each is a source of its own (prefixed),
    # and grouping by drawer holds the same drawer number out together.
    one = samples_h5(tmp_path / "alpha.h5", 5, ["x1", "x2"])
    two = samples_h5(tmp_path / "beta.h5", 5, ["y1", "y2", "y3"])
    code, _, err = run(capsys, "new", tmp_path / "p", "--samples", one, "--samples", two,
                       "--group-by", "drawer")
    assert code == 0, err
    record = json.loads((tmp_path / "p" / "data" / "split.json").read_text())
    assert check_record(record) == []
    roles = {s["name"]: s["role"] for s in record["sources"]}
    assert len(roles) == 10 and "alpha:drawer01" in roles and "beta:drawer01" in roles
    for d in range(1, 6):
        assert roles[f"alpha:drawer{d:02d}"] == roles[f"beta:drawer{d:02d}"]
    assert record["classes"] == 5
    code, _, err = run(capsys, "new", tmp_path / "q", "--samples", one, "--samples", two,
                       "--group-by", "source")
    assert code == 0, err
    record = json.loads((tmp_path / "q" / "data" / "split.json").read_text())
    assert sum(len(g) for g in record["groups"].values()) == 10


@pytest.mark.parametrize("case", ["missing", "sum", "few", "not-drawer", "zero-train",
                                  "no-samples"])
def test_bad_input_is_one_line_and_leaves_nothing(capsys, tmp_path: Path, case: str):
    src = samples_h5(tmp_path / "s.h5", 2 if case == "few" else 5,
                     names=["scanA", "scanB", "scanC", "scanD", "scanE"][:2 if case == "few"
                                                                           else 5])
    argv = {"missing": ["--samples", tmp_path / "nope.h5"],
            "sum": ["--samples", src, "--split", "50/20/20"],
            "few": ["--samples", src],
            "not-drawer": ["--samples", src, "--group-by", "drawer"],
            "zero-train": ["--samples", src, "--split", "0/50/50"],
            "no-samples": ["--split", "60/20/20"]}[case]
    frag = {"missing": "nope.h5", "sum": "add up to 90", "few": "2 source group(s)",
            "not-drawer": "scanA", "zero-train": "training",
            "no-samples": "only with --samples"}[case]
    code, _, err = run(capsys, "new", tmp_path / "proj", *argv)
    assert_user_error(code, err, frag)
    assert not (tmp_path / "proj").exists()


def test_extra_training_file_is_merged_by_class_name(capsys, tmp_path: Path):
    proj = make_tiny_project(tmp_path / "fonts")  # classes A … L, latin alphabet
    # Real samples in another class order, with a class the fonts lack.
    src = samples_h5(tmp_path / "real.h5", 5, ["ж", "B", "A"])
    code, out, err = run(capsys, "data", "add-samples", proj, src, "--split", "60/20/20")
    assert code == 0, err
    assert "1 of 3 classes" in out and "real-test.h5" in out
    from siam_workbench.project.project import load_project

    project = load_project(proj)
    assert project.config.data.extra_train == ["data/real-train.h5"]
    assert project.config.data.samples == ["data/real-split.json"]
    assert (proj / "data" / "train.h5").exists() and (proj / "data" / "real-val.h5").exists()
    train = load_glyphs(proj / "data" / "train.h5")
    real = load_glyphs(proj / "data" / "real-train.h5")
    warnings: list[str] = []
    merged = merge_extra_train(train, [proj / "data" / "real-train.h5"], "fit",
                               warn=warnings.append)
    known = int(sum((real.labels == real.classes.index(c)).sum() for c in ("A", "B")))
    assert len(merged) == len(train) + known
    assert warnings and f"{len(real) - known} of {len(real)} samples skipped" in warnings[0]
    tail = slice(len(train), None)
    names = [merged.classes[i] for i in merged.labels[tail].tolist()]
    assert set(names) == {"A", "B"}
    # An appended "B" is the fonts' B: the same picture as the real file's B rows.
    b_rows = (real.labels == real.classes.index("B")).numpy()
    got = merged.images[tail][np.array(names) == "B"].numpy()
    assert np.array_equal(got, real.images.numpy()[b_rows])
    added = {merged.source_names[i] for i in merged.sources[tail].tolist()}
    assert added and all(n.startswith("real-train:drawer") for n in added)
    assert not set(train.source_names) & added
    # The trainer appends it: its run starts on the merged set.
    from siam_workbench.train.events import RunStarted
    from siam_workbench.train.trainer import Trainer

    trainer = Trainer(load_project(proj), config=project.config.replace(
        {"train": {"epochs": 1, "iterations": 1}}))
    seen: list = []
    trainer.subscribe(seen.append)
    trainer.run()
    started = [e for e in seen if isinstance(e, RunStarted)]
    assert started and started[0].train_samples == len(merged)
    # A font project keeps rendering (its data.train is the fonts'), and the names are taken.
    code, _, err = run(capsys, "data", "add-samples", proj, src)
    assert_user_error(code, err, "already exists")


def test_omniglot_root_is_imported_and_split_by_drawer(capsys, tmp_path: Path):
    """An Omniglot layout given directly: imported into the project, drawers held out."""
    images, labels, sources = synth_glyphs(4, 5, size=60)
    root = tmp_path / "images_background"
    for i in range(len(images)):
        alpha, char = divmod(int(labels[i]), 2)
        cdir = root / f"Alpha{alpha}" / f"character{char + 1:02d}"
        cdir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - images[i]).save(cdir / f"{i:04d}_{sources[i] + 1:02d}.png")
    proj = tmp_path / "omni"
    code, out, err = run(capsys, "new", proj, "--samples", root, "--group-by", "drawer",
                         "--seed", "2")
    assert code == 0, err
    record = json.loads((proj / "data" / "split.json").read_text())
    assert record["inputs"][0]["path"] == "data/import/images_background.h5"
    assert check_record(record) == []
    assert {r: len(g) for r, g in record["groups"].items()} == {"train": 3, "val": 1, "test": 1}
    found = files_sources(proj)
    assert sum(len(v) for v in found.values()) == 5
    assert len({n for v in found.values() for n in v}) == 5  # no drawer in two files
    from siam_workbench.data.alphabets import resolve_alphabet

    assert resolve_alphabet("classes.txt", base=proj).classes == \
        ["Alpha0/character01", "Alpha0/character02", "Alpha1/character01", "Alpha1/character02"]

"""``siam alphabets | fonts | render | import | inspect`` through ``siam_workbench.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.cli import main
from siam_workbench.data.glyphs import GlyphFile
from tests.core.cli.cli_helpers import assert_user_error, run


@pytest.mark.parametrize("command", ["alphabets", "fonts", "render", "import", "inspect"])
def test_every_subcommand_has_help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: siam " + command in capsys.readouterr().out


def test_alphabets(capsys):
    code, out, _ = run(capsys, "alphabets", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["hangul-2350"]["classes"] == 2350
    code, out, _ = run(capsys, "alphabets")
    assert code == 0 and "hangul-11172" in out and "11172" in out


def test_fonts_lists_coverage(capsys, font_lib: Path):
    code, out, _ = run(capsys, "fonts", "--fonts", font_lib, "--no-system", "--alphabet", "latin",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["classes"] == 52
    by_id = {f["id"]: f for f in data["faces"]}
    assert by_id["Alpha-Regular.ttf#0"]["coverage"] == 1.0
    assert by_id["Alpha-Regular.ttf#0"]["family"] == "Test Alpha"
    assert by_id["Sparse.ttf#0"]["coverage"] == 0.0
    assert by_id["Hollow.ttf#0"]["covered"] == 51
    code, out, _ = run(capsys, "fonts", "--fonts", font_lib, "--no-system", "--alphabet", "latin",
                       "--min-coverage", "0.99")
    assert code == 0 and "Alpha-Regular.ttf#0" in out and "Sparse" not in out
    assert "Hollow" not in out


def test_fonts_bad_input(capsys, tmp_path: Path):
    bad = tmp_path / "fake.otf"
    bad.write_text("not a font")
    assert_user_error(*run(capsys, "fonts", "--fonts", bad)[::2], "fake.otf", "not a font")
    assert_user_error(*run(capsys, "fonts", "--alphabet", "nope")[::2], "nope")
    assert_user_error(*run(capsys, "fonts", "--min-coverage", "2")[::2], "--min-coverage")


def test_render_inspect_and_grid(capsys, font_lib: Path, tmp_path: Path):
    out = tmp_path / "d.h5"
    code, stdout, err = run(capsys, "render", "--alphabet", "digits", "--fonts",
                            font_lib / "Alpha-Regular.ttf", font_lib / "Bravo-Regular.ttf",
                            font_lib / "Bravo-Bold.ttf", "--out", out, "--json")
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["samples"] == 30 and rep["faces"] == 3 and rep["classes"] == 10
    code, stdout, _ = run(capsys, "inspect", out, "--json")
    info = json.loads(stdout)
    assert code == 0 and info["samples"] == 30 and info["classes"] == 10
    assert info["per_source"] == {"Alpha-Regular.ttf#0": 10, "Bravo-Bold.ttf#0": 10,
                                  "Bravo-Regular.ttf#0": 10}
    code, stdout, _ = run(capsys, "inspect", out)
    assert code == 0 and "30 samples" in stdout and "Bravo-Bold.ttf#0" in stdout
    grid = tmp_path / "g.png"
    code, _, err = run(capsys, "inspect", out, "--grid", grid, "--classes", "4", "--faces", "2",
                       "--scale", "1")
    assert code == 0, err
    sheet = np.asarray(Image.open(grid))
    assert sheet.shape == (4 * 39 + 2, 2 * 39 + 2)  # 37-px cells, 2-px gutters
    cell = sheet[2:39, 2:39]
    assert cell[0, 0] == 255 and cell.min() < 40  # light paper, dark ink
    assert sheet[0, 0] == 160  # gutter
    # an existing PNG is not replaced without --force
    before = grid.read_bytes()
    code, _, err = run(capsys, "inspect", out, "--grid", grid, "--classes", "2")
    assert_user_error(code, err, "g.png", "already exists")
    assert grid.read_bytes() == before
    assert run(capsys, "inspect", out, "--grid", grid, "--classes", "2", "--force")[0] == 0
    assert grid.read_bytes() != before


def test_render_installed_face_by_name(capsys, dejavu, tmp_path: Path):
    code, stdout, err = run(capsys, "render", "--alphabet", "digits", "--fonts",
                            "dejavusans.ttf", "--out", tmp_path / "n.h5", "--json")
    assert code == 0, err
    assert json.loads(stdout)["faces"] == 1
    with GlyphFile(tmp_path / "n.h5") as gf:
        assert gf.source_names == [dejavu.id]


def test_render_keeps_existing_output_unless_force(capsys, dejavu_path: Path, tmp_path: Path):
    out = tmp_path / "d.h5"
    assert run(capsys, "render", "--alphabet", "digits", "--fonts", dejavu_path, "--out", out)[0] \
        == 0
    before = out.read_bytes()
    code, _, err = run(capsys, "render", "--alphabet", "latin", "--fonts", dejavu_path, "--out",
                       out)
    assert_user_error(code, err, "d.h5", "already exists", "--force")
    assert out.read_bytes() == before
    code, _, err = run(capsys, "render", "--alphabet", "latin", "--fonts", dejavu_path, "--out",
                       out, "--force")
    assert code == 0, err
    with GlyphFile(out) as gf:
        assert gf.num_classes == 52


def test_render_with_chars_and_distortion(capsys, dejavu_path: Path, tmp_path: Path):
    chars = tmp_path / "classes.txt"
    chars.write_text("AB\nCD\nE\n", encoding="utf-8")
    out = tmp_path / "c.h5"
    code, _, err = run(capsys, "render", "--chars", chars, "--fonts", dejavu_path, "--out", out,
                       "--distort", "rotate=5,noise=0.03", "--variants", "2", "--seed", "3",
                       "--size", "24", "--margin", "1")
    assert code == 0, err
    with GlyphFile(out) as gf:
        assert gf.classes == ["AB", "CD", "E"] and len(gf) == 6 and gf.image_size == 24


@pytest.mark.parametrize("make_args, fragments", [
    (lambda t, d: ["--chars", t / "empty.txt", "--fonts", d, "--out", t / "o.h5"],
     ["empty.txt", "no classes"]),
    (lambda t, d: ["--alphabet", "hangul-2350", "--fonts", d, "--out", t / "o.h5"],
     ["no glyph of the 2350-class alphabet"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", t / "fake.ttf", "--out", t / "o.h5"],
     ["fake.ttf", "not a font"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", "No Such Font Family", "--out",
                   t / "o.h5"], ["No Such Font Family"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d, "--out", t / "missing" / "o.h5"],
     ["missing", "does not exist"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d, "--out", t / "empty.txt" / "o.h5"],
     ["empty.txt", "not a folder"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d, "--out", "/proc/siam.h5"],
     ["/proc", "cannot write"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d, "--out", t / "o.h5", "--distort",
                   "spin=3"], ["'spin=3'"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d, "--out", t / "o.h5", "--variants", "3"],
     ["variants"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d], ["--out"]),
    (lambda t, d: ["--alphabet", "digits", "--out", t / "o.h5"], ["--fonts"]),
    (lambda t, d: ["--alphabet", "digits", "--font-role", "val", "--out", t / "o.h5"],
     ["--project"]),
    (lambda t, d: ["--alphabet", "digits", "--fonts", d, "--out", t / "o.h5", "--size", "4"],
     ["--size"]),
])
def test_render_bad_input(capsys, dejavu_path: Path, tmp_path: Path, make_args, fragments):
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "fake.ttf").write_text("not a font")
    code, _, err = run(capsys, "render", *make_args(tmp_path, dejavu_path))
    assert_user_error(code, err, *fragments)
    assert not (tmp_path / "o.h5").exists()


def _project(tmp_path: Path, font_lib: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "project.toml").write_text(f"""
[data]
alphabet = "digits"
font_dirs = ["{font_lib}"]
train_fonts = ["Test Alpha"]
val_fonts = ["Test Bravo"]
test_fonts = ["Test Charlie"]
test_variants = 2
""", encoding="utf-8")
    return root


def test_render_project_splits_and_role(capsys, font_lib: Path, tmp_path: Path):
    root = _project(tmp_path, font_lib)
    code, stdout, err = run(capsys, "render", "--project", root, "--json")
    assert code == 0, err
    reps = json.loads(stdout)
    assert [reps[r]["samples"] for r in ("train", "val", "test")] == [20, 20, 40]
    assert all((root / "data" / f"{r}.h5").exists() for r in ("train", "val", "test"))
    code, _, err = run(capsys, "render", "--project", root)
    assert_user_error(code, err, "rendered already", "--force")
    out = tmp_path / "val_only.h5"
    code, _, err = run(capsys, "render", "--project", root, "--font-role", "val", "--out", out)
    assert code == 0, err
    with GlyphFile(out) as gf:
        assert gf.source_names == ["Bravo-Bold.ttf#0", "Bravo-Regular.ttf#0"]
        assert gf.classes == list("0123456789")
    code, _, err = run(capsys, "render", "--project", root, "--size", "20")
    assert_user_error(code, err, "--size")


def test_import_commands(capsys, tmp_path: Path):
    src = tmp_path / "imgs" / "A"
    src.mkdir(parents=True)
    img = np.full((40, 40), 255, np.uint8)
    img[10:30, 18:22] = 0
    Image.fromarray(img).save(src / "1.png")
    out = tmp_path / "f.h5"
    code, stdout, err = run(capsys, "import", "folder", tmp_path / "imgs", "--out", out,
                            "--size", "28", "--json")
    assert code == 0, err
    assert json.loads(stdout)["samples"] == 1
    with GlyphFile(out) as gf:
        assert gf.image_size == 28
    (tmp_path / "empty" / "A").mkdir(parents=True)
    code, _, err = run(capsys, "import", "folder", tmp_path / "empty", "--out", tmp_path / "e.h5")
    assert_user_error(code, err, "empty", "no images")
    phd = tmp_path / "phd"
    phd.mkdir()
    (phd / "가.txt").write_text("가_1\n2 3\n010\n0x0\n", encoding="utf-8")
    code, _, err = run(capsys, "import", "phd08", phd, "--out", tmp_path / "p.h5")
    assert_user_error(code, err, "가.txt", "line 4", "sample 1", "가_1")
    assert not (tmp_path / "p.h5").exists()
    code, _, err = run(capsys, "import", "omniglot", tmp_path / "imgs", "--out",
                       tmp_path / "o.h5")
    assert_user_error(code, err, "no Omniglot images")
    code, _, err = run(capsys, "import", "folder", tmp_path / "imgs", "--out", out)
    assert_user_error(code, err, "already exists")


def test_inspect_bad_files(capsys, tmp_path: Path):
    (tmp_path / "x.h5").write_text("no")
    assert_user_error(*run(capsys, "inspect", tmp_path / "x.h5")[::2], "x.h5",
                      "not a readable HDF5")
    assert_user_error(*run(capsys, "inspect", tmp_path / "none.h5")[::2], "none.h5", "not found")

"""The em-box size mode (render, drawings, query) and exclusions that survive re-rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from siam_workbench.base.errors import SiamError
from siam_workbench.data.glyphs import GlyphFile, exclusion_keys
from siam_workbench.data.imaging import baseline_fraction, normalize_glyph
from siam_workbench.data.render import render_glyph
from siam_workbench.data.render_splits import render_splits


def rows(img: np.ndarray) -> tuple[int, int]:
    r = np.flatnonzero(img.max(axis=1) > 100)
    return int(r[0]), int(r[-1])


def test_em_mode_keeps_relative_size_and_baseline(dejavu):
    fit = {c: render_glyph(dejavu, c, 37, 2, "fit") for c in "oOxX"}
    em = {c: render_glyph(dejavu, c, 37, 2, "em") for c in "oOxX"}
    # fit: o and O (x and X) fill the same box; em: the capital is taller, same baseline.
    assert rows(fit["o"]) == rows(fit["O"])
    o_top, o_bottom = rows(em["o"])
    cap_top, cap_bottom = rows(em["O"])
    assert cap_top < o_top - 3 and abs(cap_bottom - o_bottom) <= 1
    baseline = 2 + baseline_fraction() * 33
    assert abs(cap_bottom - baseline) <= 1.5
    x_top, _ = rows(em["x"])
    assert rows(em["X"])[0] < x_top - 3
    with pytest.raises(SiamError):
        render_glyph(dejavu, "o", 37, 2, "bogus")


def _drawing(box: tuple[int, int, int, int], side: int = 200) -> np.ndarray:
    """White paper with a black ellipse in ``box`` (a hand-drawn o or O)."""
    im = Image.new("L", (side, side), 255)
    ImageDraw.Draw(im).ellipse(box, outline=0, width=12)
    return np.asarray(im)


def test_drawings_are_framed_like_the_em_renders():
    side = 200
    base = int(baseline_fraction() * side)
    small = _drawing((70, base - 80, 130, base))  # an "o": x-height tall, on the baseline
    big = _drawing((60, base - 130, 140, base))  # an "O": cap-height tall
    fit_small, fit_big = normalize_glyph(small, 37), normalize_glyph(big, 37)
    assert rows(fit_small) == rows(fit_big)  # fit erases the difference
    em_small, em_big = normalize_glyph(small, 37, mode="em"), normalize_glyph(big, 37, mode="em")
    assert rows(em_big)[0] < rows(em_small)[0] - 4
    assert abs(rows(em_big)[1] - rows(em_small)[1]) <= 1
    assert abs(rows(em_big)[1] - (2 + baseline_fraction() * 33)) <= 2


def _project(root: Path, font_lib: Path):
    from siam_workbench.project.config import Config
    from siam_workbench.project.project import create_project

    return create_project(root, Config({"data": {
        "alphabet": "digits", "font_dirs": [str(font_lib)],
        "train_fonts": ["Test Alpha", "Test Bravo"], "val_fonts": ["Test Charlie"],
        "test_fonts": ["Test Delta"], "test_distort": "rotate=3,noise=0.02",
        "test_variants": 2, "size_mode": "em"}}))


def test_exclusions_survive_rerendering_by_class_and_face(font_lib: Path, tmp_path: Path):
    project = _project(tmp_path / "p", font_lib)
    render_splits(project, workers=1)
    paths = project.dataset_paths()
    with GlyphFile(paths["train"]) as gf:
        assert gf.attrs["render"]["size_mode"] == "em"
        # exclude "7" of the second face and "0" of the first
        pick = [int(np.flatnonzero((gf.labels == 7) & (gf.sources == 1))[0]),
                int(np.flatnonzero((gf.labels == 0) & (gf.sources == 0))[0])]
    with GlyphFile(paths["test"]) as gf:
        second_variant = int(np.flatnonzero(gf.labels == 3)[1])
    with GlyphFile(paths["train"], "r+") as gf:
        gf.set_excluded(pick, True)
        want = exclusion_keys(paths["train"])
    with GlyphFile(paths["test"], "r+") as gf:
        gf.set_excluded([second_variant], True)
    test_keys = exclusion_keys(paths["test"])
    assert len(want) == 2 and len(test_keys) == 1
    assert next(iter(test_keys))[2] == 1  # the second variant, not both
    reports = render_splits(project, workers=1, force=True)
    assert reports["train"].kept_exclusions == 2 and reports["test"].kept_exclusions == 1
    assert exclusion_keys(paths["train"]) == want
    assert exclusion_keys(paths["test"]) == test_keys


def test_missing_glyphs_are_named(font_lib: Path, tmp_path: Path):
    from siam_workbench.data.fonts import discover_fonts
    from siam_workbench.data.render import render_dataset

    faces = [f for f in discover_fonts(extra=[font_lib], system=False)
             if f.family in ("Test Sparse", "Test Alpha")]
    rep = render_dataset(list("09AB"), faces, tmp_path / "x.h5", workers=1)
    sparse = next(k for k in rep.missing_classes if k.startswith("Sparse"))
    assert sorted(rep.missing_classes[sparse]) == ["A", "B"]
    assert rep.missing_per_face[sparse] == 2

"""Tests for siam_workbench.train.augment_preview: the pictures the Train tab's preview panel and
``siam augment`` show — deterministic, the promised shapes, and a switched-off distortion (or
disabled augmentation) leaving its cells exactly as the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import Config
from siam_workbench.train import augment_preview as ap

SIZE = 37


def glyphs(n: int = 5) -> np.ndarray:
    """Bars and boxes, ink = 255, a different layout per glyph."""
    x = np.zeros((n, SIZE, SIZE), np.uint8)
    for i in range(n):
        k = 6 + i % 5
        x[i, k:SIZE - k, SIZE // 2 - 2:SIZE // 2 + 2] = 255
        x[i, SIZE // 2 - 1:SIZE // 2 + 2, k:SIZE - k] = 200
        x[i, k, k:SIZE - k] = 255
    return x


@pytest.fixture(autouse=True)
def one_thread():
    """The preview itself runs on one intra-op thread; the rest of these tests do too."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def settings(**kw):
    return Config().replace({"augment": kw}).augment


def rows_by_name(rows):
    return {row.operation.name: row for row in rows}


def test_same_seed_same_pictures_other_seed_other_pictures():
    g, s = glyphs(), settings()
    a = ap.preview_grid(g, s, samples=3, variants=4, seed=7)
    assert np.array_equal(a, ap.preview_grid(g, s, samples=3, variants=4, seed=7))
    assert not np.array_equal(a, ap.preview_grid(g, s, samples=3, variants=4, seed=8))
    b = ap.operation_grid(g, s, samples=3, variants=4, seed=7)
    assert np.array_equal(b, ap.operation_grid(g, s, samples=3, variants=4, seed=7))
    assert not np.array_equal(b, ap.operation_grid(g, s, samples=3, variants=4, seed=8))


@pytest.mark.parametrize("scale", [1, 3])
def test_grids_have_the_promised_shape(scale):
    g = glyphs(5)
    grid = ap.preview_grid(g, settings(), samples=3, variants=6, seed=0, scale=scale)
    assert grid.dtype == np.uint8
    assert grid.shape == ap.grid_shape(3, 7, SIZE, scale, separator=True)
    assert grid.shape == (3 * (SIZE * scale + ap.GAP) + ap.GAP,
                          7 * (SIZE * scale + ap.GAP) + ap.SEPARATOR)
    ops = ap.operation_grid(g, settings(), samples=3, variants=6, seed=0, scale=scale)
    assert ops.shape == ap.grid_shape(1 + len(ap.OPERATIONS), 6, SIZE, scale)
    # Fewer glyphs than samples asked for: one row per glyph there is.
    assert ap.preview_grid(g[:2], settings(), samples=4, variants=2).shape == \
        ap.grid_shape(2, 3, SIZE, 1, separator=True)


def test_mixed_view_keeps_the_clean_glyph_and_distorts_the_variants():
    g = glyphs(4)
    mixed = ap.mixed_variants(g, settings(), samples=4, variants=5, seed=1)
    assert mixed.shape == (4, 6, SIZE, SIZE) and mixed.dtype == np.uint8
    assert np.array_equal(mixed[:, 0], g)
    changed = [not np.array_equal(mixed[i, j], g[i]) for i in range(4) for j in range(1, 6)]
    assert sum(changed) >= 10  # defaults distort most samples (p = 0.7 and the extras)


def test_a_switched_off_operation_leaves_its_row_identical_to_the_source():
    g = glyphs(3)
    rows = rows_by_name(ap.operation_rows(g, settings(rotation=False, blur=False), samples=3,
                                         variants=6, seed=2))
    src = ap.source_row(g, 3, 6)
    assert np.array_equal(src, g[np.arange(6) % 3])
    for name in ("rotation", "blur"):
        assert not rows[name].active
        assert np.array_equal(rows[name].images, src), name
        assert "off" in rows[name].detail
    for name in ("projective", "pixelation", "elastic", "stroke", "noise"):
        assert rows[name].active, name
        assert not np.array_equal(rows[name].images, src), name
    # The same, seen in the tiled picture: rotation is row 2 (after the source and projective).
    grid = ap.operation_grid(g, settings(rotation=False), samples=3, variants=6, seed=2)
    pitch = SIZE + ap.GAP
    source_band = grid[ap.GAP:ap.GAP + SIZE]
    rotation_band = grid[ap.GAP + 2 * pitch:ap.GAP + 2 * pitch + SIZE]
    assert np.array_equal(source_band, rotation_band)


def test_zero_strength_is_inactive_too():
    rows = rows_by_name(ap.operation_rows(glyphs(2), settings(rotation_deg=0.0, noise_std=0.0),
                                         samples=2, variants=3))
    assert not rows["rotation"].active and rows["rotation"].detail == "strength 0"
    assert not rows["noise"].active


def test_disabled_augmentation_changes_nothing():
    g = glyphs(3)
    s = settings(enabled=False)
    preview = ap.build_preview(g, s, samples=3, variants=4, seed=0)
    assert preview.state == "disabled"
    for j in range(1, 5):
        assert np.array_equal(preview.mixed[:, j], g)
    for row in preview.operations:
        assert not row.active and np.array_equal(row.images, preview.source)
        assert row.detail == "augmentation disabled"


def test_state_names_the_inactive_case():
    off = {k: False for k in ("projective", "rotation", "scale", "elastic", "stroke", "blur",
                              "noise")}
    assert ap.state_of(ap.augment_values(settings(**off))) == "inactive"
    assert ap.state_of(ap.augment_values(settings(p=0.0, elastic=False, stroke=False,
                                                  blur=False, noise=False))) == "inactive"
    assert ap.state_of(ap.augment_values(settings())) == "on"


def test_each_operation_alone_at_its_configured_strength():
    g = glyphs(3)
    # Stroke weight with thickening only: every cell has at least the source's ink, and more
    # on average; the thinning-only row has less.
    rows = rows_by_name(ap.operation_rows(g, settings(thin_px=0.0, thicken_px=2.0), samples=3,
                                         variants=6, seed=3))
    src = ap.source_row(g, 3, 6).astype(np.int64)
    thick = rows["stroke"].images.astype(np.int64)
    assert (thick.sum(axis=(1, 2)) >= src.sum(axis=(1, 2))).all()
    assert thick.sum() > src.sum() * 1.2
    rows = rows_by_name(ap.operation_rows(g, settings(thin_px=1.0, thicken_px=0.0), samples=3,
                                         variants=6, seed=3))
    assert rows["stroke"].images.astype(np.int64).sum() < src.sum()
    # Isolation: only the operation's own switch stays on, always applied.
    values = ap.augment_values(settings())
    alone = ap.isolate(values, ap.OPERATIONS[1])  # rotation
    assert alone["rotation"] and alone["p"] == 1.0
    assert not any(alone[k] for k in ("projective", "scale", "elastic", "stroke", "blur",
                                      "noise"))
    assert rows["stroke"].detail == "−1 … +0 px"


def test_settings_from_a_mapping_are_validated():
    assert ap.augment_values({"rotation_deg": 3})["rotation_deg"] == 3.0
    with pytest.raises(SiamError, match="augment.rotation_deg"):
        ap.augment_values({"rotation_deg": -1})
    with pytest.raises(SiamError, match="augment.blurr"):
        ap.augment_values({"blurr": True})


def test_tile_draws_dark_ink_on_light_paper():
    cells = np.zeros((1, 2, 4, 4), np.uint8)
    cells[0, 1, 1, 1] = 255
    img = ap.tile(cells, scale=2, separator=True)
    assert img.shape == ap.grid_shape(1, 2, 4, 2, separator=True)
    x1 = ap.GAP + 8 + ap.SEPARATOR
    assert img[ap.GAP, ap.GAP] == ap.PAPER  # clean cell: empty paper
    assert img[ap.GAP + 2, x1 + 2] == 0  # the ink pixel, 2× zoomed
    assert img[ap.GAP + 3, x1 + 3] == 0 and img[ap.GAP + 4, x1 + 4] == ap.PAPER
    assert (img[:, ap.GAP + 8 + 1] == ap.RULE).all()  # the rule after the clean column
    with pytest.raises(ValueError):
        ap.tile(np.zeros((2, 4, 4), np.uint8))


def _glyph_file(path: Path, excluded: list[int] = ()) -> Path:
    from siam_workbench.data.glyphs import GlyphFile, GlyphWriter

    classes = [chr(ord("a") + i) for i in range(6)]
    g = glyphs(6)
    with GlyphWriter(path, classes, ["f0.ttf#0", "f1.ttf#0"], SIZE, alphabet="test") as w:
        for face in range(2):
            w.append(g, np.arange(6), np.full(6, face))
    if excluded:
        with GlyphFile(path, "r+") as gf:
            gf.set_excluded(list(excluded))
    return path


def test_training_glyphs_are_distinct_classes_fixed_by_seed(tmp_path):
    # Class "a" (rows 0 and 6) is excluded in both faces: it can never be shown.
    path = _glyph_file(tmp_path / "train.h5", excluded=[0, 6])
    images, classes = ap.training_glyphs(path, count=4, seed=5)
    assert images.shape == (4, SIZE, SIZE) and len(set(classes)) == 4 and "a" not in classes
    again = ap.training_glyphs(path, count=4, seed=5)
    assert np.array_equal(images, again[0]) and classes == again[1]
    all_of_them = ap.training_glyphs(path, count=50, seed=0)[1]
    assert sorted(all_of_them) == list("bcdef")
    g = glyphs(6)
    for img, c in zip(images, classes, strict=True):
        assert np.array_equal(img, g[ord(c) - ord("a")])


def test_training_glyphs_missing_file_names_it(tmp_path):
    with pytest.raises(SiamError, match="train.h5.*not found|not found.*train.h5"):
        ap.training_glyphs(tmp_path / "data" / "train.h5")


# -- siam augment ----------------------------------------------------------------------------
def _siam(capsys, *args):
    from siam_workbench.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_siam_augment_writes_the_picture_and_refuses_to_overwrite(make_project, capsys):
    import json

    from PIL import Image

    project = make_project()
    out = project.root / "aug.png"
    code, stdout, err = _siam(capsys, "augment", project.root, "--out", out, "--json",
                              "--samples", "3", "--variants", "2")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["state"] == "on" and len(summary["glyphs"]) == 3
    picture = np.asarray(Image.open(out))
    assert picture.ndim == 2 and picture.shape[0] > 3 * SIZE * 2  # three rows at 2× and more
    # An existing file stays untouched without --force: one line naming it, exit 2.
    before = out.read_bytes()
    code, _, err = _siam(capsys, "augment", project.root, "--out", out)
    assert code == 2 and "already exists" in err and "aug.png" in err
    assert out.read_bytes() == before
    # Disabled: the picture says so, and differs from the enabled one.
    code, stdout, err = _siam(capsys, "augment", project.root, "--out", out, "--force",
                              "--set", "augment.enabled=false", "--samples", "3",
                              "--variants", "2")
    assert code == 0 and "disabled" in stdout, err
    assert out.read_bytes() != before


def test_siam_augment_bad_input_is_one_line(make_project, capsys, tmp_path):
    project = make_project()
    code, _, err = _siam(capsys, "augment", project.root, "--set", "train.epochs=3")
    assert code == 2 and "augment.KEY=VALUE" in err and "Traceback" not in err
    code, _, err = _siam(capsys, "augment", project.root, "--set", "augment.rotation_deg=-4")
    assert code == 2 and "rotation_deg" in err
    (project.root / "data" / "train.h5").unlink()
    code, _, err = _siam(capsys, "augment", project.root, "--out", tmp_path / "x.png")
    assert code == 2 and "train.h5" in err and not (tmp_path / "x.png").exists()
    assert len(err.strip().splitlines()) == 1

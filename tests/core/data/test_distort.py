"""Distortion specs (parsing, validation) and their seeded effects on a glyph."""

from __future__ import annotations

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.data.distort import DistortSpec, apply_distortions, parse_distort_spec


@pytest.fixture
def glyph() -> np.ndarray:
    """A plus sign off-centre: asymmetric enough that rotations and shifts are visible."""
    img = np.zeros((37, 37), np.uint8)
    img[8:28, 15:19] = 255
    img[16:20, 6:30] = 255
    return img


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def centroid(img: np.ndarray) -> np.ndarray:
    ys, xs = np.indices(img.shape)
    w = img.astype(float)
    return np.array([(ys * w).sum() / w.sum(), (xs * w).sum() / w.sum()])


# -- parsing --------------------------------------------------------------------------------


def test_parse_full_spec_and_round_trip():
    spec = parse_distort_spec("rotate=5, blur=0.8,noise=0.05,thicken=1,shear=0.2,"
                              "projective=0.05,translate=2,scale=0.8:1.1,binarize=0.4,thin=0")
    assert spec.rotate == 5 and spec.blur == 0.8 and spec.noise == 0.05 and spec.thicken == 1
    assert spec.shear == 0.2 and spec.projective == 0.05 and spec.translate == 2
    assert spec.scale == (0.8, 1.1) and spec.binarize == 0.4 and spec.thin == 0
    assert parse_distort_spec(spec.to_string()) == spec


@pytest.mark.parametrize("text", ["", "none", "  ", None])
def test_empty_spec_is_identity(text):
    assert parse_distort_spec(text).is_identity


def test_shorthands():
    assert parse_distort_spec("binarize").binarize == 0.5
    assert parse_distort_spec("scale=0.9").scale == (0.9, 1.0)
    assert parse_distort_spec("scale=1.2").scale == (1.0, 1.2)


@pytest.mark.parametrize("text, fragment", [
    ("wobble=3", "'wobble=3'.*unknown name 'wobble'"),
    ("rotate=abc", "'rotate=abc'.*not a number"),
    ("rotate", "'rotate'.*expected rotate=VALUE"),
    ("noise=5", "'noise=5'.*noise must be in"),
    ("thicken=1.5", "'thicken=1.5'.*whole number"),
    ("binarize=1.2", "'binarize=1.2'.*between 0 and 1"),
    ("scale=0.05", "'scale=0.05'.*scale needs"),
    ("scale=1.2:0.8", "'scale=1.2:0.8'"),
    ("rotate=2,rotate=3", "'rotate=3'.*twice"),
    ("blur=nan", "'blur=nan'.*finite"),
    ("rotate=-4", "'rotate=-4'.*rotate must be in"),
])
def test_bad_items_are_named(text, fragment):
    with pytest.raises(SiamError, match=fragment):
        parse_distort_spec(text)


# -- effects --------------------------------------------------------------------------------


def test_identity_returns_an_equal_copy(glyph):
    out = apply_distortions(glyph, DistortSpec(), rng())
    assert np.array_equal(out, glyph) and out is not glyph


def test_same_seed_same_image_and_variants_differ(glyph):
    spec = parse_distort_spec("rotate=10,shear=0.2,projective=0.05,noise=0.05,blur=1")
    a = apply_distortions(glyph, spec, rng(3))
    b = apply_distortions(glyph, spec, rng(3))
    assert np.array_equal(a, b)
    r = rng(3)
    v1, v2 = apply_distortions(glyph, spec, r), apply_distortions(glyph, spec, r)
    assert not np.array_equal(v1, v2)
    assert a.dtype == np.uint8 and a.shape == glyph.shape


def test_string_spec_is_accepted(glyph):
    assert np.array_equal(apply_distortions(glyph, "rotate=10", rng(1)),
                          apply_distortions(glyph, parse_distort_spec("rotate=10"), rng(1)))


def test_rotation_moves_ink_but_keeps_it(glyph):
    out = apply_distortions(glyph, "rotate=30", rng(0))
    assert not np.array_equal(out, glyph)
    assert abs(int(out.astype(int).sum()) - int(glyph.astype(int).sum())) < 0.1 * glyph.sum()


def test_thicken_and_thin(glyph):
    thick = apply_distortions(glyph, "thicken=1", rng())
    thin = apply_distortions(glyph, "thin=1", rng())
    assert (thick > 127).sum() > (glyph > 127).sum() > (thin > 127).sum() > 0
    assert ((thick >= glyph) | (glyph == 0)).all()  # dilation only adds ink


def test_blur_softens_edges(glyph):
    out = apply_distortions(glyph, "blur=1.5", rng())
    grey = ((out > 10) & (out < 245)).sum()
    assert grey > 4 * ((glyph > 10) & (glyph < 245)).sum() + 50


def test_noise_has_the_requested_strength():
    flat = np.full((64, 64), 128, np.uint8)
    out = apply_distortions(flat, "noise=0.1", rng(0)).astype(float) / 255
    assert abs(out.std() - 0.1) < 0.02 and abs(out.mean() - 128 / 255) < 0.02


def test_binarize_gives_two_levels(glyph):
    out = apply_distortions(glyph, "blur=1.5,binarize=0.5", rng())
    assert set(np.unique(out).tolist()) <= {0, 255}
    assert (out == 255).sum() > 0


def test_translate_is_bounded(glyph):
    c0 = centroid(glyph)
    shifts = [np.abs(centroid(apply_distortions(glyph, "translate=3", rng(s))) - c0).max()
              for s in range(10)]
    assert max(shifts) <= 3.2 and max(shifts) > 0.5


def test_scale_shrinks_ink(glyph):
    out = apply_distortions(glyph, "scale=0.5:0.6", rng())
    assert (out > 127).sum() < 0.5 * (glyph > 127).sum()
    assert np.abs(centroid(out) - np.array([18.5, 18.5])).max() < \
        np.abs(centroid(glyph) - np.array([18.5, 18.5])).max() + 0.5  # scales about the centre


def test_projective_changes_geometry(glyph):
    out = apply_distortions(glyph, "projective=0.1", rng(5))
    assert not np.array_equal(out, glyph) and out.max() > 200


def test_rejects_non_2d():
    with pytest.raises(ValueError):
        apply_distortions(np.zeros((3, 4, 4), np.uint8), "rotate=1", rng())

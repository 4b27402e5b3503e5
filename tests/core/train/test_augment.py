"""Tests for siam_workbench.parts.augment: contracts (shape, range, device, identity cases,
reproducibility) and the geometry checked against independent references built from the same random
draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from siam_workbench.parts.augment import Augmenter, homography_from_points
from siam_workbench.project.config import Config

SIZE = 37


# The paper's three distortions alone; the others have tests of their own below.
PAPER_ONLY = {"elastic": False, "stroke": False, "blur": False, "noise": False}


def aug_cfg(**kw):
    return Config().replace({"augment": {**PAPER_ONLY, **kw}}).augment


def glyphs(b: int = 16, size: int = SIZE, dtype=torch.float32, width: int | None = None):
    """Bars, boxes and crosses with ink = 1 on background 0, plus a little grey antialiasing."""
    w = width or size
    x = torch.zeros(b, 1, size, w, dtype=dtype)
    for i in range(b):
        k = 6 + i % 5
        x[i, 0, k:size - k, w // 2 - 2:w // 2 + 2] = 1.0
        x[i, 0, size // 2 - 1:size // 2 + 2, k:w - k] = 0.8
        x[i, 0, k, k:w - k] = 1.0
    return x


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def test_shape_range_dtype_kept():
    x = glyphs(32)
    for dtype in (torch.float32, torch.float64):
        xi = x.to(dtype)
        out = Augmenter(aug_cfg(p=1.0, projective_shift=0.2, rotation_deg=20.0), SIZE)(xi, gen())
        assert out.shape == xi.shape and out.dtype == dtype and out.device == xi.device
        assert torch.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
        assert not torch.equal(out, xi)


def test_disabled_or_p0_is_exact_identity():
    x = glyphs(8)
    for cfg in (aug_cfg(enabled=False), aug_cfg(p=0.0),
                aug_cfg(p=1.0, projective=False, rotation=False, scale=False),
                aug_cfg(p=1.0, projective_shift=0.0, rotation_deg=0.0, scale=False)):
        out = Augmenter(cfg, SIZE)(x, gen())
        assert out is x
    assert Augmenter(aug_cfg(), SIZE)(x[:0], gen()).shape == (0, 1, SIZE, SIZE)


def test_unselected_samples_are_copied_bit_exact():
    x = glyphs(400)
    out = Augmenter(aug_cfg(p=0.3), SIZE)(x, gen(1))
    same = (out == x).flatten(1).all(dim=1)
    assert 0.6 < same.float().mean() < 0.8  # ≈ 1 − p untouched
    # identity-like draws are vanishingly unlikely, so every other sample really changed
    assert ((out - x).abs().flatten(1).amax(dim=1)[~same] > 1e-3).all()


def test_seeded_generator_reproduces():
    x = glyphs(64)
    aug = Augmenter(aug_cfg(p=0.7), SIZE)
    a, b, c = aug(x, gen(5)), aug(x, gen(5)), aug(x, gen(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_scale_at_full_size_without_geometry_is_near_identity():
    x = glyphs(8)
    cfg = aug_cfg(p=1.0, projective=False, rotation=False, scale_min=1.0, scale_max=1.0)
    out = Augmenter(cfg, SIZE)(x, gen())
    assert torch.allclose(out, x, atol=1e-5)


def _draws(b: int, seed: int) -> torch.Tensor:
    """The augmenter's own draw layout (select, angle, 8 corner shifts, scale)."""
    return torch.rand(b, 11, generator=gen(seed))


@pytest.mark.parametrize("width", [SIZE, 45])
def test_rotation_matches_affine_grid_reference(width):
    deg = 30.0
    x = glyphs(12, width=width)
    out = Augmenter(aug_cfg(p=1.0, projective=False, scale=False, rotation_deg=deg),
                    SIZE)(x, gen(3))
    a = (2 * _draws(12, 3)[:, 1] - 1) * math.radians(deg)
    h, w = x.shape[-2:]
    c, s = torch.cos(a), torch.sin(a)
    theta = torch.stack([torch.stack([c, -s * h / w, 0 * a], -1),
                         torch.stack([s * w / h, c, 0 * a], -1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    ref = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    assert torch.allclose(out, ref.clamp(0, 1), atol=1e-4)


def test_rotation_by_large_angle_moves_ink_about_the_center():
    x = torch.zeros(64, 1, SIZE, SIZE)
    x[:, 0, 16:21, 4:33] = 1.0  # a centred horizontal bar
    out = Augmenter(aug_cfg(p=1.0, projective=False, scale=False, rotation_deg=90.0),
                    SIZE)(x, gen(2))
    moved = (out - x).abs().flatten(1).sum(1)
    angle = (2 * _draws(64, 2)[:, 1] - 1) * 90.0
    big = angle.abs() > 20
    assert (moved[big] > 20).all()  # ink left the bar's pixels
    ys, xs = torch.meshgrid(torch.arange(float(SIZE)), torch.arange(float(SIZE)), indexing="ij")
    mass = out.flatten(1).sum(1)
    cy = (out[:, 0] * ys).flatten(1).sum(1) / mass
    cx = (out[:, 0] * xs).flatten(1).sum(1) / mass
    assert torch.allclose(cy, torch.full_like(cy, 18.0), atol=0.3)
    assert torch.allclose(cx, torch.full_like(cx, 18.0), atol=0.3)
    assert torch.allclose(mass, x.flatten(1).sum(1), rtol=0.05)  # a rotation keeps the ink


def test_homography_maps_the_four_points():
    g = gen(0)
    src = torch.rand(10, 4, 2, generator=g) * 2 - 1 + torch.tensor(
        [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    dst = src + 0.2 * (torch.rand(10, 4, 2, generator=g) - 0.5)
    m = homography_from_points(src, dst)
    homog = torch.cat([src, torch.ones(10, 4, 1)], -1) @ m.transpose(1, 2)
    assert torch.allclose(homog[..., :2] / homog[..., 2:], dst, atol=1e-4)


def test_projective_matches_float64_reference():
    shift = 0.12
    x = glyphs(6)
    out = Augmenter(aug_cfg(p=1.0, rotation=False, scale=False, projective_shift=shift),
                    SIZE)(x, gen(9))
    u = _draws(6, 9).double().numpy()
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
    grids = []
    for b in range(6):
        moved = corners + (2 * u[b, 2:10].reshape(4, 2) - 1) * 2 * shift
        # output corners `moved` come from input corners: solve H with H·moved ~ corners
        a, r = [], []
        for (px, py), (qx, qy) in zip(moved, corners, strict=True):
            a.append([px, py, 1, 0, 0, 0, -qx * px, -qx * py])
            a.append([0, 0, 0, px, py, 1, -qy * px, -qy * py])
            r += [qx, qy]
        hmat = np.append(np.linalg.solve(np.array(a), np.array(r)), 1.0).reshape(3, 3)
        c = (2 * np.arange(SIZE) + 1) / SIZE - 1
        gx, gy = np.meshgrid(c, c)
        p = np.stack([gx, gy, np.ones_like(gx)], -1) @ hmat.T
        grids.append(p[..., :2] / p[..., 2:])
    grid = torch.tensor(np.stack(grids), dtype=torch.float32)
    ref = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    assert torch.allclose(out, ref, atol=1e-4)
    # the corner shift actually moves the glyph: each shifted corner lies within the bound
    assert not torch.allclose(out, x, atol=1e-2)


def test_pixelation_changes_images_and_keeps_their_layout():
    x = torch.zeros(16, 1, SIZE, SIZE)
    x[:, 0, :, 18] = 1.0  # one-pixel line: down-scaling must smear it
    cfg = aug_cfg(p=1.0, projective=False, rotation=False, scale_min=0.5, scale_max=0.5)
    out = Augmenter(cfg, SIZE)(x, gen())
    assert not torch.allclose(out, x, atol=0.05)
    assert (out[:, 0, 18, 17:20] > 0.05).all(dim=1).all()  # smeared over neighbours
    assert out[:, 0, 18, 18].max() < 1.0  # and dimmed
    assert out[:, 0, :, :10].max() < 1e-6 and out[:, 0, :, 28:].max() < 1e-6  # stays in place
    # every sample with its own factor: the result depends on the draw
    varied = Augmenter(aug_cfg(p=1.0, projective=False, rotation=False, scale_min=0.3,
                               scale_max=0.9), SIZE)(x, gen(1))
    assert not torch.allclose(varied[0], varied[1:], atol=1e-3)


def test_degenerate_projective_shift_stays_finite():
    x = glyphs(128)
    out = Augmenter(aug_cfg(p=1.0, projective_shift=0.5), SIZE)(x, gen(4))
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_rejects_bad_input_shape():
    with pytest.raises(ValueError):
        Augmenter(aug_cfg(), SIZE)(torch.zeros(SIZE, SIZE), gen())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batch_with_cuda_generator():
    x = glyphs(32).cuda()
    aug = Augmenter(aug_cfg(p=0.7), SIZE)
    out = aug(x, gen(0, "cuda"))
    assert out.device == x.device and out.shape == x.shape
    assert torch.equal(out, aug(x, gen(0, "cuda")))
    assert out.min() >= 0 and out.max() <= 1


def test_chunked_batches_equal_one_pass(monkeypatch):
    import siam_workbench.parts.augment as augment

    x = glyphs(40)
    aug = Augmenter(aug_cfg(p=0.8), SIZE)
    whole = aug(x, gen(7))
    monkeypatch.setattr(augment, "_CHUNK_PIXELS", SIZE * SIZE * 4 * 7)  # chunks of 7 samples
    assert torch.equal(aug(x, gen(7)), whole)


def test_pixelation_operators_average_and_rescale():
    from siam_workbench.parts.augment import pixelation_operators

    table = pixelation_operators(SIZE)
    assert table.shape == (SIZE + 1, SIZE, SIZE)
    assert torch.equal(table[SIZE], torch.eye(SIZE, dtype=torch.float64))
    assert (table >= 0).all()
    assert torch.allclose(table.sum(-1), torch.ones(SIZE + 1, SIZE, dtype=torch.float64))
    # m = 1: everything collapses to the mean of the axis
    assert torch.allclose(table[1], torch.full((SIZE, SIZE), 1 / SIZE, dtype=torch.float64))
    # an exact factor of 2 (n = 8 → 4 cells): pairs are averaged, then interpolated back
    p = pixelation_operators(8)[4]
    step = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1], dtype=torch.float64)
    assert torch.allclose(p @ step, torch.tensor([0, 0, 0, .25, .75, 1, 1, 1],
                                                 dtype=torch.float64))
    ones = torch.ones(8, dtype=torch.float64)
    assert torch.allclose(p @ ones, ones)


# ---- beyond the paper: stroke weight, blur, noise, elastic warps ------------------------------

EXTRA_OFF = {"p": 0.0, **PAPER_ONLY}


def extra_cfg(**kw):
    return Config().replace({"augment": {**EXTRA_OFF, **kw}}).augment


def test_stroke_weight_integer_levels_equal_max_and_min_filters():
    from PIL import Image, ImageFilter

    from siam_workbench.parts.augment import stroke_weight

    x = glyphs(4)
    out = stroke_weight(x, torch.tensor([1.0, -1.0, 0.0, 2.0]))
    # Reference: PIL's 3×3 max / min filter on the same picture (what the test files use for
    # `thicken=1`), twice for 2 pixels.
    for i, (size_filter, times) in enumerate([(ImageFilter.MaxFilter, 1),
                                              (ImageFilter.MinFilter, 1), (None, 0),
                                              (ImageFilter.MaxFilter, 2)]):
        img = Image.fromarray((x[i, 0].numpy() * 255).round().astype(np.uint8))
        for _ in range(times):
            img = img.filter(size_filter(3))
        ref = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
        assert torch.allclose(out[i, 0], ref, atol=1 / 255 + 1e-6), i
    assert torch.equal(out[2], x[2])  # r = 0 is bit-exact


def test_stroke_weight_fractions_interpolate_between_levels():
    from siam_workbench.parts.augment import stroke_weight

    x = glyphs(2)
    half = stroke_weight(x, torch.tensor([0.5, -0.25]))
    full = stroke_weight(x, torch.tensor([1.0, -1.0]))
    assert torch.allclose(half[0], 0.5 * x[0] + 0.5 * full[0], atol=1e-6)
    assert torch.allclose(half[1], 0.75 * x[1] + 0.25 * full[1], atol=1e-6)
    assert full[0].sum() > x[0].sum() > full[1].sum()  # heavier, lighter


def test_gaussian_operators_rows_normalised_and_identity_below_threshold():
    from siam_workbench.parts.augment import gaussian_operators

    g = gaussian_operators(SIZE, torch.tensor([0.0, 0.04, 1.0, 3.0]))
    assert torch.equal(g[0], torch.eye(SIZE)) and torch.equal(g[1], torch.eye(SIZE))
    assert torch.allclose(g.sum(dim=2), torch.ones(4, SIZE), atol=1e-5)
    mid = SIZE // 2
    row = g[2, mid]
    ref = torch.exp(-(torch.arange(SIZE, dtype=torch.float32) - mid) ** 2 / 2.0)
    assert torch.allclose(row, ref / ref.sum(), atol=1e-6)
    assert g[3, mid].max() < g[2, mid].max()  # wider σ spreads more


def test_blur_only_smooths_and_keeps_ink():
    x = glyphs(16)
    out = Augmenter(extra_cfg(blur=True, blur_p=1.0, blur_sigma=1.5), SIZE)(x, gen(3))

    def tv(t):
        return (t[..., 1:, :] - t[..., :-1, :]).abs().sum() + (t[..., 1:] - t[..., :-1]).abs().sum()

    assert tv(out) < 0.9 * tv(x)
    inner = slice(3, SIZE - 3)  # the glyphs keep clear of the border: ink is conserved there
    assert torch.allclose(out[..., inner, inner].sum(), x.sum(), rtol=0.02)


def test_noise_only_adds_zero_mean_noise_of_bounded_strength():
    x = torch.full((64, 1, SIZE, SIZE), 0.5)
    out = Augmenter(extra_cfg(noise=True, noise_p=1.0, noise_std=0.1), SIZE)(x, gen(4))
    resid = (out - x).flatten(1)
    assert abs(float(resid.mean())) < 0.01
    stds = resid.std(dim=1)
    assert float(stds.max()) <= 0.1 * 1.1 and float(stds.mean()) > 0.02
    half = Augmenter(extra_cfg(noise=True, noise_p=0.5, noise_std=0.1), SIZE)(x, gen(4))
    untouched = (half == x).flatten(1).all(dim=1).float().mean()
    assert 0.3 < float(untouched) < 0.7


def test_elastic_field_is_smooth_and_bounded():
    aug = Augmenter(extra_cfg(elastic=True, elastic_p=1.0, elastic_px=2.0), SIZE)
    field = torch.rand(8, 2, 4, 4, generator=gen(5))
    disp = aug._elastic_field(field, torch.ones(8, dtype=torch.bool), SIZE, SIZE)
    px = disp * (SIZE / 2.0)  # grid units → pixels
    assert px.abs().max() <= 2.0 * 1.15  # bicubic may overshoot the control points a little
    assert (px[:, 1:] - px[:, :-1]).abs().max() < 0.5  # smooth: < 0.5 px change per pixel
    none = aug._elastic_field(field, torch.zeros(8, dtype=torch.bool), SIZE, SIZE)
    assert torch.equal(none, torch.zeros_like(none))
    out = aug(glyphs(8), gen(6))
    assert not torch.equal(out, glyphs(8))
    assert torch.allclose(out.sum(), glyphs(8).sum(), rtol=0.05)  # moves ink, keeps its amount


def test_all_operations_together_reproduce_and_stay_in_range():
    x = glyphs(32)
    aug = Augmenter(aug_cfg(p=0.7, elastic=True, stroke=True, blur=True, noise=True), SIZE)
    a, b = aug(x, gen(9)), aug(x, gen(9))
    assert torch.equal(a, b) and not torch.equal(a, aug(x, gen(10)))
    assert a.min() >= 0.0 and a.max() <= 1.0 and torch.isfinite(a).all()


def test_extras_leave_the_paper_draws_alone():
    """With the extra operations switched on but never selected, the paper's distortions give
    bit-identical output: their random stream is drawn first and does not depend on the rest."""
    x = glyphs(16)
    paper = Augmenter(aug_cfg(p=0.7), SIZE)(x, gen(11))
    with_extras = Augmenter(aug_cfg(p=0.7, stroke=True, stroke_p=0.0, blur=True, blur_p=0.0),
                            SIZE)
    assert not with_extras.extra_active
    assert torch.equal(with_extras(x, gen(11)), paper)

"""The cheaper augmentation internals equal the straightforward constructions they replace."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from siam_workbench.parts.augment import Augmenter, gaussian_operators, stroke_weight
from siam_workbench.project.config import Config


def test_stroke_weight_equals_the_stack_of_max_pools():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 1, 37, 37, generator=g) > 0.85).float()
    r = torch.rand(64, generator=g) * 3.0 - 1.2
    r[::5] = 0.0
    top = 2
    levels, up, down = [x], x, x
    for _ in range(top):
        up = F.max_pool2d(up, 3, stride=1, padding=1)
        down = -F.max_pool2d(-down, 3, stride=1, padding=1)
        levels.append(up)
        levels.insert(0, down)
    stack = torch.stack(levels)
    pos = r + top
    lo = pos.floor().clamp(0, 2 * top).long()
    hi = (lo + 1).clamp(max=2 * top)
    f = (pos - lo)[:, None, None, None]
    b = torch.arange(64)
    want = torch.where((r == 0)[:, None, None, None], x, stack[lo, b] * (1 - f) + stack[hi, b] * f)
    assert torch.equal(stroke_weight(x, r), want)


def test_gaussian_operators_equal_the_direct_matrix():
    sigma = torch.tensor([0.0, 0.3, 1.0, 2.5])
    idx = torch.arange(37, dtype=torch.float32)
    d2 = (idx[:, None] - idx[None, :]) ** 2
    s = sigma.clamp(min=0.05)[:, None, None]
    g = torch.exp(-d2 / (2 * s * s))
    want = torch.where((sigma < 0.05)[:, None, None], torch.eye(37).expand_as(g),
                       g / g.sum(dim=2, keepdim=True))
    assert torch.allclose(gaussian_operators(37, sigma), want, atol=1e-7)


def test_elastic_field_is_torch_bicubic_upsampling():
    aug = Augmenter(Config().replace({"augment": {"elastic_px": 2.0}}).augment, 37)
    field = torch.rand(16, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    sel = torch.arange(16) % 3 != 0
    want = F.interpolate((2 * field - 1) * 2.0, size=(37, 37), mode="bicubic",
                         align_corners=True).permute(0, 2, 3, 1) * torch.tensor([2 / 37, 2 / 37])
    want = want * sel[:, None, None, None]
    got = aug._elastic_field(field, sel, 37, 37)
    assert torch.allclose(got, want, atol=1e-6)  # ~1e-6 px: float rounding only


def test_untouched_rows_are_copied_and_touched_rows_do_not_depend_on_them():
    aug = Augmenter(Config().replace({"augment": {"p": 0.3}}).augment, 37)
    x = (torch.rand(40, 1, 37, 37, generator=torch.Generator().manual_seed(2)) > 0.8).float()
    out = aug(x, torch.Generator().manual_seed(3))
    same = (out == x).flatten(1).all(1)
    assert same.any() and not same.all()
    assert out.min() >= 0 and out.max() <= 1


def test_blur_of_the_selected_rows_equals_the_whole_batch_product():
    """Blur works on the rows it changes only; the others' operator is the identity."""
    from siam_workbench.parts import augment as A

    aug = Augmenter(Config().replace({"augment": {
        "p": 0.0, "elastic": False, "stroke": False, "noise": False, "blur_p": 0.5}}).augment, 37)
    x = (torch.rand(48, 1, 37, 37, generator=torch.Generator().manual_seed(4)) > 0.8).float()
    out = aug(x, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    torch.rand(48, A._DRAWS, generator=g)
    u2 = torch.rand(48, A._DRAWS2, generator=g)
    sel = u2[:, A._B_SEL] < 0.5
    sigma = torch.where(sel, aug.blur_sigma * u2[:, A._B_SIG], torch.zeros(48))
    op = gaussian_operators(37, sigma)
    want = (op[:, None] @ x @ op[:, None].transpose(-1, -2)).clamp(0, 1)
    want = torch.where(sel[:, None, None, None], want, x)
    assert 0 < int(sel.sum()) < 48
    assert torch.allclose(out, want, atol=1e-6)

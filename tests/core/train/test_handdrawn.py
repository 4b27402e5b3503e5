"""Tests for siam_workbench.parts.handdrawn: the skeleton is thin and keeps the strokes, the pen
redraws at
the width asked for, the shape change keeps the glyph in the frame, and the augmenter's stream
is untouched while both are off."""

from __future__ import annotations

import pytest
import torch

from siam_workbench.base.errors import SiamError
from siam_workbench.parts.augment import Augmenter
from siam_workbench.parts.handdrawn import pen_redraw, skeletonize
from siam_workbench.project.config import Config

SIZE = 37
ONLY = {"p": 0.0, "elastic": False, "stroke": False, "blur": False, "noise": False}


def bars(b: int = 4, thick: int = 7) -> torch.Tensor:
    """A thick horizontal bar and a thick vertical one (a cross), like a bold font's strokes."""
    x = torch.zeros(b, 1, SIZE, SIZE)
    lo = SIZE // 2 - thick // 2
    x[:, 0, lo:lo + thick, 5:SIZE - 5] = 1.0
    x[:, 0, 5:SIZE - 5, lo:lo + thick] = 1.0
    return x


def test_skeleton_is_one_pixel_wide_and_spans_the_strokes():
    x = bars(thick=7)
    sk = skeletonize(x)
    assert set(torch.unique(sk).tolist()) <= {0.0, 1.0}
    row = sk[0, 0, :, 8]  # a column through the horizontal bar, away from the crossing
    assert 1 <= int(row.sum()) <= 2
    col = sk[0, 0, 8, :]
    assert 1 <= int(col.sum()) <= 2
    # The horizontal stroke is kept along most of its 27-px length.
    assert int((sk[0, 0].sum(0) > 0).sum()) >= 20
    assert bool((sk <= (x >= 0.5).float()).all())  # never outside the ink


@pytest.mark.parametrize("width", [1.5, 2.0, 3.0, 4.0])
def test_pen_redraws_at_the_width_asked_for(width):
    for thick in (3, 7):  # a light and a bold font's stroke give the same pen stroke
        out = pen_redraw(bars(1, thick), torch.tensor([width]))
        ink = float(out[0, 0, :, 9].sum())  # ink across the horizontal stroke
        assert abs(ink - width) < 0.75, (thick, ink)
        assert float(out.max()) <= 1.0 and float(out.min()) >= 0.0


def augmenter(**kw) -> Augmenter:
    return Augmenter(Config().replace({"augment": {**ONLY, **kw}}).augment, SIZE)


def test_pen_in_the_augmenter_is_seeded_and_within_its_width_range():
    x = bars(16, thick=7)
    a = augmenter(pen=True, pen_p=1.0, pen_min_px=2.0, pen_max_px=3.0)
    out = a(x, torch.Generator().manual_seed(3))
    again = a(x, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)
    ink = out[:, 0, :, 9].sum(1)
    assert bool((ink > 1.4).all()) and bool((ink < 3.6).all())
    assert float(ink.std()) > 0.05  # the width is drawn per sample


def test_shape_keeps_the_glyph_inside_the_frame_and_changes_its_proportions():
    x = torch.zeros(32, 1, SIZE, SIZE)
    x[:, 0, 2:SIZE - 2, 2:SIZE - 2] = 1.0  # a glyph filling the frame
    a = augmenter(shape=True, shape_p=1.0, shape_aspect=0.3, shape_shear=0.0)
    out = a(x, torch.Generator().manual_seed(0))
    assert float(out[..., :, :1].max()) < 0.05 and float(out[..., :, -1:].max()) < 0.05
    mask = out[:, 0] > 0.5
    width = mask.any(1).sum(1).float()
    height = mask.any(2).sum(1).float()
    ratio = width / height
    assert float(ratio.min()) < 0.9 and float(ratio.max()) > 1.1  # either axis squeezed
    assert float(ratio.min()) > 0.7 and float(ratio.max()) < 1.45  # never beyond 1 + aspect


def test_off_by_default_and_the_stream_is_unchanged():
    cfg = Config()
    assert not cfg.augment.pen and not cfg.augment.shape
    x = bars(8)
    a = Augmenter(cfg.augment, SIZE)
    b = Augmenter(cfg.replace({"augment": {"pen_p": 1.0, "shape_p": 1.0}}).augment, SIZE)
    assert torch.equal(a(x, torch.Generator().manual_seed(5)),
                       b(x, torch.Generator().manual_seed(5)))


def test_pen_width_range_is_checked():
    with pytest.raises(SiamError, match="pen_min_px"):
        Config().replace({"augment": {"pen_min_px": 4.0, "pen_max_px": 2.0}})

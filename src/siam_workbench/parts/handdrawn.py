"""What a drawing has that a font lacks, as batched tensor operations (``[augment]`` pen / shape).

A font draws each stroke with its own contrast (thick verticals, thin horizontals, serifs,
tapered ends); a pen on a canvas draws every stroke with one round nib. And a hand does not
keep a font's proportions: characters come out narrower or wider and slanted. Two operations
model this, each switchable and off by default (docs/RESULTS.md "Real handwriting" measured
them on fonts → Omniglot's katakana):

* **pen** — redraw the glyph with a uniform round pen: the ink is thinned to a one-pixel
  skeleton (Zhang–Suen thinning: both sub-iterations as neighbour shifts over the selected
  samples at once, a fixed number of passes, so nothing waits on the device), then dilated by an
  anti-aliased disc of a random width per sample (a running max over the disc's taps, each
  tap weighted ``clamp(r + 0.5 − d, 0, 1)`` for the sample's half-width ``r``: the share
  of a pixel at distance ``d`` that the nib covers).
* **shape** — a random aspect ratio (one axis squeezed, never enlarged beyond the frame) and
  a random shear, scaled down by the shear's overhang so the glyph stays inside the image.

Both run before the paper's distortions, so a redrawn glyph is warped, rotated and pixelated
like any other. Their random numbers are a separate draw made only when one of them is on, so
a config without them reproduces the augmenter's stream exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Columns of the draw: pen selection, pen width, shape selection, aspect, which axis, shear.
PEN_SEL, PEN_W, SHAPE_SEL, ASPECT, AXIS, SHEAR, DRAWS = range(7)


def thin_passes(size: int) -> int:
    """Thinning passes for ``size``-px images: each pass peels one boundary layer off both
    sides, so strokes up to ``2 × passes`` px wide (a sixth of the side: 12 px at 37, more
    than the boldest face's stroke) end as one pixel."""
    return max(4, size // 6)


def _neighbours(b: torch.Tensor) -> list[torch.Tensor]:
    """P2…P9 of Zhang–Suen (N, NE, E, SE, S, SW, W, NW) of a ``[B, 1, H, W]`` 0/1 image."""
    p = F.pad(b, (1, 1, 1, 1))
    h, w = b.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return p[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    return [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1),
            at(-1, -1)]


def skeletonize(x: torch.Tensor, threshold: float = 0.5,
                passes: int | None = None) -> torch.Tensor:
    """One-pixel skeleton (0/1, same dtype) of the ink ``x >= threshold`` of ``[B, 1, H, W]``
    (``passes`` defaults to :func:`thin_passes` of the image side)."""
    b = (x >= threshold).to(x.dtype)
    for _ in range(passes or thin_passes(max(x.shape[-2:]))):
        for first in (True, False):
            n = _neighbours(b)
            count = sum(n)
            ring = n + n[:1]
            trans = sum((1 - ring[i]) * ring[i + 1] for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if first:
                c1, c2 = p2 * p4 * p6, p4 * p6 * p8
            else:
                c1, c2 = p2 * p4 * p8, p2 * p6 * p8
            delete = (b > 0) & (count >= 2) & (count <= 6) & (trans == 1) & (c1 == 0) & (c2 == 0)
            b = b * (~delete).to(b.dtype)
    return b


def pen_redraw(x: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """``x`` ``[B, 1, H, W]`` redrawn along its skeleton with a round pen ``width[b]`` pixels
    wide (anti-aliased edge)."""
    skel = skeletonize(x)
    r = (width.to(x.dtype) / 2.0).clamp(min=0.5)  # 1 px wide = the skeleton itself
    reach = int(math.ceil(float(r.max()) + 0.5)) if r.numel() else 0
    h, w = x.shape[-2:]
    p = F.pad(skel, (reach, reach, reach, reach))
    out = torch.zeros_like(x)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            weight = (r + 0.5 - math.hypot(dy, dx)).clamp(0.0, 1.0)
            if float(weight.max()) <= 0.0:
                continue
            tap = p[..., reach + dy:reach + dy + h, reach + dx:reach + dx + w]
            out = torch.maximum(out, tap * weight[:, None, None, None])
    return out


def shape_matrices(u: torch.Tensor, aspect: float, shear: float) -> torch.Tensor:
    """``[B, 2, 3]`` affine maps (output → input, normalised coordinates) of a random aspect
    change up to ``1 + aspect`` (one axis squeezed) and a shear up to ``shear``."""
    b = u.shape[0]
    squeeze = torch.exp(-math.log1p(aspect) * u[:, ASPECT])  # in [1/(1+aspect), 1]
    on_x = u[:, AXIS] < 0.5
    sx = torch.where(on_x, squeeze, torch.ones_like(squeeze))
    sy = torch.where(on_x, torch.ones_like(squeeze), squeeze)
    s = (2.0 * u[:, SHEAR] - 1.0) * shear
    fit = 1.0 / (1.0 + s.abs())  # the sheared corners' overhang, taken back
    # Forward: p' = fit · [[sx, s·sy], [0, sy]] p; the grid needs the inverse.
    a, bb, d = fit * sx, fit * s * sy, fit * sy
    zero = torch.zeros_like(a)
    inv = torch.stack([1.0 / a, -bb / (a * d), zero, zero, 1.0 / d, zero], dim=-1)
    return inv.view(b, 2, 3)


class HandDrawn:
    """The pen / shape step of :class:`siam_workbench.parts.augment.Augmenter` (inactive when both
    off)."""

    def __init__(self, augment: object) -> None:
        def get(key: str, default: float | bool) -> float:
            return float(getattr(augment, key, default))

        self.pen_p = get("pen_p", 0.0) if getattr(augment, "pen", False) else 0.0
        self.pen_min = get("pen_min_px", 1.5)
        self.pen_max = get("pen_max_px", 3.0)
        self.shape_p = get("shape_p", 0.0) if getattr(augment, "shape", False) else 0.0
        self.aspect = get("shape_aspect", 0.0)
        self.shear = get("shape_shear", 0.0)
        if self.aspect <= 0 and self.shear <= 0:
            self.shape_p = 0.0
        if self.pen_min > self.pen_max:
            raise ValueError("augment.pen_min_px must be ≤ augment.pen_max_px, got "
                             f"{self.pen_min}, {self.pen_max}")

    @property
    def active(self) -> bool:
        return self.pen_p > 0 or self.shape_p > 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Redraw / reshape the selected samples of ``x`` ``[B, C, H, W]``; others unchanged."""
        b = x.shape[0]
        u = torch.rand(b, DRAWS, generator=generator, device=x.device, dtype=torch.float32)
        out = x
        if self.pen_p > 0:
            sel = u[:, PEN_SEL] < self.pen_p
            width = self.pen_min + (self.pen_max - self.pen_min) * u[:, PEN_W]
            rows = sel.nonzero().squeeze(1)  # only the selected samples pay for the redraw
            if rows.numel():
                pen = pen_redraw(x[rows].mean(1, keepdim=True), width[rows])
                out = x.clone()
                out[rows] = pen.expand(-1, x.shape[1], -1, -1).to(x.dtype)
        if self.shape_p > 0:
            sel = u[:, SHAPE_SEL] < self.shape_p
            theta = shape_matrices(u, self.aspect, self.shear).to(x.dtype)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            warped = F.grid_sample(out, grid, mode="bilinear", padding_mode="zeros",
                                   align_corners=False)
            out = torch.where(sel[:, None, None, None], warped, out)
        return out

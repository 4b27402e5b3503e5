"""Batched glyph augmentation on the training device (paper §4.3, DESIGN §5).

Each sample is distorted with probability ``p`` by a projective corner shift, a rotation and a
down-then-up rescale (pixelation), each switchable in ``[augment]``. Everything is a handful of
tensor operations over the whole batch — no per-sample PIL, no Python loop over samples — so it
runs wherever the batch already is (CPU or GPU) and costs little next to the forward pass:

1. Per sample, one 3×3 matrix maps output coordinates to input coordinates: the inverse
   homography of the corner shift (solved for the whole batch with ``torch.linalg.solve``)
   followed by the inverse rotation. Undistorted samples get the identity.
2. One ``grid_sample`` applies it (bilinear, zeros outside). The grid is built from the two
   image axes by broadcasting, since the map is separable before the perspective division.
3. Pixelation is linear and separable: down-scaling a side from ``n`` to ``m = round(s·n)``
   pixels by area averaging is an ``m×n`` matrix ``A`` (each row the overlap of one coarse cell
   with the input pixels), scaling back up bilinearly is an ``n×m`` matrix ``U``. Per sample
   ``P = U·A`` (``n×n``, zero rows/columns padding ``m`` to ``n``), and the pixelated image is
   ``P_h · img · P_wᵀ``: two batched 37×37 matmuls, every sample with its own factor. Area
   averaging (like PIL's box filter / OpenCV's INTER_AREA) keeps thin strokes that a point
   sampler would skip.

Randomness comes only from the ``generator`` passed in (a fixed number of draws per sample),
so a seeded generator reproduces a batch exactly. The generator must live on the batch's device
(``torch.Generator(device=x.device)``); the trainer creates one on the training device.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F

# Columns of the per-sample uniform draw (fixed layout: the stream does not depend on switches).
_SELECT, _ANGLE, _CORNERS, _SCALE, _DRAWS = 0, 1, slice(2, 10), 10, 11
# Pixels per chunk of the batch: bounds the grid temporaries (~40 B per pixel) to a few hundred
# MB whatever the batch size (30,720 images of 37×37 is 42 M pixels).
_CHUNK_PIXELS = 1 << 23

# Corners of the image in grid_sample's normalised coordinates (align_corners=False: ±1 are the
# outer pixel edges), in the order top-left, top-right, bottom-right, bottom-left.
_CORNER_XY = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


class AugmentParams(Protocol):
    """What the augmenter reads from ``Config().augment`` (any object with these attributes)."""

    enabled: bool
    p: float
    projective: bool
    projective_shift: float
    rotation: bool
    rotation_deg: float
    scale: bool
    scale_min: float
    scale_max: float


def homography_from_points(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Batched 3×3 homographies ``H`` with ``dst ~ H·src`` from four point pairs each.

    ``src`` and ``dst`` are ``[B, 4, 2]``; returns ``[B, 3, 3]`` with ``H[2, 2] = 1``. The
    standard 8×8 direct linear system, solved for the whole batch in one ``torch.linalg.solve``
    (float32 is plenty: the points are within a few units of the origin).
    """
    b = src.shape[0]
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], dim=-1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], dim=-1)
    a = torch.cat([rows_u, rows_v], dim=1)  # [B, 8, 8]
    rhs = torch.cat([u, v], dim=1).unsqueeze(-1)  # [B, 8, 1]
    h = torch.linalg.solve(a, rhs).squeeze(-1)
    return torch.cat([h, torch.ones(b, 1, dtype=h.dtype, device=h.device)], dim=1).view(b, 3, 3)


class Augmenter:
    """Callable batch augmenter: ``out = Augmenter(cfg.augment, size)(x, generator)``."""

    def __init__(self, augment: AugmentParams, size: int) -> None:
        self.enabled = bool(augment.enabled)
        self.p = float(augment.p)
        self.projective = bool(augment.projective)
        self.projective_shift = float(augment.projective_shift)
        self.rotation = bool(augment.rotation)
        self.rotation_deg = float(augment.rotation_deg)
        self.scale = bool(augment.scale)
        self.scale_min = float(augment.scale_min)
        self.scale_max = float(augment.scale_max)
        self.size = int(size)
        self._tables: dict[tuple[int, str, torch.dtype], torch.Tensor] = {}
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"augment.p must be in [0, 1], got {self.p}")
        if not 0.0 < self.scale_min <= self.scale_max <= 1.0:
            raise ValueError("augment.scale_min and scale_max must satisfy "
                             f"0 < min ≤ max ≤ 1, got {self.scale_min}, {self.scale_max}")

    @property
    def geometric(self) -> bool:
        """Whether a projective or rotation distortion can happen at all."""
        return ((self.projective and self.projective_shift > 0.0)
                or (self.rotation and self.rotation_deg > 0.0))

    @property
    def active(self) -> bool:
        """False when every call is the identity (then ``__call__`` returns its input)."""
        return self.enabled and self.p > 0.0 and (self.geometric or self.scale)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Distort ``x`` float ``[B, C, H, W]`` in [0, 1] (ink = 1); same shape, device, dtype.

        Inactive (``enabled`` false, ``p`` = 0 or every distortion off) returns ``x`` itself.
        Samples not selected are copied through bit-exact. Outside the source image is 0.
        All random numbers are drawn up front for the whole batch, so the result does not
        depend on the chunking that bounds memory for very large batches.
        """
        if x.dim() != 4:
            raise ValueError(f"expected a [B, C, H, W] batch, got shape {tuple(x.shape)}")
        if not self.active or x.shape[0] == 0:
            return x
        b, _, h, w = x.shape
        u = torch.rand(b, _DRAWS, generator=generator, device=x.device, dtype=torch.float32)
        chunk = max(1, _CHUNK_PIXELS // (h * w))
        if b <= chunk:
            return self._apply(x, u)
        return torch.cat([self._apply(x[i:i + chunk], u[i:i + chunk])
                          for i in range(0, b, chunk)])

    def _apply(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        selected = u[:, _SELECT] < self.p
        out = x
        if self.geometric:
            projective = self.projective and self.projective_shift > 0.0
            out = self._warp(x, self._matrices(u, selected, h, w), projective)
        if self.scale:
            s = self.scale_min + (self.scale_max - self.scale_min) * u[:, _SCALE]
            # Unselected samples get m = n, whose operator is the identity.
            ph = self._pixelation(h, s, selected, x)  # [B, H, H]
            pw = ph if w == h else self._pixelation(w, s, selected, x)  # [B, W, W]
            out = ph[:, None] @ out @ pw[:, None].transpose(-1, -2)
        out = torch.where(selected[:, None, None, None], out, x)
        return out.clamp_(0.0, 1.0)

    def _pixelation(self, n: int, s: torch.Tensor, selected: torch.Tensor,
                    like: torch.Tensor) -> torch.Tensor:
        """Per-sample ``[B, n, n]`` down-then-up operators, gathered from a cached table: the
        operator depends only on ``m = round(s·n)``, so all ``n`` of them are built once per
        (side, device, dtype) and each batch is a single index."""
        key = (n, str(like.device), like.dtype)
        table = self._tables.get(key)
        if table is None:
            m_min = max(1, round(self.scale_min * n))
            table = pixelation_operators(n, m_min).to(device=like.device, dtype=like.dtype)
            self._tables[key] = table
        cells = torch.clamp(torch.round(s * n), 1, n).long()
        cells = torch.where(selected, cells, torch.full_like(cells, n))
        return table[cells]

    @staticmethod
    def _warp(x: torch.Tensor, m: torch.Tensor, projective: bool) -> torch.Tensor:
        """``grid_sample`` of ``x`` at ``m``·(output pixel centre), per sample, zeros outside;
        the perspective division is skipped when every map is affine (no projective part)."""
        _, _, h, w = x.shape
        dev = x.device
        cx = (2.0 * torch.arange(w, device=dev, dtype=torch.float32) + 1.0) / w - 1.0
        cy = (2.0 * torch.arange(h, device=dev, dtype=torch.float32) + 1.0) / h - 1.0
        # m·(cx, cy, 1) is separable before the division: the cx terms vary along W, the cy
        # term along H, so the whole [B, H, W, rows] grid is one broadcast add (far cheaper than
        # a [B, H·W, 3] @ [B, 3, 3] product with its tiny inner dimension, or a stack).
        rows = 3 if projective else 2
        mt = m[:, :rows].transpose(1, 2)  # [B, 3, rows]: columns of m as row vectors
        along_w = cx[None, :, None] * mt[:, None, 0] + mt[:, None, 2]  # [B, W, rows]
        along_h = cy[None, :, None] * mt[:, None, 1]  # [B, H, rows]
        g = along_w[:, None, :, :] + along_h[:, :, None, :]  # [B, H, W, rows]
        if projective:
            z = g[..., 2:]
            # A strongly degenerate homography (corner shifts near 0.5) can send points behind
            # the camera (z ≤ 0); they are pushed far outside the image (read as 0).
            far = (z <= 1e-6).to(g.dtype) * 8.0
            grid = torch.addcmul(far, g[..., :2], 1.0 / z.clamp(min=1e-6))
        else:
            grid = g
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros",
                             align_corners=False)

    def _matrices(self, u: torch.Tensor, selected: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Per-sample 3×3 maps from output to input normalised coordinates.

        Forward distortion = rotate, then shift the corners; so the inverse applied to output
        coordinates is the inverse corner homography first, then the inverse rotation.
        """
        b, dev = u.shape[0], u.device
        eye = torch.eye(3, device=dev).expand(b, 3, 3)
        m = eye
        if self.projective and self.projective_shift > 0.0:
            corners = torch.tensor(_CORNER_XY, device=dev).expand(b, 4, 2)
            # A shift of `projective_shift` × side is 2·shift in normalised units (side = 2).
            shift = (2.0 * u[:, _CORNERS] - 1.0).view(b, 4, 2) * (2.0 * self.projective_shift)
            m = homography_from_points(corners + shift, corners)
        if self.rotation and self.rotation_deg > 0.0:
            a = (2.0 * u[:, _ANGLE] - 1.0) * math.radians(self.rotation_deg)
            cos, sin = torch.cos(a), torch.sin(a)
            zero, one = torch.zeros_like(a), torch.ones_like(a)
            # Rotation in pixel space expressed in normalised coordinates (non-square images
            # would otherwise be sheared): R_n = S⁻¹·R·S with S = diag(W, H).
            r = torch.stack([cos, -sin * (h / w), zero,
                             sin * (w / h), cos, zero,
                             zero, zero, one], dim=-1).view(b, 3, 3)
            m = r @ m
        return torch.where(selected[:, None, None], m, eye)


def pixelation_operators(n: int, m_min: int = 1) -> torch.Tensor:
    """``[n + 1, n, n]`` float64: entry ``m`` (``m_min``…n) is the operator that area-down-scales
    one axis of ``n`` pixels to ``m`` and scales it back up bilinearly (edge cells replicated).
    Entry ``n`` is exactly the identity; entries below ``m_min`` (never drawn) are identities.

    ``A[i, j]`` = share of input pixel ``j`` inside coarse cell ``i`` (cell i covers
    ``[i, i+1)·n/m``), each row summing to 1; ``U[o, i]`` = bilinear (triangle) weight of cell
    ``i`` at output pixel ``o``'s position in cell units, clamped to the first and last cell.
    ``P = U·A`` has non-negative rows summing to 1, so values stay in [0, 1]. Built once per
    (side, device, dtype) by the augmenter; a loop over m keeps temporaries at ``n×n``.
    """
    table = torch.eye(n, dtype=torch.float64).repeat(n + 1, 1, 1)
    idx = torch.arange(n, dtype=torch.float64)
    for m in range(max(1, m_min), n):
        width = n / m
        cell = torch.arange(m, dtype=torch.float64)
        overlap = (torch.minimum((cell[:, None] + 1.0) * width, idx[None, :] + 1.0)
                   - torch.maximum(cell[:, None] * width, idx[None, :])).clamp(min=0.0)
        down = overlap / width  # [m, n]
        pos = ((idx + 0.5) * m / n - 0.5).clamp(0.0, m - 1.0)  # output pixels in cell units
        up = (1.0 - (pos[:, None] - cell[None, :]).abs()).clamp(min=0.0)  # [n, m]
        table[m] = up @ down
    return table

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

Beyond the paper, each switchable with its own probability (what scanned print and handwriting
look like; the paper's three keep their draws untouched, so the paper's setting reproduces):

4. Elastic warp: a random displacement on a coarse 4×4 grid, upsampled bicubically to a smooth
   field and added to the same ``grid_sample`` grid (no second resampling).
5. Stroke weight: dilation (3×3 max-pool) or erosion (3×3 min-pool) by a random, fractional
   number of pixels — level ``r`` interpolates between ``⌊r⌋`` and ``⌈r⌉`` repeated pools — so
   strokes get heavier or lighter continuously, as in print of another weight or a fatter pen.
6. Blur: a per-sample Gaussian as two ``[n, n]`` matrices (rows normalised), applied like the
   pixelation operators: ``G_h · img · G_wᵀ``.
7. Noise: additive Gaussian, a random standard deviation per sample.

Randomness comes only from the ``generator`` passed in (a fixed number of draws per sample),
so a seeded generator reproduces a batch exactly. The generator must live on the batch's device
(``torch.Generator(device=x.device)``); the trainer creates one on the training device.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F

from siam_workbench.parts.handdrawn import HandDrawn

# Columns of the per-sample uniform draw (fixed layout: the stream does not depend on switches).
_SELECT, _ANGLE, _CORNERS, _SCALE, _DRAWS = 0, 1, slice(2, 10), 10, 11
# Pixels per chunk of the batch: bounds the grid temporaries (~40 B per pixel) to a few hundred
# MB whatever the batch size (30,720 images of 37×37 is 42 M pixels).
_CHUNK_PIXELS = 1 << 23

# Corners of the image in grid_sample's normalised coordinates (align_corners=False: ±1 are the
# outer pixel edges), in the order top-left, top-right, bottom-right, bottom-left.
_CORNER_XY = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


class AugmentParams(Protocol):
    """What the augmenter reads from ``Config().augment`` (any object with these attributes;
    read-only, so the frozen config view satisfies it)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def p(self) -> float: ...
    @property
    def projective(self) -> bool: ...
    @property
    def projective_shift(self) -> float: ...
    @property
    def rotation(self) -> bool: ...
    @property
    def rotation_deg(self) -> float: ...
    @property
    def scale(self) -> bool: ...
    @property
    def scale_min(self) -> float: ...
    @property
    def scale_max(self) -> float: ...
    @property
    def elastic(self) -> bool: ...
    @property
    def elastic_p(self) -> float: ...
    @property
    def elastic_px(self) -> float: ...
    @property
    def stroke(self) -> bool: ...
    @property
    def stroke_p(self) -> float: ...
    @property
    def thicken_px(self) -> float: ...
    @property
    def thin_px(self) -> float: ...
    @property
    def blur(self) -> bool: ...
    @property
    def blur_p(self) -> float: ...
    @property
    def blur_sigma(self) -> float: ...
    @property
    def noise(self) -> bool: ...
    @property
    def noise_p(self) -> float: ...
    @property
    def noise_std(self) -> float: ...

# Columns of the second draw, for the operations beyond the paper.
_E_SEL, _S_SEL, _S_AMT, _B_SEL, _B_SIG, _N_SEL, _N_STD, _DRAWS2 = range(8)
_ELASTIC_GRID = 4  # control points per side of the elastic displacement field


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

        def opt(key: str, default: float | bool = 0.0) -> float:
            return float(getattr(augment, key, default))

        self.elastic_px = opt("elastic_px") if getattr(augment, "elastic", False) else 0.0
        self.elastic_p = opt("elastic_p") if self.elastic_px > 0 else 0.0
        stroke = bool(getattr(augment, "stroke", False))
        self.thicken_px = opt("thicken_px") if stroke else 0.0
        self.thin_px = opt("thin_px") if stroke else 0.0
        self.stroke_p = opt("stroke_p") if self.thicken_px + self.thin_px > 0 else 0.0
        self.blur_sigma = opt("blur_sigma") if getattr(augment, "blur", False) else 0.0
        self.blur_p = opt("blur_p") if self.blur_sigma > 0 else 0.0
        self.noise_std = opt("noise_std") if getattr(augment, "noise", False) else 0.0
        self.noise_p = opt("noise_p") if self.noise_std > 0 else 0.0
        # pen / shape (siam_workbench.parts.handdrawn), off by default
        self.hand = HandDrawn(augment)
        self.size = int(size)
        self._tables: dict[tuple[int, str, torch.dtype], torch.Tensor] = {}
        self._ops: dict[tuple[int, str, str, torch.dtype], torch.Tensor] = {}
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
    def paper_active(self) -> bool:
        """Whether the paper's distortions (projective, rotation, pixelation) can happen."""
        return self.enabled and self.p > 0.0 and (self.geometric or self.scale)

    @property
    def extra_active(self) -> bool:
        """Whether any distortion beyond the paper's can happen."""
        return self.enabled and (self.elastic_p + self.stroke_p + self.blur_p + self.noise_p) > 0

    @property
    def active(self) -> bool:
        """False when every call is the identity (then ``__call__`` returns its input)."""
        return self.paper_active or self.extra_active or (self.enabled and self.hand.active)

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
        dev = x.device
        u = torch.rand(b, _DRAWS, generator=generator, device=dev, dtype=torch.float32)
        if not self.paper_active:
            u[:, _SELECT] = 1.0  # nobody selected for the paper's distortions
        extra: list[torch.Tensor | None] = [None, None, None]
        if self.extra_active:
            extra[0] = torch.rand(b, _DRAWS2, generator=generator, device=dev,
                                  dtype=torch.float32)
            if self.elastic_p > 0:
                extra[1] = torch.rand(b, 2, _ELASTIC_GRID, _ELASTIC_GRID, generator=generator,
                                      device=dev, dtype=torch.float32)
            if self.noise_p > 0:
                extra[2] = torch.randn(b, 1, h, w, generator=generator, device=dev,
                                       dtype=torch.float32)
        if self.enabled and self.hand.active:  # drawn last: the streams above are unchanged
            x = self.hand(x, generator)
        chunk = max(1, _CHUNK_PIXELS // (h * w))
        if b <= chunk:
            return self._apply(x, u, *extra)
        return torch.cat([self._apply(x[i:i + chunk], u[i:i + chunk],
                                      *(e[i:i + chunk] if e is not None else None for e in extra))
                          for i in range(0, b, chunk)])

    def _apply(self, x: torch.Tensor, u: torch.Tensor, u2: torch.Tensor | None = None,
               field: torch.Tensor | None = None,
               normal: torch.Tensor | None = None) -> torch.Tensor:
        touched = self._touched(u, u2)
        if 2 * int(touched.sum()) > touched.numel():
            # Each operation works on its own selected rows only (_apply_rows): the few
            # untouched ones cost less than gathering the others out and back.
            return self._apply_rows(x, u, u2, field, normal)
        # Every operation is per sample (the stroke level count, the one batch-wide number, is
        # set by the selected samples), so the untouched rows are left out of the work.
        rows = torch.nonzero(touched).squeeze(1)
        out = x.clone()
        if rows.numel():
            out[rows] = self._apply_rows(x[rows], u[rows], *(
                e[rows] if e is not None else None for e in (u2, field, normal)))
        return out

    def _touched(self, u: torch.Tensor, u2: torch.Tensor | None) -> torch.Tensor:
        """Samples that at least one operation selected (the others are copied through)."""
        touched = u[:, _SELECT] < self.p
        if u2 is not None:
            for col, p in ((_E_SEL, self.elastic_p), (_S_SEL, self.stroke_p),
                           (_B_SEL, self.blur_p), (_N_SEL, self.noise_p)):
                if p > 0:
                    touched = touched | (u2[:, col] < p)
        return touched

    def _apply_rows(self, x: torch.Tensor, u: torch.Tensor, u2: torch.Tensor | None,
                    field: torch.Tensor | None, normal: torch.Tensor | None) -> torch.Tensor:
        b, _, h, w = x.shape
        selected = u[:, _SELECT] < self.p
        touched = selected
        elastic = None
        if u2 is not None and field is not None:
            elastic = u2[:, _E_SEL] < self.elastic_p
            touched = touched | elastic
        out = x
        warped = selected if self.geometric else torch.zeros_like(selected)
        if elastic is not None:
            warped = warped | elastic
        if bool(warped.any()):
            # Only the rows with a geometric map or an elastic field (the others' map is the
            # identity, so grid_sample would only copy them).
            rows = torch.nonzero(warped).squeeze(1)
            projective = self.projective and self.projective_shift > 0.0
            m = self._matrices(u[rows], selected[rows], h, w) if self.geometric else torch.eye(
                3, device=x.device).expand(rows.numel(), 3, 3)
            disp = None
            if elastic is not None:
                assert field is not None
                disp = self._elastic_field(field[rows], elastic[rows], h, w)
            out = out.index_copy(0, rows, self._warp(x[rows], m, projective, disp))
        if self.scale and bool(selected.any()):
            # Only the selected samples: an unselected one's operator (m = n) is the identity.
            rows = torch.nonzero(selected).squeeze(1)
            s = self.scale_min + (self.scale_max - self.scale_min) * u[rows, _SCALE]
            keep = torch.ones_like(rows, dtype=torch.bool)
            ph = self._pixelation(h, s, keep, x)  # [R, H, H]
            pw = ph if w == h else self._pixelation(w, s, keep, x)  # [R, W, W]
            out = out.index_copy(0, rows, _sandwich(ph, out[rows], pw))
        if u2 is not None:
            out, touched = self._appearance(out, u2, normal, touched)
        out = torch.where(touched[:, None], out.reshape(b, -1), x.reshape(b, -1))
        return out.clamp_(0.0, 1.0).view(x.shape)

    def _appearance(self, x: torch.Tensor, u2: torch.Tensor, normal: torch.Tensor | None,
                    touched: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stroke weight, then blur, then noise (the order of a print that is scanned)."""
        _, _, h, w = x.shape
        if self.stroke_p > 0:
            sel = u2[:, _S_SEL] < self.stroke_p
            r = -self.thin_px + (self.thin_px + self.thicken_px) * u2[:, _S_AMT]
            x = stroke_weight(x, torch.where(sel, r, torch.zeros_like(r)))
            touched = touched | sel
        if self.blur_p > 0:
            sel = u2[:, _B_SEL] < self.blur_p
            sigma = torch.where(sel, self.blur_sigma * u2[:, _B_SIG], torch.zeros_like(u2[:, 0]))
            # Only the samples it changes: below σ = 0.05 the operator is the identity.
            rows = torch.nonzero(sigma >= 0.05).squeeze(1)
            if rows.numel():
                gh = gaussian_operators(h, sigma[rows]).to(x.dtype)
                gw = gh if w == h else gaussian_operators(w, sigma[rows]).to(x.dtype)
                x = x.index_copy(0, rows, _sandwich(gh, x[rows], gw))
            touched = touched | sel
        if self.noise_p > 0 and normal is not None:
            sel = u2[:, _N_SEL] < self.noise_p
            std = torch.where(sel, self.noise_std * u2[:, _N_STD], torch.zeros_like(u2[:, 0]))
            b = x.shape[0]  # 2-D broadcasts: a 4-D one costs several times more on a CPU
            x = (x.reshape(b, -1) + std[:, None] * normal.to(x.dtype).reshape(b, -1)).view(x.shape)
            touched = touched | sel
        return x, touched

    def _elastic_field(self, field: torch.Tensor, selected: torch.Tensor, h: int,
                       w: int) -> torch.Tensor:
        """``[B, H, W, 2]`` displacement in grid units: coarse uniform control points in
        ±``elastic_px`` pixels, bicubically upsampled (smooth), zero for unselected samples."""
        # Pixels → grid units per channel (x, y), and 0 for unselected samples, applied to the
        # 4×4 control points: the upsampling is linear, so scaling before it is the same field.
        scale = torch.tensor([2.0 / w, 2.0 / h], device=field.device, dtype=field.dtype)
        coarse = ((2.0 * field - 1.0) * self.elastic_px * scale[None, :, None, None]
                  * selected[:, None, None, None].to(field.dtype))
        # Bicubic upsampling is separable: ``U_h · coarse · U_wᵀ`` with the fixed [n, 4]
        # operators — the same smooth field as F.interpolate(mode="bicubic"), in two small
        # matrix products instead of a 16-tap stencil per output pixel (measured 14 → ~1 ms
        # at 512 images).
        uh = self._bicubic(h, field)
        uw = uh if w == h else self._bicubic(w, field)
        dense = uh @ coarse @ uw.transpose(0, 1)  # [B, 2, H, W]
        return dense.permute(0, 2, 3, 1)

    def _bicubic(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """``[n, G]`` operator of align-corners bicubic upsampling of G control points to n
        (torch's own kernel applied to the unit vectors, so the weights are torch's), cached."""
        key = (n, "bicubic", str(like.device), like.dtype)
        op = self._ops.get(key)
        if op is None:
            basis = torch.eye(_ELASTIC_GRID, dtype=torch.float64).view(
                _ELASTIC_GRID, 1, _ELASTIC_GRID, 1)
            up = F.interpolate(basis, size=(n, 1), mode="bicubic", align_corners=True)
            op = up.view(_ELASTIC_GRID, n).transpose(0, 1).to(device=like.device,
                                                             dtype=like.dtype).contiguous()
            self._ops[key] = op
        return op

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
    def _warp(x: torch.Tensor, m: torch.Tensor, projective: bool,
              displacement: torch.Tensor | None = None) -> torch.Tensor:
        """``grid_sample`` of ``x`` at ``m``·(output pixel centre), per sample, zeros outside;
        the perspective division is skipped when every map is affine (no projective part)."""
        _, _, h, w = x.shape
        dev = x.device
        cx = (2.0 * torch.arange(w, device=dev, dtype=torch.float32) + 1.0) / w - 1.0
        cy = (2.0 * torch.arange(h, device=dev, dtype=torch.float32) + 1.0) / h - 1.0
        # m·(cx, cy, 1) is separable before the division: the cx terms vary along W, the cy
        # term along H, so each coordinate plane is one broadcast add. The planes are built
        # channels first (W innermost) as one 3-D broadcast over B·rows planes, and only
        # viewed as grid_sample's [B, H, W, 2] at the end: a broadcast over a trailing axis of
        # 2 or 3, or a 4-D one, costs ~4× more on a CPU.
        b, rows = m.shape[0], 3 if projective else 2
        mr = m[:, :rows]  # [B, rows, 3]
        along_w = (cx[None, None, :] * mr[:, :, 0:1] + mr[:, :, 2:3]).reshape(b * rows, 1, w)
        along_h = (cy[None, None, :] * mr[:, :, 1:2]).reshape(b * rows, h, 1)
        g = (along_w + along_h).view(b, rows, h, w)
        if projective:
            z = g[:, 2:]
            # A strongly degenerate homography (corner shifts near 0.5) can send points behind
            # the camera (z ≤ 0); they are pushed far outside the image (read as 0).
            grid = g[:, :2] * (1.0 / z.clamp(min=1e-6))
            behind = z <= 1e-6
            if bool(behind.any()):
                grid = grid + behind.to(g.dtype) * 8.0
        else:
            grid = g
        if displacement is not None:
            grid = grid + displacement.permute(0, 3, 1, 2)
        return F.grid_sample(x, grid.permute(0, 2, 3, 1).to(x.dtype), mode="bilinear",
                             padding_mode="zeros", align_corners=False)

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


def _sandwich(left: torch.Tensor, x: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``left[i] · x[i, c] · right[i]ᵀ`` for every sample ``i`` and channel ``c`` (``left``
    ``[B, H, H]``, ``right`` ``[B, W, W]``, ``x`` ``[B, C, H, W]``): two batched products, as
    3-D ``bmm`` when there is one channel (a broadcast 4-D matmul costs more)."""
    b, c, h, w = x.shape
    if c == 1:
        return torch.bmm(torch.bmm(left, x.view(b, h, w)), right.transpose(1, 2)).view(b, 1, h, w)
    return left[:, None] @ x @ right[:, None].transpose(-1, -2)


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


def stroke_weight(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Dilate (``r > 0``) or erode (``r < 0``) each sample of ``x`` ``[B, C, H, W]`` by ``|r|``
    pixels: ``⌊|r|⌋`` 3×3 max- (or min-) pools, then linear interpolation toward one more pool by
    the fractional part. ``r = 0`` returns the sample unchanged (bit-exact).

    Each sample is pooled only as often as its own level needs (a sample at ``r = 0.3`` is
    pooled once, not ``⌈max |r|⌉`` times like the whole batch), and a pool is two separable
    running maxima (:func:`_pool3`), exactly equal to ``max_pool2d(x, 3, 1, 1)`` but ~20×
    cheaper on a CPU."""
    top = int(math.ceil(float(r.abs().max()))) if r.numel() else 0
    if top == 0:
        return x
    # Levels index a stack of 2·top + 1 images (index top is x; below it erosions, above it
    # dilations); the interpolation position and weights are those of that stack.
    pos = r.to(x.dtype) + top
    lo = pos.floor().clamp(0, 2 * top).long()
    hi = (lo + 1).clamp(max=2 * top)
    frac = pos - lo.to(pos.dtype)
    out = x.clone()
    for rows, grow in ((torch.nonzero(r > 0).squeeze(1), True),
                       (torch.nonzero(r < 0).squeeze(1), False)):
        if rows.numel() == 0:
            continue
        # Pool depths of the two images each sample interpolates between (≥ 0).
        d_lo, d_hi = ((lo[rows] - top, hi[rows] - top) if grow
                      else (top - lo[rows], top - hi[rows]))
        order, low, high = _pool_levels(x, rows, d_lo, d_hi, grow)
        rows = rows[order]  # the rows of low and high
        f = frac[rows][:, None]  # 2-D broadcasts: a 4-D one costs several times more
        n = rows.numel()
        out[rows] = (low.reshape(n, -1) * (1 - f) + high.reshape(n, -1) * f).view(low.shape)
    return out


def _pool_levels(x: torch.Tensor, rows: torch.Tensor, d_a: torch.Tensor, d_b: torch.Tensor,
                 grow: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each sample ``x[rows[i]]`` pooled ``d_a[i]`` and ``d_b[i]`` times (max pools if
    ``grow``, else min pools). The samples are ordered by depth, deepest first, so every round
    pools a leading slice in place and no sample is pooled beyond its deeper level; returns that
    order (into ``rows``) and the two results in it (the caller scatters them once)."""
    need = torch.maximum(d_a, d_b)
    order = torch.argsort(need, descending=True, stable=True)
    cur = x[rows[order]]
    need, d_a, d_b = need[order], d_a[order], d_b[order]
    a, b = torch.empty_like(cur), torch.empty_like(cur)
    deepest = int(need[0])
    for depth in range(deepest + 1):
        if depth:
            k = int((need >= depth).sum())  # a leading slice: need is descending
            cur[:k] = _pool3(cur[:k], grow)
        for target, d in ((a, d_a), (b, d_b)):
            at = torch.nonzero(d == depth).squeeze(1)
            if at.numel():
                target[at] = cur[at]
    return order, a, b


def _pool3(x: torch.Tensor, grow: bool) -> torch.Tensor:
    """3×3 max (``grow``) or min filter, stride 1, of ``[B, C, H, W]``; the border sees only
    the pixels inside (as ``max_pool2d`` with padding 1). Maxima are exact, so the two
    separable passes equal the 2-D filter bit for bit."""
    op = torch.maximum if grow else torch.minimum
    rows = x.clone()
    op(rows[..., 1:], x[..., :-1], out=rows[..., 1:])
    op(rows[..., :-1], x[..., 1:], out=rows[..., :-1])
    out = rows.clone()
    op(out[..., 1:, :], rows[..., :-1, :], out=out[..., 1:, :])
    op(out[..., :-1, :], rows[..., 1:, :], out=out[..., :-1, :])
    return out


def gaussian_operators(n: int, sigma: torch.Tensor) -> torch.Tensor:
    """``[B, n, n]`` row-normalised Gaussian blur matrices of one image axis; a ``sigma`` below
    0.05 pixel gives the identity exactly.

    A row's weights depend only on the offset ``i − j``, so the exponential is taken over the
    ``2n − 1`` offsets (``n``/2 times fewer ``exp``) and the matrix is a strided view of them:
    the weights are symmetric, so row ``i`` is the window of ``n`` starting at ``n − 1 − i``."""
    offsets = torch.arange(-(n - 1), n, device=sigma.device, dtype=torch.float32)
    d2 = offsets ** 2
    s = sigma.clamp(min=0.05)[:, None]
    weights = torch.exp(-d2 / (2 * s * s))  # [B, 2n − 1]
    g = weights.unfold(1, n, 1).flip(1)  # [B, n, n]: g[b, i, j] = weights[b, i − j + n − 1]
    g = g / g.sum(dim=2, keepdim=True)
    tiny = sigma < 0.05
    if not bool(tiny.any()):
        return g
    eye = torch.eye(n, device=sigma.device).expand_as(g)
    return torch.where(tiny[:, None, None], eye, g)

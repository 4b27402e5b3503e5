"""Seeded distortions that make clean font renders look like scanned print (PHD08-like).

Only evaluation sets use these (training augmentation is batched on the device elsewhere), so
clarity beats speed: numpy + PIL per image, every random draw from the caller's
``np.random.Generator`` so a (seed, face, class, variant) always gives the same image.

Spec strings are comma-separated ``name=value`` items, e.g. ``rotate=5,blur=0.8,noise=0.05``.
Order of application is fixed (geometry → stroke width → blur → noise → binarize), like a page
that is placed, printed, scanned and thresholded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from siam_workbench.base.errors import SiamError


@dataclass(frozen=True)
class DistortSpec:
    """Distortion strengths; zero / ``None`` means off. Geometric values are maxima of uniform
    random draws; morphology, noise and threshold are fixed."""

    rotate: float = 0.0  # degrees, angle ~ U(-rotate, rotate)
    shear: float = 0.0  # horizontal shear factor ~ U(-shear, shear)
    projective: float = 0.0  # each corner moves ~ U(-p, p) × side, both axes
    translate: float = 0.0  # pixels, each axis ~ U(-t, t)
    scale: tuple[float, float] = (1.0, 1.0)  # factor ~ U(lo, hi)
    thicken: int = 0  # max-filter radius, pixels
    thin: int = 0  # min-filter radius, pixels
    blur: float = 0.0  # Gaussian sigma ~ U(blur / 2, blur), pixels
    noise: float = 0.0  # additive Gaussian std, in [0, 1] intensity units
    binarize: float | None = None  # threshold in (0, 1): ink where value ≥ threshold

    @property
    def is_identity(self) -> bool:
        return self == DistortSpec()

    def to_string(self) -> str:
        """Canonical spec string (round-trips through :func:`parse_distort_spec`)."""
        parts: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if f.name == "scale":
                lo, hi = value
                parts.append(f"scale={lo:g}:{hi:g}")
            else:
                parts.append(f"{f.name}={value:g}")
        return ",".join(parts)


# name → (kind, min, max) for validation; ranges are generous but catch typos such as noise=5.
_LIMITS: dict[str, tuple[type, float, float]] = {
    "rotate": (float, 0.0, 180.0),
    "shear": (float, 0.0, 2.0),
    "projective": (float, 0.0, 0.45),
    "translate": (float, 0.0, 256.0),
    "thicken": (int, 0, 8),
    "thin": (int, 0, 8),
    "blur": (float, 0.0, 16.0),
    "noise": (float, 0.0, 1.0),
}


def parse_distort_spec(spec: str | None) -> DistortSpec:
    """Parse ``"rotate=5,blur=0.8,noise=0.05,thicken=1"``.

    ``scale`` takes a range ``lo:hi`` (or one factor f meaning between f and 1); ``binarize``
    alone means threshold 0.5. ``""`` / ``"none"`` give no distortion. An unknown name, a
    repeated name or a bad value raises :class:`SiamError` naming the item.
    """
    if spec is None or spec.strip().lower() in ("", "none", "off"):
        return DistortSpec()
    values: dict[str, Any] = {}
    known = [f.name for f in fields(DistortSpec)]
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, text = (s.strip() for s in item.partition("="))
        name = name.lower()
        if name not in known:
            raise SiamError(f"distortion {item!r}: unknown name {name!r} "
                            f"(known: {', '.join(known)})")
        if name in values:
            raise SiamError(f"distortion {item!r}: {name} given twice")
        if name == "binarize" and not sep:
            values[name] = 0.5
            continue
        if not sep or not text:
            raise SiamError(f"distortion {item!r}: expected {name}=VALUE")
        values[name] = _parse_value(item, name, text)
    return DistortSpec(**values)


def _number(item: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SiamError(f"distortion {item!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SiamError(f"distortion {item!r}: value must be finite")
    return value


def _parse_value(item: str, name: str, text: str) -> Any:
    if name == "scale":
        sep = ":" if ":" in text else "~" if "~" in text else None
        if sep:
            lo_t, hi_t = text.split(sep, 1)
            lo, hi = _number(item, lo_t), _number(item, hi_t)
        else:
            f = _number(item, text)
            lo, hi = min(f, 1.0), max(f, 1.0)
        if not (0.1 <= lo <= hi <= 4.0):
            raise SiamError(f"distortion {item!r}: scale needs 0.1 ≤ lo ≤ hi ≤ 4")
        return (lo, hi)
    if name == "binarize":
        value = _number(item, text)
        if not 0.0 < value < 1.0:
            raise SiamError(f"distortion {item!r}: threshold must lie strictly between 0 and 1")
        return value
    kind, lo_lim, hi_lim = _LIMITS[name]
    value = _number(item, text)
    if kind is int:
        if not value.is_integer():
            raise SiamError(f"distortion {item!r}: {name} must be a whole number of pixels")
        value = int(value)
    if not lo_lim <= value <= hi_lim:
        raise SiamError(f"distortion {item!r}: {name} must be in [{lo_lim:g}, {hi_lim:g}]")
    return value


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3×3 matrix mapping the 4 ``src`` points onto ``dst`` (direct linear solve)."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i, ((x, y), (u, v)) in enumerate(zip(src, dst, strict=True)):
        a[2 * i] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * i + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * i], b[2 * i + 1] = u, v
    h = np.linalg.solve(a, b)
    return np.append(h, 1.0).reshape(3, 3)


def _geometry(spec: DistortSpec, h: int, w: int, rng: np.random.Generator) -> np.ndarray | None:
    """Forward input→output homography for this draw, or None when geometry is off."""
    if not (spec.rotate or spec.shear or spec.projective or spec.translate
            or spec.scale != (1.0, 1.0)):
        return None
    cx, cy = w / 2.0, h / 2.0
    angle = math.radians(rng.uniform(-spec.rotate, spec.rotate)) if spec.rotate else 0.0
    shear = rng.uniform(-spec.shear, spec.shear) if spec.shear else 0.0
    factor = rng.uniform(*spec.scale) if spec.scale != (1.0, 1.0) else 1.0
    tx, ty = (rng.uniform(-spec.translate, spec.translate, size=2) if spec.translate
              else (0.0, 0.0))
    c, s = math.cos(angle), math.sin(angle)
    to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    back = np.array([[1, 0, cx + tx], [0, 1, cy + ty], [0, 0, 1.0]])
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    shr = np.array([[1, shear, 0], [0, 1, 0], [0, 0, 1.0]])
    scl = np.diag([factor, factor, 1.0])
    m = back @ rot @ shr @ scl @ to_origin
    if spec.projective:
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
        moved = (m @ np.c_[corners, np.ones(4)].T).T
        moved = moved[:, :2] / moved[:, 2:3]
        jitter = rng.uniform(-spec.projective, spec.projective, size=(4, 2)) * np.array([w, h])
        m = _homography(corners, moved + jitter)
    return m


def apply_distortions(image: np.ndarray, spec: DistortSpec | str,
                      rng: np.random.Generator) -> np.ndarray:
    """One distorted copy of a uint8 glyph (ink 255 on 0); call again for another variant."""
    if isinstance(spec, str):
        spec = parse_distort_spec(spec)
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if spec.is_identity:
        return img.copy()
    h, w = img.shape
    pil = Image.fromarray(img)
    forward = _geometry(spec, h, w, rng)
    if forward is not None:
        inv = np.linalg.inv(forward)
        inv = inv / inv[2, 2]
        coeffs = tuple(float(v) for v in inv.ravel()[:8])
        pil = pil.transform((w, h), Image.Transform.PERSPECTIVE, coeffs,
                            resample=Image.Resampling.BILINEAR, fillcolor=0)
    if spec.thicken:
        pil = pil.filter(ImageFilter.MaxFilter(2 * spec.thicken + 1))
    if spec.thin:
        pil = pil.filter(ImageFilter.MinFilter(2 * spec.thin + 1))
    if spec.blur:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(spec.blur / 2, spec.blur)))
    out = np.asarray(pil, dtype=np.float32) / 255.0
    if spec.noise:
        out = out + rng.normal(0.0, spec.noise, size=out.shape).astype(np.float32)
    if spec.binarize is not None:
        out = (out >= spec.binarize).astype(np.float32)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)

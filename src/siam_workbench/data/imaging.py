"""One normalisation for every glyph image that does not come from a font.

Two framings (``data.size_mode``), shared with the renderer so a drawing and a rendered glyph
look the same to the network:

* ``fit`` — the ink box is centred and scaled to fill ``size - 2*margin``. Size and position
  are lost: o and O, x and X become the same picture.
* ``em`` — the *em box* is the frame: :data:`EM_ASCENT` em above the baseline to
  :data:`EM_DESCENT` em below it fill ``size - 2*margin`` vertically, the baseline sits at
  :func:`baseline_fraction` of that height, and only the horizontal position is normalised
  (ink centred). Relative size and baseline survive. For an image (a drawing, a scan) the
  whole image height is taken as that em box, so the Draw canvas shows the baseline where a
  font's would be.

Scans, Omniglot strokes, PHD08 bitmaps and the Draw tab's canvas all pass through
:func:`normalize_glyph` (importers and query code alike).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import require_file

#: Largest image (width × height) any input may claim: a 5000×5000 scan. Headers are checked
#: before decoding, so a 168 KB PNG that claims 12000×12000 is refused instead of taking GBs.
MAX_IMAGE_PIXELS = 25_000_000

#: Share of the ink contrast above which a pixel counts as ink for the bounding box; low enough
#: to keep anti-aliased stroke edges, high enough to ignore faint scanner noise.
INK_THRESHOLD = 0.25

SIZE_MODES = ("fit", "em")
#: The em-box frame: from EM_ASCENT em above the baseline down to EM_DESCENT em below it (a
#: little more than a typical font's ascender/descender, so accents and descenders fit).
EM_ASCENT = 0.95
EM_DESCENT = 0.25


def baseline_fraction() -> float:
    """Where the baseline lies in an em-mode image, as a share of the inner height from top."""
    return EM_ASCENT / (EM_ASCENT + EM_DESCENT)


def check_mode(mode: str) -> str:
    if mode not in SIZE_MODES:
        raise SiamError(f"size mode must be one of {', '.join(SIZE_MODES)}; got {mode!r}")
    return mode


def open_image(path: str | Path) -> Image.Image:
    """Open an image file whose header claims at most :data:`MAX_IMAGE_PIXELS` pixels.

    The returned image is not decoded yet (call ``load()``); close it (``with``). Anything but a
    regular, readable image of a sane size raises :class:`SiamError` naming the file.
    """
    path = require_file(path, "image")
    try:
        with warnings.catch_warnings():  # the size is checked below, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        m = re.search(r"\((\d+) pixels\)", str(exc))
        claim = f" ({int(m.group(1)) / 1e6:.0f} MP)" if m else ""
        raise SiamError(f"image header claims a size{claim} far beyond the "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP limit; refused", path) from None
    except (OSError, ValueError) as exc:
        reason = _first_line(exc).replace(f"'{path}'", "").replace(str(path), "").strip()
        raise SiamError(f"cannot read image: not a readable image ({reason})", path) from None
    w, h = im.size
    if w <= 0 or h <= 0 or w * h > MAX_IMAGE_PIXELS:
        im.close()
        raise SiamError(f"image is {w}×{h} pixels ({w * h / 1e6:.0f} MP), more than the "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP limit; refused", path)
    return im


def load_image(im: Image.Image, path: str | Path) -> None:
    """Decode an image opened with :func:`open_image`; a truncated or corrupt file is one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise SiamError(f"cannot decode image ({_first_line(exc)})", path) from None


def gray_array(im: Image.Image) -> np.ndarray:
    """Grey float32 in [0, 255] of a decoded image. A 16-bit or 32-bit grey image keeps its
    grey levels (``convert("L")`` clips them at 255: ink 1000 on paper 40000 became blank)."""
    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        hi = float(a.max()) if a.size else 0.0
        full = 65535.0 if im.mode.startswith("I;16") or 255 < hi <= 65535 else \
            (hi if hi > 255 else (1.0 if im.mode == "F" and hi <= 1.0 else 255.0))
        return np.clip(a * (255.0 / full), 0.0, 255.0).astype(np.float32)
    return np.asarray(im.convert("L"), dtype=np.float32)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


def to_unit_gray(image: np.ndarray) -> np.ndarray:
    """Any 2-D (or H×W×C) image as float32 grey in [0, 1], whatever its dtype."""
    a = np.asarray(image)
    if a.ndim == 3:
        if a.shape[2] == 4:  # composite over white: transparent background is paper
            alpha = a[..., 3:4].astype(np.float32) / (np.iinfo(a.dtype).max
                                                      if a.dtype.kind in "ui" else 1.0)
            rgb = _unit(a[..., :3])
            a = (rgb * alpha + (1 - alpha)).mean(axis=2)
            return a.astype(np.float32)
        return _unit(a[..., :3]).mean(axis=2).astype(np.float32)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {a.shape}")
    return _unit(a)


def _unit(a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.float32)
    if a.dtype.kind in "ui":
        return a.astype(np.float32) / float(np.iinfo(a.dtype).max)
    a = a.astype(np.float32)
    lo, hi = float(np.nanmin(a)) if a.size else 0.0, float(np.nanmax(a)) if a.size else 0.0
    if lo < 0.0 or hi > 1.0:  # arbitrary float range: stretch
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.nan_to_num(a)


def ink_map(image: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """Float32 ink strength in [0, 1] (background 0), from any image.

    ``polarity="auto"`` takes the median of the border pixels as the background and treats the
    direction away from it as ink, so dark-on-light scans and light-on-dark canvases both work;
    ``"dark"`` / ``"light"`` force dark ink on light paper or the reverse.
    """
    g = to_unit_gray(image)
    if g.size == 0:
        raise SiamError("image is blank")
    if polarity == "auto":
        border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
        bg = float(np.median(border))
        lo, hi = float(g.min()), float(g.max())
        dark_ink = (bg - lo) > (hi - bg)
    elif polarity in ("dark", "light"):
        dark_ink = polarity == "dark"
        bg = float(g.max()) if dark_ink else float(g.min())
    else:
        raise ValueError(f"polarity must be auto, dark or light, got {polarity!r}")
    if dark_ink:
        extreme = float(g.min())
        span = bg - extreme
        ink = (bg - g) / span if span > 0 else np.zeros_like(g)
    else:
        extreme = float(g.max())
        span = extreme - bg
        ink = (g - bg) / span if span > 0 else np.zeros_like(g)
    if span < 1e-3:
        raise SiamError("image is blank")
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def fit_to_canvas(ink: np.ndarray, size: int, margin: int = 2) -> np.ndarray:
    """Crop float ink (background 0) to its ink box, pad square, resize into the canvas."""
    mask = ink >= INK_THRESHOLD
    if not mask.any():
        raise SiamError("image is blank")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = crop
    inner = max(1, size - 2 * margin)
    img = Image.fromarray(square)  # float32 → mode "F"
    resample = Image.Resampling.BOX if side >= inner else Image.Resampling.BICUBIC
    small = np.asarray(img.resize((inner, inner), resample), dtype=np.float32)
    out = np.zeros((size, size), np.float32)
    out[margin:margin + inner, margin:margin + inner] = small
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def em_to_canvas(ink: np.ndarray, size: int, margin: int = 2) -> np.ndarray:
    """Em-mode framing of float ink (background 0): the image's height is the em box; it is
    scaled to ``size - 2*margin`` (aspect kept) and the ink is centred horizontally only, so
    its height and vertical position (the baseline) are kept."""
    mask = ink >= INK_THRESHOLD
    if not mask.any():
        raise SiamError("image is blank")
    h, w = ink.shape
    inner = max(1, size - 2 * margin)
    scale = inner / h
    new_w = max(1, int(round(w * scale)))
    img = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32))
    resample = Image.Resampling.BOX if scale <= 1 else Image.Resampling.BICUBIC
    small = np.asarray(img.resize((new_w, inner), resample), dtype=np.float32)
    cols = np.flatnonzero((small >= INK_THRESHOLD * 0.5).any(axis=0))
    if cols.size == 0:
        cols = np.flatnonzero(small.max(axis=0) > 0) if (small > 0).any() else np.arange(1)
    crop = small[:, cols[0]:cols[-1] + 1]
    if crop.shape[1] > size:  # wider than the image: keep the middle
        cut = (crop.shape[1] - size) // 2
        crop = crop[:, cut:cut + size]
    out = np.zeros((size, size), np.float32)
    left = (size - crop.shape[1]) // 2
    out[margin:margin + inner, left:left + crop.shape[1]] = crop
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def normalize_glyph(image: np.ndarray, size: int, margin: int = 2,
                    polarity: str = "auto", mode: str = "fit") -> np.ndarray:
    """Any glyph image → uint8 ``[size, size]``, ink 255 on 0, centred and scaled like renders.

    Polarity is detected from the border (see :func:`ink_map`). ``mode="fit"``: the ink
    bounding box is padded to a square (aspect kept), resized with area averaging when
    shrinking (bicubic when growing) to ``size - 2*margin`` and centred. ``mode="em"``: see
    :func:`em_to_canvas`. A blank image raises ``SiamError("image is blank")``.
    """
    if size < 1 or margin < 0 or 2 * margin >= size:
        raise ValueError(f"bad size/margin {size}/{margin}")
    if check_mode(mode) == "em":
        return em_to_canvas(ink_map(image, polarity), size, margin)
    return fit_to_canvas(ink_map(image, polarity), size, margin)

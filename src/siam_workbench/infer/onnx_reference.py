"""Classify character images with a Siam Workbench ONNX export — onnxruntime, numpy and Pillow
only (no torch, no Siam Workbench). ``siam export RUN --format onnx`` copies this file as
``classify.py`` beside ``model.onnx``.

    pip install onnxruntime numpy pillow
    python classify.py glyph.png [more.png ...] [--model model.onnx] [--k 5] [--json]

The model takes float ``image [B,1,S,S]`` in [0,1] with ink = 1 and returns ``embedding [B,D]``
and ``distance [B,C]``: the L2 distance to every class center (``inf`` for a class without
training samples). The class names and the facts below travel inside the model as metadata
(``siam.classes``, ``siam.meta``), so the file alone is enough.

Images are normalised as the network was trained: grey (transparency over white), polarity from
the border, then framed by the run's size mode (``siam.meta``): ``fit`` crops to the ink, pads
square, resizes into ``S − 2·margin`` and centres; ``em`` takes the image's height as the em box,
scales it into ``S − 2·margin`` and centres the ink horizontally only (size and baseline kept).
This mirrors ``siam_workbench.data.imaging.normalize_glyph``; a test keeps the two identical.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

INK_THRESHOLD = 0.25


#: Largest image (width × height) read, as siam_workbench.data.imaging.MAX_IMAGE_PIXELS: a 32 KB PNG
#: that claims 12000×12000 would otherwise be decoded into gigabytes.
MAX_IMAGE_PIXELS = 25_000_000


def _open(path: str | Path) -> Image.Image:
    """A regular image file whose header claims at most MAX_IMAGE_PIXELS; ValueError naming
    the file otherwise (a FIFO would block the read forever, a bomb fill the memory)."""
    import os
    import stat
    import warnings

    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"{path}: cannot open ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: is not a regular file (a folder, FIFO, socket or device)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Exception as exc:  # PIL raises many kinds for hostile files: one line each
        raise ValueError(f"{path}: not a readable image ({type(exc).__name__})") from None
    w, h = im.size
    if w <= 0 or h <= 0 or w * h > MAX_IMAGE_PIXELS:
        im.close()
        raise ValueError(f"{path}: image is {w}×{h} pixels, more than the "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP limit; refused")
    return im


def _gray(im: Image.Image) -> np.ndarray:
    """As siam_workbench.data.imaging.gray_array: 16-bit grey keeps its levels (no clipping at
    255)."""
    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        hi = float(a.max()) if a.size else 0.0
        full = 65535.0 if im.mode.startswith("I;16") or 255 < hi <= 65535 else \
            (hi if hi > 255 else (1.0 if im.mode == "F" and hi <= 1.0 else 255.0))
        return np.clip(a * (255.0 / full), 0.0, 255.0).astype(np.float32)
    return np.asarray(im.convert("L"), dtype=np.float32)


def read_gray(path: str | Path) -> np.ndarray:
    """Grey float32 array in [0, 1] of an image file; transparency composited over white.

    The grey levels are stretched to the image's own range, as the training-side code does
    (only ratios of grey levels matter to :func:`ink_map`).
    """
    with _open(path) as im:
        try:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                im = im.convert("RGBA")
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)),
                                           im)
            a = _gray(im)
        except MemoryError:
            raise ValueError(f"{path}: image too large to decode") from None
        except Exception as exc:  # truncated, corrupt, a decoder bomb
            raise ValueError(f"{path}: cannot decode image ({type(exc).__name__})") from None
    lo, hi = float(a.min()) if a.size else 0.0, float(a.max()) if a.size else 0.0
    if lo < 0.0 or hi > 1.0:
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1]; the median border pixel is the background."""
    if gray.size == 0:
        raise ValueError("image is blank")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    bg = float(np.median(border))
    lo, hi = float(gray.min()), float(gray.max())
    if (bg - lo) > (hi - bg):  # dark ink on light paper
        span = bg - lo
        ink = (bg - gray) / span if span > 0 else np.zeros_like(gray)
    else:
        span = hi - bg
        ink = (gray - bg) / span if span > 0 else np.zeros_like(gray)
    if span < 1e-3:
        raise ValueError("image is blank")
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def fit_to_canvas(ink: np.ndarray, size: int, margin: int = 2) -> np.ndarray:
    """Crop to the ink box, pad square, resize into the canvas → uint8 [size, size], ink 255."""
    mask = ink >= INK_THRESHOLD
    if not mask.any():
        raise ValueError("image is blank")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = crop
    inner = max(1, size - 2 * margin)
    resample = Image.Resampling.BOX if side >= inner else Image.Resampling.BICUBIC
    small = np.asarray(Image.fromarray(square).resize((inner, inner), resample), np.float32)
    out = np.zeros((size, size), np.float32)
    out[margin:margin + inner, margin:margin + inner] = small
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def em_to_canvas(ink: np.ndarray, size: int, margin: int = 2) -> np.ndarray:
    """The image's height is the em box: scaled into the canvas, ink centred horizontally."""
    if not (ink >= INK_THRESHOLD).any():
        raise ValueError("image is blank")
    h, w = ink.shape
    inner = max(1, size - 2 * margin)
    scale = inner / h
    new_w = max(1, int(round(w * scale)))
    resample = Image.Resampling.BOX if scale <= 1 else Image.Resampling.BICUBIC
    small = np.asarray(Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32)).resize(
        (new_w, inner), resample), dtype=np.float32)
    cols = np.flatnonzero((small >= INK_THRESHOLD * 0.5).any(axis=0))
    if cols.size == 0:
        cols = np.flatnonzero(small.max(axis=0) > 0) if (small > 0).any() else np.arange(1)
    crop = small[:, cols[0]:cols[-1] + 1]
    if crop.shape[1] > size:
        cut = (crop.shape[1] - size) // 2
        crop = crop[:, cut:cut + size]
    out = np.zeros((size, size), np.float32)
    left = (size - crop.shape[1]) // 2
    out[margin:margin + inner, left:left + crop.shape[1]] = crop
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def prepare(path: str | Path, size: int, margin: int = 2, mode: str = "fit") -> np.ndarray:
    """An image file → uint8 [size, size] with ink = 255, as the network sees it."""
    frame = em_to_canvas if mode == "em" else fit_to_canvas
    gray = read_gray(path)
    try:
        return frame(ink_map(gray), size, margin)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


class Classifier:
    """An exported model with its class list: ``classify(paths, k)`` → top-k per image."""

    def __init__(self, model: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One image is a few small kernels: extra threads only wait for each other.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), opts,
                                            providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        self.classes: list[str] = json.loads(props["siam.classes"])
        self.meta: dict = json.loads(props["siam.meta"])
        self.size = int(self.meta["image_size"])
        self.margin = int(self.meta.get("margin", 2))
        self.mode = str(self.meta.get("size_mode", "fit"))

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [B,S,S] (ink 255) → (embedding [B,D], distance [B,C])."""
        x = (batch.astype(np.float32) / 255.0)[:, None]
        emb, dist = self.session.run(["embedding", "distance"], {"image": x})
        return emb, dist

    def classify(self, paths: list[str | Path], k: int = 5) -> list[list[tuple[str, float]]]:
        batch = np.stack([prepare(p, self.size, self.margin, self.mode) for p in paths])
        _, dist = self.run(batch)
        k = min(k, dist.shape[1])
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        out = []
        for row, cand in zip(dist, part):
            order = cand[np.argsort(row[cand], kind="stable")]
            out.append([(self.classes[i], float(row[i])) for i in order if np.isfinite(row[i])])
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Nearest classes of character images (ONNX).")
    ap.add_argument("images", nargs="+", help="image files (PNG/JPEG, any size, any polarity)")
    ap.add_argument("--model", default=str(Path(__file__).with_name("model.onnx")),
                    help="the exported model (default: model.onnx beside this script)")
    ap.add_argument("--k", type=int, default=5, help="classes to list per image")
    ap.add_argument("--json", action="store_true", help="one JSON list on stdout")
    args = ap.parse_args(argv)
    try:
        clf = Classifier(args.model)
        results = clf.classify(args.images, k=max(1, args.k))
    except (OSError, ValueError, KeyError) as exc:
        print(f"classify: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"image": str(p), "matches": [{"class": c, "distance": d}
                                                        for c, d in m]}
                          for p, m in zip(args.images, results)], ensure_ascii=False))
    else:
        for p, m in zip(args.images, results):
            print(f"{p}: " + "  ".join(f"{c} ({d:.3f})" for c, d in m))
    return 0


if __name__ == "__main__":
    sys.exit(main())

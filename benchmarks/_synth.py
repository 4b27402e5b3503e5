"""Synthetic glyph-like data for benchmarks that measure speed, not accuracy (no fonts needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def synth_images(num_classes: int, per_class: int, size: int = 37, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = np.zeros((num_classes * per_class, size, size), np.uint8)
    labels = np.repeat(np.arange(num_classes), per_class)
    for c in range(num_classes):
        strokes = rng.uniform(5, size - 5, size=(3, 4))
        for k in range(per_class):
            im = Image.new("L", (size, size), 0)
            d = ImageDraw.Draw(im)
            dx, dy = rng.integers(-2, 3, size=2)
            for x0, y0, x1, y1 in strokes:
                d.line([(x0 + dx, y0 + dy), (x1 + dx, y1 + dy)], fill=255, width=2)
            images[c * per_class + k] = np.asarray(im)
    return images, labels


def write_synth_project(root: Path, num_classes: int, per_class: int, toml: str) -> Path:
    from siam_workbench.data.glyphs import GlyphWriter

    (root / "data").mkdir(parents=True, exist_ok=True)
    images, labels = synth_images(num_classes, per_class)
    classes = [f"c{i}" for i in range(num_classes)]
    with GlyphWriter(root / "data" / "train.h5", classes, ["synth#0"], 37, force=True) as w:
        w.append(images, labels, np.zeros_like(labels))
    (root / "project.toml").write_text(toml)
    return root


def stroke_classes(num_classes: int, seed: int = 0) -> np.ndarray:
    """Three random strokes per class, in unit coordinates ([C, 3, 4]: x0 y0 x1 y1)."""
    return np.random.default_rng(seed).uniform(0.15, 0.85, size=(num_classes, 3, 4))


def draw_strokes(strokes: np.ndarray, size: int, shift: tuple[float, float] = (0.0, 0.0),
                 width: int = 2, ink: int = 255, paper: int = 0) -> np.ndarray:
    """One class's strokes drawn at ``size`` px, moved by ``shift`` (unit coordinates)."""
    im = Image.new("L", (size, size), paper)
    d = ImageDraw.Draw(im)
    for x0, y0, x1, y1 in strokes:
        d.line([((x0 + shift[0]) * size, (y0 + shift[1]) * size),
                ((x1 + shift[0]) * size, (y1 + shift[1]) * size)], fill=ink, width=width)
    return np.asarray(im)


def write_omniglot_like(folder: Path, strokes: np.ndarray, drawers: list[int],
                        seed: int = 1) -> Path:
    """An Omniglot-layout alphabet folder (``characterNN/NNNN_DD.png``, 105 px 1-bit, black pen
    on white) of the classes' strokes, each drawer shifting and thickening them a little."""
    rng = np.random.default_rng(seed)
    for c, cls in enumerate(strokes, 1):
        sub = folder / f"character{c:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        for d in drawers:
            shift = tuple(rng.uniform(-0.05, 0.05, size=2))
            img = draw_strokes(cls, 105, shift, int(rng.integers(3, 6)), ink=0, paper=255)
            Image.fromarray(img).convert("1").save(sub / f"{c:04d}_{d:02d}.png")  # as Omniglot
    return folder

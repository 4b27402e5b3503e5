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

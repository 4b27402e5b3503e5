"""A tiny synthetic project for tests that need a module-scoped one (recorded runs): the same
random-stroke classes as ``tests/conftest.py::synth_glyphs``, written with the engine's writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

TOML = """
[project]
name = "synthetic"

[data]
alphabet = "latin"

[mining]
positive = "auto-probabilistic"
negative = "auto-clustering"
eta = 10

[train]
epochs = {epochs}
iterations = {iterations}
triplets = 32
lr = 0.003
device = "cpu"
"""


def _write(path: Path, num_classes: int, fonts: int, offset: int) -> None:
    from core.data.glyphs import GlyphWriter

    rng = np.random.default_rng(0)
    strokes = [rng.uniform(6, 31, size=(3, 4)) for _ in range(num_classes)]
    images, labels, sources = [], [], []
    for f in range(fonts):
        frng = np.random.default_rng(1000 + f + offset)
        dx, dy = frng.integers(-2, 3, size=2)
        width = int(frng.integers(2, 4))
        for c in range(num_classes):
            im = Image.new("L", (37, 37), 0)
            d = ImageDraw.Draw(im)
            for x0, y0, x1, y1 in strokes[c]:
                d.line([(x0 + dx, y0 + dy), (x1 + dx, y1 + dy)], fill=255, width=width)
            images.append(np.asarray(im))
            labels.append(c)
            sources.append(f)
    classes = [chr(ord("A") + i) for i in range(num_classes)]
    with GlyphWriter(path, classes, [f"synth{offset + i}.ttf#0" for i in range(fonts)], 37,
                     alphabet="synthetic") as w:
        w.append(np.stack(images), np.array(labels), np.array(sources))


def make_synth_project(parent: Path, epochs: int = 3, iterations: int = 4,
                       classes: int = 12) -> Path:
    root = parent / "synthetic"
    (root / "data").mkdir(parents=True)
    _write(root / "data" / "train.h5", classes, 4, 0)
    _write(root / "data" / "val.h5", classes, 2, 10)
    _write(root / "data" / "test.h5", classes, 2, 20)
    (root / "project.toml").write_text(TOML.format(epochs=epochs, iterations=iterations),
                                       encoding="utf-8")
    return root

"""Shared fixtures: a tiny synthetic glyph project that trains in seconds.

The synthetic glyphs (random strokes per class, jittered per "font") let engine tests run
without any font or the renderer; tests of the renderer itself use DejaVu.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SIAM_CACHE_DIR", str(Path(__file__).parent / ".cache-test"))


@pytest.fixture(autouse=True)
def _own_trust_record(tmp_path_factory, monkeypatch):
    """Each test has its own plug-in trust record (siam_workbench.project.trust), never the user's:
    a project's plug-ins load only after the test trusts it (``trust_project`` below)."""
    monkeypatch.setenv("SIAM_TRUST_FILE", str(tmp_path_factory.mktemp("trust") / "trust.json"))
    yield
    import sys

    # the next test starts with built-in parts only
    if "siam_workbench.project.plugins" in sys.modules:
        sys.modules["siam_workbench.project.plugins"].unload_project_plugins()


def trust_project(root: Path) -> None:
    """Trust ``root``'s plug-in files as they are now (what ``siam trust ROOT`` does)."""
    from siam_workbench.project import trust
    from siam_workbench.project.project import project_plugins

    folder, paths = project_plugins(root)
    trust.trust(folder, paths)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` need a CUDA device: without one they are skipped, saying so
    (``benchmarks/gpu_check.sh`` runs them with ``pytest -m cuda`` on a GPU machine)."""
    if not any("cuda" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run benchmarks/gpu_check.sh on one)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def synth_glyphs(num_classes: int, fonts: int, size: int = 37, seed: int = 0,
                 font_offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images [N,size,size] uint8 (ink 255), labels, sources: class = fixed random strokes,
    font = a small consistent shift and stroke width."""
    rng = np.random.default_rng(seed)
    strokes = [rng.uniform(6, size - 6, size=(3, 4)) for _ in range(num_classes)]
    images, labels, sources = [], [], []
    for f in range(fonts):
        frng = np.random.default_rng(1000 + f + font_offset)
        dx, dy = frng.integers(-2, 3, size=2)
        width = int(frng.integers(2, 4))
        for c in range(num_classes):
            im = Image.new("L", (size, size), 0)
            d = ImageDraw.Draw(im)
            for x0, y0, x1, y1 in strokes[c]:
                d.line([(x0 + dx, y0 + dy), (x1 + dx, y1 + dy)], fill=255, width=width)
            images.append(np.asarray(im))
            labels.append(c)
            sources.append(f)
    return np.stack(images), np.array(labels), np.array(sources)


def write_synth(path: Path, num_classes: int = 12, fonts: int = 4, seed: int = 0,
                font_offset: int = 0) -> Path:
    from siam_workbench.data.glyphs import GlyphWriter

    images, labels, sources = synth_glyphs(num_classes, fonts, seed=seed, font_offset=font_offset)
    classes = [chr(ord("A") + i) for i in range(num_classes)]
    with GlyphWriter(path, classes, [f"synth{font_offset + i}.ttf#0" for i in range(fonts)],
                     37, alphabet="synthetic") as w:
        w.append(images, labels, sources)
    return path


TINY_TOML = """
[project]
name = "tiny"

[data]
alphabet = "latin"

[mining]
positive = "{positive}"
negative = "{negative}"
eta = 10

[train]
epochs = {epochs}
iterations = {iterations}
triplets = 32
classes_per_batch = 8
samples_per_class = 4
lr = 0.003
device = "cpu"
"""


def make_tiny_project(root: Path, positive: str = "auto-probabilistic",
                      negative: str = "auto-clustering", epochs: int = 2, iterations: int = 4,
                      classes: int = 12) -> Path:
    """A project folder with synthetic train / val / test files and a small config (for tests
    that need one outside a function-scoped fixture)."""
    (root / "data").mkdir(parents=True)
    write_synth(root / "data" / "train.h5", classes, fonts=4)
    write_synth(root / "data" / "val.h5", classes, fonts=2, font_offset=10)
    write_synth(root / "data" / "test.h5", classes, fonts=2, font_offset=20)
    (root / "project.toml").write_text(TINY_TOML.format(
        positive=positive, negative=negative, epochs=epochs, iterations=iterations))
    return root


@pytest.fixture
def make_project(tmp_path: Path):
    """Factory: a project folder with synthetic train/val files and a small config."""

    def make(positive: str = "auto-probabilistic", negative: str = "auto-clustering",
             epochs: int = 2, iterations: int = 4, classes: int = 12, name: str = "proj"):
        from siam_workbench.project.project import load_project

        return load_project(make_tiny_project(tmp_path / name, positive, negative, epochs,
                                              iterations, classes))

    return make

"""Glyph outliers: a face whose glyphs do not look like the other faces' glyphs of the same
class is flagged (a synthetic broken face: every class drawn with another class's shape, as
Bandal's "A" came out Ħ-like), ordinary faces are not; the CLI lists it and excludes it whole."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image, ImageDraw

from siam_workbench.cli import main
from siam_workbench.data.glyphs import GlyphFile, GlyphWriter
from siam_workbench.data.outliers import FACE_FLAG, file_outliers, glyph_outliers

SIZE, CLASSES, GOOD = 37, 12, 6


def _shape(c: int, face: int) -> np.ndarray:
    """Class ``c`` as a face draws it: the class's strokes, shifted and weighted per face."""
    strokes = np.random.default_rng(c).uniform(6, SIZE - 6, size=(3, 4))
    jitter = np.random.default_rng(100 + face).normal(0, 0.7, size=(3, 4))
    im = Image.new("L", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(im)
    for x0, y0, x1, y1 in strokes + jitter:
        d.line([(x0, y0), (x1, y1)], fill=255, width=3 + face % 2)
    return np.asarray(im)


def _faces(broken: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    images, labels, sources = [], [], []
    names = [f"good{f}.ttf#0" for f in range(GOOD)] + (["broken.ttf#0"] if broken else [])
    for f, _name in enumerate(names):
        for c in range(CLASSES):
            # The broken face draws every class with the next class's shape.
            shape_of = (c + 1) % CLASSES if f == GOOD else c
            images.append(_shape(shape_of, f))
            labels.append(c)
            sources.append(f)
    return np.stack(images), np.array(labels), np.array(sources), names


def test_broken_face_flagged_ordinary_faces_not():
    images, labels, sources, names = _faces()
    rep = glyph_outliers(images, labels, sources, names)
    score = dict(zip(names, rep.source_score))
    assert score["broken.ttf#0"] >= 0.8, score
    assert all(score[f"good{f}.ttf#0"] <= 0.1 for f in range(GOOD)), score
    assert rep.flagged() == ["broken.ttf#0"]
    worst = rep.worst_rows(GOOD, k=3)
    assert len(worst) == 3 and all(sources[r] == GOOD for r in worst)
    # Without it, nobody is flagged; excluded rows are neither scored nor in the median.
    clean = glyph_outliers(*_faces(broken=False))
    assert clean.flagged() == [] and np.nanmax(clean.source_score) <= 0.1
    excl = glyph_outliers(images, labels, sources, names, excluded=sources == GOOD)
    assert excl.source_scored[GOOD] == 0 and np.isnan(excl.source_score[GOOD])
    assert FACE_FLAG < 0.8


def test_cli_lists_the_face_and_excludes_it_whole(tmp_path, capsys):
    images, labels, sources, names = _faces()
    path = tmp_path / "train.h5"
    with GlyphWriter(path, [f"c{i}" for i in range(CLASSES)], names, SIZE) as w:
        w.append(images, labels, sources)
    assert file_outliers(path).flagged() == ["broken.ttf#0"]
    assert main(["outliers", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["faces"][0]["source"] == "broken.ttf#0" and out["faces"][0]["flagged"]
    assert main(["exclude", str(path), "--source", "broken.ttf#0"]) == 0
    with GlyphFile(path) as gf:
        assert gf.excluded.sum() == CLASSES and gf.excluded[sources == GOOD].all()
    assert main(["exclude", str(path), "--source", "nope.ttf"]) == 2
    assert "no source named 'nope.ttf'" in capsys.readouterr().err

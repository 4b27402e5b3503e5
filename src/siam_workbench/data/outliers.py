"""Glyphs that do not look like the other faces' glyphs of their class, and faces full of them.

A face whose "A" renders as an Ħ-like shape (a broken cmap, a symbol font posing as Latin, a
distressed display face) covers 100 % of the alphabet and passes every coverage check, yet
teaches the network the wrong shape. Here every render is compared with the *median render* of
its class over all faces: the distance is ``1 − cosine`` between the two renders' ink averaged
over a coarse grid (so stroke weight and a pixel of shift do not count, the shape does). Within
a class the distances of ordinary faces cluster (serif vs sans differ a little); a render is an
outlier when its distance lies far above the class's typical distance — more than
:data:`MAD_K` scaled median absolute deviations above the median, and at least
:data:`MIN_GAP` above it so a class whose faces all agree does not flag noise. A face's score is
the share of its glyphs that are outliers; faces above :data:`FACE_FLAG` are flagged.

Qt-free; the Data tab shows the scores and ``siam outliers FILE`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAD_K = 3.0  # outlier: distance > median + MAD_K · 1.4826 · MAD of the class's distances
MIN_GAP = 0.12  # … and at least this much above the class's median distance
FACE_FLAG = 0.25  # a face whose share of outlier glyphs exceeds this is flagged
MIN_FACES = 3  # a class rendered by fewer faces has no meaningful median
POOL_CELLS = 9  # renders are compared as a 9 × 9 grid of ink averages


@dataclass
class OutlierReport:
    """Per sample: distance to its class's median render and the outlier flag; per source: the
    share of its (scored) glyphs that are outliers (NaN: nothing scored)."""

    distance: np.ndarray  # [N] float, NaN where not scored
    outlier: np.ndarray  # [N] bool
    source_names: list[str]
    source_score: np.ndarray  # [S] share of outlier glyphs
    source_scored: np.ndarray  # [S] how many glyphs were scored
    sources: np.ndarray  # [N] source index of each sample

    def flagged(self, threshold: float = FACE_FLAG) -> list[str]:
        """Names of the sources whose share of outlier glyphs exceeds ``threshold``."""
        return [n for n, s in zip(self.source_names, self.source_score)
                if np.isfinite(s) and s > threshold]

    def worst_rows(self, source: int, k: int = 8) -> np.ndarray:
        """The ``k`` most outlying rows of ``source`` (the glyphs to look at first)."""
        rows = np.flatnonzero(self.outlier & (self.sources == source))
        return rows[np.argsort(-self.distance[rows])][:k]


def _pooled(images: np.ndarray) -> np.ndarray:
    """Ink as a coarse ``POOL``-pixel block average, flattened: stroke weight and a pixel of
    shift wash out (a bold face is not an outlier), the shape stays."""
    n, h, w = images.shape
    b = max(1, min(h, w) // POOL_CELLS)
    hh, ww = (h // b) * b, (w // b) * b
    x = images[:, :hh, :ww].astype(np.float32) / 255.0
    return x.reshape(n, hh // b, b, ww // b, b).mean(axis=(2, 4)).reshape(n, -1)


def glyph_outliers(images: np.ndarray, labels: np.ndarray, sources: np.ndarray,
                   source_names: list[str], excluded: np.ndarray | None = None,
                   ) -> OutlierReport:
    """Score every render against its class's median render (see the module docstring).

    ``images`` uint8 ``[N, H, W]`` (ink 255); ``excluded`` rows are neither scored nor part of a
    median. Memory: one class's renders at a time."""
    n = len(labels)
    labels = np.asarray(labels)
    sources = np.asarray(sources)
    keep = np.ones(n, bool) if excluded is None else ~np.asarray(excluded, bool)
    distance = np.full(n, np.nan)
    outlier = np.zeros(n, bool)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for rows in np.split(order, bounds):
        rows = rows[keep[rows]]
        if len(rows) < MIN_FACES:
            continue
        rows = np.sort(rows)
        v = _pooled(np.asarray(images[rows]))
        median = np.median(v, axis=0)
        cos = (v @ median) / np.maximum(np.linalg.norm(v, axis=1) * np.linalg.norm(median),
                                        1e-9)
        d = 1.0 - cos
        distance[rows] = d
        mid = float(np.median(d))
        mad = float(np.median(np.abs(d - mid))) * 1.4826
        outlier[rows] = d > mid + max(MAD_K * mad, MIN_GAP)
    n_src = len(source_names)
    scored = np.bincount(sources[np.isfinite(distance)], minlength=n_src)[:n_src]
    bad = np.bincount(sources[outlier], minlength=n_src)[:n_src]
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(scored > 0, bad / np.maximum(scored, 1), np.nan)
    return OutlierReport(distance, outlier, list(source_names), score, scored, sources)


def file_outliers(path: str | Path) -> OutlierReport:
    """:func:`glyph_outliers` of a glyph file (its excluded rows left out)."""
    from siam_workbench.data.glyphs import GlyphFile

    with GlyphFile(path) as gf:
        return glyph_outliers(gf.images(), gf.labels, gf.sources, list(gf.source_names),
                              gf.excluded)


def source_rows(path: str | Path, source: str) -> np.ndarray:
    """Rows of the glyph file whose source is named ``source`` (a face's every glyph); an
    unknown name is an error naming the file and the names it holds."""
    from siam_workbench.base.errors import SiamError
    from siam_workbench.data.glyphs import GlyphFile

    with GlyphFile(path) as gf:
        names = list(gf.source_names)
        if source not in names:
            shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
            raise SiamError(f"no source named {source!r} (it holds {shown})", path)
        return np.flatnonzero(np.asarray(gf.sources) == names.index(source))

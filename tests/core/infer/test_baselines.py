"""Pixel 1-NN baseline: exact on hand-made data, classes matched by name, cached per file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siam_workbench.data import baselines
from siam_workbench.data.baselines import cached_pixel_nn, pixel_nn
from siam_workbench.data.glyphs import GlyphSet
from tests.conftest import write_synth


def _set(images: list[np.ndarray], labels: list[int], classes: list[str]) -> GlyphSet:
    n = len(images)
    return GlyphSet(images=torch.from_numpy(np.stack(images).astype(np.uint8)),
                    labels=torch.tensor(labels), sources=torch.zeros(n, dtype=torch.int64),
                    classes=classes, source_names=["f"], rows=np.arange(n))


def _img(value: int, x0: int = 0) -> np.ndarray:
    a = np.zeros((4, 4), dtype=np.uint8)
    a[:, x0:x0 + 2] = value
    return a


def test_pixel_nn_ranks_classes_by_their_nearest_sample():
    # Class "L" has ink on the left, "R" on the right, "E" is empty.
    train = _set([_img(255, 0), _img(200, 0), _img(255, 2), _img(0)], [0, 0, 1, 2],
                 ["L", "R", "E"])
    # Query 1 is left ink (→ L), query 2 right ink but faint (nearest is E, then R).
    test = _set([_img(250, 0), _img(60, 2)], [0, 1], ["L", "R", "E"])
    r = pixel_nn(train, test, k=2)
    assert r["n"] == 2 and r["top1"] == pytest.approx(0.5) and r["top2"] == pytest.approx(1.0)


def test_pixel_nn_matches_classes_by_name_and_counts_unknown():
    train = _set([_img(255, 0), _img(255, 2)], [0, 1], ["L", "R"])
    # Same pictures, but the test file lists its classes in another order plus one unknown.
    test = _set([_img(255, 2), _img(255, 0), _img(255, 1)], [0, 1, 2], ["R", "L", "?"])
    r = pixel_nn(train, test, k=1)
    assert r["n"] == 2 and r["unknown"] == 1 and r["top1"] == 1.0


def test_cached_pixel_nn_reuses_and_refreshes(tmp_path, monkeypatch):
    train = write_synth(tmp_path / "train.h5", 6, fonts=3)
    val = write_synth(tmp_path / "val.h5", 6, fonts=2, font_offset=10)
    cache = tmp_path / "cache.json"
    first = cached_pixel_nn(train, val, cache)
    assert 0.0 <= first["top1"] <= 1.0 and cache.exists()

    def boom(*_a, **_k):
        raise AssertionError("recomputed although the files did not change")

    monkeypatch.setattr(baselines, "pixel_nn", boom)
    assert cached_pixel_nn(train, val, cache) == first
    val.unlink()
    write_synth(val, 6, fonts=1, font_offset=30)  # the validation file changes
    with pytest.raises(AssertionError, match="recomputed"):
        cached_pixel_nn(train, val, cache)


def test_cached_pixel_nn_samples_large_test_files(tmp_path, monkeypatch):
    train = write_synth(tmp_path / "train.h5", 6, fonts=3)
    val = write_synth(tmp_path / "val.h5", 6, fonts=40, font_offset=10)  # 240 images
    monkeypatch.setattr(baselines, "BASELINE_BUDGET", 200 * 18 * 37 * 37)  # room for 200
    seen = []
    r = cached_pixel_nn(train, val, tmp_path / "c.json", progress=lambda d, t: seen.append(t))
    assert r["sampled"] is True and r["n"] == 200 and seen and seen[-1] == 200
    r2 = cached_pixel_nn(train, write_synth(tmp_path / "v2.h5", 6, fonts=2, font_offset=50),
                         tmp_path / "c.json")
    assert r2["sampled"] is False and r2["n"] == 12

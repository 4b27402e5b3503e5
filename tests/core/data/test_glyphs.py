"""The glyph HDF5 contract: GlyphWriter, GlyphFile validation, load_glyphs, read_info."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.glyphs import SCHEMA, GlyphFile, GlyphWriter, load_glyphs, read_info


def _write(path: Path, n_per: int = 3, classes=("가", "A", "ab"), sources=("f1#0", "f2#0"),
           **kw) -> Path:
    rng = np.random.default_rng(0)
    with GlyphWriter(path, list(classes), list(sources), 16, alphabet="t",
                     render={"size": 16, "note": "한글"}, **kw) as w:
        for s in range(len(sources)):
            for c in range(len(classes)):
                imgs = rng.integers(0, 256, size=(n_per, 16, 16), dtype=np.uint8)
                w.append(imgs, np.full(n_per, c), np.full(n_per, s))
    return path


def test_round_trip(tmp_path: Path):
    p = _write(tmp_path / "g.h5")
    with GlyphFile(p) as gf:
        assert len(gf) == 18 and gf.image_size == 16 and gf.num_classes == 3
        assert gf.classes == ["가", "A", "ab"] and gf.source_names == ["f1#0", "f2#0"]
        a = gf.attrs
        assert a["schema"] == SCHEMA and a["alphabet"] == "t" and a["render"]["note"] == "한글"
        assert "created" in a
        assert gf.images(np.array([5, 0, 5])).shape == (3, 16, 16)
        assert np.array_equal(gf.images(np.array([5, 0]))[1], gf.images(slice(0, 1))[0])
        assert gf.rows_of_class(1).tolist() == [3, 4, 5, 12, 13, 14]
    with h5py.File(p) as h:
        assert h["images"].compression in ("lzf", "gzip") and h["images"].chunks is not None
    gs = load_glyphs(p)
    assert len(gs) == 18 and gs.images.dtype.is_floating_point is False
    assert gs.num_classes == 3


def test_read_info_counts(tmp_path: Path):
    info = read_info(_write(tmp_path / "g.h5", n_per=2))
    assert info["samples"] == 12 and info["classes"] == 3 and info["sources"] == 2
    assert info["per_source"] == {"f1#0": 6, "f2#0": 6}
    assert info["min_per_class"] == info["max_per_class"] == 4


def test_excluded_samples(tmp_path: Path):
    p = _write(tmp_path / "g.h5")
    with GlyphFile(p, "r+") as gf:
        gf.set_excluded([0, 1])
    assert len(load_glyphs(p)) == 16 and len(load_glyphs(p, include_excluded=True)) == 18
    assert read_info(p)["excluded"] == 2
    with GlyphFile(p) as gf, pytest.raises(SiamError, match="read-only"):
        gf.set_excluded([2])


def test_sources_filter(tmp_path: Path):
    p = _write(tmp_path / "g.h5")
    gs = load_glyphs(p, sources=["f2#0"])
    assert len(gs) == 9 and set(gs.sources.tolist()) == {1}


def test_writer_aborts_on_error_and_keeps_existing(tmp_path: Path):
    p = tmp_path / "g.h5"
    p.write_bytes(b"old")
    with pytest.raises(Cancelled), GlyphWriter(p, ["a"], ["s"], 8, force=True) as w:
        w.append(np.zeros((2, 8, 8), np.uint8), [0, 0], [0, 0])
        raise Cancelled()
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["g.h5"]  # temporary removed


def test_writer_refuses_existing_without_force(tmp_path: Path):
    p = tmp_path / "g.h5"
    p.write_bytes(b"old")
    with pytest.raises(SiamError, match="already exists"):
        GlyphWriter(p, ["a"], ["s"], 8)
    assert p.read_bytes() == b"old"


def test_writer_validates_input(tmp_path: Path):
    with pytest.raises(SiamError, match="duplicates"):
        GlyphWriter(tmp_path / "d.h5", ["a", "a"], ["s"], 8)
    with GlyphWriter(tmp_path / "v.h5", ["a"], ["s"], 8) as w:
        with pytest.raises(ValueError):
            w.append(np.zeros((1, 9, 9), np.uint8), [0], [0])
        with pytest.raises(ValueError):
            w.append(np.zeros((1, 8, 8), np.uint8), [1], [0])
        w.append(np.zeros((1, 8, 8), np.uint8), [0], [0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_writer_in_unwritable_folder_is_a_user_error():
    with pytest.raises(SiamError, match="/proc/x.h5: cannot write"):
        GlyphWriter("/proc/x.h5", ["a"], ["s"], 8)


def _corrupt(path: Path, fn) -> Path:
    _write(path)
    with h5py.File(path, "r+") as h:
        fn(h)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda h: h.attrs.__setitem__("schema", "other/9"), "schema is 'other/9'"),
    (lambda h: h.__delitem__("labels"), "missing dataset /labels"),
    (lambda h: h["labels"].__setitem__(0, 99), "labels out of range"),
    (lambda h: h["sources"].__setitem__(0, 5), "sources out of range"),
])
def test_invalid_files_fail_with_one_line(tmp_path: Path, change, message):
    p = _corrupt(tmp_path / "bad.h5", change)
    with pytest.raises(SiamError, match=message) as err:
        GlyphFile(p)
    assert "\n" not in str(err.value) and "bad.h5" in str(err.value)


def test_not_hdf5_missing_and_folder(tmp_path: Path):
    (tmp_path / "x.h5").write_text("nope")
    with pytest.raises(SiamError, match="not a readable HDF5"):
        GlyphFile(tmp_path / "x.h5")
    with pytest.raises(SiamError, match="not found"):
        GlyphFile(tmp_path / "y.h5")
    with pytest.raises(SiamError, match="is a folder"):
        GlyphFile(tmp_path)

"""Glyph rendering (geometry, missing glyphs, bitmaps) and dataset / split files."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.glyphs import GlyphFile
from siam_workbench.data.render import (
    RenderReport,
    bitmap_to_array,
    paste_max,
    render_dataset,
    render_glyph,
)
from siam_workbench.data.render_splits import render_splits

ROOT = Path(__file__).resolve().parents[3]
# ~1,200 classes (Latin, Greek, Cyrillic, …) for the worker-pool tests.
MANY = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0xA1, 0x530)]


@pytest.fixture
def small_pool_threshold(monkeypatch):
    """Let a test-sized job use the worker pool (normally jobs this small run in-process)."""
    import siam_workbench.data.render as render_mod

    monkeypatch.setattr(render_mod, "INPROCESS_MAX_COST", 1000)


def ink_box(img: np.ndarray, thr: int = 0) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) margins: empty rows / columns on each side."""
    rows = np.flatnonzero((img > thr).any(axis=1))
    cols = np.flatnonzero((img > thr).any(axis=0))
    n = img.shape[0]
    return rows[0], cols[0], n - 1 - rows[-1], n - 1 - cols[-1]


def ink_runs(profile: np.ndarray) -> int:
    """Number of separate runs of non-zero entries."""
    on = (profile > 0).astype(int)
    return int(np.sum(np.diff(np.r_[0, on]) == 1))


# -- single glyphs --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["A", "g", "W", "1", "-"])
def test_glyph_is_centred_and_fills_the_box(dejavu, text):
    img = render_glyph(dejavu, text, size=37, margin=2)
    assert img.shape == (37, 37) and img.dtype == np.uint8
    assert img.max() >= 250  # solid ink somewhere
    assert ((img > 0) & (img < 255)).any()  # anti-aliased edges
    top, left, bottom, right = ink_box(img, thr=8)
    assert min(top, left, bottom, right) >= 1  # margin kept
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1  # centred on the ink box
    # the larger side of the ink box spans size - 2*margin (±1 for anti-aliased edges)
    extent = max(37 - top - bottom, 37 - left - right)
    assert 32 <= extent <= 34


def test_aspect_is_kept(dejavu):
    img = render_glyph(dejavu, "-", size=37, margin=2)  # a wide, flat glyph
    top, left, bottom, right = ink_box(img, thr=8)
    assert 37 - left - right >= 32
    assert 37 - top - bottom <= 12  # not stretched into a square


def test_margin_and_size_are_honoured(dejavu):
    img = render_glyph(dejavu, "H", size=64, margin=8)
    assert img.shape == (64, 64)
    top, left, bottom, right = ink_box(img, thr=8)
    assert min(top, left, bottom, right) >= 7
    assert abs(top - bottom) <= 1 and max(64 - top - bottom, 64 - left - right) >= 47


def test_missing_and_blank_glyphs_give_none(dejavu, font_lib):
    from siam_workbench.data.fonts import discover_fonts

    assert render_glyph(dejavu, "가") is None  # not in DejaVu: no tofu box
    assert render_glyph(dejavu, " ") is None
    assert render_glyph(dejavu, "") is None
    assert render_glyph(dejavu, "A가") is None  # one missing character spoils the class
    (hollow,) = discover_fonts(extra=[font_lib / "Hollow.ttf"], system=False)
    assert render_glyph(hollow, "A") is None  # mapped to an empty glyph
    assert render_glyph(hollow, "B") is not None


def test_multi_character_class_is_laid_out_with_advances(dejavu):
    one = render_glyph(dejavu, "I")
    two = render_glyph(dejavu, "I I")
    assert two is not None and not np.array_equal(one, two)
    assert ink_runs(two.sum(axis=0)) == 2  # two separate bars side by side
    assert ink_runs(one.sum(axis=0)) == 1
    top, left, bottom, right = ink_box(two, thr=8)
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1
    ab = render_glyph(dejavu, "AB")
    t, lft, b, r = ink_box(ab, thr=8)
    assert (37 - lft - r) > (37 - t - b)  # wider than tall


def test_glyph_larger_than_canvas_is_scaled_and_centred(dejavu):
    # Six spaced bars are ~5 em wide: far larger than the canvas at any natural size.
    img = render_glyph(dejavu, "I I I I I I", size=37, margin=2)
    top, left, bottom, right = ink_box(img, thr=8)
    assert min(left, right) >= 1 and abs(left - right) <= 1 and abs(top - bottom) <= 1
    assert 37 - left - right >= 32
    assert ink_runs(img.sum(axis=0)) == 6  # every bar is there, none clipped away
    tiny = render_glyph(dejavu, "W", size=8, margin=0)
    assert tiny.shape == (8, 8) and tiny.max() > 200


def test_bitmap_pitch_wider_than_width_and_negative_pitch():
    rows, width, pitch = 3, 5, 8  # 3 padding bytes per row
    data = np.full((rows, pitch), 0xAA, np.uint8)
    data[:, :width] = np.arange(rows * width, dtype=np.uint8).reshape(rows, width)
    out = bitmap_to_array(data.tobytes(), rows, width, pitch)
    assert out.shape == (rows, width)
    assert np.array_equal(out, np.arange(15, dtype=np.uint8).reshape(3, 5))
    flipped = bitmap_to_array(data.tobytes(), rows, width, -pitch)  # bottom row first
    assert np.array_equal(flipped, out[::-1])
    mono = np.array([[0b10100000, 0xFF], [0b01000000, 0xFF]], np.uint8)  # pitch 2, width 3
    assert bitmap_to_array(mono.tobytes(), 2, 3, 2, pixel_mode=1).tolist() == [
        [255, 0, 255], [0, 255, 0]]


def test_paste_clips_tiles_larger_than_the_canvas():
    canvas = np.zeros((4, 4), np.uint8)
    tile = np.arange(36, dtype=np.uint8).reshape(6, 6) + 1
    paste_max(canvas, tile, -1, -1)
    assert np.array_equal(canvas, tile[1:5, 1:5])
    canvas2 = np.zeros((4, 4), np.uint8)
    paste_max(canvas2, tile, 10, 10)  # entirely outside: no-op
    assert not canvas2.any()


def test_threads_can_render_the_same_face(dejavu):
    from concurrent.futures import ThreadPoolExecutor

    texts = [chr(c) for c in range(0x41, 0x5B)] * 20
    expected = [render_glyph(dejavu, t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: render_glyph(dejavu, t), texts))
    assert all(np.array_equal(a, b) for a, b in zip(expected, results, strict=True))


def test_bad_geometry_is_a_user_error(dejavu):
    with pytest.raises(SiamError, match="margin"):
        render_glyph(dejavu, "A", size=10, margin=5)


@pytest.mark.korean
def test_korean_glyphs_render_centred(korean_faces):
    for face in korean_faces[:3]:
        for text in ("가", "힝", "뷁"):
            img = render_glyph(face, text)
            assert img is not None, (face.id, text)
            top, left, bottom, right = ink_box(img, thr=8)
            assert abs(left - right) <= 1 and abs(top - bottom) <= 1
            assert max(37 - top - bottom, 37 - left - right) >= 32


# -- datasets -------------------------------------------------------------------------------


def test_render_dataset_writes_the_schema(lib_faces, tmp_path: Path):
    faces = [f for f in lib_faces if f.family in ("Test Alpha", "Test Hollow")]
    classes = ["A", "B", "가", "AB"]
    calls: list[tuple[int, int]] = []
    rep = render_dataset(classes, faces, tmp_path / "out.h5", alphabet_name="mini",
                         workers=1, progress=lambda d, t: calls.append((d, t)))
    assert isinstance(rep, RenderReport)
    assert rep.path == tmp_path / "out.h5" and rep.classes == 4 and rep.faces == 3
    # 가 is missing everywhere; Hollow also lacks A (and therefore AB)
    hollow = next(f.id for f in faces if f.family == "Test Hollow")
    assert rep.missing_per_face[hollow] == 3
    assert sum(rep.missing_per_face.values()) == 5
    assert rep.samples == 3 * 4 - 5 and rep.glyphs_per_s > 0 and rep.seconds > 0
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))
    with GlyphFile(rep.path) as gf:
        assert gf.classes == classes
        assert gf.source_names == [f.id for f in faces]
        assert len(gf) == rep.samples and gf.image_size == 37
        attrs = gf.attrs
        assert attrs["alphabet"] == "mini" and attrs["render"]["size"] == 37
        assert [x["id"] for x in attrs["render"]["fonts"]] == gf.source_names
        counts = np.bincount(gf.labels, minlength=4).tolist()
        assert counts == [2, 3, 0, 2]
        imgs = gf.images()
    first = render_glyph(faces[0], "A")
    assert np.array_equal(imgs[0], first)


def test_parallel_render_equals_in_process(lib_faces, tmp_path: Path, monkeypatch,
                                           small_pool_threshold):
    import siam_workbench.data.render as render_mod

    pools: list[str] = []
    real = render_mod.mp.get_context
    monkeypatch.setattr(render_mod.mp, "get_context",
                        lambda method: pools.append(method) or real(method))
    faces = [f for f in lib_faces if f.family == "Test Bravo"]
    classes = MANY
    a = render_dataset(classes, faces, tmp_path / "a.h5", workers=1)
    assert pools == []
    b = render_dataset(classes, faces, tmp_path / "b.h5", workers=2)
    assert pools == ["spawn"]  # the worker pool really ran
    with GlyphFile(a.path) as fa, GlyphFile(b.path) as fb:
        assert np.array_equal(fa.labels, fb.labels)
        assert np.array_equal(fa.sources, fb.sources)
        assert np.array_equal(fa.images(), fb.images())
    assert a.missing_per_face == b.missing_per_face


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_leaves_no_file(lib_faces, tmp_path: Path, workers: int, small_pool_threshold):
    faces = [f for f in lib_faces if f.family in ("Test Charlie", "Test Delta")]
    classes = MANY
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 0:
            cancel.set()

    out = tmp_path / "x.h5"
    with pytest.raises(Cancelled):
        render_dataset(classes, faces, out, workers=workers, cancel=cancel, progress=progress)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary


def test_existing_output_kept_unless_force(lib_faces, tmp_path: Path):
    faces = lib_faces[:1]
    out = tmp_path / "o.h5"
    render_dataset(["A"], faces, out, workers=1)
    before = out.read_bytes()
    with pytest.raises(SiamError, match="already exists"):
        render_dataset(["B", "C"], faces, out, workers=1)
    assert out.read_bytes() == before
    render_dataset(["B", "C"], faces, out, workers=1, force=True)
    with GlyphFile(out) as gf:
        assert gf.classes == ["B", "C"]


def test_force_keeps_old_file_when_new_render_fails(lib_faces, tmp_path: Path):
    out = tmp_path / "o.h5"
    render_dataset(["A"], lib_faces[:1], out, workers=1)
    before = out.read_bytes()
    with pytest.raises(SiamError, match="none of"):
        render_dataset(["가"], lib_faces[:1], out, workers=1, force=True)
    assert out.read_bytes() == before


def test_bad_output_locations(lib_faces, tmp_path: Path):
    with pytest.raises(SiamError, match="does not exist"):
        render_dataset(["A"], lib_faces[:1], tmp_path / "nope" / "o.h5", workers=1)
    regular = tmp_path / "plain.txt"
    regular.write_text("x")
    with pytest.raises(SiamError, match="not a folder"):
        render_dataset(["A"], lib_faces[:1], regular / "o.h5", workers=1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_unwritable_folder_is_a_user_error_even_for_root(lib_faces):
    # chmod-based read-only folders do not stop root; /proc refuses new files for everyone.
    with pytest.raises(SiamError, match="/proc"):
        render_dataset(["A"], lib_faces[:1], Path("/proc/siam-test.h5"), workers=1)


def test_font_without_any_glyph_is_an_error(dejavu, tmp_path: Path):
    with pytest.raises(SiamError, match="none of the 1 font"):
        render_dataset(["가", "각"], [dejavu], tmp_path / "k.h5", workers=1)
    assert not (tmp_path / "k.h5").exists()


def test_bad_arguments(dejavu, tmp_path: Path):
    with pytest.raises(SiamError, match="variants"):
        render_dataset(["A"], [dejavu], tmp_path / "v.h5", variants=3)
    with pytest.raises(SiamError, match="bogus"):
        render_dataset(["A"], [dejavu], tmp_path / "v.h5", distort="bogus=1")
    with pytest.raises(SiamError, match="duplicates"):
        render_dataset(["A", "A"], [dejavu], tmp_path / "v.h5")
    with pytest.raises(SiamError, match="no font"):
        render_dataset(["A"], [], tmp_path / "v.h5")


def test_distorted_variants_are_seeded(dejavu, tmp_path: Path):
    kw = {"distort": "rotate=8,noise=0.05,blur=0.8", "variants": 3, "workers": 1}
    a = render_dataset(["A", "B"], [dejavu], tmp_path / "a.h5", seed=1, **kw)
    b = render_dataset(["A", "B"], [dejavu], tmp_path / "b.h5", seed=1, **kw)
    c = render_dataset(["A", "B"], [dejavu], tmp_path / "c.h5", seed=2, **kw)
    assert a.samples == 6
    with GlyphFile(a.path) as fa, GlyphFile(b.path) as fb, GlyphFile(c.path) as fc:
        ia, ib, ic = fa.images(), fb.images(), fc.images()
        assert fa.labels.tolist() == [0, 0, 0, 1, 1, 1]
        assert fa.attrs["render"]["distort"] and fa.attrs["render"]["variants"] == 3
    assert np.array_equal(ia, ib)
    assert not np.array_equal(ia, ic)
    assert not np.array_equal(ia[0], ia[1])  # variants differ from each other
    assert not np.array_equal(ia[0], render_glyph(dejavu, "A"))


# -- project splits -------------------------------------------------------------------------


def _project(root: Path, font_lib: Path, **data):
    from siam_workbench.project.config import Config
    from siam_workbench.project.project import create_project

    values = {"alphabet": "digits", "font_dirs": [str(font_lib)],
              "train_fonts": ["Test Alpha", "Test Bravo"], "val_fonts": ["Test Charlie"],
              "test_fonts": ["Test Delta"], "test_distort": "rotate=3,noise=0.02",
              "test_variants": 2, "image_size": 32, "margin": 1}
    values.update(data)
    return create_project(root, Config({"data": values}))


def test_render_splits_of_a_project(font_lib: Path, tmp_path: Path):
    project = _project(tmp_path / "p", font_lib)
    seen: list[tuple[int, int]] = []
    reports = render_splits(project, progress=lambda d, t: seen.append((d, t)), workers=1)
    assert set(reports) == {"train", "val", "test"}
    paths = project.dataset_paths()
    assert all(paths[r].exists() for r in paths)
    assert reports["train"].samples == 10 * 4 and reports["val"].samples == 10 * 2
    assert reports["test"].samples == 10 * 2 * 2  # two distorted variants each
    total = 10 * (4 + 2 + 2)
    assert seen[-1] == (total, total) and all(t == total for _, t in seen[1:])
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with GlyphFile(paths["test"]) as gf:
        assert gf.image_size == 32 and gf.attrs["render"]["variants"] == 2
        assert gf.classes == list("0123456789")
    with GlyphFile(paths["val"]) as gf:
        assert {s.split("-")[0] for s in gf.source_names} == {"Charlie"}
    # rendering again without force fails before touching anything
    before = paths["train"].read_bytes()
    paths["val"].unlink()
    with pytest.raises(SiamError, match="already exists"):
        render_splits(project, workers=1)
    assert paths["train"].read_bytes() == before and not paths["val"].exists()
    reports = render_splits(project, workers=1, force=True)
    assert paths["val"].exists()
    # missing_only (siam render / siam train): only the deleted split comes back
    before = {r: paths[r].stat().st_mtime_ns for r in ("train", "test")}
    paths["val"].unlink()
    reports = render_splits(project, workers=1, missing_only=True)
    assert set(reports) == {"val"} and paths["val"].exists()
    assert {r: paths[r].stat().st_mtime_ns for r in ("train", "test")} == before
    with pytest.raises(SiamError, match="every split is rendered"):
        render_splits(project, workers=1, missing_only=True)


def test_cancelled_splits_leave_every_old_file(font_lib: Path, tmp_path: Path):
    project = _project(tmp_path / "p", font_lib)
    render_splits(project, workers=1)
    paths = project.dataset_paths()
    before = {r: p.read_bytes() for r, p in paths.items()}
    cancel = threading.Event()
    grand = 10 * (4 + 2 + 2)

    def progress(done: int, total: int) -> None:
        if done > grand - 10:  # inside the test split: train and val are already done
            cancel.set()

    with pytest.raises(Cancelled):
        render_splits(project, workers=1, force=True, cancel=cancel, progress=progress)
    assert {r: p.read_bytes() for r, p in paths.items()} == before
    assert sorted(x.name for x in paths["train"].parent.iterdir()) == [
        "test.h5", "train.h5", "val.h5"]


def test_render_splits_reports_bad_roles(font_lib: Path, tmp_path: Path):
    project = _project(tmp_path / "p", font_lib, val_fonts=["Nothing Like This"])
    with pytest.raises(SiamError, match="val_fonts.*Nothing Like This"):
        render_splits(project, workers=1)
    assert not (tmp_path / "p" / "data" / "train.h5").exists()


@pytest.mark.korean
def test_korean_dataset(korean_faces, tmp_path: Path):
    from siam_workbench.data.alphabets import named_alphabet

    classes = named_alphabet("hangul-2350").classes[:40]
    rep = render_dataset(classes, korean_faces[:2], tmp_path / "k.h5", workers=1)
    assert rep.samples == 80 and not any(rep.missing_per_face.values())
    with GlyphFile(rep.path) as gf:
        imgs = gf.images()
    for img in imgs:
        top, left, bottom, right = ink_box(img, thr=8)
        assert abs(left - right) <= 1 and abs(top - bottom) <= 1


def test_core_data_modules_import_without_qt():
    code = ("import sys, siam_workbench.data.alphabets, siam_workbench.data.fonts, "
            "siam_workbench.data.render, "
            "siam_workbench.data.distort, "
            "siam_workbench.data.importers, siam_workbench.data.imaging, "
            "siam_workbench.cli.data_cmds; "
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "assert 'torch' not in sys.modules, 'render workers must not pay for torch'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

"""normalize_glyph and the folder / Omniglot / PHD08 importers."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.glyphs import GlyphFile
from siam_workbench.data.imaging import normalize_glyph
from siam_workbench.data.importers import (
    import_folder,
    import_omniglot,
    import_phd08,
    parse_phd08_file,
)


def ink_box(img: np.ndarray, thr: int = 8) -> tuple[int, int, int, int]:
    rows = np.flatnonzero((img > thr).any(axis=1))
    cols = np.flatnonzero((img > thr).any(axis=0))
    n = img.shape[0]
    return rows[0], cols[0], n - 1 - rows[-1], n - 1 - cols[-1]


def ell(h: int = 80, w: int = 60, dark_on_light: bool = True) -> np.ndarray:
    """An L-shaped stroke placed off-centre on a larger page."""
    ink = np.zeros((h, w), np.uint8)
    ink[10:50, 8:14] = 255
    ink[44:50, 8:38] = 255
    return 255 - ink if dark_on_light else ink


# -- normalize_glyph ------------------------------------------------------------------------


def test_polarity_is_detected_and_result_centred():
    a = normalize_glyph(ell(dark_on_light=True), 37)
    b = normalize_glyph(ell(dark_on_light=False), 37)
    assert a.dtype == np.uint8 and a.shape == (37, 37)
    assert np.array_equal(a, b)
    assert a[0, 0] == 0 and a.max() == 255  # background 0, ink 255
    top, left, bottom, right = ink_box(a)
    assert abs(top - bottom) <= 1 and abs(left - right) <= 1
    assert max(37 - top - bottom, 37 - left - right) >= 32


def test_aspect_is_kept_and_margin_respected():
    bar = np.zeros((50, 200), np.uint8)
    bar[20:30, 10:190] = 255  # 10 × 180: very wide
    out = normalize_glyph(bar, 37, margin=3)
    top, left, bottom, right = ink_box(out)
    assert min(left, right) >= 2 and 37 - left - right >= 30
    assert 37 - top - bottom <= 5


@pytest.mark.parametrize("convert", [
    lambda a: a > 127,
    lambda a: a.astype(np.uint16) * 257,
    lambda a: a.astype(np.float32) / 255,
    lambda a: a.astype(np.float64) * 4 - 2,  # arbitrary float range
    lambda a: np.dstack([a, a, a]),
    lambda a: np.dstack([a, a, a, np.full_like(a, 255)]),
])
def test_any_dtype(convert):
    ref = normalize_glyph(ell(dark_on_light=False), 37)
    out = normalize_glyph(convert(ell(dark_on_light=False)), 37)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 2


def test_small_drawing_is_enlarged():
    img = np.zeros((9, 9), np.uint8)
    img[2:7, 4] = 255
    out = normalize_glyph(img, 37)
    top, left, bottom, right = ink_box(out)
    assert 37 - top - bottom >= 32


@pytest.mark.parametrize("img", [np.zeros((20, 20), np.uint8),
                                 np.full((20, 20), 255, np.uint8),
                                 np.full((5, 5), 0.3, np.float32)])
def test_blank_image(img):
    with pytest.raises(SiamError, match="^image is blank$"):
        normalize_glyph(img, 37)


# -- folder -----------------------------------------------------------------------------------


def _save(path: Path, arr: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode or "L").save(path)


def test_import_folder(tmp_path: Path):
    root = tmp_path / "imgs"
    _save(root / "A" / "1.png", ell(dark_on_light=True))
    _save(root / "A" / "nested" / "2.jpg", ell(dark_on_light=False), "RGB")
    _save(root / "B" / "x.bmp", ell(dark_on_light=True)[::-1])
    _save(root / "B" / "blank.png", np.full((30, 30), 255, np.uint8))
    (root / "B" / "notes.txt").write_text("not an image")
    (root / "C").mkdir()  # no images: not a class
    rep = import_folder(root, tmp_path / "f.h5", size=32, workers=1)
    assert rep.samples == 3 and rep.classes == 2 and rep.sources == 1
    assert len(rep.skipped) == 1 and rep.skipped[0].endswith("blank.png")
    with GlyphFile(rep.path) as gf:
        assert gf.classes == ["A", "B"] and gf.labels.tolist() == [0, 0, 1]
        assert gf.source_names == ["imgs"] and gf.image_size == 32
        imgs = gf.images()
    assert all(im[0, 0] == 0 and im.max() == 255 for im in imgs)
    assert np.abs(imgs[0].astype(int) - imgs[1].astype(int)).mean() < 8  # polarity undone


def test_import_folder_with_alphabet_order(tmp_path: Path):
    root = tmp_path / "imgs"
    _save(root / "7" / "a.png", ell())
    _save(root / "2" / "a.png", ell())
    rep = import_folder(root, tmp_path / "f.h5", alphabet="digits", workers=1)
    with GlyphFile(rep.path) as gf:
        assert gf.classes == list("0123456789") and sorted(gf.labels.tolist()) == [2, 7]
    _save(root / "x" / "a.png", ell())
    with pytest.raises(SiamError, match="not in alphabet"):
        import_folder(root, tmp_path / "g.h5", alphabet="digits", workers=1)


def test_folder_without_images(tmp_path: Path):
    root = tmp_path / "empty"
    (root / "A").mkdir(parents=True)
    (root / "A" / "readme.txt").write_text("hi")
    with pytest.raises(SiamError, match="empty.*no images"):
        import_folder(root, tmp_path / "o.h5")
    with pytest.raises(SiamError, match="not found"):
        import_folder(tmp_path / "missing", tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


def test_corrupt_image_is_named(tmp_path: Path):
    root = tmp_path / "imgs"
    _save(root / "A" / "ok.png", ell())
    (root / "A" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(SiamError, match="broken.png.*cannot read image"):
        import_folder(root, tmp_path / "o.h5", workers=1)
    assert list(tmp_path.glob("*.h5")) == [] and list(tmp_path.glob(".*tmp")) == []


def test_existing_output_kept_unless_force(tmp_path: Path):
    root = tmp_path / "imgs"
    _save(root / "A" / "ok.png", ell())
    out = tmp_path / "o.h5"
    out.write_bytes(b"precious")
    with pytest.raises(SiamError, match="already exists"):
        import_folder(root, out, workers=1)
    assert out.read_bytes() == b"precious"
    import_folder(root, out, force=True, workers=1)
    with GlyphFile(out) as gf:
        assert len(gf) == 1


def test_import_cancel_leaves_no_file(tmp_path: Path):
    root = tmp_path / "imgs"
    for c in "AB":
        _save(root / c / "ok.png", ell())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        import_folder(root, tmp_path / "o.h5", workers=1, cancel=cancel)
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob(".o.h5*"))


# -- Omniglot -------------------------------------------------------------------------------


def _omniglot(root: Path) -> None:
    for alpha, chars in (("Latin", 2), ("Greek", 1)):
        for k in range(1, chars + 1):
            for drawer in (1, 2):
                img = Image.fromarray(ell(105, 105, dark_on_light=True)).convert("1")
                p = root / alpha / f"character{k:02d}" / f"{k:02d}{drawer:02d}_{drawer:02d}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                img.save(p)


def test_import_omniglot(tmp_path: Path):
    _omniglot(tmp_path / "images_background")
    rep = import_omniglot(tmp_path / "images_background", tmp_path / "o.h5", workers=1)
    assert rep.samples == 6 and rep.classes == 3 and rep.sources == 2
    with GlyphFile(rep.path) as gf:
        assert gf.classes == ["Greek/character01", "Latin/character01", "Latin/character02"]
        assert gf.source_names == ["drawer01", "drawer02"]
        assert gf.sources.tolist() == [0, 1, 0, 1, 0, 1]
        img = gf.images()[0]
    assert img[0, 0] == 0 and img.max() == 255  # dark ink inverted to 255 on 0
    top, left, bottom, right = ink_box(img)
    assert abs(left - right) <= 1  # centred on the ink


def test_import_omniglot_parent_folder_and_keep_frame(tmp_path: Path):
    _omniglot(tmp_path / "omni" / "images_background")
    rep = import_omniglot(tmp_path / "omni", tmp_path / "o.h5", size=105, crop=False, workers=1)
    with GlyphFile(rep.path) as gf:
        img = gf.images()[0]
    assert np.array_equal(img > 127, ell(105, 105, dark_on_light=False) > 127)  # frame kept


def test_omniglot_without_images(tmp_path: Path):
    (tmp_path / "alpha" / "character01").mkdir(parents=True)
    with pytest.raises(SiamError, match="no Omniglot images"):
        import_omniglot(tmp_path, tmp_path / "o.h5")


# -- PHD08 ----------------------------------------------------------------------------------


def _sample(name: str, bits: np.ndarray) -> str:
    h, w = bits.shape
    rows = ["".join("1" if b else "0" for b in row) for row in bits]
    return f"{name}\n{h} {w}\n" + "\n".join(rows) + "\n"


def _bits(seed: int, h: int = 12, w: int = 10) -> np.ndarray:
    b = np.zeros((h, w), bool)
    b[2:10, 2 + seed % 3] = True
    b[6, 2:9] = True
    return b


def _phd08(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "각.txt").write_text(_sample("각_1", _bits(0)) + "\n" + _sample("각_2", _bits(1)),
                                  encoding="utf-8")  # last sample without a trailing blank
    (folder / "가.txt").write_text(
        _sample("가_1", _bits(2)) + "\n" + _sample("가_2", _bits(0)) + "\n"
        + _sample("가_3", _bits(1, 15, 8)) + "\n\n", encoding="utf-8")


def test_import_phd08_folder(tmp_path: Path):
    _phd08(tmp_path / "phd")
    rep = import_phd08(tmp_path / "phd", tmp_path / "p.h5", workers=1)
    assert rep.samples == 5 and rep.classes == 2
    with GlyphFile(rep.path) as gf:
        assert gf.classes == ["가", "각"]  # code-point order = KS X 1001 order
        assert gf.labels.tolist() == [0, 0, 0, 1, 1] and gf.source_names == ["phd08"]
        imgs = gf.images()
    assert all(im[0, 0] == 0 and im.max() == 255 for im in imgs)
    assert np.array_equal(imgs[1], normalize_glyph(_bits(0).astype(np.uint8) * 255, 37))


def test_import_phd08_single_file_with_alphabet(tmp_path: Path):
    _phd08(tmp_path / "phd")
    rep = import_phd08(tmp_path / "phd" / "각.txt", tmp_path / "p.h5", alphabet="hangul-2350",
                       workers=1)
    with GlyphFile(rep.path) as gf:
        assert len(gf.classes) == 2350 and gf.labels.tolist() == [1, 1]


@pytest.mark.parametrize("text, fragment", [
    ("가_1\n3 x\n000\n", "line 2: sample 1 \\('가_1'\\): expected 'H W'"),
    ("가_1\n2 3\n010\n01\n", "line 4: sample 1 \\('가_1'\\): row 2 has 2 characters, expected 3"),
    ("가_1\n2 3\n010\n012\n", "line 4: .*row 2 has characters other than 0 and 1"),
    ("가_1\n2 3\n010\n", "line 3: sample 1 \\('가_1'\\): file ends after 1 of 2 rows"),
    ("가_1\n1 3\n010\n\n가_2\n2 3\n111\n111\n111\n", "line 9: sample 2 \\('가_2'\\): more than"),
    ("가_1\n1 3\n010\n\n가_2\n", "line 5: sample 2 \\('가_2'\\) ends after its name line"),
    ("가_1\n0 3\n\n", "line 2: .*bad size"),
    ("\n\n", "no PHD08 samples"),
])
def test_corrupt_phd08_names_file_line_and_sample(tmp_path: Path, text: str, fragment: str):
    f = tmp_path / "가.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(SiamError, match=f"가.txt: {fragment}"):
        parse_phd08_file(f)
    with pytest.raises(SiamError, match="가.txt"):
        import_phd08(tmp_path, tmp_path / "p.h5", workers=1)
    assert not (tmp_path / "p.h5").exists()


def test_phd08_blank_sample_is_skipped_and_crlf_is_fine(tmp_path: Path):
    text = _sample("a", np.zeros((4, 4), bool)) + "\n" + _sample("b", _bits(0))
    (tmp_path / "가.txt").write_bytes(text.replace("\n", "\r\n").encode())
    rep = import_phd08(tmp_path, tmp_path / "p.h5", workers=1)
    assert rep.samples == 1 and len(rep.skipped) == 1 and "a" in rep.skipped[0]


def test_phd08_missing_or_empty_source(tmp_path: Path):
    with pytest.raises(SiamError, match="not found"):
        import_phd08(tmp_path / "nope", tmp_path / "p.h5")
    with pytest.raises(SiamError, match="no PHD08 .txt files"):
        import_phd08(tmp_path, tmp_path / "p.h5")


def test_parallel_import_matches_in_process(tmp_path: Path):
    _phd08(tmp_path / "phd")
    big = "".join(_sample(f"s{i}", _bits(i)) + "\n" for i in range(400))
    for name in ("갇", "갈", "감", "갑"):
        (tmp_path / "phd" / f"{name}.txt").write_text(big, encoding="utf-8")
    a = import_phd08(tmp_path / "phd", tmp_path / "a.h5", workers=1)
    b = import_phd08(tmp_path / "phd", tmp_path / "b.h5", workers=2)
    with GlyphFile(a.path) as fa, GlyphFile(b.path) as fb:
        assert np.array_equal(fa.images(), fb.images())
        assert np.array_equal(fa.labels, fb.labels)

"""Framing recorded by every writer and checked by every reader (siam_workbench.data.framing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.data.drawn import conform_drawn
from siam_workbench.data.framing import (
    Framing,
    FramingMismatch,
    check_framing,
    recorded_framing,
    remake_command,
)
from siam_workbench.data.glyphs import GlyphFile, load_glyphs
from siam_workbench.data.imaging import normalize_glyph


def _canvas(box: tuple[int, int, int, int], side: int = 120) -> np.ndarray:
    """Dark ink (a filled box) on white paper, like a scan cell or a drawing canvas."""
    img = np.full((side, side), 255, np.uint8)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = 0
    return img


def _folder(root: Path) -> Path:
    """Two classes of 'drawings': a small low box and a tall box, two images each."""
    for cls, box in (("o", (45, 70, 75, 100)), ("l", (50, 10, 70, 100))):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(_canvas(box)).save(root / cls / f"{i}.png")
    return root


def test_em_import_frames_the_whole_image_like_a_drawing(tmp_path: Path):
    from siam_workbench.data.importers import import_folder

    src = _folder(tmp_path / "src")
    import_folder(src, tmp_path / "em.h5", mode="em", workers=1)
    import_folder(src, tmp_path / "fit.h5", workers=1)
    em, fit = load_glyphs(tmp_path / "em.h5"), load_glyphs(tmp_path / "fit.h5")
    assert recorded_framing(em.attrs) == Framing("em", 2, 37)
    assert recorded_framing(fit.attrs) == Framing("fit", 2, 37)
    small = em.classes.index("o")
    # em: the image is the em box, exactly as the Draw tab frames a drawing of that canvas
    want = normalize_glyph(_canvas((45, 70, 75, 100)), 37, 2, mode="em")
    got = em.images[em.labels == small][0].numpy()
    assert np.array_equal(got, want)
    rows = np.flatnonzero(got.max(axis=1) > 127)
    assert rows[0] > 15  # the small box stays small and low
    # fit: the ink box fills the image, size and position are gone
    fit_img = fit.images[fit.labels == fit.classes.index("o")][0].numpy()
    assert np.flatnonzero(fit_img.max(axis=1) > 127)[0] <= 3


def test_old_imports_and_keep_frame_have_a_framing(tmp_path: Path):
    assert recorded_framing({"render": {"importer": "folder", "size": 37, "margin": 2}}) == \
        Framing("fit", 2, 37)
    assert recorded_framing({"render": {"importer": "omniglot", "size": 105, "crop": False}}) \
        == Framing("frame", 0, 105)
    assert recorded_framing({"render": {}}) is None
    assert recorded_framing({}) is None


def test_a_mismatch_is_refused_with_the_command_that_remakes_the_file(tmp_path: Path):
    attrs = {"render": {"importer": "phd08", "source": "/data/phd08", "size": 37,
                        "margin": 2, "size_mode": "fit", "alphabet_arg": "hangul-2350"}}
    with pytest.raises(FramingMismatch) as info:
        check_framing(tmp_path / "x.h5", attrs, Framing("em", 2, 37))
    msg = str(info.value)
    assert "\n" not in msg and "x.h5" in msg and "'fit'" in msg and "'em'" in msg
    assert info.value.fix == (f"siam import phd08 /data/phd08 --alphabet hangul-2350 "
                              f"--size-mode em --margin 2 --out {tmp_path / 'x.h5'} --force")
    assert info.value.fix in msg
    # margins count too; a matching file passes and returns its framing
    with pytest.raises(FramingMismatch, match="margin 2"):
        check_framing("x.h5", attrs, Framing("fit", 4, 37))
    assert check_framing("x.h5", attrs, Framing("fit", 2, 37)) == Framing("fit", 2, 37)
    assert check_framing("x.h5", {}, Framing("em", 2, 37)) is None  # nothing recorded


def test_remake_commands_follow_what_the_renderer_recorded():
    want = Framing("em", 3, 37)
    split = {"render": {"renderer": "freetype-outline", "project": "/p", "split": "test",
                        "distort": "rotate=3", "variants": 2, "seed": 0}}
    assert remake_command("/p/data/test.h5", split, want, project_reader=True) == \
        "siam render --project /p --force"
    # a run reads it (its framing may not be the project's now): that one file, exactly
    assert remake_command("/p/data/test.h5", split, want) == (
        "siam render --project /p --font-role test --distort rotate=3 --variants 2 --seed 0 "
        "--size-mode em --margin 3 --out /p/data/test.h5 --force")
    role = {"render": {"renderer": "freetype-outline", "project": "/p", "font_role": "test"}}
    assert remake_command("t.h5", role, want) == (
        "siam render --project /p --font-role test --size-mode em --margin 3 --out t.h5 --force")
    fonts = {"render": {"renderer": "freetype-outline", "alphabet_arg": "digits",
                        "fonts": [{"path": "/f/A.ttf"}, {"path": "/f/B.otf"}],
                        "distort": "rotate=3", "variants": 2, "seed": 5}}
    assert remake_command("d.h5", fonts, want) == (
        "siam render --alphabet digits --fonts /f/A.ttf /f/B.otf --distort rotate=3 "
        "--variants 2 --seed 5 --size-mode em --margin 3 --out d.h5 --force")


def test_render_records_the_framing_and_its_origin(dejavu, tmp_path: Path):
    from siam_workbench.data.render import render_dataset

    out = tmp_path / "r.h5"
    render_dataset(list("ab"), [dejavu], out, mode="em", margin=3, workers=1,
                   origin={"project": "/p", "font_role": "val"})
    with GlyphFile(out) as gf:
        attrs = gf.attrs
    assert recorded_framing(attrs) == Framing("em", 3, 37)
    assert attrs["render"]["font_role"] == "val"


def test_drawings_are_reframed_from_their_originals(tmp_path: Path):
    from siam_workbench.data.drawn import DrawnStore

    path = tmp_path / "drawn.h5"
    small = _canvas((45, 70, 75, 100), side=200)
    fit_store = DrawnStore(path, 37, 2, "fit")
    fit_store.add(small, "o")
    fit_store.add(_canvas((50, 10, 70, 100), side=200), "l")
    data = load_glyphs(path)
    assert recorded_framing(data.attrs) == Framing("fit", 2, 37)
    em = Framing("em", 2, 37)
    framed = conform_drawn(data, em)
    assert framed is not data and recorded_framing(framed.attrs) == em
    assert np.array_equal(framed.images[0].numpy(), normalize_glyph(small, 37, 2, mode="em"))
    assert conform_drawn(framed, em) is framed  # already framed so: unchanged
    # a store with the other framing reads them re-framed and writes them so
    em_store = DrawnStore(path, 37, 2, "em")
    assert np.array_equal(em_store.drawings[0].image, framed.images[0].numpy())
    em_store.relabel(1, "I")
    assert recorded_framing(load_glyphs(path).attrs) == em
    assert np.array_equal(load_glyphs(path).images[0].numpy(), framed.images[0].numpy())

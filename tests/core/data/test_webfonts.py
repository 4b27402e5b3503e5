"""Web fonts (.woff / .woff2) are found, named and rendered like the TrueType they came from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.data.fonts import discover_fonts
from siam_workbench.data.render import FaceRenderer, render_dataset


@pytest.fixture(scope="module")
def web_fonts(tmp_path_factory, dejavu_path: Path) -> Path:
    pytest.importorskip("brotli")  # a declared dependency (pyproject); woff2 needs it
    from fontTools.ttLib import TTFont

    root = tmp_path_factory.mktemp("web")
    for flavor in ("woff", "woff2"):
        font = TTFont(str(dejavu_path))
        font.flavor = flavor
        font.save(str(root / f"DejaVuWeb.{flavor}"))
    return root


def test_woff_and_woff2_render_like_their_ttf(web_fonts: Path, dejavu, tmp_path: Path,
                                             monkeypatch):
    monkeypatch.setenv("SIAM_CACHE_DIR", str(tmp_path / "cache"))
    # one face in two formats is one face: the folder lists it once, the files each
    (listed,) = discover_fonts(extra=[web_fonts], system=False)
    assert len(listed.duplicates) == 1
    faces = [f for name in ("DejaVuWeb.woff", "DejaVuWeb.woff2")
             for f in discover_fonts(extra=[web_fonts / name], system=False)]
    assert [f.path.suffix for f in faces] == [".woff", ".woff2"]
    assert {f.family for f in faces} == {dejavu.family}
    want = [FaceRenderer(dejavu).render(ch, 37) for ch in "aQ7"]
    for face in faces:
        assert face.id.startswith("DejaVuWeb.woff")  # the user's file names the source
        got = [FaceRenderer(face).render(ch, 37) for ch in "aQ7"]
        for a, b in zip(want, got, strict=True):
            assert np.array_equal(a, b), face.id
    # the decompressed woff2 is cached once, as a plain sfnt, with no temporary left over
    cached = list((tmp_path / "cache" / "webfonts").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".ttf"
    rep = render_dataset(list("ab"), faces, tmp_path / "w.h5", workers=1)
    assert rep.samples == 4 and rep.faces == 2


def test_a_corrupt_web_font_is_one_line(tmp_path: Path, capsys, monkeypatch):
    from siam_workbench.cli import main

    monkeypatch.setenv("SIAM_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("bad.woff", "bad.woff2"):
        bad = tmp_path / name
        bad.write_bytes(b"wOF2" + b"\x00garbage" * 20 if name.endswith("2") else
                        b"wOFF" + b"\x01junk" * 20)
        with pytest.raises(SiamError) as info:
            discover_fonts(extra=[bad], system=False)
        assert name in str(info.value.path) and "\n" not in str(info.value)
        code = main(["render", "--alphabet", "digits", "--fonts", str(bad), "--out",
                     str(tmp_path / "o.h5")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and name in err, err
        assert "Traceback" not in err and not (tmp_path / "o.h5").exists()

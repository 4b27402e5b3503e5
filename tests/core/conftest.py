"""Fixtures for the glyph-data tests: DejaVu (always installed) and fonts derived from it.

Role splitting needs several font *families*; rather than depend on what a machine happens to
have, :func:`make_font` rewrites DejaVu's name table (and optionally its cmap) into synthetic
families. Korean cases use the installed Korean fonts and skip, marked ``korean``, without them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

_DEJAVU_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/local/share/fonts",
)


def _find_dejavu(name: str) -> Path | None:
    for d in _DEJAVU_CANDIDATES:
        p = Path(d) / name
        if p.is_file():
            return p
    exe = shutil.which("fc-match")
    if exe:
        family = "DejaVu Sans:bold" if "Bold" in name else "DejaVu Sans"
        out = subprocess.run([exe, "-f", "%{file}", family], capture_output=True, text=True,
                             check=False).stdout.strip()
        if out.endswith(name) and Path(out).is_file():
            return Path(out)
    return None


@pytest.fixture(scope="session")
def dejavu_path() -> Path:
    p = _find_dejavu("DejaVuSans.ttf")
    if p is None:
        pytest.skip("DejaVu Sans is not installed")
    return p


@pytest.fixture(scope="session")
def dejavu_bold_path(dejavu_path: Path) -> Path:
    return _find_dejavu("DejaVuSans-Bold.ttf") or dejavu_path


@pytest.fixture(scope="session")
def dejavu(dejavu_path: Path):
    from siam_workbench.data.fonts import discover_fonts

    (face,) = discover_fonts(extra=[dejavu_path], system=False)
    return face


def make_font(dst: Path, family: str, style: str = "Regular", *, src: Path,
              keep: str | None = None, blank: str = "") -> Path:
    """A copy of ``src`` renamed to ``family``/``style``; ``keep`` limits the cmap to those
    characters, ``blank`` maps those characters to the empty ``space`` glyph."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(src))
    name = font["name"]
    for nid in (1, 2, 4, 6, 16, 17):
        name.removeNames(nameID=nid)
    name.setName(family, 1, 3, 1, 0x409)
    name.setName(style, 2, 3, 1, 0x409)
    name.setName(f"{family} {style}", 4, 3, 1, 0x409)
    name.setName(f"{family.replace(' ', '')}-{style.replace(' ', '')}", 6, 3, 1, 0x409)
    if keep is not None or blank:
        for table in font["cmap"].tables:
            cmap = table.cmap
            if keep is not None:
                for code in [c for c in cmap if chr(c) not in keep]:
                    del cmap[code]
            for ch in blank:
                cmap[ord(ch)] = "space"
    dst.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(dst))
    return dst


@pytest.fixture(scope="session")
def font_lib(tmp_path_factory, dejavu_path: Path, dejavu_bold_path: Path) -> Path:
    """A folder of synthetic faces: five families × Regular/Bold, a digits-only family
    (``Sparse``) and one whose ``A`` is mapped to a blank glyph (``Hollow``)."""
    root = tmp_path_factory.mktemp("fontlib")
    for fam in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        make_font(root / f"{fam}-Regular.ttf", f"Test {fam}", "Regular", src=dejavu_path)
        make_font(root / f"{fam}-Bold.ttf", f"Test {fam}", "Bold", src=dejavu_bold_path)
    make_font(root / "Sparse.ttf", "Test Sparse", src=dejavu_path, keep="0123456789")
    make_font(root / "Hollow.ttf", "Test Hollow", src=dejavu_path, blank="A")
    return root


@pytest.fixture(scope="session")
def lib_faces(font_lib: Path):
    from siam_workbench.data.fonts import discover_fonts

    return discover_fonts(extra=[font_lib], system=False)


@pytest.fixture(scope="session")
def korean_faces():
    """Installed faces covering all of hangul-2350 (skips when none: the ``korean`` cases)."""
    from siam_workbench.data.alphabets import named_alphabet
    from siam_workbench.data.fonts import coverage, discover_fonts

    classes = named_alphabet("hangul-2350").classes
    faces = [f for f in discover_fonts() if coverage(f, classes).all()]
    if not faces:
        pytest.skip("no Korean fonts installed")
    return faces

"""Synthetic fonts for the split-honesty tests, made from DejaVu on any machine.

:func:`tests.core.conftest.make_font` renames a DejaVu copy: every such family draws DejaVu's
glyphs, which the clone search (rightly) calls one design. Here a family can also get its own
*ink* — its letters sheared or rotated — so several synthetic designs exist; and fonts can be
made that lie about their characters (dingbats under letter codes, a symbol cmap, an OS/2 table
that declares symbols).
"""

from __future__ import annotations

import math
import string
from pathlib import Path

from tests.core.conftest import make_font

ALNUM = string.ascii_letters + string.digits

#: Six outline transforms, far enough apart that no two count as one design (similarity of
#: their sample glyphs < the clone threshold), close enough that each still reads as letters.
DESIGNS = {
    "plain": (1.0, 0.0, 0.0, 1.0),
    "right": (1.0, 0.0, 0.45, 1.0),  # slanted right
    "left": (1.0, 0.0, -0.45, 1.0),
    "cw": (math.cos(0.3), -math.sin(0.3), math.sin(0.3), math.cos(0.3)),  # rotated
    "ccw": (math.cos(-0.3), -math.sin(-0.3), math.sin(-0.3), math.cos(-0.3)),
    "tall": (1.0, 0.25, 0.0, 1.0),  # vertical shear
}


def make_design_font(dst: Path, family: str, style: str = "Regular", *, src: Path,
                     design: str = "plain", chars: str = ALNUM) -> Path:
    """A renamed DejaVu copy whose ``chars`` are drawn through one of :data:`DESIGNS`."""
    from fontTools.pens.transformPen import TransformPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont

    make_font(dst, family, style, src=src)
    if design == "plain":
        return dst
    a, b, c, d = DESIGNS[design]
    font = TTFont(str(dst))
    cmap = font.getBestCmap()
    glyf = font["glyf"]
    gs = font.getGlyphSet()
    for name in sorted({cmap[ord(ch)] for ch in chars if ord(ch) in cmap}):
        pen = TTGlyphPen(gs)
        gs[name].draw(TransformPen(pen, (a, b, c, d, 0, 0)))
        glyf[name] = pen.glyph()
    font.save(str(dst))
    return dst


def make_pictos_font(dst: Path, family: str, *, src: Path, chars: str = ALNUM) -> Path:
    """A DejaVu copy whose ``chars`` map to arrows, stars and check marks (a dingbat font that
    claims letters and digits, like URW Dingbats' ``0``–``9``)."""
    from fontTools.ttLib import TTFont

    make_font(dst, family, "Regular", src=src)
    font = TTFont(str(dst))
    best = font.getBestCmap()
    pics = [best[c] for c in (*range(0x2700, 0x27C0), *range(0x2190, 0x2200),
                              *range(0x2600, 0x2700)) if c in best]
    for table in font["cmap"].tables:
        for i, ch in enumerate(chars):
            if ord(ch) in table.cmap:
                table.cmap[ord(ch)] = pics[(7 * i) % len(pics)]
    font.save(str(dst))
    return dst


def make_symbol_cmap_font(dst: Path, family: str, *, src: Path, chars: str = ALNUM) -> Path:
    """A DejaVu copy whose only cmap is a Microsoft *symbol* one (platform 3, encoding 0), with
    ``chars`` at both their ASCII codes and the U+F0xx codes such fonts use."""
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.tables._c_m_a_p import cmap_format_4

    make_font(dst, family, "Regular", src=src)
    font = TTFont(str(dst))
    best = font.getBestCmap()
    sub = cmap_format_4(4)
    sub.platformID, sub.platEncID, sub.language = 3, 0, 0
    sub.cmap = {}
    for ch in chars:
        if ord(ch) in best:
            sub.cmap[ord(ch)] = best[ord(ch)]
            sub.cmap[0xF000 + ord(ch)] = best[ord(ch)]
    font["cmap"].tables = [sub]
    font.save(str(dst))
    return dst


def make_os2_symbol_font(dst: Path, family: str, *, src: Path, pictorial: bool = False
                         ) -> Path:
    """A DejaVu copy whose OS/2 table declares the symbol code page (or, with ``pictorial``,
    a PANOSE pictorial family)."""
    from fontTools.ttLib import TTFont

    make_font(dst, family, "Regular", src=src)
    font = TTFont(str(dst))
    os2 = font["OS/2"]
    if pictorial:
        os2.panose.bFamilyType = 5
    else:
        os2.ulCodePageRange1 |= 1 << 31
    font.save(str(dst))
    return dst


def build_design_lib(root: Path, regular: Path, bold: Path) -> Path:
    """Like the ``font_lib`` fixture — five families × Regular / Bold, the digits-only
    ``Sparse`` and ``Hollow`` (its ``A`` blank) — but each family drawn in its own design, so
    the automatic split finds seven design groups instead of one DejaVu."""
    root.mkdir(parents=True, exist_ok=True)
    for fam, design in (("Alpha", "plain"), ("Bravo", "right"), ("Charlie", "left"),
                        ("Delta", "cw"), ("Echo", "ccw")):
        make_design_font(root / f"{fam}-Regular.ttf", f"Test {fam}", "Regular", src=regular,
                         design=design)
        make_design_font(root / f"{fam}-Bold.ttf", f"Test {fam}", "Bold", src=bold,
                         design=design)
    make_font(root / "Sparse.ttf", "Test Sparse", src=regular, keep="0123456789")
    hollow = make_design_font(root / "Hollow.ttf", "Test Hollow", src=regular, design="tall")
    make_font(hollow, "Test Hollow", src=hollow, blank="A")
    return root

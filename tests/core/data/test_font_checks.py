"""Faces whose glyphs are not the characters: symbol tables and names, odd ink, clones.

Synthetic fonts from DejaVu (:mod:`tests.core.data.font_synth`) run everywhere; the installed
URW Dingbats and Korean fonts are checked where present (skipped cleanly otherwise).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.data import font_checks
from siam_workbench.data.alphabets import named_alphabet
from siam_workbench.data.font_checks import symbol_reason
from siam_workbench.data.font_roles import (
    design_groups,
    face_checks,
    font_analysis,
    resolve_font_roles,
)
from siam_workbench.data.fonts import discover_fonts
from tests.core.conftest import make_font
from tests.core.data.font_synth import (
    build_design_lib,
    make_os2_symbol_font,
    make_pictos_font,
    make_symbol_cmap_font,
)

DIGITS = named_alphabet("digits").classes
LATIN_DIGITS = named_alphabet("latin-digits").classes


def cfg(train=(), val=(), test=(), min_coverage=0.95):
    return SimpleNamespace(train_fonts=list(train), val_fonts=list(val), test_fonts=list(test),
                           min_coverage=min_coverage)


@pytest.fixture(scope="module")
def odd_lib(tmp_path_factory, dejavu_path: Path, dejavu_bold_path: Path) -> Path:
    """Seven synthetic designs plus fonts that lie about their characters."""
    root = build_design_lib(tmp_path_factory.mktemp("odd"), dejavu_path, dejavu_bold_path)
    make_pictos_font(root / "Pictos.ttf", "Test Pictos", src=dejavu_path)
    make_symbol_cmap_font(root / "SymbolCmap.ttf", "Test Cmap", src=dejavu_path)
    make_os2_symbol_font(root / "CodePage.ttf", "Test Codepage", src=dejavu_path)
    make_os2_symbol_font(root / "Panose.ttf", "Test Panose", src=dejavu_path, pictorial=True)
    make_font(root / "Dings.ttf", "Test Dingbats", src=dejavu_path)
    return root


@pytest.fixture(scope="module")
def odd_faces(odd_lib: Path):
    return discover_fonts(extra=[odd_lib], system=False)


def by_file(faces, name: str):
    (face,) = [f for f in faces if f.path.name == name]
    return face


# -- tables and names ---------------------------------------------------------------------------


def test_symbol_tables_and_names_are_recognised(odd_faces, dejavu):
    assert symbol_reason(dejavu) == ""
    assert "platform 3, encoding 0" in symbol_reason(by_file(odd_faces, "SymbolCmap.ttf"))
    assert "symbol code page" in symbol_reason(by_file(odd_faces, "CodePage.ttf"))
    assert "PANOSE" in symbol_reason(by_file(odd_faces, "Panose.ttf"))
    assert "dingbats" in symbol_reason(by_file(odd_faces, "Dings.ttf"))
    # a plain synthetic design is not a symbol font, whatever its slant
    assert symbol_reason(by_file(odd_faces, "Bravo-Regular.ttf")) == ""


def test_checks_flag_symbol_fonts_and_odd_ink(odd_faces):
    checks = face_checks(odd_faces, LATIN_DIGITS)
    for name in ("SymbolCmap.ttf", "CodePage.ttf", "Panose.ttf", "Dings.ttf"):
        assert checks[by_file(odd_faces, name)].kind == "symbol", name
    pictos = checks[by_file(odd_faces, "Pictos.ttf")]
    assert pictos.kind == "ink" and not pictos.ok
    assert pictos.score is not None and pictos.score < font_checks.MIN_INK_SCORE
    assert "ink unlike the other faces'" in pictos.reason
    designs = [f"{fam}-{style}.ttf" for fam in ("Alpha", "Bravo", "Charlie", "Delta", "Echo")
               for style in ("Regular", "Bold")] + ["Hollow.ttf"]
    letters = [checks[by_file(odd_faces, n)] for n in designs]
    assert all(c.ok and c.score >= 0.8 for c in letters), letters


def test_ink_check_on_digits_and_with_too_few_faces(odd_faces):
    checks = face_checks(odd_faces, DIGITS)
    assert checks[by_file(odd_faces, "Pictos.ttf")].kind == "ink"
    few = [by_file(odd_faces, n) for n in ("Alpha-Regular.ttf", "Pictos.ttf")]
    assert all(c.score is None and c.ok for c in face_checks(few, DIGITS).values())


def test_odd_faces_stay_out_of_automatic_roles(odd_faces):
    roles = resolve_font_roles(cfg(), odd_faces, LATIN_DIGITS)
    used = {f.path.name for fs in roles.values() for f in fs}
    assert not used & {"Pictos.ttf", "CodePage.ttf", "Panose.ttf", "Dings.ttf",
                       "SymbolCmap.ttf"}
    assert {"Alpha-Regular.ttf", "Hollow.ttf"} <= used


def test_a_named_odd_face_keeps_its_role_with_a_warning(odd_faces):
    said: list[str] = []
    roles = resolve_font_roles(cfg(train=["Test Alpha", "Pictos.ttf"], val=["Test Bravo"],
                                   test=["Test Charlie"]), odd_faces, DIGITS, warn=said.append)
    assert "Pictos.ttf#0" in {f.id for f in roles["train"]}
    (line,) = said
    assert "data.train_fonts" in line and "Pictos.ttf#0" in line and "ink unlike" in line
    # a glob leaves it out, and says so
    said.clear()
    roles = resolve_font_roles(cfg(train=["test [ap]*"], val=["Test Bravo"],
                                   test=["Test Charlie"]), odd_faces, DIGITS, warn=said.append)
    assert {f.path.name for f in roles["train"]} == {"Alpha-Regular.ttf", "Alpha-Bold.ttf"}
    assert any("leaves out Pictos.ttf#0" in m for m in said)
    assert any("leaves out Panose.ttf#0" in m for m in said)
    with pytest.raises(SiamError, match="only faces whose glyphs are not the characters"):
        resolve_font_roles(cfg(train=["test pi*"], val=["Test Bravo"], test=["Test Charlie"]),
                           odd_faces, DIGITS, warn=lambda m: None)


def test_the_warning_reaches_the_log_by_default(odd_faces, caplog):
    with caplog.at_level("WARNING", logger="siam_workbench.data.fonts"):
        resolve_font_roles(cfg(train=["Test Alpha", "Dings.ttf"], val=["Test Bravo"],
                               test=["Test Charlie"]), odd_faces, DIGITS)
    assert any("Dings.ttf#0" in r.getMessage() and "symbol font" in r.getMessage()
               for r in caplog.records)


# -- clones -------------------------------------------------------------------------------------


def test_renamed_copies_are_one_design(lib_faces):
    groups = design_groups(lib_faces, LATIN_DIGITS)
    full = [f for f in lib_faces if f.family != "Test Sparse"]
    assert len({groups[f] for f in full}) == 1
    pairs = font_analysis(lib_faces, LATIN_DIGITS).clones
    assert pairs and all(s >= font_checks.CLONE_SIMILARITY for _, _, s in pairs)


def test_named_clones_in_two_roles_get_a_warning(lib_faces):
    said: list[str] = []
    resolve_font_roles(cfg(train=["Test Alpha"], val=["Test Bravo"], test=["Test Charlie"]),
                       lib_faces, LATIN_DIGITS, warn=said.append)
    assert any("draw the same glyphs" in m and "data.train_fonts" in m and "data.val_fonts" in m
               for m in said)


def test_distinct_designs_are_not_clones(odd_faces):
    pairs = font_analysis(odd_faces, LATIN_DIGITS).clones
    fams = {frozenset((a.family, b.family)) for a, b, _ in pairs}
    assert all(len(p) == 1 for p in fams), fams  # only Regular / Bold of one family


def test_sample_renders_are_cached(odd_faces, monkeypatch):
    face = by_file(odd_faces, "Bravo-Regular.ttf")
    first = font_checks.face_samples(face, list("ABC"))
    import siam_workbench.data.render as render

    monkeypatch.setattr(render, "render_glyph", lambda *a, **k: pytest.fail("re-rendered"))
    assert np.array_equal(font_checks.face_samples(face, list("ABC")), first)


# -- the command line ---------------------------------------------------------------------------


def test_siam_fonts_says_what_it_dropped_and_why(capsys, odd_lib: Path, tmp_path: Path):
    from siam_workbench.cli import main

    lib = tmp_path / "lib"
    shutil.copytree(odd_lib, lib)
    (lib / "z").mkdir()
    shutil.copy(lib / "Echo-Bold.ttf", lib / "z" / "Echo-Bold.ttf")
    code = main(["fonts", "--alphabet", "digits", "--no-system", "--fonts", str(lib)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{lib / 'z' / 'Echo-Bold.ttf'}  (same face as Echo-Bold.ttf#0)" in out
    marked = [ln for ln in out.splitlines() if ln.startswith("!")]
    assert {ln.split("/")[-1] for ln in marked} == {
        "Pictos.ttf#0", "CodePage.ttf#0", "Panose.ttf#0", "Dings.ttf#0", "SymbolCmap.ttf#0"}
    assert "Pictos.ttf#0 (Test Pictos Regular): ink unlike" in out
    code = main(["fonts", "--alphabet", "digits", "--no-system", "--fonts", str(lib), "--json"])
    rows = json.loads(capsys.readouterr().out)["faces"]
    echo = [r for r in rows if r["id"] == "Echo-Bold.ttf#0"][0]
    assert echo["duplicates"] == [str(lib / "z" / "Echo-Bold.ttf")]
    assert {r["id"] for r in rows if r["problem"]} >= {"Pictos.ttf#0", "Dings.ttf#0"}
    assert len({r["group"] for r in rows if r["id"].startswith("Alpha-")}) == 1


# -- installed fonts ----------------------------------------------------------------------------


def test_installed_urw_dingbats_fail_the_digits_check():
    faces = discover_fonts()
    ding = [f for f in faces if f.postscript_name in ("D050000L", "Dingbats")]
    if not ding:
        pytest.skip("URW Dingbats (fonts-urw-base35) is not installed")
    checks = face_checks(faces, DIGITS)
    covering = [f for f in ding if checks[f].kind or checks[f].score is not None]
    assert covering and all(not checks[f].ok for f in covering)


@pytest.mark.korean
def test_d2coding_hangul_is_nanum_barun_gothic(korean_faces):
    faces = discover_fonts()
    d2 = [f for f in faces if f.family == "D2Coding" and f.style == "Regular"]
    barun = [f for f in faces if f.path.name == "NanumBarunGothic.ttf"]
    if not d2 or not barun:
        pytest.skip("D2Coding or NanumBarunGothic is not installed")
    hangul = design_groups(faces, named_alphabet("hangul-2350").classes)
    assert hangul[d2[0]] == hangul[barun[0]]
    latin = design_groups(faces, LATIN_DIGITS)  # its Latin letters are its own
    assert latin[d2[0]] != latin[barun[0]]


def test_analysis_verdicts_are_read_back_from_disk_in_a_new_process(odd_faces, monkeypatch,
                                                                   tmp_path):
    """The next launch reads the checks instead of recomputing every face's ink (start-up):
    the same verdicts and clones, for the same files; a changed file is checked again."""
    from siam_workbench.data import font_roles

    monkeypatch.setenv("SIAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(font_roles, "_ANALYSIS_MEMO", {})
    first = font_analysis(odd_faces, LATIN_DIGITS)
    assert list((tmp_path / "cache" / "analysis").glob("*.json"))
    font_roles._ANALYSIS_MEMO.clear()  # as in a new process

    def recompute(*_a, **_k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(font_roles, "analyse_faces", recompute)
    again = font_analysis(odd_faces, LATIN_DIGITS)
    assert {f.id: (c.reason, c.kind, c.score, c.compared) for f, c in again.checks.items()} == \
        {f.id: (c.reason, c.kind, c.score, c.compared) for f, c in first.checks.items()}
    assert [(a.id, b.id, s) for a, b, s in again.clones] == \
        [(a.id, b.id, s) for a, b, s in first.clones]
    assert any(not c.ok for c in again.checks.values())  # the odd faces are still flagged
    # A face file that changed is analysed again.
    font_roles._ANALYSIS_MEMO.clear()
    face = next(f for f in odd_faces if f.path.name == "Pictos.ttf")
    st = face.path.stat()
    import os

    os.utime(face.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="recomputed"):
        font_analysis(odd_faces, LATIN_DIGITS)

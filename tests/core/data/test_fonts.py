"""Font discovery, coverage (and its cache), spec matching and train/val/test role resolution."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.data import fonts
from siam_workbench.data.alphabets import named_alphabet
from siam_workbench.data.font_roles import resolve_font_roles
from siam_workbench.data.fonts import FontFace, coverage, discover_fonts, match_faces

LATIN_DIGITS = named_alphabet("latin-digits").classes


def cfg(train=(), val=(), test=(), min_coverage=0.95):
    return SimpleNamespace(train_fonts=list(train), val_fonts=list(val), test_fonts=list(test),
                           min_coverage=min_coverage)


# -- discovery ------------------------------------------------------------------------------


def test_explicit_file_gives_named_face(dejavu_path: Path):
    (face,) = discover_fonts(extra=[dejavu_path], system=False)
    assert isinstance(face, FontFace)
    assert face.family == "DejaVu Sans" and face.index == 0
    assert face.id == f"{dejavu_path.name}#0"
    assert face.full_name.startswith("DejaVu Sans")
    with pytest.raises(dataclasses.FrozenInstanceError):  # a dict key, never mutated
        face.index = 1  # type: ignore[misc]


def test_folder_is_walked_sorted_and_deduplicated(font_lib: Path, tmp_path: Path):
    link = tmp_path / "again.ttf"
    link.symlink_to(font_lib / "Alpha-Regular.ttf")
    faces = discover_fonts(extra=[font_lib, font_lib / "Alpha-Regular.ttf", link], system=False)
    assert len(faces) == 12  # 5 families × 2 + Sparse + Hollow, each once
    keys = [(f.family.casefold(), f.style.casefold(), str(f.path), f.index) for f in faces]
    assert keys == sorted(keys)
    assert [f.family for f in faces[:2]] == ["Test Alpha", "Test Alpha"]
    assert {f.style for f in faces if f.family == "Test Echo"} == {"Regular", "Bold"}


def test_every_face_of_a_collection(font_lib: Path, tmp_path: Path):
    from fontTools.ttLib import TTCollection, TTFont

    ttc = TTCollection()
    ttc.fonts = [TTFont(str(font_lib / "Alpha-Regular.ttf")),
                 TTFont(str(font_lib / "Bravo-Bold.ttf"))]
    path = tmp_path / "pair.ttc"
    ttc.save(str(path))
    faces = discover_fonts(extra=[path], system=False)
    assert sorted(f.id for f in faces) == ["pair.ttc#0", "pair.ttc#1"]
    assert {f.family for f in faces} == {"Test Alpha", "Test Bravo"}


def test_non_font_file_given_explicitly_is_an_error(tmp_path: Path):
    bad = tmp_path / "notes.ttf"
    bad.write_text("this is not a font")
    with pytest.raises(SiamError, match="notes.ttf.*not a font"):
        discover_fonts(extra=[bad], system=False)
    txt = tmp_path / "readme.txt"
    txt.write_text("hello")
    with pytest.raises(SiamError, match="readme.txt"):
        discover_fonts(extra=[txt], system=False)
    with pytest.raises(SiamError, match="missing.ttf.*not found"):
        discover_fonts(extra=[tmp_path / "missing.ttf"], system=False)


def test_broken_font_inside_a_folder_is_skipped(tmp_path: Path, dejavu_path: Path):
    shutil.copy(dejavu_path, tmp_path / "good.ttf")
    (tmp_path / "broken.otf").write_bytes(b"\0\1\0\0garbage")
    faces = discover_fonts(extra=[tmp_path], system=False)
    assert [f.path.name for f in faces] == ["good.ttf"]


def test_system_discovery_finds_dejavu(dejavu_path: Path):
    faces = discover_fonts()
    assert any(f.family == "DejaVu Sans" for f in faces)
    assert len({(f.path, f.index) for f in faces}) == len(faces)


# -- coverage -------------------------------------------------------------------------------


def test_coverage_of_latin_and_missing_scripts(dejavu):
    cov = coverage(dejavu, LATIN_DIGITS)
    assert cov.dtype == bool and cov.shape == (62,) and cov.all()
    assert not coverage(dejavu, ["가", "각"]).any()
    assert coverage(dejavu, ["ab", "a가", " ", "a b", "\t"]).tolist() == [
        True, False, False, True, False]


def test_mapped_but_blank_glyph_is_not_covered(font_lib: Path):
    (hollow,) = discover_fonts(extra=[font_lib / "Hollow.ttf"], system=False)
    cov = coverage(hollow, ["A", "B"])
    assert cov.tolist() == [False, True]


def test_coverage_cache_hit_and_invalidation(dejavu_path: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SIAM_CACHE_DIR", str(tmp_path / "cache"))
    font = tmp_path / "f.ttf"
    shutil.copy(dejavu_path, font)
    (face,) = discover_fonts(extra=[font], system=False)
    first = coverage(face, LATIN_DIGITS)
    assert list((tmp_path / "cache" / "coverage").glob("*.npy"))
    calls = []
    real = fonts.compute_coverage
    monkeypatch.setattr(fonts, "compute_coverage", lambda *a: calls.append(1) or real(*a))
    assert np.array_equal(coverage(face, LATIN_DIGITS), first)
    assert calls == []  # served from the cache
    coverage(face, LATIN_DIGITS[:10])  # another alphabet: another key
    assert calls == [1]
    st = font.stat()
    os.utime(font, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    coverage(face, LATIN_DIGITS)  # the file changed: recomputed
    assert calls == [1, 1]


def test_unwritable_cache_is_not_fatal(dejavu, tmp_path: Path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SIAM_CACHE_DIR", str(blocker / "cache"))  # below a regular file
    assert coverage(dejavu, ["A"]).tolist() == [True]


@pytest.mark.korean
def test_hangul_coverage_is_served_from_the_cache(korean_faces, monkeypatch):
    """The second ask for 11,172 classes × every Korean face reads the cache (its speed is
    measured in docs/DATA.md, not asserted here)."""
    classes = named_alphabet("hangul-11172").classes
    first = [coverage(f, classes) for f in korean_faces]
    calls = []
    real = fonts.compute_coverage
    monkeypatch.setattr(fonts, "compute_coverage", lambda *a: calls.append(1) or real(*a))
    again = [coverage(f, classes) for f in korean_faces]
    assert calls == []
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert max(float(c.mean()) for c in again) > 0.2


# -- matching and roles ---------------------------------------------------------------------


def test_match_faces_by_every_key(lib_faces):
    def ids(spec):
        return sorted(f.id for f in match_faces(spec, lib_faces))

    assert ids("Alpha-Bold.ttf") == ["Alpha-Bold.ttf#0"]
    assert ids("alpha-bold.ttf#0") == ["Alpha-Bold.ttf#0"]
    assert ids("Test Bravo") == ["Bravo-Bold.ttf#0", "Bravo-Regular.ttf#0"]
    assert ids("test charlie bold") == ["Charlie-Bold.ttf#0"]  # full name, any case
    assert ids("*-regular.ttf") == sorted(f"{x}-Regular.ttf#0" for x in
                                          ("Alpha", "Bravo", "Charlie", "Delta", "Echo"))
    assert ids("Test [DE]*") == sorted(f"{x}-{s}.ttf#0" for x in ("Delta", "Echo")
                                       for s in ("Bold", "Regular"))
    assert ids("Test") == [] and ids("") == []


@pytest.fixture(scope="module")
def design_faces(tmp_path_factory, dejavu_path: Path, dejavu_bold_path: Path):
    """font_lib's families, each drawn in its own design (renamed copies of one font draw the
    same glyphs, and the split rightly treats them as one design)."""
    from tests.core.data.font_synth import build_design_lib

    root = build_design_lib(tmp_path_factory.mktemp("designs"), dejavu_path, dejavu_bold_path)
    return discover_fonts(extra=[root], system=False)


def test_automatic_split_by_family_is_disjoint_and_deterministic(design_faces):
    lib_faces = design_faces
    roles = resolve_font_roles(cfg(), lib_faces, LATIN_DIGITS)
    assert set(roles) == {"train", "val", "test"}
    assert all(roles[r] for r in roles)
    fams = {r: {f.family for f in fs} for r, fs in roles.items()}
    assert not fams["train"] & fams["val"] and not fams["train"] & fams["test"]
    assert not fams["val"] & fams["test"]
    assert len(roles["train"]) > len(roles["val"])
    used = [f for fs in roles.values() for f in fs]
    assert len(used) == len(set(used))
    # Sparse (10 of 62 classes) is below min_coverage; Hollow misses only "A" (61/62 ≥ 95 %).
    assert "Test Sparse" not in {f.family for f in used}
    assert "Test Hollow" in {f.family for f in used}
    assert resolve_font_roles(cfg(), list(reversed(lib_faces)), LATIN_DIGITS) == roles


def test_automatic_split_never_splits_one_family(lib_faces, tmp_path, dejavu_path):
    """Four styles of one family are one design: splitting them over train / val / test would
    validate on a face the network has seen in another weight, so the split refuses."""
    from tests.core.conftest import make_font

    for style in ("Regular", "Bold", "Light", "Heavy"):
        make_font(tmp_path / f"Solo-{style}.ttf", "Solo", style, src=dejavu_path)
    faces = discover_fonts(extra=[tmp_path], system=False)
    assert len(faces) == 4
    with pytest.raises(SiamError, match=r"at least 3 font families.*found 1 \(Solo\)"):
        resolve_font_roles(cfg(), faces, LATIN_DIGITS)


def test_renamed_copies_are_one_design_to_the_automatic_split(lib_faces):
    """font_lib's five families are DejaVu under five names: one design, too few to split."""
    with pytest.raises(SiamError, match=r"at least 3 font families.*found 1 \(Test Alpha\)"):
        resolve_font_roles(cfg(), lib_faces, LATIN_DIGITS)


def test_no_face_covers_enough(lib_faces):
    with pytest.raises(SiamError, match="covers"):
        resolve_font_roles(cfg(), lib_faces, ["가", "각"])


def test_named_roles(lib_faces):
    roles = resolve_font_roles(
        cfg(train=["Test Alpha", "Bravo-Regular.ttf", "test c*"], val=["Delta-Bold.ttf#0"],
            test=["Test Echo"]), lib_faces, LATIN_DIGITS)
    assert [f.id for f in roles["val"]] == ["Delta-Bold.ttf#0"]
    assert {f.id for f in roles["train"]} == {"Alpha-Bold.ttf#0", "Alpha-Regular.ttf#0",
                                              "Bravo-Regular.ttf#0", "Charlie-Bold.ttf#0",
                                              "Charlie-Regular.ttf#0"}
    assert {f.family for f in roles["test"]} == {"Test Echo"}


def test_overlapping_roles_name_the_face(lib_faces):
    with pytest.raises(SiamError, match="Alpha-Bold.ttf#0.*train.*val"):
        resolve_font_roles(cfg(train=["Test Alpha"], val=["Alpha-Bold.ttf"], test=["Test Echo"]),
                           lib_faces, LATIN_DIGITS)


def test_role_matching_nothing_names_role_and_spec(lib_faces):
    with pytest.raises(SiamError, match=r"data\.val_fonts.*'Comic Sans'"):
        resolve_font_roles(cfg(train=["Test Alpha"], val=["Comic Sans"], test=["Test Echo"]),
                           lib_faces, LATIN_DIGITS)
    with pytest.raises(SiamError, match=r"data\.test_fonts.*'Sparse\*'"):
        # the glob matches, but only a face below min_coverage
        resolve_font_roles(cfg(train=["Test Alpha"], val=["Test Bravo"], test=["Sparse*"]),
                           lib_faces, LATIN_DIGITS)


def test_named_face_without_any_glyph_is_an_error(lib_faces):
    with pytest.raises(SiamError, match="Sparse.ttf#0.*no glyph"):
        resolve_font_roles(cfg(train=["Sparse.ttf"], val=["Test Bravo"], test=["Test Echo"]),
                           lib_faces, ["A", "B"])


def test_unnamed_roles_are_filled_from_other_families(design_faces):
    roles = resolve_font_roles(cfg(train=["Test Alpha", "Test Bravo"]), design_faces,
                               LATIN_DIGITS)
    train_fams = {f.family for f in roles["train"]}
    assert train_fams == {"Test Alpha", "Test Bravo"}
    for r in ("val", "test"):
        assert roles[r] and not {f.family for f in roles[r]} & train_fams
    assert not set(roles["val"]) & set(roles["test"])


def test_real_config_section_is_accepted(lib_faces):
    from siam_workbench.project.config import Config

    data = Config({"data": {"train_fonts": ["Test Alpha"], "val_fonts": ["Test Bravo"],
                            "test_fonts": ["Test Charlie"]}}).data
    roles = resolve_font_roles(data, lib_faces, LATIN_DIGITS)
    assert [len(roles[r]) for r in ("train", "val", "test")] == [2, 2, 2]


def test_missing_korean_fonts_are_named_with_the_install_command(capsys):
    from siam_workbench.cli import main
    from siam_workbench.data.fonts import missing_script_hint

    hint = missing_script_hint(["가", "각"], covering_faces=0)
    assert "sudo apt-get install" in hint and "fonts-nanum" in hint
    assert missing_script_hint(["가"], covering_faces=3) == ""
    assert "apt-get" not in missing_script_hint(["A"], covering_faces=0)
    dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    code = main(["fonts", "--alphabet", "hangul-2350", "--no-system", "--fonts", dejavu,
                 "--min-coverage", "0"])
    err = capsys.readouterr().err
    assert code == 0 and "sudo apt-get install fonts-nanum" in err

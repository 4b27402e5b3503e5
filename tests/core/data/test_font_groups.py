"""Honest font splits: one face is one entry, one design family serves one role.

Synthetic families (DejaVu copies renamed and redrawn, :mod:`tests.core.data.font_synth`) test the
rule on every machine; the installed Korean and URW fonts test it on the real names where present.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import named_alphabet
from siam_workbench.data.font_groups import (
    face_identity,
    family_groups,
    family_key,
    pick_one_per_face,
)
from siam_workbench.data.font_roles import resolve_font_roles
from siam_workbench.data.fonts import FontFace, discover_fonts, match_faces
from tests.core.data.font_synth import build_design_lib, make_design_font

DIGITS = named_alphabet("digits").classes
LATIN_DIGITS = named_alphabet("latin-digits").classes
ROOT = Path(__file__).resolve().parents[3]


def cfg(train=(), val=(), test=(), min_coverage=0.95):
    return SimpleNamespace(train_fonts=list(train), val_fonts=list(val), test_fonts=list(test),
                           min_coverage=min_coverage)


def fake(file: str, family: str, style: str = "Regular", *, names: tuple[str, ...] = (),
         ps: str = "") -> FontFace:
    """A face record without a file: grouping and identity read only names and paths."""
    return FontFace(path=Path("/fonts") / file, index=0, family=family, style=style,
                    full_name=f"{family} {style}", family_names=names, postscript_name=ps)


# -- the grouping key ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "key"), [
    ("NanumSquare", "nanumsquare"),
    ("NanumSquare_ac Bold", "nanumsquareac"),
    ("NanumGothic Eco ExtraBold", "nanumgothiceco"),
    ("NanumGothicExtraBold", "nanumgothic"),
    ("UnJamoBatang", "unbatang"),
    ("NanumBarunGothic YetHangul", "nanumbarungothic"),
    ("DejaVu Sans Condensed", "dejavusans"),
    ("LexiSaebomR", "lexisaebom"),
    ("BM HANNA Pro", "bmhanna"),
    ("Baekmuk Dotum", "baekmukdotum"),
    ("은 자모 바탕", "은바탕"),
    ("Nimbus Roman", "nimbusroman"),  # "Roman" names the design here, not a style
    ("Un B", "unb"),  # never stripped below 4 characters
])
def test_family_key(name: str, key: str):
    assert family_key(name) == key


@pytest.mark.parametrize(("stem", "key"), [
    ("NanumSquareEB", "nanumsquare"), ("NanumSquare_acR", "nanumsquareac"),
    ("DejaVuSans-Bold", "dejavusans"), ("D2Coding-Ver1.3.2-20180524-all", "d2coding"),
    ("batang", "batang"),
])
def test_family_key_of_file_names(stem: str, key: str):
    assert family_key(stem, file_stem=True) == key


def test_look_alike_families_share_a_group_and_others_do_not():
    faces = [
        fake("NanumSquareR.ttf", "NanumSquare"),
        fake("NanumSquareRoundR.ttf", "NanumSquareRound"),
        fake("NanumSquare_acB.ttf", "NanumSquare_ac", "ExtraBold"),
        fake("NanumGothic.ttf", "NanumGothic"),
        fake("NanumGothicEcoR.ttf", "NanumGothic Eco"),
        fake("NanumGothicExtraBold.ttf", "NanumGothic", "ExtraBold",
             names=("NanumGothicExtraBold", "나눔고딕")),
        fake("NanumGothicCoding.ttf", "NanumGothicCoding"),
        fake("DejaVuSans.ttf", "DejaVu Sans"),
        fake("DejaVuSansCondensed-Bold.ttf", "DejaVu Sans", "Condensed Bold",
             names=("DejaVu Sans Condensed",)),
        fake("DejaVuSansMono.ttf", "DejaVu Sans Mono"),
        fake("NanumBarunGothic.ttf", "NanumBarunGothic"),
        fake("UnBatang.ttf", "UnBatang", names=("은 바탕",)),
        fake("UnJamoBatang.ttf", "UnJamoBatang", names=("은 자모 바탕",)),
        fake("batang.ttf", "Baekmuk Batang", names=("백묵 바탕",)),
        fake("dotum.ttf", "Baekmuk Dotum"),
        fake("UnDotum.ttf", "UnDotum"),
        fake("UnGraphic.ttf", "UnGraphic"),
    ]
    g = family_groups(faces)
    by = {f.path.name: g[f] for f in faces}
    square = {by[n] for n in ("NanumSquareR.ttf", "NanumSquareRoundR.ttf", "NanumSquare_acB.ttf")}
    assert square == {"NanumSquare"}
    gothic = {by[n] for n in ("NanumGothic.ttf", "NanumGothicEcoR.ttf",
                              "NanumGothicExtraBold.ttf")}
    assert gothic == {"NanumGothic"}
    assert by["DejaVuSansCondensed-Bold.ttf"] == by["DejaVuSans.ttf"]
    # a monospaced companion redraws the letters: its own family by name (the ink comparison
    # joins it where it reuses the parent's glyphs, e.g. NanumGothicCoding's Hangul)
    assert by["NanumGothicCoding.ttf"] != by["NanumGothic.ttf"]
    assert by["DejaVuSansMono.ttf"] != by["DejaVuSans.ttf"]
    assert by["UnJamoBatang.ttf"] == by["UnBatang.ttf"] == "UnBatang"
    # different designs that share a word or a style class stay apart
    assert len({by[n] for n in ("NanumGothic.ttf", "NanumBarunGothic.ttf", "batang.ttf",
                                "UnBatang.ttf", "dotum.ttf", "UnDotum.ttf",
                                "UnGraphic.ttf", "NanumSquareR.ttf")}) == 8
    assert family_groups(list(reversed(faces))) == g  # order does not matter


def test_a_short_name_does_not_swallow_a_foundry():
    faces = [fake("Un.ttf", "Un"), fake("UnBatang.ttf", "UnBatang"), fake("UnDotum.ttf", "UnDotum")]
    assert len(set(family_groups(faces).values())) == 3


# -- one face, one entry ------------------------------------------------------------------------


def test_one_face_in_three_formats_is_one_entry():
    otf = fake("NimbusRoman-Bold.otf", "Nimbus Roman", "Bold", ps="NimbusRoman-Bold")
    pfb = fake("NimbusRoman-Bold.pfb", "Nimbus Roman", "Bold", ps="NimbusRoman-Bold")
    t1 = fake("NimbusRoman-Bold.t1", "Nimbus Roman", "Bold", ps="NimbusRoman-Bold")
    reg = fake("NimbusRoman-Regular.t1", "Nimbus Roman", "Regular", ps="NimbusRoman-Regular")
    for order in ([pfb, t1, otf, reg], [reg, otf, t1, pfb], [t1, reg, pfb, otf]):
        kept = sorted(pick_one_per_face(order), key=lambda f: f.style)
        assert [f.path.name for f in kept] == ["NimbusRoman-Bold.otf", "NimbusRoman-Regular.t1"]
        assert sorted(p.name for p in kept[0].duplicates) == ["NimbusRoman-Bold.pfb",
                                                              "NimbusRoman-Bold.t1"]
        assert kept[1].duplicates == ()
    # mislabelled weights with distinct PostScript names stay two faces
    b = fake("NanumSquare_acB.ttf", "NanumSquare_ac", "ExtraBold", ps="NanumSquare_acB")
    eb = fake("NanumSquare_acEB.ttf", "NanumSquare_ac", "ExtraBold", ps="NanumSquare_acEB")
    assert face_identity(b) != face_identity(eb)
    assert len(pick_one_per_face([b, eb])) == 2


@pytest.fixture()
def twin_lib(tmp_path: Path, dejavu_path: Path, dejavu_bold_path: Path) -> Path:
    """Seven synthetic designs plus a second copy of Alpha-Regular in another folder, under
    another format's name (FreeType reads a font by content, so the copy is the same face)."""
    lib = build_design_lib(tmp_path / "lib", dejavu_path, dejavu_bold_path)
    (lib / "otf").mkdir()
    shutil.copy(lib / "Alpha-Regular.ttf", lib / "otf" / "Alpha-Regular-copy.otf")
    return lib


def test_discovery_lists_a_face_installed_twice_once(twin_lib: Path):
    faces = discover_fonts(extra=[twin_lib], system=False)
    alpha = [f for f in faces if f.family == "Test Alpha" and f.style == "Regular"]
    assert len(alpha) == 1 and len(faces) == 12
    (kept,) = alpha
    assert kept.path.name == "Alpha-Regular.ttf"  # same format rank: the first path
    assert [p.name for p in kept.duplicates] == ["Alpha-Regular-copy.otf"]
    # the dropped file's name still names the face in a role
    assert match_faces("Alpha-Regular-copy.otf", faces) == [kept]
    roles = resolve_font_roles(cfg(), faces, LATIN_DIGITS)
    used = [f for fs in roles.values() for f in fs]
    assert len(used) == len(set(used)) and sum(f.family == "Test Alpha" for f in used) == 2


def test_the_users_copy_wins_over_an_installed_one(tmp_path: Path, dejavu_path: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(dejavu_path, mine / "MyDejaVu.ttf")
    faces = [f for f in discover_fonts(extra=[mine]) if f.full_name == "DejaVu Sans"]
    assert len(faces) == 1 and faces[0].path.name == "MyDejaVu.ttf"
    assert dejavu_path.name in [p.name for p in faces[0].duplicates]


# -- the split rule -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sibling_lib(tmp_path_factory, dejavu_path: Path, dejavu_bold_path: Path) -> Path:
    """Eleven families in six design groups (each drawn in its own design), one face also
    installed twice."""
    root = tmp_path_factory.mktemp("siblings")
    fams = {"plain": ("Test Alpha", "Test AlphaRound", "Test Alpha_ac", "Test Alpha Eco"),
            "right": ("Test Bravo", "Test Jamo Bravo"),
            "left": ("Test Charlie", "Test Charlie Sans"),
            "cw": ("Test Delta",), "ccw": ("Test Echo",), "tall": ("Test Foxtrot",)}
    for design, members in fams.items():
        for fam in members:
            stem = fam.replace("Test ", "").replace(" ", "")
            make_design_font(root / f"{stem}-Regular.ttf", fam, "Regular", src=dejavu_path,
                             design=design)
            make_design_font(root / f"{stem}-Bold.ttf", fam, "Bold", src=dejavu_bold_path,
                             design=design)
    shutil.copy(root / "Echo-Bold.ttf", root / "Echo-Bold-again.otf")
    return root


def _groups_by_role(roles, faces):
    g = family_groups(faces)
    return {r: {g[f] for f in fs} for r, fs in roles.items()}


def test_automatic_split_keeps_each_design_group_in_one_role(sibling_lib: Path):
    faces = discover_fonts(extra=[sibling_lib], system=False)
    assert len(faces) == 22  # 11 families × 2 styles; the .otf twin is a duplicate
    assert len(set(family_groups(faces).values())) == 6
    roles = resolve_font_roles(cfg(), faces, LATIN_DIGITS)
    by_role = _groups_by_role(roles, faces)
    assert all(by_role[r] for r in by_role)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not by_role[a] & by_role[b], (a, b, by_role)
    used = [f for fs in roles.values() for f in fs]
    assert len(used) == len(set(used)) == 22  # every face once, none twice
    assert resolve_font_roles(cfg(), list(reversed(faces)), LATIN_DIGITS) == roles


def test_partly_named_roles_are_filled_from_other_groups(sibling_lib: Path):
    faces = discover_fonts(extra=[sibling_lib], system=False)
    roles = resolve_font_roles(cfg(train=["Test Alpha", "Test Bravo"]), faces, LATIN_DIGITS)
    filled = {f.family for r in ("val", "test") for f in roles[r]}
    # AlphaRound / Alpha_ac / Alpha Eco and Jamo Bravo are the training designs: never held out
    assert not filled & {"Test AlphaRound", "Test Alpha_ac", "Test Alpha Eco",
                         "Test Jamo Bravo"}
    by_role = _groups_by_role(roles, faces)
    assert not by_role["val"] & by_role["test"]


@pytest.mark.parametrize(("lists", "first", "second"), [
    ({"train": ["Test Alpha"], "val": ["AlphaRound-Regular.ttf"], "test": ["Test Delta"]},
     r"Alpha-Bold\.ttf#0 \(Test Alpha, data\.train_fonts\)",
     r"AlphaRound-Regular\.ttf#0 \(Test AlphaRound, data\.val_fonts\)"),
    ({"train": ["Test Delta"], "val": ["Test Bravo"], "test": ["JamoBravo-Bold.ttf"]},
     r"data\.val_fonts", r"JamoBravo-Bold\.ttf#0 \(Test Jamo Bravo, data\.test_fonts\)"),
])
def test_one_group_in_two_named_roles_is_refused(sibling_lib: Path, lists, first, second):
    faces = discover_fonts(extra=[sibling_lib], system=False)
    with pytest.raises(SiamError) as err:
        resolve_font_roles(cfg(**lists), faces, LATIN_DIGITS)
    msg = str(err.value)
    assert "\n" not in msg and "one design family" in msg
    assert re.search(first, msg), msg
    assert re.search(second, msg), msg


def test_render_and_training_refuse_a_leaking_project(sibling_lib: Path, tmp_path: Path,
                                                       capsys):
    """``siam render --project`` and training's auto-render share the check (render_splits)."""
    from siam_workbench.cli import main
    from siam_workbench.data.render_splits import render_splits
    from siam_workbench.project.config import Config
    from siam_workbench.project.project import create_project

    values = {"alphabet": "digits", "font_dirs": [str(sibling_lib)],
              "train_fonts": ["Test Charlie"], "val_fonts": ["Test Charlie Sans"],
              "test_fonts": ["Test Delta"], "image_size": 37, "margin": 2}
    project = create_project(tmp_path / "p", Config({"data": values}))
    with pytest.raises(SiamError, match=r"Charlie.*train_fonts.*Charlie Sans.*val_fonts"):
        render_splits(project, workers=1)
    assert not any(p.exists() for p in project.dataset_paths().values())
    code = main(["render", "--project", str(project.root)])
    err = capsys.readouterr().err
    assert code == 2 and "one design family" in err and len(err.strip().splitlines()) == 1


# -- the installed fonts ------------------------------------------------------------------------


@pytest.mark.korean
def test_installed_nanum_square_siblings_are_one_group(korean_faces):
    faces = discover_fonts()
    g = family_groups(faces)
    by = {f.path.name: g[f] for f in faces}
    need = ("NanumSquareR.ttf", "NanumSquareRoundR.ttf", "NanumSquare_acR.ttf",
            "NanumGothic.ttf", "NanumGothicEco.ttf", "NanumBarunGothic.ttf")
    if not all(n in by for n in need):
        pytest.skip("the Nanum font packages (fonts-nanum, -extra, -eco) are not all installed")
    assert by["NanumSquareR.ttf"] == by["NanumSquareRoundR.ttf"] == by["NanumSquare_acR.ttf"]
    assert by["NanumGothic.ttf"] == by["NanumGothicEco.ttf"] != by["NanumBarunGothic.ttf"]


@pytest.mark.korean
def test_shipped_hangul_project_has_no_family_in_two_roles(korean_faces):
    from siam_workbench.project.project import load_project

    project = load_project(ROOT / "projects" / "hangul-2350")
    data = project.config.data
    faces = discover_fonts(extra=[project.resolve(d) for d in data.font_dirs])
    classes = named_alphabet("hangul-2350").classes
    try:
        roles = resolve_font_roles(data, faces, classes, warn=lambda m: None)
    except SiamError as exc:
        if "matches no font face" in str(exc):
            pytest.skip(f"a font of the shipped project is not installed: {exc}")
        raise
    by_role = _groups_by_role(roles, faces)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not by_role[a] & by_role[b]
    # the test definition is fixed (issue 12): four faces, these files
    assert sorted(f.path.name for f in roles["test"]) == sorted(
        ["dotum.ttf", "UnShinmun.ttf", "LexiSaebomR.ttf", "UnTaza.ttf"])


def test_installed_urw_faces_are_listed_once():
    faces = discover_fonts()
    nimbus = [f for f in faces if f.postscript_name == "NimbusRoman-Bold"]
    if not nimbus:
        pytest.skip("URW base35 fonts (fonts-urw-base35) are not installed")
    assert len(nimbus) == 1
    kept = nimbus[0]
    if kept.duplicates:
        assert kept.path.suffix.lower() in (".otf", ".ttf")
        assert all(p.suffix.lower() in (".pfb", ".pfa", ".t1", ".otf", ".ttf")
                   for p in kept.duplicates)

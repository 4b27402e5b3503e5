"""The shipped ``projects/hangul-11172`` (the paper's large alphabet): its settings load, and its
named faces resolve to three disjoint roles that each cover all 11,172 syllables — the project
renders nothing otherwise, so a font package that changed would show here first."""

from __future__ import annotations

from pathlib import Path

import pytest

from siam_workbench.project.project import load_project

ROOT = Path(__file__).resolve().parents[3] / "projects" / "hangul-11172"


def test_project_states_the_papers_large_alphabet():
    from siam_workbench.data.alphabets import resolve_alphabet

    project = load_project(ROOT)
    data = project.config.data
    assert data.alphabet == "hangul-11172"
    classes = resolve_alphabet(data.alphabet, base=project.root).classes
    assert len(classes) == 11172
    assert classes[0] == "가" and classes[-1] == "힣"
    assert len(data.train_fonts) == 8
    assert data.val_fonts and data.test_fonts and data.test_distort
    named = [*data.train_fonts, *data.val_fonts, *data.test_fonts]
    assert len(set(named)) == len(named)
    # the data it renders stays out of git (the repository's .gitignore)
    ignore = (ROOT.parents[1] / ".gitignore").read_text().split()
    assert "/projects/*/data/" in ignore and "/projects/*/runs/" in ignore


@pytest.mark.korean
def test_font_roles_resolve_to_disjoint_families_covering_every_syllable():
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.data.font_groups import family_groups
    from siam_workbench.data.font_roles import resolve_font_roles
    from siam_workbench.data.fonts import coverage_fraction, discover_fonts

    project = load_project(ROOT)
    data = project.config.data
    wanted = {*data.train_fonts, *data.val_fonts, *data.test_fonts}
    faces = [f for f in discover_fonts() if Path(f.path).name in wanted]
    if {Path(f.path).name for f in faces} != wanted:
        pytest.skip("the Korean font packages hangul-11172 names are not installed")
    classes = resolve_alphabet(data.alphabet, base=project.root).classes
    for f in faces:  # the cmap, every syllable
        assert coverage_fraction(f, classes) == 1.0, f.path
    # the roles as `siam render` resolves them, on a spread of the syllables (the ink checks on
    # all 11,172 take half a minute; every 37th keeps each initial consonant and vowel)
    warnings: list[str] = []
    roles = resolve_font_roles(data, faces, classes[::37], warn=warnings.append)
    assert {r: len(fs) for r, fs in roles.items()} == {"train": 8, "val": 3, "test": 4}
    group = family_groups(faces)
    used = {r: {group[f] for f in fs} for r, fs in roles.items()}
    assert not used["train"] & used["val"]
    assert not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    assert not warnings

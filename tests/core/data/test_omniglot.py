"""siam_workbench.data.omniglot: the shipped katakana table, reading tables, loading drawings
framed and filtered by drawer, and `siam import omniglot --map`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import resolve_alphabet
from siam_workbench.data.glyphs import GlyphFile
from siam_workbench.data.importers import import_omniglot
from siam_workbench.data.omniglot import load_drawings, read_mapping, relabel_classes


def test_shipped_katakana_table_names_47_distinct_katakana_letters():
    table = read_mapping("katakana")
    assert len(table) == 47
    assert list(table) == [f"Japanese_(katakana)/character{i:02d}" for i in range(1, 48)]
    classes = resolve_alphabet("katakana").classes
    assert all(c in classes for c in table.values())
    assert len(set(table.values())) == 47
    # What the drawings showed: gojūon order with ヰ ヱ, without ケ.
    assert table["Japanese_(katakana)/character09"] == "コ"
    assert table["Japanese_(katakana)/character17"] == "ツ"
    assert "ケ" not in table.values()


@pytest.mark.parametrize("text, problem", [
    ("A/character01 ア\n", "expected class<TAB>character"),
    ("A/character01\tア\nA/character01\tイ\n", "listed twice"),
    ("A/character01\tア\nA/character02\tア\n", "two folders"),
    ("# only a comment\n", "empty"),
])
def test_bad_tables_are_one_line_naming_the_file(tmp_path: Path, text: str, problem: str):
    f = tmp_path / "m.tsv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(SiamError, match=problem) as err:
        read_mapping(f)
    assert str(f) in str(err.value.path or "")


def _drawing(k: int, drawer: int) -> Image.Image:
    """A dark stroke on white in the top-left quarter: its position tells fit from em."""
    a = np.full((105, 105), 255, np.uint8)
    a[10:40, 10 + k:14 + k] = 0
    a[10:14, 10:40] = 0
    return Image.fromarray(a)


def _tree(root: Path) -> None:
    for alpha, chars in (("Japanese_(katakana)", 3), ("Tagalog", 2)):
        for k in range(1, chars + 1):
            for drawer in (1, 2, 3):
                p = root / alpha / f"character{k:02d}" / f"09{k:02d}_{drawer:02d}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                _drawing(k, drawer).save(p)


def test_load_drawings_maps_filters_and_frames(tmp_path: Path):
    _tree(tmp_path / "images_background_small2")
    mapping = {"Japanese_(katakana)/character01": "ア", "Japanese_(katakana)/character03": "ウ"}
    d = load_drawings(tmp_path, ["Japanese_(katakana)"], mapping=mapping, drawers={1, 3})
    assert d.classes == ["ア", "ウ"]
    assert d.source_names == ["drawer01", "drawer03"]
    assert len(d) == 4 and d.labels.tolist() == [0, 0, 1, 1]
    fit = d.images[0].numpy()
    em = load_drawings(tmp_path, ["Japanese_(katakana)"], mapping=mapping,
                       mode="em").images[0].numpy()
    rows = lambda a: np.flatnonzero((a > 64).any(1))  # noqa: E731
    # fit fills the frame with the ink box; em keeps the canvas, so the stroke stays high up.
    assert rows(fit)[0] <= 3 and rows(fit)[-1] >= 33
    assert rows(em)[-1] < 20
    both = load_drawings(tmp_path, ["Japanese_(katakana)", "Tagalog"])
    assert both.num_classes == 5 and "Tagalog/character02" in both.classes


def test_load_drawings_refuses_a_table_for_other_folders(tmp_path: Path):
    _tree(tmp_path)
    with pytest.raises(SiamError, match="not there"):
        load_drawings(tmp_path, ["Japanese_(katakana)"],
                      mapping={"Japanese_(katakana)/character44": "ヰ"})


def test_import_with_a_mapping_names_and_keeps_only_mapped_classes(tmp_path: Path):
    _tree(tmp_path / "omni")
    mapping = {"Japanese_(katakana)/character02": "イ"}
    rep = import_omniglot(tmp_path / "omni", tmp_path / "k.h5", workers=1, mapping=mapping)
    assert rep.classes == 1 and rep.samples == 3
    with GlyphFile(rep.path) as gf:
        assert gf.classes == ["イ"]
    assert relabel_classes(["Tagalog/character02", "Japanese_(katakana)/character02"],
                           mapping) == ["Tagalog/character02", "イ"]


def test_cli_import_map(tmp_path: Path, capsys):
    from siam_workbench.cli import main

    _tree(tmp_path / "omni")
    out = tmp_path / "k.h5"
    assert main(["import", "omniglot", str(tmp_path / "omni"), "--map", "katakana", "--out",
                 str(out), "--workers", "1"]) == 0
    with GlyphFile(out) as gf:
        assert gf.classes == ["ア", "イ", "ウ"]  # the tree's three katakana folders, named
    capsys.readouterr()
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    assert main(["import", "omniglot", str(tmp_path / "omni"), "--map", str(bad), "--out",
                 str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.tsv" in err[0] and "line 1" in err[0]
    assert not (tmp_path / "x.h5").exists()
    assert main(["import", "folder", str(tmp_path / "omni"), "--map", "katakana", "--out",
                 str(tmp_path / "y.h5")]) == 2

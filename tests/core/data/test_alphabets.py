"""Alphabets: named lists (sizes, order, contents) and custom class-list files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import (
    NAMED,
    Alphabet,
    alphabet_from_text,
    alphabet_hash,
    named_alphabet,
    resolve_alphabet,
)

EXPECTED_NAMES = {"hangul-2350", "hangul-11172", "digits", "latin", "latin-digits", "greek",
                  "cyrillic", "hiragana", "katakana"}


def test_named_alphabets_are_listed_with_descriptions():
    assert set(NAMED) == EXPECTED_NAMES
    for name, desc in NAMED.items():
        assert desc and "\n" not in desc
        a = resolve_alphabet(name)
        assert isinstance(a, Alphabet) and a.name == name
        assert len(a) == len(a.classes) == len(set(a.classes)) > 0
        assert all(c and not c.isspace() for c in a.classes)


def test_hangul_2350_is_ks_x_1001_in_code_order():
    a = resolve_alphabet("hangul-2350")
    assert len(a) == 2350 and len(set(a.classes)) == 2350
    assert a.classes[0] == "가" and a.classes[1] == "각" and a.classes[-1] == "힝"
    assert all(0xAC00 <= ord(c) <= 0xD7A3 for c in a.classes)
    codes = [c.encode("euc_kr") for c in a.classes]
    assert codes == sorted(codes)  # code-table order
    assert "똠" not in a.classes  # a well-known syllable outside KS X 1001's 2,350
    # The shipped list is exactly rows 0xB0..0xC8 of the EUC-KR table, 94 syllables a row.
    table = [bytes((lead, trail)).decode("euc_kr")
             for lead in range(0xB0, 0xC9) for trail in range(0xA1, 0xFF)]
    assert a.classes == table


def test_hangul_11172_and_small_alphabets():
    h = named_alphabet("hangul-11172")
    assert len(h) == 11172 and h.classes[0] == "가" and h.classes[-1] == "힣"
    assert set(named_alphabet("hangul-2350").classes) < set(h.classes)
    assert named_alphabet("digits").classes == list("0123456789")
    latin = named_alphabet("latin").classes
    assert len(latin) == 52 and latin[0] == "A" and latin[-1] == "z"
    assert named_alphabet("latin-digits").classes == latin + list("0123456789")
    greek = named_alphabet("greek").classes
    assert len(greek) == 49 and "\u03a2" not in greek and "Ω" in greek and "ς" in greek
    cyr = named_alphabet("cyrillic").classes
    assert len(cyr) == 66 and "Ё" in cyr and "я" in cyr
    hira = named_alphabet("hiragana").classes
    assert "あ" in hira and "ぁ" not in hira and "ん" in hira
    kata = named_alphabet("katakana").classes
    assert "ア" in kata and "ァ" not in kata and "ヶ" not in kata


def test_unknown_name_lists_known_names():
    with pytest.raises(SiamError, match="hangul-2350"):
        named_alphabet("klingon")
    with pytest.raises(SiamError, match="klingon"):
        resolve_alphabet("klingon")


def test_file_one_class_per_line_relative_to_base(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "classes.txt").write_text("가\n\n  ab \n가\nㄱㄴ\n", encoding="utf-8")
    a = resolve_alphabet("sub/classes.txt", base=tmp_path)
    assert a.classes == ["가", "ab", "ㄱㄴ"]  # blank ignored, stripped, duplicate dropped
    assert a.name == "sub/classes.txt"


def test_file_one_character_per_line(tmp_path: Path):
    f = tmp_path / "c.txt"
    f.write_text("\ufeffx\ny\n\nx\nz\n", encoding="utf-8")  # BOM is not a class
    assert resolve_alphabet(str(f)).classes == ["x", "y", "z"]


def test_single_line_of_characters_is_per_character(tmp_path: Path):
    f = tmp_path / "run.txt"
    f.write_text("가각간 가갇\n", encoding="utf-8")
    assert resolve_alphabet(str(f)).classes == ["가", "각", "간", "갇"]


def test_alphabet_from_text_modes():
    assert alphabet_from_text("ab\ncd").classes == ["ab", "cd"]
    assert alphabet_from_text("ab\ncd", per_line=False).classes == ["a", "b", "c", "d"]
    assert alphabet_from_text("abc", per_line=True).classes == ["abc"]
    assert alphabet_from_text("a\nb", name="mine").name == "mine"
    with pytest.raises(SiamError):
        alphabet_from_text(" \n\t\n")


def test_hash_depends_on_order_and_content():
    assert alphabet_hash(["a", "b"]) == alphabet_hash(["a", "b"])
    assert alphabet_hash(["a", "b"]) != alphabet_hash(["b", "a"])
    assert alphabet_hash(["ab"]) != alphabet_hash(["a", "b"])


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n"])
def test_empty_file_names_the_file(tmp_path: Path, content: bytes):
    f = tmp_path / "empty.txt"
    f.write_bytes(content)
    with pytest.raises(SiamError, match="empty.txt.*no classes"):
        resolve_alphabet(str(f))


def test_undecodable_file_names_the_file(tmp_path: Path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("é\nü\n".encode("latin-1"))
    with pytest.raises(SiamError, match="latin1.txt.*not UTF-8"):
        resolve_alphabet(str(f))


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(SiamError, match="nope.txt"):
        resolve_alphabet("nope.txt", base=tmp_path)
    with pytest.raises(SiamError, match="is a folder"):
        resolve_alphabet(str(tmp_path))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_unreadable_file_names_the_file():
    # chmod does not stop root; /proc/self/mem exists but any plain read fails.
    with pytest.raises(SiamError, match="/proc/self/mem.*cannot read"):
        resolve_alphabet("/proc/self/mem")

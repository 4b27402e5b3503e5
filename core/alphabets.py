"""Alphabets: the ordered list of classes a glyph file is labelled with.

The order matters: a class's position is its label in every split of a project, so train, val
and test files rendered from the same alphabet share one label space. Named alphabets are built
from Unicode / code-table ranges (no shipped data files), custom ones come from a UTF-8 text file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import SiamError


def _hangul_2350() -> list[str]:
    """KS X 1001 Hangul syllables (the PHD08 set) in code-table order.

    Rows 0xB0..0xC8 of the EUC-KR table hold exactly the 2,350 precomposed syllables, 94 per
    row; decoding the table rather than shipping a list keeps the order provably the standard's.
    """
    out: list[str] = []
    for lead in range(0xB0, 0xC9):
        for trail in range(0xA1, 0xFF):
            out.append(bytes((lead, trail)).decode("euc_kr"))
    return out


def _span(first: int, last: int, skip: Iterable[int] = ()) -> list[str]:
    skipped = set(skip)
    return [chr(c) for c in range(first, last + 1) if c not in skipped]


_DIGITS = _span(0x30, 0x39)
_LATIN = _span(0x41, 0x5A) + _span(0x61, 0x7A)
# Small kana become indistinguishable from their full-size forms once every glyph is scaled to
# fill the canvas, so they are left out of the named kana alphabets.
_SMALL_HIRAGANA = [ord(c) for c in "ぁぃぅぇぉっゃゅょゎゕゖ"]
_SMALL_KATAKANA = [ord(c) for c in "ァィゥェォッャュョヮヵヶ"]

_BUILDERS: dict[str, tuple[str, Callable[[], list[str]]]] = {
    "hangul-2350": ("KS X 1001 Hangul syllables (the PHD08 set), code-table order",
                    _hangul_2350),
    "hangul-11172": ("All modern Hangul syllables U+AC00–U+D7A3", lambda: _span(0xAC00, 0xD7A3)),
    "digits": ("Digits 0–9", lambda: list(_DIGITS)),
    "latin": ("Latin letters A–Z a–z", lambda: list(_LATIN)),
    "latin-digits": ("Latin letters A–Z a–z and digits 0–9", lambda: _LATIN + _DIGITS),
    "greek": ("Greek letters Α–Ω α–ω (with final ς)",
              lambda: _span(0x391, 0x3A9, skip=[0x3A2]) + _span(0x3B1, 0x3C9)),
    "cyrillic": ("Russian Cyrillic А–я with Ё ё",
                 lambda: _span(0x410, 0x42F) + ["Ё"] + _span(0x430, 0x44F) + ["ё"]),
    "hiragana": ("Hiragana letters U+3041–U+3096 without the small forms",
                 lambda: _span(0x3041, 0x3096, skip=_SMALL_HIRAGANA)),
    "katakana": ("Katakana letters U+30A1–U+30FA without the small forms",
                 lambda: _span(0x30A1, 0x30FA, skip=_SMALL_KATAKANA)),
}

#: name → one-line description of every built-in alphabet.
NAMED: dict[str, str] = {name: desc for name, (desc, _) in _BUILDERS.items()}


@dataclass
class Alphabet:
    """An ordered, duplicate-free class list; a class is usually one character."""

    name: str
    classes: list[str]

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def digest(self) -> str:
        """Stable short hash of the class list (cache keys, provenance in file attributes)."""
        return alphabet_hash(self.classes)


def alphabet_hash(classes: list[str]) -> str:
    """Hash of an ordered class list; equal lists give equal hashes across runs and machines."""
    h = hashlib.sha1()
    for c in classes:
        h.update(c.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def named_alphabet(name: str) -> Alphabet:
    """Build a built-in alphabet; raise listing the known names if ``name`` is not one."""
    if name not in _BUILDERS:
        raise SiamError(f"unknown alphabet {name!r} (known: {', '.join(NAMED)})")
    return Alphabet(name=name, classes=_BUILDERS[name][1]())


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def alphabet_from_text(text: str, per_line: bool | None = None, name: str = "custom") -> Alphabet:
    """Parse a class list.

    ``per_line=True``: each non-blank (stripped) line is one class, so multi-character classes
    are possible. ``per_line=False``: every non-whitespace character is a class. ``None`` picks:
    one class per line when the text has several lines and some line holds more than one
    character; a single line of characters (a pasted run such as ``가각간``) is read one class per
    character, since a one-class alphabet would be useless. Duplicates are dropped, first
    occurrence kept. An empty result raises :class:`SiamError`.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if per_line is None:
        per_line = len(lines) > 1 and any(len(ln) > 1 for ln in lines)
    if per_line:
        classes = _dedupe(lines)
    else:
        classes = _dedupe(ch for ln in lines for ch in ln if not ch.isspace())
    if not classes:
        raise SiamError(f"alphabet {name!r} holds no classes")
    return Alphabet(name=name, classes=classes)


def resolve_alphabet(spec: str, base: Path | None = None) -> Alphabet:
    """A named alphabet, or the path (relative to ``base``) of a UTF-8 class list."""
    spec = spec.strip()
    if spec in _BUILDERS:
        return named_alphabet(spec)
    if not spec:
        raise SiamError(f"no alphabet given (known: {', '.join(NAMED)}, or a class-list file)")
    path = Path(spec).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not path.exists():
        raise SiamError(f"not a known alphabet ({', '.join(NAMED)}) nor an existing file", path)
    if path.is_dir():
        raise SiamError("is a folder, expected a UTF-8 class-list file", path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SiamError(f"cannot read alphabet file ({exc.strerror or exc})", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SiamError(f"alphabet file is not UTF-8 (byte {exc.start})", path) from None
    if "\0" in text:
        raise SiamError("alphabet file is binary, expected UTF-8 text", path)
    try:
        return alphabet_from_text(text, name=spec)
    except SiamError:
        raise SiamError("alphabet file holds no classes", path) from None

"""Alphabets: the ordered list of classes a glyph file is labelled with.

The order matters: a class's position is its label in every split of a project, so train, val
and test files rendered from the same alphabet share one label space. Named alphabets are built
from the class lists in ``resources/alphabets/``, custom ones from any UTF-8
text file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import siam_workbench.resources
from siam_workbench.base.errors import SiamError


def _named_lists() -> dict[str, Path]:
    """Every ``resources/alphabets/<name>.txt``: one class per line after a ``#
    description``
    header. Shipped as files (not built in code) so a packager or user can read, diff and extend
    them; the test suite checks the Hangul list against the KS X 1001 code table."""
    folder = siam_workbench.resources.path("alphabets")
    return {p.stem: p for p in sorted(folder.glob("*.txt"))}


def _read_named(path: Path) -> tuple[str, list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    desc = lines[0].lstrip("#").strip() if lines and lines[0].startswith("#") else path.stem
    body = lines[1:] if lines and lines[0].startswith("#") else lines
    return desc, [ln for ln in body if ln]


_FILES = _named_lists()
#: name → one-line description of every built-in alphabet.
NAMED: dict[str, str] = {name: _read_named(p)[0] for name, p in _FILES.items()}


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
    if name not in _FILES:
        raise SiamError(f"unknown alphabet {name!r} (known: {', '.join(NAMED)})")
    return Alphabet(name=name, classes=_read_named(_FILES[name])[1])


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
    if spec in _FILES:
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
    if not path.is_file():
        raise SiamError("is not a regular file (a FIFO or device?); refused as alphabet", path)
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

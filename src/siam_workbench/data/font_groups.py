"""Which font faces are one face, and which families are one design: the units of a font split.

Two questions decide whether a train / val / test split by font is honest:

- **Is this the same face?** Distributions install one design in several formats (URW's
  ``NimbusRoman-Bold`` as ``.otf``, ``.pfb`` and ``.t1``). :func:`face_identity` names a face by
  its family, style and PostScript name; :func:`pick_one_per_face` keeps one file per identity
  (OpenType / TrueType before Type 1) so a design is never counted, rendered or split twice.
- **Is this the same design?** ``NanumSquare``, ``NanumSquare_ac`` and ``NanumSquareRound``,
  or ``NanumGothic`` and ``NanumGothic Eco``, ``UnBatang`` and ``UnJamoBatang``, are one design
  to a network: a model trained on one has "seen" the other. :func:`family_groups` joins faces
  whose normalised family names (every family name the font carries — name IDs 1 and 16 in every
  language — and its file name) are equal or one extends the other (``nanumsquare`` →
  ``nanumsquareround``). Weight, width and slope words and the ``Jamo`` / ``YetHangul`` markers
  are dropped first. Groups are the connected components of that relation over the faces given,
  so a face joins a group through any of its names.

The name rule joins families a reader would call siblings, never unrelated designs that merely
share a style word (``Baekmuk Dotum`` and ``UnDotum`` stay apart: "dotum" is a style class, like
"Sans"), nor a monospaced companion that redraws the letters (``DejaVu Sans Mono``). Glyphs
shared under unrelated names — D2Coding's Hangul is NanumBarunGothic's, the Un fonts share one
Latin set — are found by comparing ink (:func:`siam_workbench.data.font_checks.ink_clones`) and
joined with :func:`merge_groups`; :func:`siam_workbench.data.font_roles.design_groups` does both
for an alphabet.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from siam_workbench.data.fonts import FontFace

#: Words naming a weight, width or slope: dropped from the end of a family name.
_STYLE_WORDS = frozenset("""
    thin hairline extralight ultralight light semilight demilight regular normal book plain
    medium semibold demibold demi bold extrabold ultrabold heavy black extrablack ultrablack
    italic oblique slanted inclined kursiv condensed semicondensed extracondensed
    ultracondensed compressed narrow extended expanded semiexpanded wide extra ultra semi
    pro std ttf otf ot ps lt mt var variable
""".split())
#: Weight abbreviations font files use as a suffix (``NanumSquareEB``, ``LexiSaebomR``).
_SHORT_WEIGHTS = frozenset("r b l m eb el ul sb db h lt bd rg md th xb bk it".split())
#: Markers of a derived build of the same design, dropped wherever they stand
#: (``UnJamoBatang`` = UnBatang with jamo composition; ``… YetHangul`` = with old Hangul).
_DERIVED = re.compile(r"(?i)yet[\s_-]*hangul|jamo|옛[\s_-]*한글|자모")
#: A key this short joins others only when equal: "un" must not swallow every Un font.
MIN_PREFIX_LEN = 4
#: Extensions that name a redrawn companion, not a variant: a monospaced "Mono" / "Coding"
#: face redraws i, l, m, r, w … (DejaVu Sans Mono's Latin correlates with DejaVu Sans's no more
#: than Nimbus Sans's does). Where such a face reuses the parent's glyphs — NanumGothicCoding's
#: Hangul is NanumGothic's — the ink comparison joins them (:func:`merge_groups`).
_OWN_DESIGN_SUFFIXES = ("mono", "coding", "code")

_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_A-Za-z]+")


def name_tokens(name: str) -> list[str]:
    """Words of a family or file name: camel case, digits and scripts split, lower case."""
    name = unicodedata.normalize("NFKC", name)
    return [t.casefold() for t in _TOKEN.findall(name)]


def family_key(name: str, *, file_stem: bool = False) -> str:
    """The normalised design name: ``NanumSquare_ac Bold`` → ``nanumsquareac``.

    Trailing weight / width / slope words are dropped (and the one-letter weight suffixes files
    use, ``NanumSquareEB`` → ``nanumsquare``), ``Jamo`` / ``YetHangul`` anywhere. For a file
    stem only the part before the first ``-`` counts (``DejaVuSans-Bold``). Stripping never
    leaves less than :data:`MIN_PREFIX_LEN` characters: ``Un B`` stays ``unb``, not ``un``.
    """
    if file_stem:
        name = name.split("-", 1)[0]
    toks = name_tokens(_DERIVED.sub(" ", name))
    while len(toks) > 1:
        last = toks[-1]
        if last not in _STYLE_WORDS and last not in _SHORT_WEIGHTS:
            break
        if len("".join(toks[:-1])) < MIN_PREFIX_LEN:
            break
        toks.pop()
    return "".join(toks)


def face_names(face: FontFace) -> list[str]:
    """Every family name a face carries (FreeType's, name IDs 1 and 16 in every language)."""
    return list(dict.fromkeys([face.family, *face.family_names]))


def face_keys(face: FontFace) -> set[str]:
    """The family keys of one face: of each of its family names and of its file name."""
    keys = {family_key(n) for n in face_names(face)}
    keys.add(family_key(face.path.stem, file_stem=True))
    return {k for k in keys if k}


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def family_groups(faces: Sequence[FontFace]) -> dict[FontFace, str]:
    """Face → the name of its design group (the shortest family name in the group).

    Two faces are in one group when a key of one equals a key of the other or extends it
    (``nanumsquare`` is a prefix of ``nanumsquareround``; the shorter key must have at least
    :data:`MIN_PREFIX_LEN` characters), and transitively. Deterministic for a given set of
    faces, whatever their order.
    """
    faces = list(faces)
    key_faces: dict[str, list[int]] = {}
    for i, face in enumerate(faces):
        for k in face_keys(face):
            key_faces.setdefault(k, []).append(i)
    uf = _UnionFind(len(faces))
    for members in key_faces.values():
        for j in members[1:]:
            uf.union(members[0], j)
    keys = sorted(key_faces)
    for a, short in enumerate(keys):
        if len(short) < MIN_PREFIX_LEN:
            continue
        for longer in keys[a + 1:]:  # every extension of ``short`` follows it in sorted order
            if not longer.startswith(short):
                break
            if longer[len(short):].startswith(_OWN_DESIGN_SUFFIXES):
                continue
            uf.union(key_faces[short][0], key_faces[longer][0])
    members_of: dict[int, list[FontFace]] = {}
    for i, face in enumerate(faces):
        members_of.setdefault(uf.find(i), []).append(face)
    out: dict[FontFace, str] = {}
    for group in members_of.values():
        name = min((f.family for f in group),
                   key=lambda n: (len(family_key(n)), n.casefold(), n))
        for f in group:
            out[f] = name
    return out


def merge_groups(group_of: dict[FontFace, str],
                 pairs: Iterable[tuple[FontFace, FontFace, float]]) -> dict[FontFace, str]:
    """Join the groups of each pair (faces that draw the same glyphs under unrelated names);
    a joined group takes the name of its member group with the most faces (then by name)."""
    size: dict[str, int] = {}
    for g in group_of.values():
        size[g] = size.get(g, 0) + 1
    names = sorted(size, key=lambda n: (-size[n], n.casefold(), n))
    index = {n: i for i, n in enumerate(names)}
    uf = _UnionFind(len(names))
    for a, b, _sim in pairs:
        if a in group_of and b in group_of:
            uf.union(index[group_of[a]], index[group_of[b]])
    return {f: names[uf.find(index[g])] for f, g in group_of.items()}


# -- one face, several files --------------------------------------------------------------------

#: File formats by preference: outline formats with full tables first, Type 1 last.
_FORMAT_RANK = {".otf": 0, ".ttf": 0, ".ttc": 0, ".otc": 0, ".woff": 0, ".woff2": 0,
                ".pfb": 1, ".pfa": 1, ".t1": 1}


def format_rank(path: Path) -> int:
    return _FORMAT_RANK.get(path.suffix.lower(), 2)


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text)).casefold()


def face_identity(face: FontFace) -> tuple[str, str, str]:
    """What makes two files the same face: family, style and PostScript name, normalised.

    The PostScript name keeps apart faces whose family and style were mislabelled alike
    (``NanumSquare_acB`` and ``NanumSquare_acEB`` both call themselves "ExtraBold").
    """
    return (_norm(face.family), _norm(face.style), _norm(face.postscript_name))


def pick_one_per_face(faces: Iterable[FontFace], preferred: Iterable[Path] = ()
                      ) -> list[FontFace]:
    """One face per :func:`face_identity`; the others are recorded in its ``duplicates``.

    The kept file is the first by (format: OpenType / TrueType before Type 1; a file the user
    named or a folder they added before an installed one; path; index) — deterministic for the
    same set of files.
    """
    from dataclasses import replace

    pref = {str(p) for p in preferred}
    by_identity: dict[tuple[str, str, str], list[FontFace]] = {}
    for f in faces:
        by_identity.setdefault(face_identity(f), []).append(f)
    out: list[FontFace] = []
    for group in by_identity.values():
        group.sort(key=lambda f: (format_rank(f.path), str(f.path) not in pref, str(f.path),
                                  f.index))
        keep, rest = group[0], group[1:]
        if rest:
            keep = replace(keep, duplicates=tuple(f.path for f in rest))
        out.append(keep)
    return out

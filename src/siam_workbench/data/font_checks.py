"""Faces whose glyphs are not the characters they are mapped to: symbol fonts and odd ink.

Coverage (:func:`siam_workbench.data.fonts.coverage`) only asks "does the cmap map this character
to a glyph that draws something?". A dingbat font answers yes for ``0``–``9`` and draws pencils and
check marks; trained on, it teaches the network that a pencil is a ``0``. Two checks catch that:

- **Tables.** A Microsoft *symbol* cmap (platform 3, encoding 0), an OS/2 table that declares the
  symbol code page (``ulCodePageRange1`` bit 31) or a pictorial PANOSE family (``bFamilyType``
  5), or a family name that says so (Dingbats, Symbol, Wingdings, Ornaments, Emoji, Icons).
- **Ink.** A small sample of the alphabet — classes most faces cover, evenly spread — is
  rendered with every candidate face as training images are (:func:`render_glyph`), each glyph's
  ink box stretched to the canvas. Each glyph is compared, by correlation of lightly blurred
  images, with the *consensus* (per-pixel median) of the other faces for its own class and for
  every other sampled class. A face whose glyphs are no more like their own class's consensus
  than other classes' (score < :data:`MIN_INK_SCORE`; chance is ~0.5) is flagged. Every real
  face measured scores ≥ 0.80, brush and handwriting faces included; dingbats score ~0.5.

The same sample finds **clones**: faces drawing the same glyphs under unrelated names (D2Coding's
Hangul is NanumBarunGothic's; several Un fonts share one Latin set). :func:`ink_clones` returns
them, and :func:`siam_workbench.data.font_roles.design_groups` joins their families for the split.

A flagged face is left out of automatic roles and reported; a face named explicitly in a role
keeps its role with a warning (:func:`siam_workbench.data.font_roles.resolve_font_roles`). Rendered
samples are cached on disk like coverage, so a second check over ~100 faces only reads them back.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import alphabet_hash
from siam_workbench.data.font_groups import name_tokens

if TYPE_CHECKING:
    from siam_workbench.data.fonts import FontFace

#: Faces whose ink score (see :class:`FaceCheck`) is below this are flagged.
MIN_INK_SCORE = 0.7
#: Sampled classes per alphabet, and the side of the sample images.
SAMPLE_CLASSES = 24
SAMPLE_SIZE = 24
#: Faces needed before a consensus means anything (with two, which one is odd?).
MIN_FACES = 3
#: Mean correlation of two faces' sample glyphs from which they count as one design drawn
#: under two names (measured on the installed fonts: renamed copies and shared glyph sets
#: score ≥ 0.983, distinct designs ≤ 0.968 on Latin, digits and Hangul; docs/DATA.md).
CLONE_SIMILARITY = 0.975
MIN_CLONE_CLASSES = 8
_CACHE_VERSION = "ink1"
_SYMBOL_WORDS = frozenset("""dingbat dingbats symbol symbols wingding wingdings webdings ornament
    ornaments emoji icon icons pictogram pictograms marlett""".split())


@dataclass(frozen=True)
class FaceCheck:
    """Outcome of the checks for one face; ``reason`` is empty when the face is fine."""

    reason: str = ""
    #: ``"symbol"`` (tables or name) or ``"ink"``; empty when fine.
    kind: str = ""
    #: Ink check: mean over the face's sampled glyphs of the share of other sampled classes
    #: whose consensus is less like the glyph than its own class's (1 = always its own class
    #: first, ~0.5 = no better than chance); ``None`` when not checked.
    score: float | None = None
    compared: int = 0

    @property
    def ok(self) -> bool:
        return not self.reason


# -- tables -------------------------------------------------------------------------------------


def symbol_reason(face: FontFace) -> str:
    """Why the font's own tables or names say it is a symbol font; ``""`` if they do not."""
    words = {t for n in (face.family, face.full_name, *face.family_names) for t in name_tokens(n)}
    hit = sorted(words & _SYMBOL_WORDS)
    reasons: list[str] = []
    try:
        from siam_workbench.data.fonts import open_ft_face

        ft = open_ft_face(face.path, face.index)
        maps = [(cm.platform_id, cm.encoding_id) for cm in ft.charmaps]
    except Exception:  # noqa: BLE001 - an unreadable face fails elsewhere, with its own message
        maps = []
    if (3, 0) in maps:
        reasons.append("symbol cmap (Microsoft platform 3, encoding 0)")
    if face.path.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc", ".woff2"):
        reasons += _os2_symbol(face)
    if hit:
        reasons.append(f"family name says {hit[0]!r}")
    return "; ".join(reasons)


def _os2_symbol(face: FontFace) -> list[str]:
    """Read the OS/2 table straight from the sfnt (a few hundred bytes, no font library): the
    symbol code-page bit and the PANOSE family type."""
    import struct

    from siam_workbench.data.webfonts import sfnt_path

    try:
        with open(sfnt_path(face.path), "rb") as fh:
            head = fh.read(12)
            base = 0
            if head[:4] == b"ttcf":
                n = struct.unpack(">I", head[8:12])[0]
                if not 0 <= face.index < n:
                    return []
                fh.seek(12 + 4 * face.index)
                base = struct.unpack(">I", fh.read(4))[0]
                fh.seek(base)
                head = fh.read(12)
            num = struct.unpack(">H", head[4:6])[0]
            records = fh.read(16 * num)
            for k in range(num):
                tag, _sum, offset, length = struct.unpack(">4sIII", records[16 * k:16 * k + 16])
                if tag != b"OS/2":
                    continue
                fh.seek(offset)
                os2 = fh.read(min(length, 86))
                out: list[str] = []
                if len(os2) >= 33 and os2[32] == 5:
                    out.append("OS/2 PANOSE family is pictorial")
                version = struct.unpack(">H", os2[:2])[0] if len(os2) >= 2 else 0
                if version >= 1 and len(os2) >= 82:
                    if struct.unpack(">I", os2[78:82])[0] & (1 << 31):
                        out.append("OS/2 declares the symbol code page")
                return out
    except (OSError, struct.error, SiamError):
        pass
    return []


# -- ink ----------------------------------------------------------------------------------------


def sample_classes(coverages: np.ndarray, classes: Sequence[str], k: int = SAMPLE_CLASSES
                   ) -> list[int]:
    """Indices of ``k`` classes most faces cover, evenly spread over the alphabet's order.

    ``coverages`` is bool ``[faces, classes]``. Candidates are classes covered by at least half
    as many faces as the best-covered class (and by :data:`MIN_FACES`); whitespace-only classes
    never count.
    """
    if coverages.size == 0:
        return []
    counts = coverages.sum(axis=0)
    need = max(MIN_FACES, math.ceil(0.5 * int(counts.max())))
    cand = [i for i in np.flatnonzero(counts >= need) if classes[int(i)].strip()]
    if len(cand) <= k:
        return [int(i) for i in cand]
    return [int(cand[int((j + 0.5) * len(cand) / k)]) for j in range(k)]


def _cache_path(face: FontFace, texts: Sequence[str], size: int) -> str | None:
    from siam_workbench.data.cache import cache_dir

    try:
        st = os.stat(face.path)
    except OSError:
        return None
    key = (f"{_CACHE_VERSION}|{os.fspath(face.path)}|{st.st_mtime_ns}|{st.st_size}|"
           f"{face.index}|{size}|{alphabet_hash(list(texts))}")
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
    return str(cache_dir() / "ink" / f"{digest}.npy")


def face_samples(face: FontFace, texts: Sequence[str], size: int = SAMPLE_SIZE) -> np.ndarray:
    """uint8 ``[len(texts), size, size]`` renders of ``texts`` (all-zero where not drawn),
    cached on disk by file version, face index, size and the texts."""
    path = _cache_path(face, texts, size)
    if path is not None:
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (len(texts), size, size) and cached.dtype == np.uint8:
                return cached
        except (OSError, ValueError):
            pass
    from siam_workbench.base.errors import SiamError
    from siam_workbench.data.render import render_glyph

    out = np.zeros((len(texts), size, size), dtype=np.uint8)
    for i, t in enumerate(texts):
        try:
            img = render_glyph(face, t, size=size, margin=1)
        except SiamError:
            img = None
        if img is not None:
            out[i] = img
    if path is not None:  # best effort, like the coverage cache
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp.npy"
            np.save(tmp, out)
            os.replace(tmp, path)
        except OSError:
            pass
    return out


def _stretch(img: np.ndarray) -> np.ndarray:
    """The glyph's ink box stretched to the whole canvas: a narrow or wide face's ``O`` then
    looks like everybody's ``O`` (the renderer keeps the aspect ratio; this check should not)."""
    from PIL import Image

    rows, cols = np.flatnonzero(img.max(axis=1)), np.flatnonzero(img.max(axis=0))
    if not len(rows):
        return img
    box = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = img.shape
    return np.asarray(Image.fromarray(box).resize((w, h), Image.Resampling.BILINEAR))


def _features(images: np.ndarray) -> np.ndarray:
    """Images → zero-mean unit vectors of a stretched, 3×3-box-blurred copy (tolerates 1-pixel
    shifts and stroke-weight differences), so a dot product is a correlation."""
    x = np.stack([_stretch(im) for im in images]).astype(np.float32) / 255.0
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    h, w = x.shape[1:]
    blur = np.asarray(sum(p[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)))
    blur = blur / 9.0
    v = blur.reshape(len(x), -1)
    v = v - v.mean(axis=1, keepdims=True)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(n, 1e-6)


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


@dataclass
class InkSample:
    """Sample glyphs of a set of faces: what the ink check and the clone search compare."""

    faces: list[FontFace]
    texts: list[str]
    #: ``[faces, texts, size²]`` zero-mean unit vectors (see :func:`_features`).
    feats: np.ndarray
    #: ``[faces, texts]``: the face covers the class and its glyph has ink.
    drawn: np.ndarray


def ink_sample(faces: Sequence[FontFace], coverages: np.ndarray, classes: Sequence[str],
               k: int = SAMPLE_CLASSES, size: int = SAMPLE_SIZE) -> InkSample:
    """Render (or load from the cache) :func:`sample_classes` for every face."""
    faces = list(faces)
    idx = sample_classes(coverages, classes, k)
    texts = [classes[i] for i in idx]
    feats = np.zeros((len(faces), len(idx), size * size), dtype=np.float32)
    drawn = np.zeros((len(faces), len(idx)), dtype=bool)
    if idx:
        cov = coverages[:, idx]
        for fi, face in enumerate(faces):
            if not cov[fi].any():
                continue
            imgs = face_samples(face, texts, size)
            drawn[fi] = cov[fi] & (imgs.reshape(len(idx), -1).max(axis=1) > 0)
            feats[fi] = _features(imgs)
    return InkSample(faces=faces, texts=texts, feats=feats, drawn=drawn)


def ink_checks(sample: InkSample) -> dict[FontFace, FaceCheck]:
    """The ink check of every face of ``sample``.

    Faces drawing fewer than three sampled classes that two other faces also draw come back
    unchecked (``score is None``), and so does everything when fewer than :data:`MIN_FACES`
    faces cover the sample.
    """
    faces, feats, drawn = sample.faces, sample.feats, sample.drawn
    out = {f: FaceCheck() for f in faces}
    n_cls = len(sample.texts)
    if n_cls < 2:
        return out
    # Per class: the median image of the faces drawing it (rebuilt without the face itself
    # where few faces draw it, so a face never votes for itself).
    full = np.zeros((n_cls, feats.shape[2]), dtype=np.float32)
    for c in range(n_cls):
        who = np.flatnonzero(drawn[:, c])
        if len(who):
            full[c] = _unit(np.median(feats[who, c], axis=0))
    counts = drawn.sum(axis=0)
    for fi, face in enumerate(faces):
        valid = counts - drawn[fi] >= MIN_FACES - 1
        mine = [c for c in np.flatnonzero(drawn[fi]) if valid[c]]
        cols = np.flatnonzero(valid)
        if len(mine) < 3 or len(cols) < 2:
            continue
        cons = full.copy()
        for j in mine:
            if counts[j] <= 24:
                who = np.flatnonzero(drawn[:, j])
                cons[j] = _unit(np.median(feats[who[who != fi], j], axis=0))
        sims = feats[fi, mine] @ cons[cols].T  # [its glyphs, sampled classes]
        right_col = np.searchsorted(cols, mine)
        right = sims[np.arange(len(mine)), right_col][:, None]
        beaten = (sims < right).sum(axis=1) / (len(cols) - 1)  # the right class itself: not <
        score = float(beaten.mean())
        reason = ""
        if score < MIN_INK_SCORE:
            reason = (f"ink unlike the other faces': its glyphs resemble the other faces' same "
                      f"character no more than other characters (score {score:.2f}, flagged "
                      f"below {MIN_INK_SCORE:.2f})")
        out[face] = FaceCheck(reason=reason, kind="ink" if reason else "", score=score,
                              compared=len(mine))
    return out


def ink_clones(sample: InkSample, threshold: float = CLONE_SIMILARITY
               ) -> list[tuple[FontFace, FontFace, float]]:
    """Pairs of faces drawing the same glyphs: mean correlation over the sampled classes both
    draw ≥ ``threshold``, on at least :data:`MIN_CLONE_CLASSES` classes (or every sampled class
    when the sample is smaller). Sorted, each pair once."""
    faces, feats, drawn = sample.faces, sample.feats, sample.drawn
    n = len(faces)
    if n < 2 or not sample.texts:
        return []
    total = np.zeros((n, n), dtype=np.float64)
    shared = np.zeros((n, n), dtype=np.int64)
    for c in range(len(sample.texts)):
        who = np.flatnonzero(drawn[:, c])
        if len(who) < 2:
            continue
        x = feats[who, c]
        total[np.ix_(who, who)] += x @ x.T
        shared[np.ix_(who, who)] += 1
    need = min(MIN_CLONE_CLASSES, len(sample.texts))
    mean = total / np.maximum(shared, 1)
    out = []
    for i, j in zip(*np.nonzero(np.triu((shared >= need) & (mean >= threshold), k=1)),
                    strict=True):
        out.append((faces[i], faces[j], float(mean[i, j])))
    return sorted(out, key=lambda t: (t[0].sort_key(), t[1].sort_key()))


@dataclass
class FontAnalysis:
    """Per face: the checks; and the pairs of faces that draw the same glyphs of the alphabet."""

    checks: dict[FontFace, FaceCheck]
    clones: list[tuple[FontFace, FontFace, float]]


def analyse_faces(faces: Sequence[FontFace], coverages: np.ndarray, classes: Sequence[str]
                  ) -> FontAnalysis:
    """Tables, names and ink for every face (rows of ``coverages`` follow ``faces``), and the
    clone pairs among faces that pass.

    A face with a symbol table or name is flagged ``"symbol"`` whatever its ink says; it also
    stays out of the ink consensus so a family of dingbats cannot outvote the letters.
    """
    faces = list(faces)
    symbol = {i: symbol_reason(face) for i, face in enumerate(faces)}
    plain = [i for i in range(len(faces)) if coverages[i].any() and not symbol[i]]
    sample = ink_sample([faces[i] for i in plain], coverages[plain], classes)
    ink = ink_checks(sample)
    checks: dict[FontFace, FaceCheck] = {}
    for i, face in enumerate(faces):
        if symbol.get(i):
            checks[face] = FaceCheck(reason=f"symbol font: {symbol[i]}", kind="symbol")
        else:
            checks[face] = ink.get(face, FaceCheck())
    clones = [(a, b, s) for a, b, s in ink_clones(sample) if checks[a].ok and checks[b].ok]
    return FontAnalysis(checks=checks, clones=clones)

"""Font discovery, alphabet coverage and the train / val / test font roles.

Fonts are the "writers" of rendered data: a network is validated on font designs it never saw
in training, so roles are assigned per *design group* (:mod:`siam_workbench.data.font_groups`: a
family
with its weight, Eco, Round, Jamo … siblings) and no group may serve two roles. A face installed
in several formats is one face. Faces whose glyphs are not the characters (symbol fonts, odd
ink: :mod:`siam_workbench.data.font_checks`) stay out of automatic roles. Coverage is asked for ~100
faces × 11,172 classes every time the Data tab opens, so it reads the cmap, checks mapped glyphs
for an outline without rasterising, and caches the answer on disk per file version and alphabet.
"""

from __future__ import annotations

import ctypes
import fnmatch
import hashlib
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import alphabet_hash
from siam_workbench.data.cache import cache_dir
from siam_workbench.data.font_groups import pick_one_per_face
from siam_workbench.data.webfonts import sfnt_path

#: Web fonts too: FreeType reads ``.woff``; ``.woff2`` goes through a decompressed copy
#: (:mod:`siam_workbench.data.webfonts`).
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc", ".pfb", ".pfa", ".t1", ".woff", ".woff2")
ROLES = ("train", "val", "test")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts",
                    "~/.fonts")
_COVERAGE_VERSION = "cov1"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FontFace:
    """One face of a font file (collections hold several)."""

    path: Path
    index: int
    family: str
    style: str
    full_name: str
    #: Other family names the font carries (name IDs 1 and 16, every language): grouping only.
    family_names: tuple[str, ...] = field(default=(), compare=False)
    postscript_name: str = field(default="", compare=False)
    #: Files holding the same face that discovery dropped for this one (other formats).
    duplicates: tuple[Path, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        """Short, stable name used as the HDF5 source name (``NanumGothic.ttf#0``)."""
        return f"{self.path.name}#{self.index}"

    def sort_key(self) -> tuple[str, str, str, int]:
        return (self.family.casefold(), self.style.casefold(), str(self.path), self.index)


# -- FreeType access --------------------------------------------------------------------------


# freetype-py shares one FT_Library; FreeType requires creating *and discarding* faces in it to
# be serialised (the GUI scans fonts on two worker threads at once while a render thread runs;
# an unlocked FT_Done_Face beside an FT_New_Face crashed the process). Using a face is
# per-thread: every thread keeps its own faces (see siam_workbench.data.render). Re-entrant,
# because a collection inside a locked region may discard another face on the same thread.
_FT_LOCK = threading.RLock()
_FACE_CLASS: Any = None


def _face_class() -> Any:
    """``freetype.Face`` whose destructor takes :data:`_FT_LOCK` (made once, on first use, so
    importing this module does not load FreeType)."""
    global _FACE_CLASS
    if _FACE_CLASS is None:
        import freetype

        class LockedFace(freetype.Face):
            def __del__(self) -> None:
                with _FT_LOCK:
                    super().__del__()

        _FACE_CLASS = LockedFace
    return _FACE_CLASS


def open_ft_face(path: Path | str, index: int = 0) -> Any:
    """Open a FreeType face; a file FreeType cannot read raises :class:`SiamError` naming it.
    A ``.woff2`` is opened through its decompressed copy
    (:func:`siam_workbench.data.webfonts.sfnt_path`)."""
    import freetype

    real = sfnt_path(path)
    try:
        with _FT_LOCK:
            return _face_class()(str(real), index)
    except (freetype.FT_Exception, OSError) as exc:
        raise SiamError(f"not a font file FreeType can read ({exc})", path) from None


def _name_entries(ft: Any) -> list[tuple[int, int, str]]:
    """Decoded name-table records ``(name_id, rank, text)``; rank 0 = English, 1 = other
    Unicode, 2 = other Mac records. Empty for formats without a name table (Type 1)."""
    try:
        count = ft.sfnt_name_count
    except Exception:  # noqa: BLE001 - non-SFNT formats have no name table
        return []
    out: list[tuple[int, int, str]] = []
    for k in range(count):
        try:
            n = ft.get_sfnt_name(k)
        except Exception:  # noqa: BLE001 - a broken record is simply skipped
            continue
        platform, language, raw_text = n.platform_id, n.language_id, n.string
        if platform in (0, 3):
            text = raw_text.decode("utf-16-be", errors="replace")
        elif platform == 1:
            text = raw_text.decode("mac_roman", errors="replace")
        else:
            continue
        english = (platform == 3 and language == 0x409) or (platform == 1 and language == 0)
        text = text.strip()
        if text:
            out.append((n.name_id, 0 if english else 1 if platform in (0, 3) else 2, text))
    return out


def _name_string(ft: Any, name_ids: Sequence[int]) -> str:
    """The English (or else any Unicode) name-table entry for the first of ``name_ids`` found."""
    entries = _name_entries(ft)
    for wanted in name_ids:
        ranked = [(rank, text) for nid, rank, text in entries if nid == wanted]
        if ranked:
            return min(ranked, key=lambda r: r[0])[1]
    return ""


def _decode(value: bytes | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


def _faces_of_file(path: Path) -> list[FontFace]:
    """Every face of one file; raises :class:`SiamError` if FreeType cannot read it."""
    first = open_ft_face(path, 0)
    out: list[FontFace] = []
    for index in range(max(1, int(first.num_faces))):
        ft = first if index == 0 else open_ft_face(path, index)
        family = _decode(ft.family_name) or path.stem
        style = _decode(ft.style_name) or "Regular"
        entries = _name_entries(ft)
        full = _name_string(ft, (4,)) or f"{family} {style}"
        names = tuple(dict.fromkeys(t for nid, rank, t in entries
                                    if nid in (1, 16) and rank < 2 and t != family))
        try:
            ps = _decode(ft.postscript_name)
        except Exception:  # noqa: BLE001 - a face without one is named by family and style
            ps = ""
        out.append(FontFace(path=path, index=index, family=family, style=style, full_name=full,
                            family_names=names, postscript_name=ps))
    return out


def _fc_list_files() -> list[Path]:
    """Font files fontconfig knows about (empty when fontconfig is not installed)."""
    exe = shutil.which("fc-list")
    if not exe:
        return []
    try:
        proc = subprocess.run([exe, "--format", "%{file}\n"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line) for line in proc.stdout.splitlines() if line.strip()]


def _walk_font_files(folder: Path) -> list[Path]:
    out: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(FONT_SUFFIXES):
                out.append(Path(dirpath) / name)
    return out


def discover_fonts(extra: Iterable[str | Path] = (), system: bool = True) -> list[FontFace]:
    """Installed fonts (fontconfig plus the usual folders) and the user's files / folders.

    Every face of a collection is listed; the same file reached twice (symlinks, fontconfig and
    a folder walk) is listed once, and so is one face installed in several files (same family,
    style and PostScript name: ``.otf`` + ``.pfb`` + ``.t1``) — the kept face lists the others in
    ``duplicates`` (:func:`siam_workbench.data.font_groups.pick_one_per_face`: OpenType / TrueType
    before
    Type 1, the user's files before installed ones). A file given explicitly that is not a font
    raises :class:`SiamError` naming it; unreadable files met while walking folders are skipped.
    """
    candidates: list[tuple[Path, bool]] = []  # (path, explicit)
    if system:
        candidates += [(p, False) for p in _fc_list_files()]
        for d in SYSTEM_FONT_DIRS:
            folder = Path(d).expanduser()
            if folder.is_dir():
                candidates += [(p, False) for p in _walk_font_files(folder)]
    n_system = len(candidates)
    for item in extra:
        p = Path(item).expanduser()
        if p.is_dir():
            candidates += [(f, False) for f in _walk_font_files(p)]
        elif p.exists():
            candidates.append((p, True))
        else:
            raise SiamError("font file or folder not found", p)
    faces: dict[tuple[str, int], FontFace] = {}
    done: set[str] = set()
    users = {os.path.realpath(p) for p, _ in candidates[n_system:]}
    for path, explicit in candidates:
        real = os.path.realpath(path)
        if real in done:
            continue
        done.add(real)
        try:
            found = _faces_of_file(Path(real))
        except SiamError:
            if explicit:
                raise
            continue
        for face in found:
            faces[(real, face.index)] = face
    kept = pick_one_per_face(faces.values(), preferred=[Path(u) for u in users])
    return sorted(kept, key=FontFace.sort_key)


# -- coverage ---------------------------------------------------------------------------------


def _coverage_key(face: FontFace, classes: list[str]) -> str | None:
    try:
        st = os.stat(face.path)
    except OSError:
        return None
    text = (f"{_COVERAGE_VERSION}|{os.path.realpath(face.path)}|{st.st_mtime_ns}|{st.st_size}|"
            f"{face.index}|{alphabet_hash(classes)}")
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _load_cached(key: str, n: int) -> np.ndarray | None:
    path = cache_dir() / "coverage" / f"{key}.npy"
    try:
        packed = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    bits = np.unpackbits(packed)[:n].astype(bool)
    return bits if bits.size == n else None


def _store_cached(key: str, cov: np.ndarray) -> None:
    """Best effort: a read-only home only costs speed, never correctness."""
    folder = cache_dir() / "coverage"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp.npy"
        np.save(tmp, np.packbits(cov.astype(bool)))
        os.replace(tmp, folder / f"{key}.npy")
    except OSError:
        pass


def glyph_has_ink(ft: Any, glyph_index: int) -> bool:
    """True if the glyph draws something: an outline with area, or a bitmap with set pixels.

    Outline fonts are answered from the unscaled outline (no rasterising), which is what makes
    coverage of 11,172 classes cost milliseconds per face.
    """
    import freetype
    from freetype import raw

    fp = ft._FT_Face
    if raw.FT_Load_Glyph(fp, glyph_index, freetype.FT_LOAD_NO_SCALE):
        return _bitmap_glyph_has_ink(ft, glyph_index)
    slot = fp.contents.glyph.contents
    if slot.format == freetype.FT_GLYPH_FORMAT_OUTLINE:
        outline = slot.outline
        if outline.n_contours <= 0 or outline.n_points <= 0:
            return False
        box = freetype.ft_structs.FT_BBox()
        raw.FT_Outline_Get_CBox(ctypes.byref(outline), ctypes.byref(box))
        return box.xMax > box.xMin and box.yMax > box.yMin
    return _bitmap_glyph_has_ink(ft, glyph_index)


def _bitmap_glyph_has_ink(ft: Any, glyph_index: int) -> bool:
    import freetype

    try:
        if ft.is_scalable:
            ft.set_pixel_sizes(0, 32)
        elif ft.num_fixed_sizes:
            ft.select_size(0)
        ft.load_glyph(glyph_index, freetype.FT_LOAD_RENDER | freetype.FT_LOAD_COLOR)
    except freetype.FT_Exception:
        return False
    bm = ft.glyph.bitmap
    if bm.rows == 0 or bm.width == 0:
        return False
    buf = ctypes.string_at(bm._FT_Bitmap.buffer, bm.rows * abs(bm.pitch))
    return any(buf)


def compute_coverage(face: FontFace, classes: list[str]) -> np.ndarray:
    """Uncached coverage (see :func:`coverage`)."""
    from freetype import raw

    ft = open_ft_face(face.path, face.index)
    fp = ft._FT_Face
    ink: dict[int, bool] = {}
    out = np.zeros(len(classes), dtype=bool)
    for i, cls in enumerate(classes):
        chars = [ch for ch in cls if not ch.isspace()]
        if not chars:
            continue
        ok = True
        for ch in chars:
            gid = raw.FT_Get_Char_Index(fp, ord(ch))
            if not gid:
                ok = False
                break
            has = ink.get(gid)
            if has is None:
                has = ink[gid] = glyph_has_ink(ft, gid)
            if not has:
                ok = False
                break
        out[i] = ok
    return out


def coverage(face: FontFace, classes: list[str]) -> np.ndarray:
    """Per class: True if every (non-space) character maps to a glyph that draws something.

    Mapped-but-blank glyphs (placeholders some CJK fonts carry) count as missing; all-whitespace
    classes are never covered. Cached under :func:`cache_dir` keyed by the file's real path,
    mtime, size, the face index and the alphabet's hash.
    """
    key = _coverage_key(face, classes)
    if key is not None:
        cached = _load_cached(key, len(classes))
        if cached is not None:
            return cached
    cov = compute_coverage(face, classes)
    if key is not None:
        _store_cached(key, cov)
    return cov


def coverage_fraction(face: FontFace, classes: list[str]) -> float:
    return float(coverage(face, classes).mean()) if classes else 0.0


# -- roles ------------------------------------------------------------------------------------

_GLOB_CHARS = set("*?[")


def _face_keys(face: FontFace) -> list[str]:
    """Names a role spec may use; a dropped duplicate's file (``X.pfb``) names its kept face."""
    return [face.path.name, face.id, face.family, face.full_name, str(face.path),
            *(p.name for p in face.duplicates), *(str(p) for p in face.duplicates)]


def is_glob(spec: str) -> bool:
    return any(c in _GLOB_CHARS for c in spec)


def match_faces(spec: str, faces: Sequence[FontFace]) -> list[FontFace]:
    """Faces a role spec names: file name, ``file#index`` (= face id), family, full name or path;
    or a case-insensitive glob over any of these."""
    want = spec.strip().casefold()
    if not want:
        return []
    if is_glob(want):
        return [f for f in faces
                if any(fnmatch.fnmatchcase(k.casefold(), want) for k in _face_keys(f))]
    return [f for f in faces if any(k.casefold() == want for k in _face_keys(f))]


KOREAN_FONT_PACKAGES = (
    "fonts-nanum fonts-nanum-extra fonts-nanum-eco fonts-unfonts-core fonts-unfonts-extra "
    "fonts-baekmuk fonts-alee fonts-lexi-gulim fonts-lexi-saebom fonts-naver-d2coding "
    "fonts-woowa-bm"
)


def missing_script_hint(classes: list[str], covering_faces: int) -> str:
    """One line telling the user what to install when no face covers a Hangul alphabet.

    Without the Korean packages the app still runs (DejaVu covers Latin, Greek, Cyrillic); this
    is what the Data tab and ``siam fonts`` say instead of an empty font table.
    """
    if covering_faces > 0:
        return ""
    if any("\uac00" <= ch <= "\ud7a3" for c in classes[:64] for ch in c):
        return ("No installed font covers this Hangul alphabet. Install the Korean fonts "
                f"with: sudo apt-get install {KOREAN_FONT_PACKAGES}")
    return ("No installed font covers this alphabet; add font files or folders "
            "(Add font folder… / --fonts).")


def face_token(face: FontFace) -> str:
    """What a project's ``data.*_fonts`` lists hold for one face: its file name, with ``#i``
    for a face of a collection (the same spelling as the face id, which the name alone would
    not single out)."""
    path = Path(face.path)
    index = int(getattr(face, "index", 0) or 0)
    if index or path.suffix.lower() in (".ttc", ".otc"):
        return f"{path.name}#{index}"
    return path.name

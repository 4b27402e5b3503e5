"""Web fonts (``.woff``, ``.woff2``) as ordinary font files.

FreeType reads WOFF (zlib-compressed sfnt tables) itself. WOFF2 (Brotli, with the ``glyf`` and
``loca`` tables transformed) only when FreeType was built with Brotli, which freetype-py's
bundled library is not; so a ``.woff2`` is decompressed once by fontTools (its Brotli codec is
the ``brotli`` package) into a plain ``.ttf`` / ``.otf`` in the cache folder, named by the
file's path, size and modification time, written to a temporary name and renamed. The user's
file stays what the project and the glyph files name (``Face.woff2#0``); only FreeType reads
the decompressed copy. A file that is not a readable web font is one :class:`SiamError`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from siam_workbench.base.errors import SiamError

WEB_FONT_SUFFIXES = (".woff", ".woff2")
_LOCK = threading.Lock()


def needs_decompression(path: Path) -> bool:
    return path.suffix.lower() == ".woff2"


def _cache_folder() -> Path:
    from siam_workbench.data.cache import cache_dir

    return cache_dir() / "webfonts"


def sfnt_path(path: str | Path) -> Path:
    """The file FreeType should open for ``path``: itself, or for a ``.woff2`` its
    decompressed copy in the cache (made on first use)."""
    path = Path(path)
    if not needs_decompression(path):
        return path
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SiamError(f"cannot read font file ({exc.strerror or exc})", path) from None
    key = hashlib.sha1(f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}".encode()
                       ).hexdigest()[:16]
    folder = _cache_folder()
    for ext in (".ttf", ".otf"):
        done = folder / f"{path.stem}-{key}{ext}"
        if done.is_file():
            return done
    with _LOCK:
        return _decompress(path, folder, f"{path.stem}-{key}")


def _decompress(path: Path, folder: Path, stem: str) -> Path:
    try:
        from fontTools.ttLib import TTFont, TTLibError
    except ImportError:  # pragma: no cover - fontTools is a dependency
        raise SiamError("reading .woff2 fonts needs fontTools", path) from None
    quiet = logging.getLogger("fontTools")  # it logs before raising; the error says it all
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        font = TTFont(str(path), lazy=False)
    except ImportError:
        raise SiamError("reading a .woff2 font needs the brotli package (pip install brotli)",
                        path) from None
    except (TTLibError, OSError, ValueError, KeyError, AssertionError, EOFError) as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise SiamError(f"not a readable web font ({reason})", path) from None
    except Exception as exc:  # noqa: BLE001 - a damaged file trips fontTools anywhere
        raise SiamError(f"not a readable web font ({type(exc).__name__})", path) from None
    finally:
        quiet.setLevel(level)
    ext = ".otf" if font.sfntVersion == "OTTO" else ".ttf"
    out = folder / f"{stem}{ext}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError:  # no writable cache: a private temporary folder for this process
        folder = Path(tempfile.mkdtemp(prefix="siam-webfonts-"))
        out = folder / f"{stem}{ext}"
        tmp = str(folder / f".{stem}.tmp")
    try:
        font.flavor = None
        font.save(tmp)
        os.replace(tmp, out)
    except Exception as exc:  # noqa: BLE001 - whatever failed, leave no partial file
        Path(tmp).unlink(missing_ok=True)
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise SiamError(f"cannot decompress web font ({reason})", path) from None
    finally:
        font.close()
    return out

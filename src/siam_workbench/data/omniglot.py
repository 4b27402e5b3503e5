"""Omniglot drawings as glyph sets, and the tables that name their characters.

Omniglot numbers the characters of an alphabet (``character01`` …) in an order it does not
document. Where an alphabet of the project draws the same letters, a shipped table
(``resources/omniglot/<name>.tsv``: ``class<TAB>character``, ``#`` comments, the
class as ``siam import omniglot`` names it, ``"<alphabet>/<characterNN>"``) names each folder, so
drawings and font renders share one label space (matched by class name, like every other
file: :meth:`siam_workbench.data.glyphs.GlyphSet.aligned_to`). The katakana table and how it was
established are in its header and in docs/RESULTS.md ("Real handwriting").

:func:`load_drawings` reads the unzipped PNGs straight into memory, framed by
:func:`siam_workbench.data.imaging.normalize_glyph` in the size mode asked for — the framing of the
project that will read them — so a benchmark scores drawings exactly as the run frames its
own data. Sources are drawers (``drawer07``), which is what a by-drawer split needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from siam_workbench.base.errors import SiamError

_FILE = re.compile(r"^(?P<id>\d+)_(?P<drawer>\d+)$")


def mapping_path(name: str) -> Path:
    """The shipped table for a named mapping (``katakana``)."""
    import siam_workbench.resources

    return siam_workbench.resources.path("omniglot", f"{name}.tsv")


def read_mapping(name_or_path: str | Path) -> dict[str, str]:
    """``{omniglot class: character}`` from a shipped name or a TSV path; a bad table is one
    line naming the file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = mapping_path(str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiamError(f"cannot read the Omniglot mapping ({exc})", path) from None
    table: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise SiamError(f"line {n}: expected class<TAB>character", path)
        folder, char = parts[0].strip(), parts[1].strip()
        if folder in table:
            raise SiamError(f"line {n}: class {folder!r} listed twice", path)
        if char in table.values():
            raise SiamError(f"line {n}: character {char!r} given to two folders", path)
        table[folder] = char
    if not table:
        raise SiamError("the Omniglot mapping is empty", path)
    return table


def find_alphabet(root: str | Path, alphabet: str) -> Path:
    """The folder of ``alphabet`` under ``root`` (the alphabet folder itself, its parent
    ``images_background_smallN`` or the folder holding several of those)."""
    root = Path(root)
    for cand in (root, root / alphabet, *sorted(root.glob(f"*/{alphabet}"))):
        if cand.is_dir() and cand.name == alphabet:
            return cand
    raise SiamError(f"Omniglot alphabet {alphabet!r} not found (unzip the images zip there)",
                    root)


def load_drawings(root: str | Path, alphabets: list[str], size: int = 37, margin: int = 2,
                  mode: str = "fit", mapping: dict[str, str] | None = None,
                  drawers: set[int] | None = None):  # -> GlyphSet (torch imported lazily)
    """Omniglot drawings of ``alphabets`` as a :class:`~siam_workbench.data.glyphs.GlyphSet`.

    Class names are ``"<alphabet>/<folder>"``, or what ``mapping`` names them (then classes
    it does not name are left out). Sources are ``drawerNN``;
    ``drawers`` keeps only those drawer numbers. Classes keep Omniglot's folder order.
    """
    import torch

    from siam_workbench.data.glyphs import GlyphSet
    from siam_workbench.data.imaging import normalize_glyph
    from siam_workbench.data.importers import read_image

    classes: list[str] = []
    images: list[np.ndarray] = []
    labels: list[int] = []
    srcs: list[str] = []
    for alphabet in alphabets:
        adir = find_alphabet(root, alphabet)
        for cdir in sorted(p for p in adir.iterdir() if p.is_dir()):
            name = f"{alphabet}/{cdir.name}"
            if mapping is not None and name not in mapping:
                continue
            label = len(classes)
            classes.append(mapping[name] if mapping is not None else name)
            for f in sorted(cdir.glob("*.png")):
                m = _FILE.match(f.stem)
                drawer = int(m["drawer"]) if m else -1
                if drawers is not None and drawer not in drawers:
                    continue
                images.append(normalize_glyph(read_image(f), size, margin, polarity="dark",
                                              mode=mode))
                labels.append(label)
                srcs.append(f"drawer{drawer:02d}")
    if mapping is not None:
        there = {f"{a}/{p.name}" for a in alphabets for p in find_alphabet(root, a).iterdir()}
        missing = sorted(c for c in mapping if c.split("/")[0] in alphabets and c not in there)
        if missing:
            raise SiamError(f"mapping names classes that are not there: {', '.join(missing)}",
                            root)
    if not images:
        raise SiamError("no Omniglot drawings found", root)
    source_names = sorted(set(srcs))
    index = {s: i for i, s in enumerate(source_names)}
    return GlyphSet(images=torch.from_numpy(np.stack(images)),
                    labels=torch.tensor(labels, dtype=torch.int64),
                    sources=torch.tensor([index[s] for s in srcs], dtype=torch.int64),
                    classes=classes, source_names=source_names,
                    rows=np.arange(len(images), dtype=np.int64),
                    attrs={"size_mode": mode, "importer": "omniglot"})


def relabel_classes(classes: list[str], mapping: dict[str, str]) -> list[str]:
    """Class names of an imported Omniglot file (``"Japanese_(katakana)/character09"``) under
    a mapping (``"コ"``); classes the mapping does not name are kept as they are."""
    return [mapping.get(c, c) for c in classes]

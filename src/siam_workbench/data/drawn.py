"""The project's labelled hand drawings (``drawn.h5``): the glyph schema with source ``drawn``,
plus each drawing's original pixels at full resolution (``/originals``, ``/original_shapes``)
so it can be re-normalised later or reviewed as drawn.

The file is small (hundreds of drawings), so every change rewrites it completely through
GlyphWriter: a crash mid-save leaves the previous file, never a half-edited one. Changes are
serialised between processes and windows (:func:`siam_workbench.base.locks.lock_edit`): each one
re-reads the
file under the lock when someone else changed it, so three concurrent ``siam draw add`` keep all
three drawings, and a relabel or delete of a drawing that moved is refused instead of hitting
another one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.base.locks import lock_edit
from siam_workbench.base.paths import check_inside
from siam_workbench.data.framing import Framing, framing_meta, mismatch, recorded_framing
from siam_workbench.data.glyphs import GlyphFile, GlyphWriter
from siam_workbench.data.h5check import dataset, read
from siam_workbench.data.imaging import MAX_IMAGE_PIXELS, normalize_glyph

SOURCE = "drawn"


@dataclass
class Drawing:
    image: np.ndarray  # uint8 [S, S], ink 255: what the network sees
    original: np.ndarray | None  # uint8 [H, W] as drawn (None if the file lost it)
    label: str
    excluded: bool = False

    def same_as(self, other: Drawing) -> bool:
        return self.label == other.label and np.array_equal(self.image, other.image)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class DrawnStore:
    """The drawings in memory plus the rules for changing the file.

    ``root`` (the project folder) confines writes: a ``data.drawn`` that points outside the
    project is read but never written. ``margin`` and ``mode`` frame new drawings as the
    project frames its glyphs (``data.margin``, ``data.size_mode``).
    """

    def __init__(self, path: str | Path, image_size: int = 37, margin: int = 2,
                 mode: str = "fit", root: str | Path | None = None) -> None:
        self.path = Path(path)
        self.image_size = image_size
        self.margin, self.mode = margin, mode
        self.root = Path(root) if root is not None else None
        self.warning = ""
        self._pending: list[Drawing] = []
        self._stamp = _stamp(self.path)
        self._unreadable = ""
        self.drawings: list[Drawing] = self._read() if self._stamp is not None else []

    def _read(self) -> list[Drawing]:
        self.warning = ""
        self._unreadable = ""  # originals the file holds but this code cannot read
        with GlyphFile(self.path) as gf:
            if gf.source_names != [SOURCE]:
                raise SiamError(f"is not a drawings file (its sources are "
                                f"{', '.join(gf.source_names[:3])}…); data.drawn must name a "
                                "file of its own, which the Draw tab and siam draw rewrite",
                                self.path)
            if gf.image_size != self.image_size:
                raise SiamError(f"drawings are {gf.image_size}×{gf.image_size}, the project "
                                f"uses {self.image_size}×{self.image_size}", self.path)
            images = gf.images()
            labels = [gf.classes[i] for i in gf.labels]
            excluded = gf.excluded
            originals = self._originals(gf, len(images))
            have = recorded_framing(gf.attrs)
        drawings = [Drawing(im, orig, lab, bool(ex))
                    for im, orig, lab, ex in zip(images, originals, labels, excluded)]
        if have is None or mismatch(have, self.framing) is not None:
            for d in drawings:  # framed otherwise (or unknown): re-frame from the originals
                d.image = self._framed(d)
        return drawings

    @property
    def framing(self) -> Framing:
        return Framing(self.mode, int(self.margin), int(self.image_size))

    def _framed(self, d: Drawing) -> np.ndarray:
        """The drawing framed as this store frames (its stored image when the original is
        lost, or is only that image)."""
        o = d.original
        if o is None or (o.shape == d.image.shape and np.array_equal(o, d.image)):
            return d.image
        try:
            return normalize_glyph(o, self.image_size, self.margin, mode=self.mode)
        except SiamError:
            return d.image

    def _originals(self, gf: GlyphFile, n: int) -> list[np.ndarray | None]:
        out, warning, unreadable = _read_originals(gf, n, self.path)
        if warning:
            self.warning = warning
        self._unreadable = unreadable or self._unreadable
        return out

    def __len__(self) -> int:
        return len(self.drawings)

    @property
    def classes(self) -> list[str]:
        return list(dict.fromkeys(d.label for d in self.drawings))

    # -- changes --------------------------------------------------------------------------
    def _drawing(self, original: np.ndarray, label: str) -> Drawing:
        if not label:
            raise SiamError("a drawing needs a label")
        original = np.asarray(original)
        if original.ndim == 3:
            original = original[..., :3].mean(axis=2)
        if original.ndim != 2 or original.size > MAX_IMAGE_PIXELS:
            raise SiamError(f"a drawing must be a 2-D image of at most {MAX_IMAGE_PIXELS:,} "
                            f"pixels, got shape {original.shape}")
        image = normalize_glyph(original, self.image_size, self.margin, mode=self.mode)
        return Drawing(image, np.clip(original, 0, 255).astype(np.uint8), label)

    def add(self, original: np.ndarray, label: str, save: bool = True) -> int:
        """Normalise a drawing (any size, either polarity) and store it under ``label``.

        With ``save=False`` the drawing waits in memory until :meth:`save`.
        """
        drawing = self._drawing(original, label)
        self._pending.append(drawing)
        if not save:
            self.drawings.append(drawing)
            return len(self.drawings) - 1
        try:
            self.save()
        except BaseException:
            self._pending.remove(drawing)
            raise
        return len(self.drawings) - 1

    def _check(self, row: int, drawings: list[Drawing]) -> None:
        if not 0 <= row < len(drawings):
            raise SiamError(f"no drawing {row} (there are {len(drawings)})", self.path)

    def relabel(self, row: int, label: str) -> None:
        if not label:
            raise SiamError("a drawing needs a label")
        self._check(row, self.drawings)

        def change(drawings: list[Drawing]) -> None:
            drawings[row].label = label

        self._edit(change, row)

    def delete(self, row: int) -> None:
        self._check(row, self.drawings)

        def change(drawings: list[Drawing]) -> None:
            del drawings[row]

        self._edit(change, row)

    def save(self) -> None:
        """Write the drawings added with ``save=False`` (on top of whatever the file holds)."""
        pending = list(self._pending)

        def change(drawings: list[Drawing]) -> None:
            known = {id(d) for d in drawings}
            drawings.extend(d for d in pending if id(d) not in known)

        self._edit(change)
        self._pending.clear()

    def _edit(self, change: Callable[[list[Drawing]], None], row: int | None = None) -> None:
        """Apply ``change`` to the file's current drawings under the edit lock and rewrite it."""
        if self.root is not None:
            check_inside(self.path, self.root, "data.drawn")
        with lock_edit(self.path):
            if _stamp(self.path) != self._stamp:  # someone else changed the file
                shown = self.drawings
                fresh = self._read() if _stamp(self.path) is not None else []
                if row is not None and (row >= len(fresh) or not fresh[row].same_as(shown[row])):
                    self.drawings, self._stamp = fresh, _stamp(self.path)
                    self._pending.clear()
                    raise SiamError("the drawings changed on disk since they were shown "
                                    "(another window or siam draw); reloaded, nothing "
                                    "changed: try again", self.path)
                drawings = fresh
            else:
                drawings = [d for d in self.drawings if not any(d is p for p in self._pending)]
            if self._unreadable:  # rewriting would replace them with image-size copies
                raise SiamError(f"its /originals {self._unreadable}; changing the file would "
                                f"replace them with {self.image_size}×{self.image_size} "
                                "copies, so it is left as it is (move it aside to start a "
                                "new drawings file)", self.path)
            drawings = [Drawing(d.image, d.original, d.label, d.excluded) for d in drawings]
            change(drawings)
            self._write(drawings)
            self.drawings = drawings
            self._stamp = _stamp(self.path)

    def _write(self, drawings: list[Drawing]) -> None:
        if not drawings:
            self.path.unlink(missing_ok=True)
            return
        classes = list(dict.fromkeys(d.label for d in drawings))
        index = {c: i for i, c in enumerate(classes)}
        for d in drawings:  # one framing per file, whatever the framing each was drawn under
            d.image = self._framed(d)
        images = np.stack([d.image for d in drawings])
        labels = np.array([index[d.label] for d in drawings])
        origs = [d.original if d.original is not None else d.image for d in drawings]
        with GlyphWriter(self.path, classes, [SOURCE], self.image_size, alphabet="drawn",
                         render={"source": "drawn", **framing_meta(self.mode, self.margin,
                                                                   self.image_size)},
                         force=True) as w:
            w.append(images, labels, np.zeros(len(labels), np.int64),
                     excluded=np.array([d.excluded for d in drawings]))
            w.add_dataset("originals", data=np.array([o.reshape(-1) for o in origs] + [None],
                                                     dtype=object)[:-1],
                          dtype=h5py.vlen_dtype(np.uint8))
            w.add_dataset("original_shapes", data=np.array([o.shape for o in origs], np.int32))


def _read_originals(gf: GlyphFile, n: int, path: Path
                    ) -> tuple[list[np.ndarray | None], str, str]:
    """The full-resolution drawings, each checked; a warning (a bad one is dropped) and, when
    the file holds originals this code cannot read, why (an edit would replace them)."""
    none: list[np.ndarray | None] = [None] * n
    h5 = gf.h5
    flat_ds = dataset(h5, "originals", path, required=False)
    shape_ds = dataset(h5, "original_shapes", path, required=False)
    if flat_ds is None or shape_ds is None:
        # pixels without their shapes: kept, not rewritten
        unreadable = "have no /original_shapes" if flat_ds is not None else ""
        return none, (f"{path}: no /originals (only the 37×37 images are kept)"
                      if n else ""), unreadable
    if (shape_ds.ndim != 2 or shape_ds.shape[1:] != (2,) or shape_ds.dtype.kind not in "iu"
            or flat_ds.ndim != 1 or h5py.check_vlen_dtype(flat_ds.dtype) is None):
        return none, (f"{path}: /originals or /original_shapes have the wrong form "
                      f"({flat_ds.dtype} {flat_ds.shape}, {shape_ds.dtype} "
                      f"{shape_ds.shape}); the originals are ignored"), \
            "are stored in a layout this version does not read"
    if not (flat_ds.shape[0] == n == shape_ds.shape[0]):
        return none, (f"{path}: /originals holds {flat_ds.shape[0]} drawings but "
                      f"/images {n} (edited outside the app?); the originals are "
                      "ignored, the images are kept"), \
            f"number {flat_ds.shape[0]}, the images {n}"
    shapes = read(shape_ds, "original_shapes", path).astype(np.int64)
    flat = read(flat_ds, "originals", path)
    out: list[np.ndarray | None] = []
    bad = 0
    for f, (h, w) in zip(flat, shapes):
        ok = 0 < h and 0 < w and h * w <= MAX_IMAGE_PIXELS and h * w == len(f)
        out.append(np.asarray(f, np.uint8).reshape(int(h), int(w)) if ok else None)
        bad += not ok
    if not bad:
        return out, "", ""
    return out, (f"{path}: {bad} drawing(s) have an impossible /original_shapes entry "
                 "(negative, zero or not matching the pixels); their originals are ignored, "
                 "the images are kept"), f"of {bad} drawing(s) have impossible /original_shapes"


def read_originals(path: str | Path) -> list[np.ndarray | None] | None:
    """The originals of a drawings file in row order (None for a lost one); None when the
    file keeps none (:func:`conform_drawn` re-frames from them)."""
    with GlyphFile(path) as gf:
        if "originals" not in gf.h5:
            return None
        out, _, _ = _read_originals(gf, len(gf), Path(path))
    return out

def conform_drawn(glyphs: Any, want: Framing) -> Any:
    """A drawings file's samples framed as ``want``: re-framed from the stored originals
    when the file records another framing (or none); unchanged when it already matches or
    keeps no originals. ``glyphs`` is the file's :class:`siam_workbench.data.glyphs.GlyphSet`."""
    import numpy as np
    import torch

    from siam_workbench.data.imaging import normalize_glyph

    have = recorded_framing(glyphs.attrs)
    if have is not None and mismatch(have, want) is None:
        return glyphs
    if glyphs.path is None or not len(glyphs):
        return glyphs
    originals = read_originals(glyphs.path)
    if originals is None:
        return glyphs
    images = glyphs.images.clone()
    for i, row in enumerate(np.asarray(glyphs.rows).tolist()):
        orig = originals[row] if 0 <= row < len(originals) else None
        if orig is None:
            continue
        try:
            framed = normalize_glyph(orig, want.image_size, want.margin, mode=want.size_mode)
        except SiamError:
            continue  # a blank original: keep the stored image
        images[i] = torch.from_numpy(framed)
    from dataclasses import replace

    render = dict(glyphs.attrs.get("render") or {}) if isinstance(glyphs.attrs, dict) else {}
    render.update(framing_meta(want.size_mode, want.margin, want.image_size))
    return replace(glyphs, images=images, attrs={**glyphs.attrs, "render": render})

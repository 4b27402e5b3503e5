"""The project's labelled hand drawings (``drawn.h5``): the glyph schema with source ``drawn``,
plus each drawing's original pixels at full resolution (``/originals``, ``/original_shapes``)
so it can be re-normalised later or reviewed as drawn.

The file is small (hundreds of drawings), so every change rewrites it completely through
GlyphWriter: a crash mid-save leaves the previous file, never a half-edited one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from core.data.glyphs import GlyphFile, GlyphWriter
from core.data.imaging import normalize_glyph
from core.errors import SiamError

SOURCE = "drawn"


@dataclass
class Drawing:
    image: np.ndarray  # uint8 [S, S], ink 255: what the network sees
    original: np.ndarray | None  # uint8 [H, W] as drawn (None if the file lost it)
    label: str
    excluded: bool = False


class DrawnStore:
    def __init__(self, path: str | Path, image_size: int = 37, margin: int = 2,
                 mode: str = "fit") -> None:
        self.path = Path(path)
        self.image_size = image_size
        self.margin, self.mode = margin, mode  # framing of new drawings (data.size_mode)
        self.warning = ""
        self.drawings: list[Drawing] = self._read() if self.path.exists() else []

    def _read(self) -> list[Drawing]:
        with GlyphFile(self.path) as gf:
            if gf.image_size != self.image_size:
                raise SiamError(f"drawings are {gf.image_size}×{gf.image_size}, the project "
                                f"uses {self.image_size}×{self.image_size}", self.path)
            images = gf.images()
            labels = [gf.classes[i] for i in gf.labels]
            excluded = gf.excluded
            originals: list[np.ndarray | None] = [None] * len(images)
            h5 = gf.h5
            if "originals" in h5 and "original_shapes" in h5:
                flat, shapes = h5["originals"][()], h5["original_shapes"][()]
                if len(flat) == len(images) == len(shapes):
                    originals = [np.asarray(f, np.uint8).reshape(tuple(s))
                                 if int(np.prod(s)) == len(f) else None
                                 for f, s in zip(flat, shapes)]
                else:
                    self.warning = (f"{self.path}: /originals holds {len(flat)} drawings but "
                                    f"/images {len(images)} (edited outside the app?); the "
                                    "originals are ignored, the images are kept")
            elif len(images):
                self.warning = f"{self.path}: no /originals (only the 37×37 images are kept)"
        return [Drawing(im, orig, lab, bool(ex))
                for im, orig, lab, ex in zip(images, originals, labels, excluded)]

    def __len__(self) -> int:
        return len(self.drawings)

    @property
    def classes(self) -> list[str]:
        return list(dict.fromkeys(d.label for d in self.drawings))

    def add(self, original: np.ndarray, label: str, save: bool = True) -> int:
        """Normalise a drawing (any size, either polarity) and store it under ``label``."""
        if not label:
            raise SiamError("a drawing needs a label")
        original = np.asarray(original)
        if original.ndim == 3:
            original = original[..., :3].mean(axis=2)
        image = normalize_glyph(original, self.image_size, self.margin, mode=self.mode)
        self.drawings.append(Drawing(image, np.clip(original, 0, 255).astype(np.uint8), label))
        if save:
            self.save()
        return len(self.drawings) - 1

    def _check(self, row: int) -> None:
        if not 0 <= row < len(self.drawings):
            raise SiamError(f"no drawing {row} (there are {len(self.drawings)})", self.path)

    def relabel(self, row: int, label: str) -> None:
        self._check(row)
        if not label:
            raise SiamError("a drawing needs a label")
        self.drawings[row].label = label
        self.save()

    def delete(self, row: int) -> None:
        self._check(row)
        del self.drawings[row]
        self.save()

    def save(self) -> None:
        classes = self.classes
        if not self.drawings:
            if self.path.exists():
                self.path.unlink()
            return
        index = {c: i for i, c in enumerate(classes)}
        images = np.stack([d.image for d in self.drawings])
        labels = np.array([index[d.label] for d in self.drawings])
        origs = [d.original if d.original is not None else d.image for d in self.drawings]
        with GlyphWriter(self.path, classes, [SOURCE], self.image_size, alphabet="drawn",
                         render={"source": "drawn"}, force=True) as w:
            w.append(images, labels, np.zeros(len(labels), np.int64),
                     excluded=np.array([d.excluded for d in self.drawings]))
            w.add_dataset("originals", data=np.array([o.reshape(-1) for o in origs] + [None],
                                                     dtype=object)[:-1],
                          dtype=h5py.vlen_dtype(np.uint8))
            w.add_dataset("original_shapes", data=np.array([o.shape for o in origs], np.int32))

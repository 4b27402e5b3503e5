"""The glyph HDF5 contract (``schema = "siam-glyphs/1"``, docs/DATA.md).

Every producer (renderer, importers, the Draw tab) writes through :class:`GlyphWriter`, which
streams chunks into a temporary file and renames it only when complete. Every consumer opens
through :class:`GlyphFile`, which validates schema, shapes and label ranges up front so that a bad
file fails with one line naming it instead of a shape error deep inside training.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from core.atomic import atomic_path
from core.errors import SiamError

if TYPE_CHECKING:  # torch is imported only by load(): `siam inspect` / `render` start fast
    import torch

SCHEMA = "siam-glyphs/1"
_STR = h5py.string_dtype("utf-8")
_CHUNK = 1024


@dataclass
class GlyphSet:
    """A whole (or filtered) glyph file in memory, ready for the trainer."""

    images: torch.Tensor  # uint8 [N, H, W], ink = 255
    labels: torch.Tensor  # int64 [N], index into classes
    sources: torch.Tensor  # int64 [N], index into source_names
    classes: list[str]
    source_names: list[str]
    rows: np.ndarray  # int64 [N], row of each sample in the file (for exclude / relabel)
    path: Path | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def aligned_to(self, classes: list[str]) -> tuple[GlyphSet, int]:
        """This set relabelled into another class list, matched *by name*, and the number of
        samples dropped because their class is not in it.

        The one place where a file's label space is mapped onto a run's: a validation or test
        file rendered separately (another class order, a subset, extra classes) and the
        drawings all go through here, so a class keeps its identity whatever its index.
        """
        import torch

        index = {c: i for i, c in enumerate(classes)}
        mapped = torch.tensor([index.get(c, -1) for c in self.classes], dtype=torch.int64)
        labels = mapped[self.labels] if len(self) else torch.zeros(0, dtype=torch.int64)
        keep = labels >= 0
        dropped = int((~keep).sum())
        if dropped == 0 and list(classes) == list(self.classes):
            return self, 0
        idx = keep.numpy()
        return GlyphSet(images=self.images[keep], labels=labels[keep],
                        sources=self.sources[keep], classes=list(classes),
                        source_names=self.source_names, rows=self.rows[idx], path=self.path,
                        attrs=self.attrs), dropped


def _decode(values: Any) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


class GlyphFile:
    """A validated, lazily read glyph file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, mode: str = "r") -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise SiamError("file not found", self.path)
        if self.path.is_dir():
            raise SiamError("is a folder, expected a glyph .h5 file", self.path)
        try:
            self._h5 = h5py.File(self.path, mode)
        except OSError as exc:
            raise SiamError(f"not a readable HDF5 file ({_short(exc)})", self.path) from None
        try:
            self._validate()
        except BaseException:
            self._h5.close()
            raise

    def _validate(self) -> None:
        h5 = self._h5
        schema = h5.attrs.get("schema")
        if isinstance(schema, bytes):
            schema = schema.decode()
        if schema != SCHEMA:
            raise SiamError(f"schema is {schema!r}, expected {SCHEMA!r}", self.path)
        for name in ("images", "labels", "sources", "classes", "source_names"):
            if name not in h5:
                raise SiamError(f"missing dataset /{name}", self.path)
        images = h5["images"]
        if images.ndim != 3 or images.dtype != np.uint8 or images.shape[1] != images.shape[2]:
            raise SiamError(
                f"/images must be uint8 [N,H,H], found {images.dtype} {images.shape}", self.path
            )
        n = images.shape[0]
        for name in ("labels", "sources"):
            ds = h5[name]
            if ds.shape != (n,) or ds.dtype.kind not in "iu":
                raise SiamError(f"/{name} must be int [{n}], found {ds.dtype} {ds.shape}",
                                self.path)
        if "excluded" in h5 and h5["excluded"].shape != (n,):
            raise SiamError(f"/excluded must have shape [{n}]", self.path)
        self.classes = _decode(h5["classes"][()])
        self.source_names = _decode(h5["source_names"][()])
        if len(set(self.classes)) != len(self.classes):
            raise SiamError("/classes holds duplicate class names", self.path)
        self.labels = h5["labels"][()].astype(np.int64)
        self.sources = h5["sources"][()].astype(np.int64)
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise SiamError(
                f"/labels out of range [0, {len(self.classes)}): "
                f"{self.labels.min()}..{self.labels.max()}",
                self.path,
            )
        if n and (self.sources.min() < 0 or self.sources.max() >= len(self.source_names)):
            raise SiamError("/sources out of range of /source_names", self.path)

    # -- metadata -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._h5["images"].shape[0])

    @property
    def image_size(self) -> int:
        return int(self._h5["images"].shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def excluded(self) -> np.ndarray:
        if "excluded" in self._h5:
            return self._h5["excluded"][()].astype(bool)
        return np.zeros(len(self), dtype=bool)

    @property
    def attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self._h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, np.generic):
                value = value.item()
            if key == "render" and isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    pass
            out[key] = value
        return out

    @property
    def h5(self) -> h5py.File:
        """The raw handle, for side datasets (e.g. drawn.h5 keeps full-resolution strokes)."""
        return self._h5

    # -- data -----------------------------------------------------------------------------
    def images(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """Read only the requested rows (sorted fancy indexing, as h5py requires)."""
        ds = self._h5["images"]
        if rows is None:
            return ds[()]
        if isinstance(rows, slice):
            return ds[rows]
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, self.image_size, self.image_size), np.uint8)
        order = np.argsort(rows)
        uniq, inverse = np.unique(rows[order], return_inverse=True)
        block = ds[uniq]
        out = np.empty((rows.size, *block.shape[1:]), np.uint8)
        out[order] = block[inverse]
        return out

    def rows_of_class(self, label: int, include_excluded: bool = True) -> np.ndarray:
        mask = self.labels == label
        if not include_excluded:
            mask &= ~self.excluded
        return np.flatnonzero(mask)

    def load(
        self, include_excluded: bool = False, sources: list[str] | None = None
    ) -> GlyphSet:
        """Load the images into memory, dropping excluded samples unless asked to keep them."""
        import torch

        mask = np.ones(len(self), dtype=bool)
        if not include_excluded:
            mask &= ~self.excluded
        if sources is not None:
            wanted = [i for i, s in enumerate(self.source_names) if s in set(sources)]
            mask &= np.isin(self.sources, wanted)
        rows = np.flatnonzero(mask)
        if rows.size == len(self):
            images = self._h5["images"][()]
        else:
            images = self.images(rows)
        return GlyphSet(
            images=torch.from_numpy(np.ascontiguousarray(images)),
            labels=torch.from_numpy(self.labels[rows]),
            sources=torch.from_numpy(self.sources[rows]),
            classes=list(self.classes),
            source_names=list(self.source_names),
            rows=rows,
            path=self.path,
            attrs=self.attrs,
        )

    # -- edits (labeling workflow) --------------------------------------------------------
    def set_excluded(self, rows: np.ndarray | list[int], value: bool = True) -> None:
        """Mark rows excluded / re-included; the file must be opened with mode ``"r+"``."""
        if self._h5.mode != "r+":
            raise SiamError("opened read-only; cannot change /excluded", self.path)
        n = len(self)
        if "excluded" not in self._h5:
            self._h5.create_dataset("excluded", data=np.zeros(n, dtype=bool), chunks=True)
        ds = self._h5["excluded"]
        cur = ds[()]
        cur[np.asarray(rows, dtype=np.int64)] = value
        ds[...] = cur
        self._h5.flush()

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> GlyphFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_glyphs(
    path: str | Path, include_excluded: bool = False, sources: list[str] | None = None
) -> GlyphSet:
    """Open, validate and load a glyph file in one call."""
    with GlyphFile(path) as gf:
        return gf.load(include_excluded=include_excluded, sources=sources)


def read_info(path: str | Path) -> dict[str, Any]:
    """Cheap summary for panels and ``siam inspect``: counts without reading images."""
    with GlyphFile(path) as gf:
        per_source = np.bincount(gf.sources, minlength=len(gf.source_names))
        per_class = np.bincount(gf.labels, minlength=gf.num_classes)
        return {
            "path": str(gf.path),
            "samples": len(gf),
            "classes": gf.num_classes,
            "sources": len(gf.source_names),
            "image_size": gf.image_size,
            "excluded": int(gf.excluded.sum()),
            "per_source": {name: int(c) for name, c in zip(gf.source_names, per_source)},
            "min_per_class": int(per_class.min()) if per_class.size else 0,
            "max_per_class": int(per_class.max()) if per_class.size else 0,
            "attrs": gf.attrs,
        }


class GlyphWriter:
    """Stream glyphs into a new file; the target appears only when :meth:`close` succeeds.

    ``with GlyphWriter(...) as w: w.append(images, labels, sources)``: leaving the block by an
    exception (or :class:`core.errors.Cancelled`) removes the temporary file and leaves any
    existing target untouched.
    """

    def __init__(
        self,
        path: str | Path,
        classes: list[str],
        source_names: list[str],
        image_size: int,
        alphabet: str = "",
        render: dict[str, Any] | None = None,
        force: bool = False,
        compression: str = "lzf",
    ) -> None:
        self.path = Path(path)
        if len(set(classes)) != len(classes):
            raise SiamError("class list holds duplicates", self.path)
        self.classes = list(classes)
        self.source_names = list(source_names)
        self.image_size = int(image_size)
        self._ctx = atomic_path(self.path, force=force)
        try:
            self._tmp = self._ctx.__enter__()
        except OSError as exc:  # e.g. mkstemp in a folder that passes os.access but refuses
            raise SiamError(f"cannot write ({_short(exc)})", self.path) from None
        self._n = 0
        self._excluded: list[np.ndarray] = []
        try:
            self._h5 = h5py.File(self._tmp, "w")
            h = self.image_size
            self._images = self._h5.create_dataset(
                "images", shape=(0, h, h), maxshape=(None, h, h), dtype=np.uint8,
                chunks=(min(_CHUNK, max(1, 2**20 // (h * h))), h, h), compression=compression,
            )
            self._labels = self._h5.create_dataset(
                "labels", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(8192,)
            )
            self._sources = self._h5.create_dataset(
                "sources", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(8192,)
            )
            self._h5.attrs["schema"] = SCHEMA
            self._h5.attrs["image_size"] = self.image_size
            self._h5.attrs["alphabet"] = alphabet
            self._h5.attrs["render"] = json.dumps(render or {}, ensure_ascii=False)
        except OSError as exc:
            self._abort()
            raise SiamError(f"cannot write ({_short(exc)})", self.path) from None

    def __len__(self) -> int:
        return self._n

    def append(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        sources: np.ndarray,
        excluded: np.ndarray | None = None,
    ) -> None:
        images = np.asarray(images)
        k = images.shape[0]
        if images.shape[1:] != (self.image_size, self.image_size) or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 [n,{self.image_size},{self.image_size}]")
        if k == 0:
            return
        labels = np.asarray(labels, dtype=np.int32)
        sources = np.asarray(sources, dtype=np.int32)
        if labels.min() < 0 or labels.max() >= len(self.classes):
            raise ValueError("label out of range")
        if sources.min() < 0 or sources.max() >= len(self.source_names):
            raise ValueError("source out of range")
        end = self._n + k
        try:
            for ds, arr in ((self._images, images), (self._labels, labels),
                            (self._sources, sources)):
                ds.resize(end, axis=0)
                ds[self._n:end] = arr
        except OSError as exc:
            raise SiamError(f"write failed ({_short(exc)})", self.path) from None
        self._excluded.append(
            np.zeros(k, bool) if excluded is None else np.asarray(excluded, bool)
        )
        self._n = end

    def add_dataset(self, name: str, data: Any, **kwargs: Any) -> None:
        """A side dataset beside the contract's (e.g. drawn.h5's full-resolution originals)."""
        if name in ("images", "labels", "sources", "classes", "source_names", "excluded"):
            raise ValueError(f"/{name} is part of the schema")
        self._h5.create_dataset(name, data=data, **kwargs)

    def close(self) -> Path:
        try:
            self._h5.create_dataset("classes", data=np.array(self.classes, dtype=object),
                                    dtype=_STR)
            self._h5.create_dataset("source_names",
                                    data=np.array(self.source_names, dtype=object), dtype=_STR)
            excl = np.concatenate(self._excluded) if self._excluded else np.zeros(0, bool)
            if excl.any():
                self._h5.create_dataset("excluded", data=excl)
            self._h5.attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
            self._h5.close()
            self._ctx.__exit__(None, None, None)
        except OSError as exc:
            self._abort()
            raise SiamError(f"write failed ({_short(exc)})", self.path) from None
        return self.path

    def _abort(self) -> None:
        try:
            self._h5.close()
        except Exception:  # noqa: BLE001 - best effort while unwinding
            pass
        try:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass
        if self._tmp.exists():
            os.unlink(self._tmp)

    def abort(self) -> None:
        """Drop everything written so far; the target path is untouched."""
        self._abort()

    def __enter__(self) -> GlyphWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


# -- exclusions that survive re-rendering ------------------------------------------------------

def _pair_ordinals(labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows share its (label, source): the variant number."""
    key = labels.astype(np.int64) * (int(sources.max(initial=0)) + 1) + sources
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    out = np.empty(len(key), dtype=np.int64)
    out[order] = np.arange(len(key)) - run_start
    return out


def exclusion_keys(path: str | Path) -> set[tuple[str, str, int]]:
    """The excluded samples of a glyph file as ``(class, source name, variant)`` — keys that
    mean the same sample in a re-rendered file, where row numbers do not."""
    with GlyphFile(path) as gf:
        excluded = gf.excluded
        if not excluded.any():
            return set()
        ordinal = _pair_ordinals(gf.labels, gf.sources)
        rows = np.flatnonzero(excluded)
        return {(gf.classes[int(gf.labels[r])], gf.source_names[int(gf.sources[r])],
                 int(ordinal[r])) for r in rows}


def apply_exclusion_keys(path: str | Path, keys: set[tuple[str, str, int]]) -> int:
    """Mark the samples named by ``keys`` excluded in ``path``; returns how many matched."""
    if not keys:
        return 0
    with GlyphFile(path, "r+") as gf:
        ordinal = _pair_ordinals(gf.labels, gf.sources)
        cls = {c: i for i, c in enumerate(gf.classes)}
        src = {s: i for i, s in enumerate(gf.source_names)}
        wanted = {(cls[c], src[s], k) for c, s, k in keys if c in cls and s in src}
        if not wanted:
            return 0
        rows = [r for r, t in enumerate(zip(gf.labels.tolist(), gf.sources.tolist(),
                                            ordinal.tolist())) if t in wanted]
        if rows:
            gf.set_excluded(rows, True)
        return len(rows)

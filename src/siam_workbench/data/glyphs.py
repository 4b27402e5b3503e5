"""The glyph HDF5 contract (``schema = "siam-glyphs/1"``, docs/DATA.md).

Every producer (renderer, importers, the Draw tab) writes through :class:`GlyphWriter`, which
streams chunks into a temporary file and renames it only when complete. Every consumer opens
through :class:`GlyphFile`, which validates schema, shapes and label ranges up front so that a bad
file fails with one line naming it instead of a shape error deep inside training.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from siam_workbench.base.atomic import atomic_path
from siam_workbench.base.errors import SiamError
from siam_workbench.base.h5write import SafeH5
from siam_workbench.base.paths import check_allocation
from siam_workbench.data.h5check import dataset, open_h5, read, short

if TYPE_CHECKING:  # torch is imported only by load(): `siam inspect` / `render` start fast
    import torch

SCHEMA = "siam-glyphs/1"
_STR = h5py.string_dtype("utf-8")
_CHUNK = 1024
MAX_IMAGE_SIDE = 1024  # the renderer's limit; a larger claim is a damaged or forged file
MAX_CLASSES = 10_000_000


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
    blank: int = 0  # images without any ink (all zero): legal, but worth a warning

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
                        attrs=self.attrs, blank=self.blank), dropped


def _decode(values: Any) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


class GlyphFile:
    """A validated, lazily read glyph file. Use as a context manager or call :meth:`close`.

    ``mode="r+"`` allows :meth:`set_excluded`; the HDF5 file itself is always opened read-only
    (an exclusion edit writes through its own crash-safe protocol, see :func:`set_excluded`).
    """

    def __init__(self, path: str | Path, mode: str = "r") -> None:
        if mode not in ("r", "r+"):
            raise ValueError(f"mode must be 'r' or 'r+', got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self._h5 = open_h5(self.path, what="glyph .h5 file")
        try:
            self._validate()
        except BaseException:
            self._h5.close()
            raise

    def _validate(self) -> None:
        h5, path = self._h5, self.path
        try:
            schema = h5.attrs.get("schema")
        except (OSError, TypeError, ValueError) as exc:
            raise SiamError(f"unreadable attributes ({short(exc)})", path) from None
        if isinstance(schema, bytes):
            schema = schema.decode("utf-8", "replace")
        if schema != SCHEMA:
            raise SiamError(f"schema is {schema!r}, expected {SCHEMA!r}", path)
        ds = {name: dataset(h5, name, path)
              for name in ("images", "labels", "sources", "classes", "source_names")}
        images = ds["images"]
        if images.ndim != 3 or images.dtype != np.uint8 or images.shape[1] != images.shape[2]:
            raise SiamError(
                f"/images must be uint8 [N,H,H], found {images.dtype} {images.shape}", path
            )
        n, h = images.shape[0], images.shape[1]
        if not 1 <= h <= MAX_IMAGE_SIDE:
            raise SiamError(f"/images are {h}×{h} pixels; at most {MAX_IMAGE_SIDE} are read",
                            path)
        for name in ("labels", "sources"):
            d = ds[name]
            if d.shape != (n,) or d.dtype.kind not in "iu":
                raise SiamError(f"/{name} must be int [{n}], found {d.dtype} {d.shape}", path)
        excluded = dataset(h5, "excluded", path, required=False)
        if excluded is not None and (excluded.shape != (n,) or excluded.dtype.kind not in "biu"):
            raise SiamError(f"/excluded must hold one 0/1 flag per image [{n}], found "
                            f"{excluded.dtype} {excluded.shape}", path)
        for name in ("classes", "source_names"):
            d = ds[name]
            if d.ndim != 1 or d.shape[0] > MAX_CLASSES:
                raise SiamError(f"/{name} must be a list of at most {MAX_CLASSES:,} strings, "
                                f"found shape {d.shape}", path)
        try:
            self.classes = _decode(read(ds["classes"], "classes", path))
            self.source_names = _decode(read(ds["source_names"], "source_names", path))
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise SiamError(f"/classes or /source_names are not strings ({short(exc)})",
                            path) from None
        if len(set(self.classes)) != len(self.classes):
            raise SiamError("/classes holds duplicate class names", path)
        self.labels = read(ds["labels"], "labels", path).astype(np.int64)
        self.sources = read(ds["sources"], "sources", path).astype(np.int64)
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise SiamError(
                f"/labels out of range [0, {len(self.classes)}): "
                f"{self.labels.min()}..{self.labels.max()}",
                path,
            )
        if n and (self.sources.min() < 0 or self.sources.max() >= len(self.source_names)):
            raise SiamError("/sources out of range of /source_names", path)
        self._images = images

    # -- metadata -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._images.shape[0])

    @property
    def image_size(self) -> int:
        return int(self._images.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def checksummed(self) -> bool:
        """True when /images carries HDF5's fletcher32 checksum (files written since 0.2)."""
        try:
            dcpl = self._images.id.get_create_plist()
            return any(dcpl.get_filter(i)[0] == h5py.h5z.FILTER_FLETCHER32
                       for i in range(dcpl.get_nfilters()))
        except (OSError, ValueError):
            return False

    @property
    def excluded(self) -> np.ndarray:
        """Exclusion flags; an exclusion edit cut short by a kill reads as completed."""
        journal = read_journal(self.path, len(self))
        if journal is not None:
            return journal
        ds = dataset(self._h5, "excluded", self.path, required=False)
        if ds is None:
            return np.zeros(len(self), dtype=bool)
        return read(ds, "excluded", self.path).astype(bool)

    @property
    def attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self._h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
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
        ds = self._images
        if rows is None:
            return read(ds, "images", self.path)
        if isinstance(rows, slice):
            return read(ds, "images", self.path, rows)
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, self.image_size, self.image_size), np.uint8)
        order = np.argsort(rows)
        uniq, inverse = np.unique(rows[order], return_inverse=True)
        block = read(ds, "images", self.path, uniq)
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
        h = self.image_size
        check_allocation(int(rows.size) * h * h, f"loading {rows.size:,} images of {h}×{h}",
                         self.path)
        if rows.size == len(self):
            images = self.images()
        else:
            images = self.images(rows)
        blank = int((~images.reshape(len(images), -1).any(axis=1)).sum()) if len(images) else 0
        return GlyphSet(
            images=torch.from_numpy(np.ascontiguousarray(images)),
            labels=torch.from_numpy(self.labels[rows]),
            sources=torch.from_numpy(self.sources[rows]),
            classes=list(self.classes),
            source_names=list(self.source_names),
            rows=rows,
            path=self.path,
            attrs=self.attrs,
            blank=blank,
        )

    # -- edits (labeling workflow) --------------------------------------------------------
    def set_excluded(self, rows: np.ndarray | list[int], value: bool = True) -> None:
        """Mark rows excluded / re-included (crash-safe, serialised: see :func:`set_excluded`);
        the file must be opened with mode ``"r+"``."""
        if self.mode != "r+":
            raise SiamError("opened read-only; cannot change /excluded", self.path)
        self._h5.close()
        try:
            set_excluded(self.path, rows, value)
        finally:
            self._h5 = open_h5(self.path, what="glyph .h5 file")
            self._validate()

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> GlyphFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- crash-safe exclusion edits -------------------------------------------------------------------
#
# /excluded is a contiguous (unfiltered) array of one byte per image, so changing flags rewrites
# only those bytes and never the file's structure. The new flags are first written, complete, to
# a journal beside the file (atomically); then the bytes are written in place; then the journal
# is removed. A kill before the journal exists leaves the old flags, a kill after it leaves the
# journal, which readers take as the flags (the edit counts as done) and the next edit applies.
# A file without such an array (older files) is converted once by copy-and-rename.

_JOURNAL_FORMAT = "siam-exclude-journal/1"


def journal_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.exclude-journal")


def read_journal(path: str | Path, n: int) -> np.ndarray | None:
    """The flags of an unfinished exclusion edit of this very file, or None."""
    jp = journal_path(path)
    try:
        raw = jp.read_bytes()
        st = os.stat(path)
    except OSError:
        return None
    head, sep, payload = raw.partition(b"\n")
    try:
        meta = json.loads(head.decode("utf-8")) if sep else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (not isinstance(meta, dict) or meta.get("format") != _JOURNAL_FORMAT
            or meta.get("ino") != st.st_ino or meta.get("dev") != st.st_dev
            or meta.get("n") != n or len(payload) != n
            or meta.get("sha256") != hashlib.sha256(payload).hexdigest()):
        return None
    return np.frombuffer(payload, np.uint8).astype(bool)


def _excluded_slot(path: Path) -> tuple[int, np.ndarray] | None:
    """(byte offset, current flags) of a contiguous one-byte /excluded, or None."""
    with h5py.File(path, "r") as h5:
        n = h5["images"].shape[0]
        if "excluded" not in h5:
            return None
        ds = h5["excluded"]
        if (not isinstance(ds, h5py.Dataset) or ds.shape != (n,) or ds.dtype.itemsize != 1
                or ds.chunks is not None or ds.dtype.kind not in "biu"):
            return None
        offset = ds.id.get_offset()
        if offset is None and n:
            return None
        return int(offset or 0), ds[()].astype(bool)


def _migrate(path: Path, flags: np.ndarray) -> None:
    """Copy-and-rename: the same file with a contiguous /excluded holding ``flags``."""
    from siam_workbench.base.atomic import atomic_path

    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        shutil.copymode(path, tmp)
        with SafeH5(tmp, "r+", path) as h5:
            if "excluded" in h5:
                del h5["excluded"]
            h5.create_dataset("excluded", data=flags.astype(bool))


def _write_flags(path: Path, offset: int, old: np.ndarray, new: np.ndarray) -> None:
    changed = np.flatnonzero(old != new)
    if changed.size == 0:
        return
    lo, hi = int(changed[0]), int(changed[-1]) + 1
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.pwrite(fd, new[lo:hi].astype(np.uint8).tobytes(), offset + lo)
        os.fsync(fd)
    finally:
        os.close(fd)


def set_excluded(path: str | Path, rows: np.ndarray | list[int], value: bool = True,
                 wait: float | None = None) -> int:
    """Mark ``rows`` of a glyph file excluded (or re-included); returns how many are excluded.

    Serialised with every other editor of the file (:func:`siam_workbench.base.locks.lock_edit`)
    and safe against kill -9 and a full disk at any point (see the comment above).
    """
    from siam_workbench.base.atomic import fsync_dir, sweep_stale, write_bytes_atomic, write_error
    from siam_workbench.base.locks import EDIT_WAIT_S, lock_edit

    path = Path(path)
    with GlyphFile(path) as gf:  # validates the file before anything is written
        n = len(gf)
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    bad = rows[(rows < 0) | (rows >= n)]
    if bad.size:
        raise SiamError(f"rows out of range [0, {n}): {bad[:5].tolist()}", path)
    with lock_edit(path, EDIT_WAIT_S if wait is None else wait):
        sweep_stale(path)  # a copy left by an edit that was killed mid-way
        try:
            st = os.stat(path)
            pending = read_journal(path, n)
            slot = _excluded_slot(path)
            if slot is None:
                current = pending if pending is not None else _current_flags(path, n)
                _migrate(path, current)
                st = os.stat(path)
                slot = _excluded_slot(path)
                assert slot is not None
            offset, on_disk = slot
            if pending is not None:  # finish the edit a kill interrupted
                _write_flags(path, offset, on_disk, pending)
                on_disk = pending.copy()
            journal_path(path).unlink(missing_ok=True)
            new = on_disk.copy()
            new[rows] = bool(value)
            if np.array_equal(new, on_disk):
                return int(new.sum())
            payload = new.astype(np.uint8).tobytes()
            head = json.dumps({"format": _JOURNAL_FORMAT, "ino": st.st_ino, "dev": st.st_dev,
                               "n": n, "sha256": hashlib.sha256(payload).hexdigest()})
            write_bytes_atomic(journal_path(path), head.encode("utf-8") + b"\n" + payload)
            _write_flags(path, offset, on_disk, new)
            journal_path(path).unlink()
            fsync_dir(path.parent)
        except OSError as exc:
            raise write_error(exc, path) from None
    return int(new.sum())


def _current_flags(path: Path, n: int) -> np.ndarray:
    with GlyphFile(path) as gf:
        return gf.excluded if n else np.zeros(0, bool)


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
            "checksummed": gf.checksummed,
            "attrs": gf.attrs,
        }


def scan(path: str | Path, block: int = 4096) -> dict[str, Any]:
    """Read every image once, in blocks: verifies the checksums (files that carry them) and
    counts blank (all-zero) images. Raises :class:`SiamError` naming the file on corruption."""
    with GlyphFile(path) as gf:
        n = len(gf)
        blank_rows: list[int] = []
        for start in range(0, n, block):
            imgs = gf.images(slice(start, min(n, start + block)))
            empty = ~imgs.reshape(len(imgs), -1).any(axis=1)
            blank_rows.extend((np.flatnonzero(empty) + start).tolist())
        return {"blank": len(blank_rows), "blank_rows": blank_rows[:20],
                "checksummed": gf.checksummed}


class GlyphWriter:
    """Stream glyphs into a new file; the target appears only when :meth:`close` succeeds.

    ``with GlyphWriter(...) as w: w.append(images, labels, sources)``: leaving the block by an
    exception (or :class:`siam_workbench.base.errors.Cancelled`) removes the temporary file and
    leaves any existing target untouched.
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
            # Through a file object: a full disk is one line, never a crash
            # (src/siam_workbench/base/h5write.py).
            self._safe = SafeH5(self._tmp, "w", self.path)
        except SiamError:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
            raise
        try:
            self._h5 = self._safe.file
            h = self.image_size
            self._images = self._h5.create_dataset(
                "images", shape=(0, h, h), maxshape=(None, h, h), dtype=np.uint8,
                chunks=(min(_CHUNK, max(1, 2**20 // (h * h))), h, h), compression=compression,
                fletcher32=True,
            )
            self._labels = self._h5.create_dataset(
                "labels", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(8192,),
                fletcher32=True,
            )
            self._sources = self._h5.create_dataset(
                "sources", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(8192,),
                fletcher32=True,
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
            self._safe.check()
            raise SiamError(f"write failed ({_short(exc)})", self.path) from None
        self._safe.check()
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
            # Always present and contiguous (no filter): exclusion edits then rewrite these
            # bytes in place and never the file's structure (see set_excluded).
            self._h5.create_dataset("excluded", data=excl)
            self._h5.attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        except OSError as exc:
            self._abort()
            raise SiamError(f"write failed ({_short(exc)})", self.path) from None
        try:
            self._safe.close()
        except SiamError:
            self._abort()
            raise
        try:
            self._ctx.__exit__(None, None, None)
        except OSError as exc:
            raise SiamError(f"write failed ({_short(exc)})", self.path) from None
        # An exclusion journal of the file this one replaces must not apply to it.
        journal_path(self.path).unlink(missing_ok=True)
        return self.path

    def _abort(self) -> None:
        if hasattr(self, "_safe"):
            self._safe.abort()
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


_short = short


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

"""Opening HDF5 files the tool did not necessarily write, without trusting them.

HDF5 can make a small file stand for a lot more than it holds: a dataset may live in *external*
raw files (any local file: its bytes would end up in a contact sheet), be a *virtual* view of
other files, be reached through an *external link*, or claim a shape of 10¹⁰ images whose chunks
were never written (reading it allocates the whole shape). :func:`dataset` refuses all of these
with one line naming the file, so nothing is read and nothing is allocated before the claim is
checked against what the file really stores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, overload

import h5py
import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import check_allocation, require_file


def short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def open_h5(path: str | Path, mode: str = "r", what: str = "HDF5 file") -> h5py.File:
    """``h5py.File`` of a regular file; a bad or unreadable file is one line naming it."""
    path = require_file(path, what)
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise SiamError(f"not a readable HDF5 file ({short(exc)})", path) from None


@overload
def dataset(h5: h5py.File | h5py.Group, name: str, path: str | Path,
            required: Literal[True] = ...) -> h5py.Dataset: ...
@overload
def dataset(h5: h5py.File | h5py.Group, name: str, path: str | Path,
            required: bool) -> h5py.Dataset | None: ...
def dataset(h5: h5py.File | h5py.Group, name: str, path: str | Path,
            required: bool = True) -> h5py.Dataset | None:
    """The dataset ``name`` of ``h5`` after every check in the module docstring.

    Returns None for a missing optional dataset.
    """
    try:
        link = h5.get(name, getlink=True)
    except (OSError, KeyError, ValueError) as exc:
        raise SiamError(f"/{name} cannot be read ({short(exc)})", path) from None
    if link is None:
        if required:
            raise SiamError(f"missing dataset /{name}", path)
        return None
    if isinstance(link, h5py.ExternalLink):
        raise SiamError(f"/{name} is a link to another file ({link.filename}); refused", path)
    if isinstance(link, h5py.SoftLink):
        raise SiamError(f"/{name} is a soft link; refused (store the data itself)", path)
    try:
        obj = h5[name]
    except (OSError, KeyError, ValueError) as exc:
        raise SiamError(f"/{name} cannot be read ({short(exc)})", path) from None
    if not isinstance(obj, h5py.Dataset):
        raise SiamError(f"/{name} is a {type(obj).__name__.lower()}, expected a dataset", path)
    check_storage(obj, name, path)
    return obj


def check_storage(ds: h5py.Dataset, name: str, path: str | Path) -> None:
    """Refuse external / virtual storage and shapes larger than the data actually stored."""
    try:
        dcpl = ds.id.get_create_plist()
        layout = dcpl.get_layout()
        external = dcpl.get_external_count()
    except (OSError, ValueError) as exc:
        raise SiamError(f"/{name} has an unreadable layout ({short(exc)})", path) from None
    if layout == h5py.h5d.VIRTUAL:
        raise SiamError(f"/{name} is a virtual dataset (it reads other files); refused", path)
    if external:
        raise SiamError(f"/{name} keeps its data in external files; refused", path)
    if ds.dtype.kind == "O" or h5py.check_vlen_dtype(ds.dtype) is not None:
        return  # variable-length data lives in the heap; its size is checked by its reader
    shape = ds.shape or ()
    count = math.prod(shape) if shape else 1
    if count == 0:
        return
    if layout == h5py.h5d.CHUNKED:
        chunks = ds.chunks or shape
        expected = math.prod(math.ceil(s / c) for s, c in zip(shape, chunks, strict=True))
        try:
            stored = ds.id.get_num_chunks()
        except (OSError, ValueError, AttributeError) as exc:
            raise SiamError(f"/{name} has an unreadable chunk index ({short(exc)})",
                            path) from None
        if stored < expected:
            raise SiamError(f"/{name} claims shape {shape} but stores {stored} of its "
                            f"{expected} chunks (a damaged or forged file); refused", path)
    elif layout == h5py.h5d.CONTIGUOUS:
        logical = count * ds.dtype.itemsize
        stored = ds.id.get_storage_size()
        if stored < logical:
            raise SiamError(f"/{name} claims {logical:,} bytes ({shape}) but the file stores "
                            f"{stored:,}; refused", path)


def read(ds: h5py.Dataset, name: str, path: str | Path,
         selection: object = None) -> np.ndarray:
    """Read a (checked) dataset, whole or ``ds[selection]``; checksum failures and damaged
    chunks become one line."""
    if selection is None:
        nbytes = math.prod(ds.shape or ()) * ds.dtype.itemsize
        check_allocation(nbytes, f"reading /{name} {tuple(ds.shape)}", path)
        selection = ()
    try:
        return ds[selection]
    except OSError as exc:
        raise SiamError(f"/{name} is corrupt: its stored data fails to decode or fails its "
                        f"checksum ({short(exc)})", path) from None

"""Importers: existing glyph collections → the same glyph HDF5 schema the renderer writes.

Three layouts are understood: a plain image folder (``ROOT/<class>/<image>``), Omniglot
(``ROOT/<alphabet>/<characterNN>/<id>_<drawer>.png``) and PHD08's text bitmaps
(``<syllable>.txt``). Every image goes through
:func:`siam_workbench.data.imaging.normalize_glyph`, so imported samples are centred and scaled
exactly like
rendered ones and like the Draw tab's queries, in either size mode: ``fit`` crops each image to
its ink box; ``em`` takes the whole image as the em box — a drawing canvas (Omniglot's 105×105,
the Draw tab's) or a scan cut to a fixed cell is already a frame, in which a character's size and
height above the baseline mean something, exactly as the Draw tab frames a drawing. Tight crops
around the ink carry no such frame: import them ``fit``.
Work is spread over spawn worker processes (one task per class folder or PHD08 file) and
streamed into :class:`siam_workbench.data.glyphs.GlyphWriter` in a fixed order.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.base.paths import check_allocation, require_file
from siam_workbench.data.imaging import (
    INK_THRESHOLD,
    check_mode,
    ink_map,
    load_image,
    normalize_glyph,
    open_image,
)

Progress = Callable[[int, int], None]
_WRITE_BATCH = 4096
_PARALLEL_MIN_ITEMS = 3000  # below this, spawning workers costs more than it saves


@dataclass
class ImportReport:
    """What an import produced. ``skipped`` lists blank images (nothing to learn from)."""

    path: Path
    samples: int
    classes: int
    sources: int
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "samples": self.samples, "classes": self.classes,
                "sources": self.sources, "skipped": len(self.skipped),
                "skipped_examples": self.skipped[:10], "seconds": round(self.seconds, 3)}


# -- image reading ----------------------------------------------------------------------------


def image_suffixes() -> set[str]:
    """File suffixes PIL can open (lower case, with the dot)."""
    return {ext.lower() for ext in Image.registered_extensions()}


def read_image(path: Path) -> np.ndarray:
    """Any PIL-readable image as a 2-D grey or H×W×4 array; unreadable → SiamError naming it.

    The header is checked against :data:`siam_workbench.data.imaging.MAX_IMAGE_PIXELS` before
    decoding.
    """
    with open_image(path) as im:
        load_image(im, path)
        try:
            if im.mode in ("P", "PA", "LA") or (im.mode == "RGB" and "transparency" in im.info):
                im = im.convert("RGBA")
            elif im.mode == "1":
                im = im.convert("L")
            elif im.mode not in ("L", "I", "I;16", "F", "RGB", "RGBA"):
                im = im.convert("RGB")
            return np.asarray(im)
        except (OSError, ValueError) as exc:
            raise SiamError(f"cannot read image ({exc})", path) from None


def _listdir(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise SiamError(f"cannot list folder ({exc.strerror or exc})", folder) from None


def _require_dir(root: str | Path) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise SiamError("folder not found", path)
    if not path.is_dir():
        raise SiamError("not a folder", path)
    return path


# -- worker tasks (module level so spawn workers can import them) -----------------------------


@dataclass
class _ImageTask:
    label: int
    files: list[tuple[str, int]]  # (path, source index)
    size: int
    margin: int
    polarity: str
    crop: bool
    mode: str = "fit"  # with crop: fit (ink box) or em (the image is the em box)


def _frame_resize(image: np.ndarray, size: int, polarity: str) -> np.ndarray:
    """Whole-frame resize (no crop): keeps a dataset's own framing, e.g. Omniglot at 105 px."""
    ink = ink_map(image, polarity)
    if not (ink >= INK_THRESHOLD).any():
        raise SiamError("image is blank")
    img = Image.fromarray(ink)
    h, w = ink.shape
    side = max(h, w)
    square = Image.new("F", (side, side), 0.0)
    square.paste(img, ((side - w) // 2, (side - h) // 2))
    resample = Image.Resampling.BOX if side >= size else Image.Resampling.BICUBIC
    out = np.asarray(square.resize((size, size), resample), dtype=np.float32)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def _import_images(task: _ImageTask) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read and normalise one class's images: (images, sources, blank files)."""
    images = np.empty((len(task.files), task.size, task.size), np.uint8)
    sources = np.empty(len(task.files), np.int32)
    blank: list[str] = []
    n = 0
    for name, source in task.files:
        arr = read_image(Path(name))
        try:
            if task.crop:
                images[n] = normalize_glyph(arr, task.size, task.margin,
                                            polarity=task.polarity, mode=task.mode)
            else:
                images[n] = _frame_resize(arr, task.size, task.polarity)
        except SiamError:
            blank.append(name)
            continue
        sources[n] = source
        n += 1
    return images[:n], sources[:n], blank


@dataclass
class _Phd08Task:
    label: int
    path: str
    size: int
    margin: int
    mode: str = "fit"


def _import_phd08_file(task: _Phd08Task) -> tuple[np.ndarray, np.ndarray, list[str]]:
    samples = parse_phd08_file(Path(task.path))
    images = np.empty((len(samples), task.size, task.size), np.uint8)
    blank: list[str] = []
    n = 0
    for name, bits in samples:
        try:
            images[n] = normalize_glyph(bits, task.size, task.margin, polarity="light",
                                        mode=task.mode)
        except SiamError:
            blank.append(f"{task.path}: {name}")
            continue
        n += 1
    return images[:n], np.zeros(n, np.int32), blank


def _run(
    func: Callable[[Any], tuple[np.ndarray, np.ndarray, list[str]]],
    tasks: list[Any],
    weights: list[int],
    out: Path,
    classes: list[str],
    source_names: list[str],
    size: int,
    *,
    alphabet: str,
    meta: dict[str, Any],
    force: bool,
    workers: int | None,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> ImportReport:
    """Run import tasks (parallel, ordered) and stream their results into one glyph file."""
    from siam_workbench.data.glyphs import GlyphWriter
    from siam_workbench.data.render import ordered_parallel

    t0 = time.perf_counter()
    total = sum(weights)
    n_workers = max(1, int(workers or os.cpu_count() or 1))
    if total < _PARALLEL_MIN_ITEMS:
        n_workers = 1
    skipped: list[str] = []
    done = 0
    buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n_buf = 0
    if progress is not None:
        progress(0, total)
    weight_of = {id(t): w for t, w in zip(tasks, weights, strict=True)}
    results = ordered_parallel(func, tasks, workers=n_workers, cancel=cancel)
    with contextlib.closing(results), \
            GlyphWriter(out, classes, source_names, size, alphabet=alphabet, render=meta,
                        force=force) as writer:
        for task, (images, sources, blank) in results:
            skipped += blank
            if len(images):
                buf.append((images, np.full(len(images), task.label, np.int32), sources))
                n_buf += len(images)
            if n_buf >= _WRITE_BATCH:
                writer.append(*(np.concatenate(p) for p in zip(*buf, strict=True)))
                buf, n_buf = [], 0
            done += weight_of.get(id(task), 1)
            if progress is not None:
                progress(done, total)
            if cancel is not None and cancel.is_set():
                raise Cancelled()
        if buf:
            writer.append(*(np.concatenate(p) for p in zip(*buf, strict=True)))
        if len(writer) == 0:
            raise SiamError("every image is blank; nothing to import", out)
        samples = len(writer)
    return ImportReport(path=Path(out), samples=samples, classes=len(classes),
                        sources=len(source_names), skipped=skipped,
                        seconds=time.perf_counter() - t0)


def _ordered_classes(found: list[str], alphabet: str | None,
                     base: Path | None) -> tuple[list[str], str]:
    """Class list: the given alphabet's order (so labels match rendered splits) or as found."""
    if alphabet is None:
        return found, ""
    from siam_workbench.data.alphabets import resolve_alphabet

    alpha = resolve_alphabet(alphabet, base=base)
    known = set(alpha.classes)
    extra = [c for c in found if c not in known]
    if extra:
        raise SiamError(f"{len(extra)} class(es) are not in alphabet {alpha.name!r}, e.g. "
                        f"{extra[0]!r}")
    return list(alpha.classes), alpha.name


# -- public importers -------------------------------------------------------------------------


def import_folder(
    root: str | Path,
    out: str | Path,
    size: int = 37,
    force: bool = False,
    *,
    margin: int = 2,
    alphabet: str | None = None,
    mode: str = "fit",
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Import ``ROOT/<class>/<image>`` (any PIL-readable image; nested folders inside a class
    folder are included). Polarity is detected per image. One source, named after ROOT.
    ``alphabet`` fixes the class order (labels then match a rendered split)."""
    root = _require_dir(root)
    suffixes = image_suffixes()
    per_class: list[tuple[str, list[str]]] = []
    for cdir in _listdir(root):
        if not cdir.is_dir():
            continue
        files = sorted(str(p) for p in cdir.rglob("*")
                       if p.is_file() and p.suffix.lower() in suffixes
                       and not any(part.startswith(".") for part in p.relative_to(cdir).parts))
        if files:
            per_class.append((cdir.name, files))
    if not per_class:
        raise SiamError("no images found (expected ROOT/<class>/<image files>)", root)
    classes, alpha_name = _ordered_classes([c for c, _ in per_class], alphabet, root)
    index = {c: i for i, c in enumerate(classes)}
    tasks = [_ImageTask(index[c], [(f, 0) for f in files], size, margin, "auto", True,
                        check_mode(mode)) for c, files in per_class]
    meta = {"importer": "folder", "root": str(root.resolve()), "size": size, "margin": margin,
            "size_mode": mode, **({"alphabet_arg": alphabet} if alphabet else {})}
    return _run(_import_images, tasks, [len(t.files) for t in tasks], Path(out), classes,
                [root.name or "folder"], size, alphabet=alpha_name or f"folder:{root.name}",
                meta=meta, force=force, workers=workers, progress=progress, cancel=cancel)


_OMNIGLOT_FILE = re.compile(r"^(?P<id>\d+)_(?P<drawer>\d+)$")


def import_omniglot(
    root: str | Path,
    out: str | Path,
    size: int = 37,
    force: bool = False,
    *,
    margin: int = 2,
    crop: bool = True,
    mode: str = "fit",
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    mapping: dict[str, str] | None = None,
) -> ImportReport:
    """Import Omniglot (``images_background`` or ``images_evaluation``, or their parent).

    ``mapping`` (:func:`siam_workbench.data.omniglot.read_mapping`) renames classes to an alphabet's
    characters (``"Japanese_(katakana)/character09"`` → ``"コ"``) and keeps only those.

    Class = ``"<alphabet>/<characterNN>"``; source = the drawer (``drawer07`` from
    ``0709_07.png``); ink is dark on white and is inverted. ``crop=True`` centres on the ink box
    like every other glyph here; ``crop=False`` resizes the whole 105×105 frame instead.
    """
    root = _require_dir(root)
    layouts: list[Path] = [root]
    subdirs = [d for d in _listdir(root) if d.is_dir()]
    if subdirs and all(d.name.startswith("images_") for d in subdirs):
        layouts = subdirs  # the parent of images_background / images_evaluation
    per_class: list[tuple[str, list[tuple[str, str]]]] = []
    for part in layouts:
        for adir in _listdir(part):
            if not adir.is_dir():
                continue
            for cdir in _listdir(adir):
                if not cdir.is_dir():
                    continue
                files = []
                for f in _listdir(cdir):
                    if f.suffix.lower() != ".png" or not f.is_file():
                        continue
                    m = _OMNIGLOT_FILE.match(f.stem)
                    files.append((str(f), f"drawer{m['drawer']}" if m else "drawer?"))
                if files:
                    per_class.append((f"{adir.name}/{cdir.name}", files))
    if not per_class:
        raise SiamError("no Omniglot images found (expected ROOT/<alphabet>/<character>/"
                        "<id>_<drawer>.png)", root)
    if mapping is not None:
        per_class = [(mapping[c], files) for c, files in per_class if c in mapping]
        if not per_class:
            raise SiamError("none of the classes the mapping names are there", root)
    seen: set[str] = set()
    for name, _ in per_class:
        if name in seen:
            raise SiamError(f"class {name!r} appears twice (background and evaluation parts "
                            "share an alphabet name?); import the parts separately", root)
        seen.add(name)
    source_names = sorted({s for _, files in per_class for _, s in files})
    src_index = {s: i for i, s in enumerate(source_names)}
    classes = [c for c, _ in per_class]
    tasks = [_ImageTask(i, [(f, src_index[s]) for f, s in files], size, margin, "dark", crop,
                        check_mode(mode)) for i, (_, files) in enumerate(per_class)]
    meta = {"importer": "omniglot", "root": str(root.resolve()), "size": size,
            "margin": margin if crop else 0, "crop": crop, "size_mode": mode if crop else "frame",
            **({"mapped": len(per_class)} if mapping is not None else {})}
    return _run(_import_images, tasks, [len(t.files) for t in tasks], Path(out), classes,
                source_names, size, alphabet=f"omniglot:{root.name}", meta=meta, force=force,
                workers=workers, progress=progress, cancel=cancel)


def _decode_name(raw: bytes) -> str:
    for enc in ("utf-8", "euc_kr"):
        try:
            return raw.decode(enc).strip()
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace").strip()


def parse_phd08_file(path: Path) -> list[tuple[str, np.ndarray]]:
    """Samples of one PHD08 text file as ``(name, uint8 [H, W] with 255 = ink)``.

    Layout per sample: a name line, an ``H W`` line, H rows of W ``0``/``1`` characters, then a
    blank line (the last sample may end the file without it). Anything else raises
    :class:`SiamError` naming the file, the line number and the sample.
    """
    require_file(path, "PHD08 file")
    try:
        check_allocation(8 * path.stat().st_size, "parsing this PHD08 file", path)
        data = path.read_bytes()
    except OSError as exc:
        raise SiamError(f"cannot read ({exc.strerror or exc})", path) from None
    lines = data.splitlines()  # \n, \r\n or \r; no phantom line after the final newline
    n = len(lines)
    out: list[tuple[str, np.ndarray]] = []
    i = 0
    while True:
        while i < n and not lines[i].strip():
            i += 1
        if i >= n:
            break
        name = _decode_name(lines[i])
        number = len(out) + 1
        label = f"sample {number} ({name!r})"
        i += 1
        if i >= n:
            raise SiamError(f"line {i}: {label} ends after its name line", path)
        parts = lines[i].split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise SiamError(f"line {i + 1}: {label}: expected 'H W', got "
                            f"{lines[i].decode('utf-8', 'replace').strip()[:40]!r}", path)
        h, w = int(parts[0]), int(parts[1])
        if not (0 < h <= 4096 and 0 < w <= 4096):
            raise SiamError(f"line {i + 1}: {label}: bad size {h}×{w}", path)
        rows = [r.strip() for r in lines[i + 1:i + 1 + h]]
        for k, row in enumerate(rows):
            if len(row) != w or row.translate(None, b"01"):
                what = (f"{len(row)} characters, expected {w}" if len(row) != w
                        else "characters other than 0 and 1")
                raise SiamError(f"line {i + 2 + k}: {label}: row {k + 1} has {what}", path)
        if len(rows) < h:
            raise SiamError(f"line {min(n, i + 1 + len(rows))}: {label}: file ends after "
                            f"{len(rows)} of {h} rows", path)
        i += 1 + h
        if i < n and lines[i].strip() and len(lines[i].strip()) == w \
                and not lines[i].strip().translate(None, b"01"):
            raise SiamError(f"line {i + 1}: {label}: more than the {h} rows its header says",
                            path)
        bits = np.frombuffer(b"".join(rows), np.uint8).reshape(h, w)
        out.append((name, ((bits - ord("0")) * 255).astype(np.uint8)))
    if not out:
        raise SiamError("no PHD08 samples found", path)
    return out


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def import_phd08(
    src: str | Path,
    out: str | Path,
    size: int = 37,
    force: bool = False,
    *,
    margin: int = 2,
    alphabet: str | None = None,
    mode: str = "fit",
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Import PHD08: a folder of ``<syllable>.txt`` files (or one file); class = file stem.

    ``alphabet="hangul-2350"`` gives the classes the rendered splits' label order. A corrupt file
    raises :class:`SiamError` with file, line and sample; nothing is written then.
    """
    src = Path(src).expanduser()
    if not src.exists():
        raise SiamError("not found", src)
    if src.is_dir():
        files = [p for p in _listdir(src) if p.is_file() and p.suffix.lower() == ".txt"]
        if not files:
            raise SiamError("no PHD08 .txt files found", src)
    else:
        files = [src]
    by_class = {p.stem: p for p in files}
    found = sorted(by_class)  # code-point order = KS X 1001 order for Hangul syllables
    classes, alpha_name = _ordered_classes(found, alphabet, src if src.is_dir() else None)
    index = {c: i for i, c in enumerate(classes)}
    tasks = [_Phd08Task(index[c], str(by_class[c]), size, margin, check_mode(mode))
             for c in found]
    meta = {"importer": "phd08", "source": str(src.resolve()), "size": size, "margin": margin,
            "size_mode": mode, **({"alphabet_arg": alphabet} if alphabet else {})}
    # Weight tasks by their rough sample count (a 60×60 sample is ~3.7 kB of text) so progress
    # is smooth and a few big files still go to the workers.
    weights = [max(1, _file_size(by_class[c]) // 3700) for c in found]
    return _run(_import_phd08_file, tasks, weights, Path(out), classes, ["phd08"],
                size, alphabet=alpha_name or "phd08", meta=meta, force=force, workers=workers,
                progress=progress, cancel=cancel)

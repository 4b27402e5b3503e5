"""Font → glyph-image rendering, from one glyph (Draw tab previews) to whole split files.

Quality: each glyph outline is loaded unscaled (font units, no hinting), scaled so its exact ink
bounding box fills ``size - 2*margin`` with the aspect kept, shifted with 1/64-pixel precision so
the box is centred, and rasterised once by FreeType's exact-area anti-aliasing renderer. That is
what rendering large and area-averaging down approximates, without the extra work.

Speed: the hot loop talks to FreeType through ``freetype.raw`` with reused structs (no per-glyph
Python wrapper objects), every worker process keeps its open faces, and work is split into
(face × block of classes) tasks so results stream into :class:`core.data.glyphs.GlyphWriter` in a
fixed order with a bounded number of blocks in flight — 11,172 classes × 80 faces never sit in
memory at once. Workers use the ``spawn`` start method, safe from GUI threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing as mp
import os
import signal
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import sweep_stale
from core.data.distort import DistortSpec, apply_distortions, parse_distort_spec
from core.data.fonts import FontFace, open_ft_face
from core.data.framing import size_mode_of
from core.errors import Cancelled, SiamError

Progress = Callable[[int, int], None]

# FreeType constants (stable ABI values; spelled out to keep the hot loop free of lookups).
_LOAD_NO_SCALE = 1 << 0
_LOAD_RENDER = 1 << 2
_LOAD_COLOR = 1 << 20
_GLYPH_FORMAT_OUTLINE = 0x6F75746C  # 'outl'
_RENDER_MODE_NORMAL = 0
_PIXEL_MODE_MONO = 1
_PIXEL_MODE_GRAY = 2
_PIXEL_MODE_BGRA = 7
_KERNING_UNSCALED = 2
_WRITE_BATCH = 4096  # samples per HDF5 append
# Starting spawn workers costs ~0.5–1 s (interpreter + numpy/PIL/FreeType imports), about what
# one process renders 20,000 glyphs in; below that (in glyph-equivalents, a distorted variant
# costing ~6 clean glyphs) a job runs in the calling thread.
INPROCESS_MAX_COST = 20_000
_DISTORT_COST = 6


@dataclass
class RenderReport:
    """What a render produced; ``classes`` and ``faces`` are counts."""

    path: Path
    samples: int
    classes: int
    faces: int
    missing_per_face: dict[str, int] = field(default_factory=dict)
    # face → the classes it has no glyph for (the Data tab names them)
    missing_classes: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    kept_exclusions: int = 0  # samples excluded in the replaced file and again in this one
    glyphs_per_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "samples": self.samples, "classes": self.classes,
                "faces": self.faces, "missing_per_face": dict(self.missing_per_face),
                "missing_classes": {k: list(v) for k, v in self.missing_classes.items()},
                "seconds": round(self.seconds, 3), "glyphs_per_s": round(self.glyphs_per_s, 1)}


# -- bitmaps ----------------------------------------------------------------------------------


def bitmap_to_array(buffer: bytes, rows: int, width: int, pitch: int,
                    pixel_mode: int = _PIXEL_MODE_GRAY) -> np.ndarray:
    """A FreeType bitmap buffer as uint8 ``[rows, width]`` coverage (255 = ink).

    ``pitch`` is the byte stride of a row and may exceed the row's payload (padding) or be
    negative (bottom row first); 1-bit and BGRA bitmaps are converted (BGRA: alpha is the ink).
    """
    if rows == 0 or width == 0:
        return np.zeros((rows, width), np.uint8)
    stride = abs(pitch)
    a = np.frombuffer(buffer, np.uint8, count=rows * stride).reshape(rows, stride)
    if pitch < 0:
        a = a[::-1]
    if pixel_mode == _PIXEL_MODE_GRAY:
        return a[:, :width]
    if pixel_mode == _PIXEL_MODE_MONO:
        return np.unpackbits(a, axis=1)[:, :width] * np.uint8(255)
    if pixel_mode == _PIXEL_MODE_BGRA:
        return np.ascontiguousarray(a[:, : width * 4].reshape(rows, width, 4)[..., 3])
    raise ValueError(f"unsupported FreeType pixel mode {pixel_mode}")


def paste_max(canvas: np.ndarray, tile: np.ndarray, top: int, left: int) -> None:
    """``canvas = max(canvas, tile)`` at (top, left), clipped to the canvas."""
    h, w = canvas.shape
    th, tw = tile.shape
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(h, top + th), min(w, left + tw)
    if r1 <= r0 or c1 <= c0:
        return
    region = canvas[r0:r1, c0:c1]
    np.maximum(region, tile[r0 - top:r1 - top, c0 - left:c1 - left], out=region)


# -- one face ---------------------------------------------------------------------------------


class FaceRenderer:
    """Renders classes of one font face; keeps the FreeType face and scratch structs open."""

    def __init__(self, face: FontFace) -> None:
        from freetype import raw
        from freetype.ft_structs import FT_BBox, FT_Matrix, FT_Vector

        self.face = face
        self._raw = raw
        self._ft = open_ft_face(face.path, face.index)  # keeps the FT_Face alive
        self._fp = self._ft._FT_Face
        self._bbox = FT_BBox()
        self._matrix = FT_Matrix()
        self._kern = FT_Vector()
        self._has_kerning = bool(self._ft.has_kerning)
        self._scalable = bool(self._ft.is_scalable)
        # The glyph slot lives as long as the face: keep views and byrefs of its fields so the
        # per-glyph path creates almost no ctypes objects.
        self._slot = self._fp.contents.glyph
        self._rec = self._slot.contents
        self._outline_ref = ctypes.byref(self._rec.outline)
        self._bbox_ref = ctypes.byref(self._bbox)
        self._matrix_ref = ctypes.byref(self._matrix)

    # Glyph loading ---------------------------------------------------------------------------
    def _load_outline(self, gid: int) -> bool:
        """Load an unscaled outline into the slot; False when it is not an outline glyph."""
        if self._raw.FT_Load_Glyph(self._fp, gid, _LOAD_NO_SCALE):
            return False
        return self._rec.format == _GLYPH_FORMAT_OUTLINE

    def _glyph_ids(self, text: str) -> list[int] | None:
        """Glyph index per character (0 for whitespace); None when any character is missing."""
        ids: list[int] = []
        for ch in text:
            gid = self._raw.FT_Get_Char_Index(self._fp, ord(ch))
            if ch.isspace():
                ids.append(gid)
                continue
            if not gid:
                return None
            ids.append(gid)
        return ids

    def render(self, text: str, size: int = 37, margin: int = 2,
               mode: str = "fit") -> np.ndarray | None:
        """uint8 ``[size, size]`` ink 255; None if missing or blank. ``mode`` fit: centred on
        the ink box and scaled to fill; em: the em box fills the image, baseline kept
        (:mod:`core.data.imaging`)."""
        if not text or text.isspace():
            return None
        ids = self._glyph_ids(text)
        if ids is None:
            return None
        self._em = mode == "em"
        if len(text) == 1:
            return self._render_single(ids[0], size, margin)
        out = self._render_run(text, ids, size, margin)
        return out if out is not None and out.any() else None

    _em = False

    def _frame(self, x0: float, y0: float, x1: float, y1: float, size: int,
               margin: int) -> tuple[float, float, float]:
        """(scale, cx, cy): font units → pixels and the font-unit point placed at the canvas
        centre, for the ink box (x0, y0)–(x1, y1) in the current size mode."""
        inner = size - 2 * margin
        if not self._em:
            return inner / max(x1 - x0, y1 - y0), (x0 + x1) / 2, (y0 + y1) / 2
        from core.data.imaging import EM_ASCENT, EM_DESCENT

        upem = max(1, int(self._fp.contents.units_per_EM) or 1000)
        scale = inner / ((EM_ASCENT + EM_DESCENT) * upem)
        if (x1 - x0) * scale > inner:  # a wide run of characters: shrink to fit the width
            scale = inner / (x1 - x0)
        baseline_row = margin + EM_ASCENT * upem * scale  # pixels from the top
        return scale, (x0 + x1) / 2, (baseline_row - size / 2) / scale

    def _render_single(self, gid: int, size: int, margin: int) -> np.ndarray | None:
        """The hot path: one outline glyph, no per-glyph ctypes wrappers beyond the bitmap."""
        raw = self._raw
        rec = self._rec
        if raw.FT_Load_Glyph(self._fp, gid, _LOAD_NO_SCALE) or rec.format != _GLYPH_FORMAT_OUTLINE:
            return self._render_bitmap_run([gid], [False], size, margin)
        if rec.outline.n_points <= 0:
            return None
        box = self._bbox
        raw.FT_Outline_Get_BBox(self._outline_ref, self._bbox_ref)
        x0, y0, x1, y1 = box.xMin, box.yMin, box.xMax, box.yMax
        if x1 <= x0 or y1 <= y0:
            return None
        scale, cx, cy = self._frame(x0, y0, x1, y1, size, margin)
        self._place(scale, cx, cy, size)
        bm = rec.bitmap
        rows, width, pitch = bm.rows, bm.width, bm.pitch
        if rows == 0 or width == 0:
            return None
        buf = ctypes.string_at(bm.buffer, rows * abs(pitch))
        if not buf.strip(b"\0"):
            return None
        tile = bitmap_to_array(buf, rows, width, pitch, bm.pixel_mode)
        canvas = np.zeros((size, size), np.uint8)
        top, left = size - rec.bitmap_top, rec.bitmap_left
        if top >= 0 and left >= 0 and top + rows <= size and left + width <= size:
            canvas[top:top + rows, left:left + width] = tile
        else:  # rounding put a pixel column outside the canvas: clip
            paste_max(canvas, tile, top, left)
        return canvas

    def _place(self, scale: float, cx: float, cy: float, size: int) -> None:
        """Scale the loaded outline from font units to 26.6 pixels, move (cx, cy) to the canvas
        centre with 1/64-pixel precision and rasterise it into the slot's bitmap."""
        raw = self._raw
        m = self._matrix
        fixed = int(round(scale * 64.0 * 65536.0))
        m.xx = m.yy = fixed
        m.xy = m.yx = 0
        raw.FT_Outline_Transform(self._outline_ref, self._matrix_ref)
        half = size * 32.0  # canvas centre in 26.6
        raw.FT_Outline_Translate(self._outline_ref, int(round(half - cx * scale * 64.0)),
                                 int(round(half - cy * scale * 64.0)))
        raw.FT_Render_Glyph(self._slot, _RENDER_MODE_NORMAL)

    def _blit(self, canvas: np.ndarray, size: int) -> None:
        s = self._rec
        bm = s.bitmap
        if bm.rows == 0 or bm.width == 0:
            return
        buf = ctypes.string_at(bm.buffer, bm.rows * abs(bm.pitch))
        tile = bitmap_to_array(buf, bm.rows, bm.width, bm.pitch, bm.pixel_mode)
        # FreeType's y axis points up with the baseline at 0; canvas row 0 is y = size.
        paste_max(canvas, tile, size - s.bitmap_top, s.bitmap_left)

    def _render_run(self, text: str, ids: list[int], size: int,
                    margin: int) -> np.ndarray | None:
        """Several characters laid out on one baseline with their advances (and kerning)."""
        raw = self._raw
        pens: list[int] = []
        union = [math.inf, math.inf, -math.inf, -math.inf]
        pen = 0
        prev = 0
        upem = max(1, int(self._fp.contents.units_per_EM) or 1000)
        for ch, gid in zip(text, ids, strict=True):
            if self._has_kerning and prev and gid:
                raw.FT_Get_Kerning(self._fp, prev, gid, _KERNING_UNSCALED,
                                   ctypes.byref(self._kern))
                pen += self._kern.x
            pens.append(pen)
            loaded = self._load_outline(gid) if gid else False
            if not loaded and gid and not ch.isspace():
                return self._render_bitmap_run(ids, [c.isspace() for c in text], size, margin)
            if loaded:
                advance = self._rec.metrics.horiAdvance
                if not ch.isspace():
                    if self._rec.outline.n_points <= 0:
                        return None  # a blank glyph inside the class: treat as missing
                    raw.FT_Outline_Get_BBox(self._outline_ref, self._bbox_ref)
                    b = self._bbox
                    union = [min(union[0], b.xMin + pen), min(union[1], b.yMin),
                             max(union[2], b.xMax + pen), max(union[3], b.yMax)]
            else:
                advance = upem // 4  # a space the font does not have
            pen += advance
            prev = gid
        w, h = union[2] - union[0], union[3] - union[1]
        if not (w > 0 and h > 0):
            return None
        scale, cx, cy = self._frame(*union, size, margin)
        canvas = np.zeros((size, size), np.uint8)
        for ch, gid, pen_x in zip(text, ids, pens, strict=True):
            if ch.isspace() or not gid:
                continue
            if not self._load_outline(gid):
                return None
            self._place(scale, cx - pen_x, cy, size)
            self._blit(canvas, size)
        return canvas

    def _render_bitmap_run(self, ids: list[int], spaces: list[bool], size: int,
                           margin: int) -> np.ndarray | None:
        """Fallback for glyphs without outlines (bitmap-only or colour fonts): rasterise at a
        large size, compose on the baseline, then normalise like an imported image."""
        from core.data.imaging import fit_to_canvas

        ft = self._ft
        try:
            if self._scalable:
                ft.set_pixel_sizes(0, 4 * size)
            elif ft.num_fixed_sizes:
                ft.select_size(0)
        except Exception:  # noqa: BLE001 - FreeType refuses: nothing to render
            return None
        tiles: list[tuple[np.ndarray, int, int]] = []
        pen = 0
        for gid, space in zip(ids, spaces, strict=True):
            if self._raw.FT_Load_Glyph(self._fp, gid, _LOAD_RENDER | _LOAD_COLOR):
                return None
            s = self._fp.contents.glyph.contents
            if not space:
                bm = s.bitmap
                if bm.rows and bm.width:
                    buf = ctypes.string_at(bm.buffer, bm.rows * abs(bm.pitch))
                    tile = bitmap_to_array(buf, bm.rows, bm.width, bm.pitch, bm.pixel_mode)
                    tiles.append((tile.copy(), -s.bitmap_top, pen + s.bitmap_left))
            pen += s.advance.x >> 6
        if not tiles:
            return None
        top = min(t[1] for t in tiles)
        left = min(t[2] for t in tiles)
        bottom = max(t[1] + t[0].shape[0] for t in tiles)
        right = max(t[2] + t[0].shape[1] for t in tiles)
        big = np.zeros((bottom - top, right - left), np.uint8)
        for tile, r, c in tiles:
            paste_max(big, tile, r - top, c - left)
        if not big.any():
            return None
        try:
            return fit_to_canvas(big.astype(np.float32) / 255.0, size, margin)
        except SiamError:
            return None


_LOCAL = threading.local()  # a FreeType face must not be used by two threads at once
_RENDERERS_MAX = 64


def _renderer(face: FontFace) -> FaceRenderer:
    """This thread's renderer for ``face`` (LRU of open faces per thread)."""
    cache: OrderedDict[tuple[str, int], FaceRenderer] | None = getattr(_LOCAL, "cache", None)
    if cache is None:
        cache = _LOCAL.cache = OrderedDict()
    key = (str(face.path), face.index)
    r = cache.get(key)
    if r is None:
        r = cache[key] = FaceRenderer(face)
        while len(cache) > _RENDERERS_MAX:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return r


def render_glyph(face: FontFace, text: str, size: int = 37, margin: int = 2,
                 mode: str = "fit") -> np.ndarray | None:
    """One class of one face as uint8 ``[size, size]`` (ink 255, anti-aliased; ``mode`` fit:
    centred on its ink box, scaled to fit ``size - 2*margin``; em: the em box fills it, the
    baseline kept); None for a missing or blank glyph, never tofu."""
    from core.data.imaging import check_mode

    _check_geometry(size, margin)
    return _renderer(face).render(text, size, margin, check_mode(mode))


def _check_geometry(size: int, margin: int) -> None:
    if not 4 <= size <= 1024:
        raise SiamError(f"image size must be in [4, 1024], got {size}")
    if margin < 0 or 2 * margin >= size - 1:
        raise SiamError(f"margin {margin} leaves no room in a {size}-pixel image")


# -- block rendering (runs in workers, or in-process for small jobs) ----------------------------


@dataclass
class _Job:
    classes: list[str]
    faces: list[FontFace]
    size: int
    margin: int
    distort: DistortSpec | None
    variants: int
    seed: int
    mode: str = "fit"


_JOB: _Job | None = None


def _init_worker(job: _Job) -> None:
    global _JOB
    _JOB = job


def _face_seed(face: FontFace) -> int:
    return zlib.crc32(face.id.encode("utf-8"))


def _render_block(job: _Job, face_idx: int, start: int, stop: int
                  ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Render classes[start:stop] of one face: (images, labels, labels of missing glyphs)."""
    face = job.faces[face_idx]
    renderer = _renderer(face)
    per = job.variants if job.distort is not None else 1
    images = np.empty(((stop - start) * per, job.size, job.size), np.uint8)
    labels = np.empty((stop - start) * per, np.int32)
    n = 0
    missing: list[int] = []
    face_seed = _face_seed(face)
    for label in range(start, stop):
        img = renderer.render(job.classes[label], job.size, job.margin, job.mode)
        if img is None:
            missing.append(label)
            continue
        if job.distort is None:
            images[n] = img
            labels[n] = label
            n += 1
            continue
        rng = np.random.default_rng([job.seed, face_seed, label])
        for _ in range(per):
            images[n] = apply_distortions(img, job.distort, rng)
            labels[n] = label
            n += 1
    return images[:n], labels[:n], missing


def _worker_block(task: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    assert _JOB is not None, "worker not initialised"
    return _render_block(_JOB, *task)


def _tasks(n_classes: int, n_faces: int, block: int) -> list[tuple[int, int, int]]:
    return [(f, s, min(n_classes, s + block)) for f in range(n_faces)
            for s in range(0, n_classes, block)]


def _wait(future: Any, cancel: threading.Event | None) -> Any:
    """The future's result, polling ``cancel`` every 50 ms."""
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            return future.result(timeout=0.05)
        except FuturesTimeout:
            continue
        except BrokenProcessPool:
            if cancel is not None and cancel.is_set():  # SIGTERM to the whole process group
                raise Cancelled() from None
            raise SiamError("a worker process died (a damaged font, or out of memory?); "
                            "retry with --workers 1 to see the failing file") from None


def ordered_parallel(
    func: Callable[[Any], Any],
    tasks: list[Any],
    *,
    workers: int,
    cancel: threading.Event | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(task, func(task))`` in task order, from spawn worker processes when
    ``workers > 1``.

    At most ``3 × workers`` tasks are in flight, so a slow consumer (the HDF5 writer) bounds
    memory instead of letting finished results pile up. ``cancel`` is polled every 50 ms while
    waiting. On cancel, error or early exit, queued tasks are dropped and the few running ones
    finish in the background: workers are never killed mid-task, because a process killed
    while writing its result into the pool's pipe can hang the pool forever (what
    ``multiprocessing.Pool.terminate`` does). ``func`` and ``initializer`` must be module-level
    functions (spawn pickles them by name).
    """
    if workers <= 1 or len(tasks) <= 1:
        if initializer is not None:
            initializer(*initargs)
        for task in tasks:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            yield task, func(task)
        return
    pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp.get_context("spawn"),
                               initializer=_init_process,
                               initargs=(os.getpid(), initializer, initargs))
    finished = False
    try:
        pending: deque[tuple[Any, Any]] = deque()
        it = iter(tasks)
        for task in it:
            pending.append((task, _submit(pool, func, task, cancel)))
            if len(pending) >= 3 * workers:
                break
        while pending:
            task, fut = pending.popleft()
            out = _wait(fut, cancel)
            nxt = next(it, _END)
            if nxt is not _END:
                pending.append((nxt, _submit(pool, func, nxt, cancel)))
            yield task, out
        finished = True
    finally:
        pool.shutdown(wait=finished, cancel_futures=True)


_END = object()


def _submit(pool: ProcessPoolExecutor, func: Callable[[Any], Any], task: Any,
            cancel: threading.Event | None) -> Any:
    """``pool.submit`` with SIGINT blocked: a worker process it starts inherits the blocked
    signal, so a Ctrl-C sent to the whole process group while that worker is still starting
    Python (before :func:`_init_process` ignores SIGINT) cannot kill it. The parent's own
    Ctrl-C is only held back for these few microseconds, not lost."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(func, task)
    except BrokenProcessPool:
        if cancel is not None and cancel.is_set():
            raise Cancelled() from None
        raise SiamError("a worker process died (a damaged font, or out of memory?); "
                        "retry with --workers 1 to see the failing file") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _init_process(parent: int, initializer: Callable[..., None] | None,
                  initargs: tuple[Any, ...]) -> None:
    """Worker start-up: Ctrl-C is the parent's business. A worker interrupted mid-task would
    die holding the pool's queue locks or half-way through sending its result; with SIGINT
    ignored here the parent alone handles it and shuts the pool down cleanly.

    A parent killed outright (kill -9, OOM) cannot shut the pool down, and the workers, blocked
    on a queue they hold both ends of, would wait forever: each worker watches its parent and
    exits when it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by _submit
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="siam-parent-watch").start()
    if initializer is not None:
        initializer(*initargs)


def _watch_parent(parent: int, interval: float = 0.25) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _run_blocks(job: _Job, workers: int, cancel: threading.Event | None
                ) -> Iterator[tuple[tuple[int, int, int],
                                tuple[np.ndarray, np.ndarray, list[int]]]]:
    """Render (face, class block) tasks in order; in-process for small jobs."""
    total = len(job.classes) * len(job.faces)
    cost = total * (1 + (_DISTORT_COST * job.variants if job.distort is not None else 0))
    if workers <= 1 or cost <= INPROCESS_MAX_COST:
        workers = 1
        block = 128
    else:
        # Blocks small enough to balance load and report progress several times a second,
        # large enough that pickling and queueing stay negligible next to rendering.
        block = int(min(512, max(32, math.ceil(total / (workers * 16) / len(job.faces)))))
    tasks = _tasks(len(job.classes), len(job.faces), block)
    if workers == 1 or len(tasks) <= 1:  # no module global: concurrent in-thread renders are safe
        yield from ordered_parallel(lambda task: _render_block(job, *task), tasks, workers=1,
                                    cancel=cancel)
        return
    yield from ordered_parallel(_worker_block, tasks, workers=workers, cancel=cancel,
                                initializer=_init_worker, initargs=(job,))


def _source_names(faces: list[FontFace]) -> list[str]:
    """Face ids, disambiguated by folder when two files share a name."""
    ids = [f.id for f in faces]
    return [f"{f.path.parent.name}/{f.id}" if ids.count(f.id) > 1 else f.id for f in faces]


def render_dataset(
    classes: list[str],
    faces: list[FontFace],
    out: Path,
    *,
    size: int = 37,
    margin: int = 2,
    mode: str = "fit",
    alphabet_name: str = "",
    distort: str | None = None,
    variants: int = 1,
    seed: int = 0,
    workers: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    origin: dict[str, Any] | None = None,
) -> RenderReport:
    """Render every class of every face into a glyph HDF5 file (sources = faces).

    Samples are written face by face in class order (``variants`` distorted copies each when
    ``distort`` is given). Missing glyphs are skipped and counted per face. ``progress(done,
    total)`` counts (face, class) pairs and runs in the calling thread; setting ``cancel`` stops
    within a block, raises :class:`Cancelled` and leaves no file (an existing one untouched).
    ``origin`` (recorded in the ``render`` attrs) says what made the file — ``project`` with
    ``split`` or ``font_role``, ``alphabet_arg`` — so a reader that needs another framing can
    name the command re-making it (:func:`core.data.framing.remake_command`).
    """
    from core.data.glyphs import GlyphWriter  # imported here: workers must not pay for torch
    from core.data.imaging import check_mode

    out = Path(out)
    _check_geometry(size, margin)
    check_mode(mode)
    if not classes:
        raise SiamError("the alphabet holds no classes")
    if len(set(classes)) != len(classes):
        raise SiamError("the class list holds duplicates")
    if not faces:
        raise SiamError("no font faces to render")
    if variants < 1:
        raise SiamError(f"variants must be ≥ 1, got {variants}")
    spec = parse_distort_spec(distort) if distort else None
    if spec is not None and spec.is_identity:
        spec = None
    if spec is None and variants > 1:
        raise SiamError("variants > 1 needs a distortion (--distort), else copies are identical")
    workers = max(1, int(workers or os.cpu_count() or 1))
    job = _Job(classes=list(classes), faces=list(faces), size=size, margin=margin,
               distort=spec, variants=variants, seed=int(seed), mode=mode)
    total = len(classes) * len(faces)
    names = _source_names(job.faces)
    meta = {
        "renderer": "freetype-outline",
        "size": size, "margin": margin, "size_mode": mode, "seed": seed,
        "distort": spec.to_string() if spec else "", "variants": variants if spec else 1,
        "fonts": [{"id": f.id, "family": f.family, "style": f.style, "full_name": f.full_name,
                   "path": str(f.path), "index": f.index} for f in job.faces],
        **(origin or {}),
    }
    missing = dict.fromkeys(names, 0)
    missing_classes: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    done = 0
    if progress is not None:
        progress(0, total)
    # Few large appends cost HDF5 (resize + lzf per chunk) much less than many small ones.
    buffered: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n_buffered = 0

    def flush(writer: GlyphWriter) -> None:
        nonlocal n_buffered
        if buffered:
            writer.append(*(np.concatenate(parts) for parts in zip(*buffered, strict=True)))
            buffered.clear()
            n_buffered = 0

    blocks = _run_blocks(job, workers, cancel)
    with contextlib.closing(blocks), \
            GlyphWriter(out, job.classes, names, size, alphabet=alphabet_name, render=meta,
                        force=force) as writer:
        # closing(): an exception here (a progress callback raising Cancelled, a full disk)
        # must stop the worker pool now, not whenever the traceback is garbage-collected.
        for (face_idx, start, stop), (images, labels, miss) in blocks:
            buffered.append((images, labels, np.full(len(labels), face_idx, np.int32)))
            n_buffered += len(labels)
            if n_buffered >= _WRITE_BATCH:
                flush(writer)
            missing[names[face_idx]] += len(miss)
            if miss:
                missing_classes.setdefault(names[face_idx], []).extend(
                    job.classes[i] for i in miss)
            done += stop - start
            if progress is not None:
                progress(done, total)
            if cancel is not None and cancel.is_set():
                raise Cancelled()
        flush(writer)
        if cancel is not None and cancel.is_set():  # last chance before the rename
            raise Cancelled()
        if len(writer) == 0:
            raise SiamError(f"none of the {len(faces)} font face(s) has a glyph of the "
                            f"{len(classes)}-class alphabet ({', '.join(names[:3])}"
                            f"{', …' if len(names) > 3 else ''})")
        samples = len(writer)
    seconds = time.perf_counter() - t0
    return RenderReport(path=out, samples=samples, classes=len(classes), faces=len(faces),
                        missing_per_face=missing, missing_classes=missing_classes,
                        seconds=seconds,
                        glyphs_per_s=samples / seconds if seconds > 0 else 0.0)


def _carry_exclusions(old: Path, new: Path) -> int:
    """Re-apply the user's exclusions of ``old`` to its re-rendered ``new`` by (class, face,
    variant), so rendering again never silently brings back samples someone removed."""
    from core.data.glyphs import apply_exclusion_keys, exclusion_keys

    if not old.exists():
        return 0
    try:
        keys = exclusion_keys(old)
    except SiamError:
        return 0  # an unreadable old file has no exclusions to keep
    return apply_exclusion_keys(new, keys)


def render_splits(
    project: Any,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
    workers: int | None = None,
    missing_only: bool = False,
) -> dict[str, RenderReport]:
    """Render a project's train, val and test files from its ``[data]`` settings.

    With ``missing_only`` (and no ``force``) the splits whose files exist are kept and only the
    others are rendered — a deleted val file comes back without re-rendering the training data.

    Train and val are clean renders, test gets ``data.test_distort`` × ``data.test_variants``.
    Every target is checked before any work so an existing file (without ``force``) fails fast;
    the three files replace their targets together only when all are complete (cancel or error
    leaves every existing file as it was). ``progress`` counts (face, class) pairs across all
    three splits.
    """
    from core.data.alphabets import resolve_alphabet
    from core.data.fonts import discover_fonts, resolve_font_roles
    from core.data.glyphs import journal_path
    from core.data.samples import refuse_render

    refuse_render(project)  # a project made from imported samples never renders fonts
    data = project.config.data
    alphabet = resolve_alphabet(data.alphabet, base=project.root)
    test_spec = parse_distort_spec(data.test_distort)  # fail on a typo before rendering
    extra = [project.resolve(d) for d in data.font_dirs]
    faces = discover_fonts(extra=extra)
    roles = resolve_font_roles(data, faces, alphabet.classes)
    paths = project.output_dataset_paths()  # only inside the project folder
    if len({p.resolve() for p in paths.values()}) < len(paths):
        raise SiamError("data.train, data.val and data.test must be three different files",
                        project.file)
    if missing_only and not force:
        present = [p for p in paths.values() if p.exists()]
        if len(present) == len(paths):
            raise SiamError("every split is rendered already (use --force to replace them)",
                            present[0].parent)
        paths = {r: p for r, p in paths.items() if not p.exists()}
    for role, path in paths.items():
        if path.exists() and not force:
            raise SiamError(f"{role} file already exists (use --force to replace it)", path)
    for path in paths.values():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SiamError(f"cannot create folder ({exc.strerror or exc})", path.parent) from None
        sweep_stale(path)  # staged files of a render that was killed
    totals = {r: len(alphabet.classes) * len(roles[r]) for r in paths}
    grand = sum(totals.values())
    offset = 0
    reports: dict[str, RenderReport] = {}
    seed = int(getattr(project.config.train, "seed", 0))
    # All three files are staged beside their targets and renamed together at the end, so a
    # cancel or error in the test split never leaves a new train file next to an old test file.
    staged = {r: p.with_name(f".{p.name}.{os.getpid()}.staged") for r, p in paths.items()}
    try:
        for role in paths:
            base = offset

            def sub(done: int, _total: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + done, grand)

            distorted = role == "test" and not test_spec.is_identity
            reports[role] = render_dataset(
                alphabet.classes, roles[role], staged[role], size=data.image_size,
                margin=data.margin, mode=size_mode_of(data),
                alphabet_name=alphabet.name,
                distort=test_spec.to_string() if distorted else None,
                variants=data.test_variants if distorted else 1,
                seed=seed, workers=workers, force=True, progress=sub, cancel=cancel,
                origin={"project": str(project.root), "split": role})
            offset += totals[role]
        for role, path in paths.items():
            if path.exists() and not force:  # appeared while rendering: keep it
                raise SiamError(f"{role} file already exists (use --force to replace it)", path)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        for role, path in paths.items():
            reports[role].kept_exclusions = _carry_exclusions(path, staged[role])
        for role, path in paths.items():
            os.replace(staged[role], path)
            journal_path(path).unlink(missing_ok=True)  # exclusions of the replaced file
            reports[role].path = path
    finally:
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
    return reports

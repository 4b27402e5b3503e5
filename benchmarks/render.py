"""Render speed: end-to-end glyphs/s into HDF5 vs a plain PIL ``ImageDraw.text`` baseline.

The end-to-end figure is what ``siam render`` does: spawn the workers, render (face × class
block) tasks, stream them through lzf compression into a glyph file, close it. The baseline is
the obvious alternative a user would write: one ``ImageFont.truetype`` per face and one
``ImageDraw.text`` per glyph into an in-memory image, no centring, no file — run both in one
process (``baseline_1proc``) and spread over the same number of processes as the renderer
(``baseline_nproc``), so the comparison holds either way. ``--framed`` adds the baseline doing
the renderer's whole job: PIL draws each glyph on a canvas with room around it, frames it as
the renderer's ``fit`` mode does (ink box padded to a square, shrunk by area averaging — PIL's
``BOX`` — or grown bicubically to ``size − 2·margin``, centred) and the glyphs go through the
same lzf glyph-file writer (``framed_1proc`` / ``framed_nproc``): the like-for-like comparison.
Compare ``workers`` = N with the N-process baselines; the 1-process ratio at N > 1 workers puts
N processes against one. Each measurement also gives its CPU time (this process and its
workers, ``cpu_s``) and ``glyphs_per_cpu_s``, which a shared machine disturbs less than wall
time.

    python benchmarks/render.py                       # hangul-2350 over 24 Korean faces
    python benchmarks/render.py --alphabet hangul-11172 --faces 0 --no-baseline  # all faces
    python benchmarks/render.py --workers 1 --framed  # like for like at 1 process
    python benchmarks/render.py --smoke     # latin-digits × 2 DejaVu faces, once (make test)

Prints one JSON object. Falls back to latin-digits × the DejaVu faces without Korean fonts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

from siam_workbench.data.alphabets import named_alphabet  # noqa: E402
from siam_workbench.data.fonts import FontFace, coverage, discover_fonts  # noqa: E402
from siam_workbench.data.render import render_dataset  # noqa: E402


def pick_faces(alphabet: str, n: int, dejavu_only: bool = False) -> tuple[str, list[FontFace]]:
    """Up to ``n`` faces covering the whole alphabet, spread over the sorted list so several
    families (not five weights of one) are measured; ``n = 0`` means all of them."""
    classes = named_alphabet(alphabet).classes
    full = [] if dejavu_only else [f for f in discover_fonts() if coverage(f, classes).all()]
    if not full:
        alphabet = "latin-digits"
        classes = named_alphabet(alphabet).classes
        full = [f for f in discover_fonts() if f.family.startswith("DejaVu")
                and coverage(f, classes).all()]
    if n and len(full) > n:
        step = len(full) / n
        full = [full[int(i * step)] for i in range(n)]
    return alphabet, full


def _pil_faces(args: tuple[list[tuple[str, int]], list[str], int, int]) -> int:
    """Plain PIL loop over some faces: the baseline's unit of work; returns glyphs drawn."""
    from PIL import Image, ImageDraw, ImageFont

    faces, classes, size, margin = args
    done = 0
    sink = 0
    for path, index in faces:
        font = ImageFont.truetype(path, size - 2 * margin, index=index)
        for text in classes:
            img = Image.new("L", (size, size), 0)
            ImageDraw.Draw(img).text((margin, margin), text, fill=255, font=font)
            sink += int(np.asarray(img)[size // 2, size // 2])
            done += 1
    return done


def _pil_fit(img, size: int, margin: int) -> np.ndarray | None:
    """The ``fit`` framing in plain PIL (None for a blank drawing)."""
    from PIL import Image

    box = img.getbbox()
    if box is None:
        return None
    ink = img.crop(box)
    w, h = ink.size
    side = max(w, h)
    square = Image.new("L", (side, side), 0)
    square.paste(ink, ((side - w) // 2, (side - h) // 2))
    inner = size - 2 * margin
    how = Image.Resampling.BOX if side >= inner else Image.Resampling.BICUBIC
    out = Image.new("L", (size, size), 0)
    out.paste(square.resize((inner, inner), how), (margin, margin))
    return np.asarray(out)


def _pil_framed_faces(args: tuple[list[tuple[str, int]], list[str], int, int]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PIL draws and frames: images, labels, face positions of some faces."""
    from PIL import Image, ImageDraw, ImageFont

    faces, classes, size, margin = args
    canvas = 2 * size  # room for ascenders, descenders and wide glyphs around the drawing
    images, labels, sources = [], [], []
    for f, (path, index) in enumerate(faces):
        font = ImageFont.truetype(path, size - 2 * margin, index=index)
        for c, text in enumerate(classes):
            img = Image.new("L", (canvas, canvas), 0)
            ImageDraw.Draw(img).text((size // 2, size // 2), text, fill=255, font=font)
            framed = _pil_fit(img, size, margin)
            if framed is None:  # blank: the face lacks it (the renderer skips those too)
                continue
            images.append(framed)
            labels.append(c)
            sources.append(f)
    return (np.stack(images) if images else np.zeros((0, size, size), np.uint8),
            np.asarray(labels, np.int64), np.asarray(sources, np.int64))


def pil_baseline(faces: list[FontFace], classes: list[str], size: int, margin: int,
                 processes: int, framed_out: Path | None = None) -> dict[str, float]:
    """The plain loop; with ``framed_out``, the framed loop writing that glyph file."""
    items = [(str(f.path), f.index) for f in faces]
    t0, c0 = time.perf_counter(), cpu_seconds()
    if framed_out is None:
        if processes <= 1:
            n = _pil_faces((items, classes, size, margin))
        else:
            chunks = [(items[i::processes], classes, size, margin) for i in range(processes)]
            with mp.get_context("spawn").Pool(processes) as pool:
                n = sum(pool.map(_pil_faces, chunks))
    else:
        from siam_workbench.data.glyphs import GlyphWriter

        n = 0
        names = [f"{Path(p).name}#{i}" for p, i in items]
        with GlyphWriter(framed_out, classes, names, size, alphabet="benchmark",
                         force=True) as w:
            if processes <= 1:
                parts = [_pil_framed_faces(([it], classes, size, margin)) for it in items]
            else:  # one face per task, in order: the writer gets them face by face
                with mp.get_context("spawn").Pool(processes) as pool:
                    parts = pool.map(_pil_framed_faces,
                                     [([it], classes, size, margin) for it in items])
            for f, (imgs, labels, _) in enumerate(parts):
                w.append(imgs, labels, np.full(len(labels), f))
                n += len(labels)
    dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"glyphs": n, "seconds": round(dt, 3), "glyphs_per_s": round(n / dt, 1),
            "cpu_s": round(cpu, 3), "glyphs_per_cpu_s": round(n / max(cpu, 1e-9), 1)}


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (pool workers)."""
    import resource

    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alphabet", default="hangul-2350")
    ap.add_argument("--faces", type=int, default=24, help="faces to use (0 = all covering)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--size", type=int, default=37)
    ap.add_argument("--margin", type=int, default=2)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--framed", action="store_true",
                    help="also the PIL baseline that frames and writes a glyph file")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats; best is kept")
    ap.add_argument("--smoke", action="store_true",
                    help="latin-digits × 2 DejaVu faces, 1 worker, once: only checks it runs")
    args = ap.parse_args()
    if args.smoke:
        args.alphabet, args.faces, args.workers, args.repeat = "latin-digits", 2, 1, 1
        args.framed = True

    alphabet, faces = pick_faces(args.alphabet, args.faces, dejavu_only=args.smoke)
    classes = named_alphabet(alphabet).classes
    for f in faces:  # warm the coverage cache outside the timings
        coverage(f, classes)
    import siam_workbench.data.glyphs  # noqa: F401  (and the writer's imports: torch, h5py)
    result: dict[str, object] = {
        "alphabet": alphabet, "classes": len(classes), "faces": len(faces),
        "glyphs": len(classes) * len(faces), "workers": args.workers,
        "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(), "loadavg_before": os.getloadavg()[0],
    }
    # Interleaved repeats, best of each: other load on the machine hits all three alike, and
    # the best run is the least disturbed one.
    ours: list[dict[str, float]] = []
    base1: list[dict[str, float]] = []
    basen: list[dict[str, float]] = []
    framed1: list[dict[str, float]] = []
    framedn: list[dict[str, float]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "bench.h5"
            c0 = cpu_seconds()
            rep = render_dataset(classes, faces, out, size=args.size, margin=args.margin,
                                 alphabet_name=alphabet, workers=args.workers)
            cpu = cpu_seconds() - c0
            ours.append({"glyphs": rep.samples, "seconds": round(rep.seconds, 3),
                         "glyphs_per_s": round(rep.glyphs_per_s, 1),
                         "cpu_s": round(cpu, 3),
                         "glyphs_per_cpu_s": round(rep.samples / max(cpu, 1e-9), 1),
                         "file_mb": round(out.stat().st_size / 1e6, 1)})
        if not args.no_baseline:
            base1.append(pil_baseline(faces, classes, args.size, args.margin, 1))
            basen.append(pil_baseline(faces, classes, args.size, args.margin, args.workers))
            if args.framed:
                with tempfile.TemporaryDirectory() as tmp:
                    for runs, procs in ((framed1, 1), (framedn, args.workers)):
                        runs.append(pil_baseline(faces, classes, args.size, args.margin, procs,
                                                 framed_out=Path(tmp) / f"pil{procs}.h5"))

    def best(runs: list[dict[str, float]]) -> dict[str, object]:
        top = dict(max(runs, key=lambda r: r["glyphs_per_s"]))
        top["all_glyphs_per_s"] = [r["glyphs_per_s"] for r in runs]
        return top

    result["end_to_end"] = best(ours)
    if not args.no_baseline:
        b1, bn = best(base1), best(basen)
        rate = result["end_to_end"]["glyphs_per_s"]
        result["baseline_1proc"] = b1
        result[f"baseline_{args.workers}proc"] = bn
        result["ratio_vs_baseline_1proc"] = round(rate / b1["glyphs_per_s"], 2)
        result[f"ratio_vs_baseline_{args.workers}proc"] = round(rate / bn["glyphs_per_s"], 2)
        if args.framed:
            f1, fn = best(framed1), best(framedn)
            result["framed_1proc"] = f1
            result[f"framed_{args.workers}proc"] = fn
            result["ratio_vs_framed_1proc"] = round(rate / f1["glyphs_per_s"], 2)
            result[f"ratio_vs_framed_{args.workers}proc"] = round(rate / fn["glyphs_per_s"], 2)
        per_cpu = result["end_to_end"]["glyphs_per_cpu_s"]
        result["cpu_ratios"] = {  # glyphs per CPU-second, ours ÷ each baseline's (its best run)
            name: round(per_cpu / max(r["glyphs_per_cpu_s"] for r in runs), 2)
            for name, runs in (("plain_1proc", base1), (f"plain_{args.workers}proc", basen),
                               ("framed_1proc", framed1),
                               (f"framed_{args.workers}proc", framedn)) if runs}
    result["loadavg_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

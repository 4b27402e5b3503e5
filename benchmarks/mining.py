"""Mining benchmark: epoch-end update time and peak memory, and sample() time per call.

Run from the repository root::

    .venv/bin/python benchmarks/mining.py --threads 1   # the full set (a few minutes)
    .venv/bin/python benchmarks/mining.py --quick    # C = 2,350 only, fewer repeats
    .venv/bin/python benchmarks/mining.py --smoke    # tiny sizes: it runs (make test)

Prints one JSON object. Centers are synthetic, D = 25, of two kinds: ``clustered`` (families of
~8 look-alike classes, what training makes of similar glyphs) and ``uniform`` (standard normal:
spread evenly over all 25 dimensions, the worst case of any pruning, where the closest-pairs
search falls back to comparing every pair); each growth row says which search ran (``search``:
the certified cell search or the dense one) and the cell search's own time. Where faiss is
importable (optional extra), ``faiss`` compares the query path's center search through torch
and through faiss (alternated, one thread) and faiss's exact range search with our closest-
pairs search. Labels uniform over the classes (N = 900,000 for sampling). Times are the
process's CPU time (``time.process_time``), which a loaded machine disturbs less than wall
time; ``growth`` fits log time against log C over 2,350 / 11,172 / 50,000 classes (AP + AC
update at η = 0.43·C, the default; ``--growth`` runs that part alone). Peak memory is measured
two ways: ``tracemalloc`` sees Python/numpy allocations only; torch's CPU allocator is
invisible to it, so the peak resident set during the call (Linux ``VmHWM`` after resetting it
through ``/proc/self/clear_refs``, measured on a cold update in a fresh process with glibc's
mmap threshold lowered so freed blocks cannot hide in the heap) is the figure that covers
everything. ``dense_matrix_mb`` is what one float32 C×C matrix would take.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from siam_workbench.parts.ann import faiss_module  # noqa: E402
from siam_workbench.parts.augment import Augmenter  # noqa: E402
from siam_workbench.parts.centers import CenterIndex  # noqa: E402
from siam_workbench.parts.miners.cells import cell_closest_pairs  # noqa: E402
from siam_workbench.parts.miners.geometry import CELLS_FROM, closest_pairs  # noqa: E402
from siam_workbench.parts.miners.sampler import make_sampler  # noqa: E402
from siam_workbench.project.config import Config  # noqa: E402

DIM = 25
N_SAMPLES = 900_000


def mining(**kw: Any) -> Any:
    """The project's mining settings (every key a miner reads, the defaults where not given),
    so that a miner added later never finds a key missing here."""
    base = dict(positive="auto-probabilistic", negative="random", gamma=2.0, w=0.0, theta=0.5,
                eta=1000)
    base.update(kw)
    return Config().replace({"mining": base}).mining


def make_centers(classes: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform":
        return rng.standard_normal((classes, DIM)).astype(np.float32)
    families = rng.standard_normal((max(1, classes // 8), DIM)) * 3
    pick = rng.integers(0, len(families), classes)
    return (families[pick] + rng.standard_normal((classes, DIM)) * 0.6).astype(np.float32)


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _small_mmap_threshold() -> None:
    """Make glibc serve allocations above 64 KiB with mmap, so that freed blocks leave the
    resident set at once and the peak measures what one call really holds."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _setup(classes: int, negative: str, eta: int, kind: str = "uniform"):
    rng = np.random.default_rng(0)
    labels = np.arange(classes)  # one row per class: the update does not look at samples
    centers = make_centers(classes, kind, rng)
    spread = rng.uniform(0.5, 2.0, classes)
    return make_sampler(labels, classes, mining(negative=negative, eta=eta)), centers, spread


def memory_probe(classes: int, negative: str, eta: int, kind: str) -> dict[str, Any]:
    """Peak memory of one cold update, measured in this (fresh) process."""
    _small_mmap_threshold()
    sampler, centers, spread = _setup(classes, negative, eta, kind)
    rss_ok = _reset_peak()
    rss0 = _status_kib("VmRSS")
    tracemalloc.start()
    sampler.update(sampler.epoch_stats(0, centers, spread))
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = _status_kib("VmHWM")
    rss_peak = (hwm - rss0) / 1024 if rss_ok and hwm is not None and rss0 is not None else None
    return {"tracemalloc_peak_mb": round(py_peak / 2**20, 1),
            "rss_peak_mb": None if rss_peak is None else round(rss_peak, 1)}


def measure_update(classes: int, negative: str, eta: int, repeats: int, kind: str = "uniform",
                   memory: bool = True) -> dict[str, Any]:
    sampler, centers, spread = _setup(classes, negative, eta, kind)
    stats = sampler.epoch_stats(0, centers, spread)
    sampler.update(stats)  # warm-up (thread pools, first-touch pages)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        sampler.update(stats)
        times.append(time.process_time() - t0)
    mem = {}
    if memory:
        probe = subprocess.run(
            [sys.executable, __file__, "--memory-probe", str(classes), negative, str(eta), kind]
            + ([] if torch.get_num_threads() > 1 else ["--threads", "1"]),
            check=True, capture_output=True, text=True)
        mem = json.loads(probe.stdout)
    return {
        "classes": classes,
        "centers": kind,
        "negative": negative,
        "eta": eta if negative == "auto-clustering" else None,
        "seconds_median": round(statistics.median(times), 4),
        "seconds_min": round(min(times), 4),
        **mem,
        "dense_matrix_mb": round(classes * classes * 4 / 2**20, 1),
        "clusters": int(sampler.clusters.max()) + 1,
    }


def measure_sample(classes: int, negative: str, n: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, classes, N_SAMPLES)
    sampler = make_sampler(labels, classes, mining(negative=negative.removesuffix("/pk")), seed=0)
    sampler.update(sampler.epoch_stats(0, rng.standard_normal((classes, DIM)).astype(np.float32),
                                       rng.uniform(0.5, 2.0, classes)))
    draw = ((lambda: sampler.pk_batch(n // 4, 4)) if negative.endswith("/pk")
            else (lambda: sampler.triplets(n)))
    draw()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        draw()
        times.append(time.process_time() - t0)
    return {"classes": classes, "samples": N_SAMPLES, "positive": "auto-probabilistic",
            "negative": negative, "n": n,
            "ms_per_call_median": round(statistics.median(times) * 1e3, 3),
            "ms_per_call_min": round(min(times) * 1e3, 3)}


def measure_augment(batch: int, repeats: int) -> dict[str, Any]:
    cfg = SimpleNamespace(enabled=True, p=0.7, projective=True, projective_shift=0.08,
                          rotation=True, rotation_deg=5.0, scale=True, scale_min=0.7,
                          scale_max=0.9)
    aug = Augmenter(cfg, 37)
    x = (torch.rand(batch, 1, 37, 37) > 0.7).float()
    g = torch.Generator().manual_seed(0)
    aug(x, g)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        aug(x, g)
        times.append(time.process_time() - t0)
    med = statistics.median(times)
    return {"batch": batch, "size": 37, "ms_median": round(med * 1e3, 2),
            "images_per_s": round(batch / med)}


def _exponent(classes: tuple[int, ...], seconds: list[float]) -> float | None:
    """Slope of log time against log C (1 = linear, 2 = quadratic)."""
    if len(classes) < 2:
        return None
    t = np.log([max(s, 1e-6) for s in seconds])
    return round(float(np.polyfit(np.log(classes), t, 1)[0]), 2)


def search_path(classes: int, kind: str) -> dict[str, Any]:
    """Which closest-pairs search the update runs at this C (the certified cell search, or the
    dense one when the cells would not pay), and the cell search's own CPU time."""
    centers = make_centers(classes, kind, np.random.default_rng(0))
    eta = max(1, round(0.43 * classes))
    t0 = time.process_time()
    gid = cell_closest_pairs(centers, eta)
    cells_s = time.process_time() - t0
    auto = ("cells" if classes >= CELLS_FROM and gid is not None
            else "faiss range" if classes >= CELLS_FROM and faiss_module() is not None
            else "dense")
    return {"classes": classes, "search": auto, "cell_search_s": round(cells_s, 4),
            "cells_gave_up": gid is None}


def growth(classes: tuple[int, ...], kind: str, repeats: int) -> dict[str, Any]:
    """AP + AC update (η = 0.43·C, the default) at each C, and the slope of log time vs log C
    (1 = linear, 2 = quadratic)."""
    rows = [measure_update(c, "auto-clustering", max(1, round(0.43 * c)), repeats, kind,
                           memory=False) for c in classes]
    paths = {p["classes"]: p for p in (search_path(c, kind) for c in classes)}
    return {"centers": kind,
            "updates": [{**{k: r[k] for k in ("classes", "eta", "seconds_median",
                                               "seconds_min", "clusters")},
                         "search": paths[r["classes"]]["search"],
                         "cell_search_s": paths[r["classes"]]["cell_search_s"]}
                        for r in rows],
            "exponent": _exponent(classes, [r["seconds_median"] for r in rows])}


def faiss_comparison(classes: tuple[int, ...], queries: int, repeats: int) -> dict[str, Any]:
    """Where faiss is installed: the query path's center search (:class:`CenterIndex`, one
    query image at a time) through torch and through faiss, alternated in this process, and
    the closest-pairs search without and with faiss (its range search serves where the cell
    search gives up), against the dense search's pairs. One thread each."""
    faiss = faiss_module()
    if faiss is None:
        return {"installed": False}
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(3)
    out: dict[str, Any] = {"installed": True, "version": faiss.__version__, "search": [],
                           "closest_pairs": []}
    for c in classes:
        centers = torch.from_numpy(make_centers(c, "clustered", rng))
        emb = centers[torch.from_numpy(rng.integers(0, c, queries))] + 0.3 * torch.randn(
            queries, DIM)
        idx = {b: CenterIndex(centers, backend=b) for b in ("torch", "faiss")}
        times: dict[str, list[float]] = {"torch": [], "faiss": []}
        for _ in range(repeats):
            for b in ("torch", "faiss"):
                for q in emb:
                    t0 = time.process_time()
                    idx[b].search(q[None], k=5)
                    times[b].append(time.process_time() - t0)
        same = bool(torch.equal(idx["torch"].search(emb, k=5)[1], idx["faiss"].search(emb, k=5)[1]))
        out["search"].append({"classes": c, "same_top5": same, **{
            f"{b}_ms_p50": round(float(np.percentile(v, 50)) * 1e3, 3) for b, v in times.items()},
            **{f"{b}_ms_p95": round(float(np.percentile(v, 95)) * 1e3, 3)
               for b, v in times.items()}})
        for kind in ("clustered", "uniform"):
            x = make_centers(c, kind, np.random.default_rng(0))
            eta = max(1, round(0.43 * c))
            row: dict[str, Any] = {"classes": c, "centers": kind}
            for flag in ("0", "1", "0"):  # without, with, without again (alternated)
                os.environ["SIAM_FAISS"] = flag
                t0 = time.process_time()
                closest_pairs(x, eta)
                key = "closest_pairs_with_faiss_s" if flag == "1" else "closest_pairs_torch_s"
                row.setdefault(key, []).append(round(time.process_time() - t0, 4))
            os.environ.pop("SIAM_FAISS")
            row["same_pairs"] = bool(np.array_equal(closest_pairs(x, eta)[0],
                                                    closest_pairs(x, eta, method="dense")[0]))
            out["closest_pairs"].append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="C = 2,350 only, fewer repeats")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, one repeat: only checks that the benchmark runs")
    ap.add_argument("--growth", action="store_true",
                    help="only the AP + AC update at 2,350 / 11,172 / 50,000 classes")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0 = torch's default); 1 is steadier on a "
                    "CPU shared with other busy processes")
    ap.add_argument("--memory-probe", nargs=4, metavar=("C", "NEGATIVE", "ETA", "CENTERS"),
                    help=argparse.SUPPRESS)  # internal: one cold update in a fresh process
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        c, negative, eta, kind = args.memory_probe
        print(json.dumps(memory_probe(int(c), negative, int(eta), kind)))
        return
    global N_SAMPLES
    if args.smoke:
        N_SAMPLES = 5000
    repeats = 1 if args.smoke else 3 if args.quick else 7
    class_counts = (300,) if args.smoke else (2350,) if args.quick else (2350, 11_172)
    growth_counts = (200, 1000) if args.smoke else (2350, 11_172, 50_000)
    grow = [growth(growth_counts, kind, 1 if args.smoke else 3)
            for kind in ("clustered", "uniform")]
    fcmp = faiss_comparison((300,) if args.smoke else (11_172, 50_000),
                            20 if args.smoke else 200, 1 if args.smoke else 3)
    if args.growth:
        print(json.dumps({"benchmark": "mining", "seconds": "process CPU time",
                          "torch_threads": torch.get_num_threads(),
                          "load_avg_1min": round(os.getloadavg()[0], 2), "growth": grow,
                          "faiss": fcmp}, indent=1))
        return
    updates = []
    for c in class_counts:
        updates.append(measure_update(c, "auto-clustering", min(1000, c), repeats))
        if not (args.quick or args.smoke):
            updates.append(measure_update(c, "auto-clustering", 100_000, 3))
        updates.append(measure_update(c, "distance", 0, repeats))
        updates.append(measure_update(c, "random", 0, repeats))  # the AP update alone
    samples = [measure_sample(class_counts[-1], neg, n, 5 * repeats)
               for neg in ("random", "auto-clustering", "distance", "random/pk",
                           "auto-clustering/pk")
               for n in (1024, 10_240)]
    augment = [measure_augment(b, repeats) for b in
               ((64, 128) if args.smoke else (1536, 3072) if args.quick else (1536, 30_720))]
    print(json.dumps({
        "benchmark": "mining",
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "numpy": np.__version__,
                    "python": platform.python_version(),
                    "load_avg_1min": round(os.getloadavg()[0], 2)},
        "seconds": "process CPU time",
        "growth": grow,
        "faiss": fcmp,
        "update": updates,
        "sample": samples,
        "augment": augment,
    }, indent=1))


if __name__ == "__main__":
    main()

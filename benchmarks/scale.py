"""Scale figures (issue 13), measured side by side in one run; prints JSON.

- ``query``: one drawn 300×300 image → top-5 classes (``siam_workbench.infer.query.query``), p50 /
p95 at C = 2,350 / 11,172 / 50,000, with the caller at 1 and at 2 intra-op threads, on the machine
  as it is and with two extra busy processes (one per core). Beside it the query as it was
  before (whole-matrix search, caller's threads): the ratio is measured in the same rounds.
- ``search``: nearest-center search of an epoch end (N = 8·C embeddings, top-5) at C = 2,350
  and 11,172: the search as it was (8192-row blocks), this one (1 and 2 workers), a faiss flat
  index where faiss is installed; seconds and peak resident growth.
- ``epoch_end``: at C = 2,350, 11,172 and 50,000 (8 images a class, each C in a fresh process):
  reference embedding pass, class centers, accuracy search, miner updates through the miners'
  public functions (``make_sampler`` + ``update(epoch_stats(...))``; AP + AC with η = 1000,
  and the distance miner) — seconds and peak resident growth of each step; growth exponents in C.
- ``allocator``: the trainer at 11,172 classes × 8 images (one epoch) in a fresh process each:
  glibc's defaults, the old 1 GiB threshold with the old search, the new threshold with the new
  search, and that plus ``perf.release_memory()`` at the epoch end — step time, peak and held
  resident memory.
- ``images``: memory held by the training images at 11,172 classes × 80 faces (loaded from a
  glyph file), and the peak of an epoch end at that size (centers, search, miners).
- ``processes``: ``siam train`` on the CPU with 1 and with 2 processes (``--nproc 2``,
  torch.distributed + DDP over gloo), one intra-op thread each, the same global batch; and one
  process with 2 threads for reference. Images/s (median over the steps after two warm-up
  steps) of each, the speed-up and the efficiency ratio (speed-up / 2).

Usage: python benchmarks/scale.py [--quick | --smoke] [--only query,search,...] [--out FILE.json]
Run it with nothing else of yours running; it starts (and stops) its own load processes.

``--quick`` is smaller sizes (about a minute); ``--smoke`` (make test) every section at tens to
hundreds of classes, one round, one extra busy process, the search / epoch-end / images probes
in this process (the allocator's one variant, with the release, still in a fresh one through
``--probe``) and the processes section's 2-process run alone: its figures say only that the
code runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks._synth

from siam_workbench.model import perf  # noqa: E402

D = 25
SECTIONS = ("query", "search", "epoch_end", "images", "allocator", "processes")


def pick(size: str, full: Any, quick: Any, smoke: Any) -> Any:
    """The value for the run's size (``--quick``, ``--smoke`` or neither)."""
    return {"full": full, "quick": quick, "smoke": smoke}[size]


# -- the code as it was before issue 13, for side-by-side ratios ------------------------------
def legacy_nearest_centers(emb: torch.Tensor, centers: torch.Tensor, k: int = 5,
                           block: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """siam_workbench.parts.centers.nearest_centers before issue 13 (8192 × C blocks, caller's
    threads)."""
    valid = ~torch.isnan(centers).any(dim=1)
    ids = torch.nonzero(valid).squeeze(1)
    c = centers[valid].to(emb.device)
    k = min(k, int(c.shape[0]))
    dists, idx = [], []
    c_sq = (c * c).sum(1)
    for start in range(0, emb.shape[0], block):
        e = emb[start:start + block]
        d2 = (e * e).sum(1, keepdim=True) - 2.0 * e @ c.T + c_sq
        d, i = torch.topk(d2, k, dim=1, largest=False)
        dists.append(d.clamp(min=0).sqrt())
        idx.append(ids.to(i.device)[i])
    return torch.cat(dists), torch.cat(idx)


def legacy_query(run, images: list, k: int = 5):
    """siam_workbench.infer.query.query before issue 13: the caller's threads, the old search."""
    from siam_workbench.infer.query import prepare

    batch = np.stack([prepare(im, run.image_size) for im in images])
    emb = run.embed(torch.from_numpy(batch))
    return legacy_nearest_centers(emb, run.centers, k=k)


# -- helpers ----------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError, ValueError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {"cpu": model, "cores": perf.available_cores(), "memory_mb": mem,
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)
            if torch.cuda.is_available() else None,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextlib.contextmanager
def busy_load(processes: int) -> Iterator[None]:
    """``processes`` pure-Python spinning processes: a machine shared with other work."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(processes)]
    try:
        time.sleep(1.0)  # let them reach the run queue
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3), "n": len(seconds)}


def run_probe(name: str, args: dict[str, Any], timeout: int = 3000, fresh: bool = True
              ) -> dict[str, Any]:
    """Run one measurement in a fresh process, so its peak memory is its own (``fresh=False``:
    in this one, for a smoke run; its memory figures then mean little)."""
    if not fresh:
        return json.loads(json.dumps(PROBES[name](**args)))
    res = subprocess.run([sys.executable, __file__, "--probe", name, json.dumps(args)],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else
                f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def measured(fn: Callable[[], Any]) -> tuple[Any, dict[str, float | None]]:
    """Seconds and peak resident growth (MiB above the resident set at the start) of ``fn``."""
    perf.reset_peak_resident()
    before = perf.resident_mb()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    peak = perf.peak_resident_mb()
    grow = None if peak is None or before is None else round(peak - before, 1)
    return out, {"seconds": round(seconds, 4), "peak_growth_mb": grow}


def spread_embeddings(num_classes: int, per_class: int, seed: int = 0):
    """Well-separated synthetic embeddings (a random network gives degenerate ones)."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(num_classes, D, generator=g) * 3
    emb = centers.repeat_interleave(per_class, 0) + 0.3 * torch.randn(
        num_classes * per_class, D, generator=g)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    return emb, labels


def fake_run(num_classes: int):
    from siam_workbench.infer.evaluate import RunModel
    from siam_workbench.model.backbones import build_model

    torch.manual_seed(0)
    model = build_model("mokin37", D).eval()
    centers = torch.nn.functional.softplus(torch.randn(num_classes, D))
    return RunModel(run_dir=Path("."), model=model, centers=centers,
                    classes=[str(i) for i in range(num_classes)], space="softplus",
                    image_size=37, device=torch.device("cpu"))


def drawing() -> np.ndarray:
    im = np.full((300, 300), 255, np.uint8)
    im[60:240, 140:160] = 0
    im[140:160, 60:240] = 0
    return im


def mining_params(negative: str) -> Any:
    from siam_workbench.project.config import Config

    return Config({"mining": {"positive": "auto-probabilistic", "negative": negative,
                              "eta": 1000}}).mining


# -- sections ---------------------------------------------------------------------------------
def bench_query(size: str) -> dict[str, Any]:
    from siam_workbench.infer.query import query

    img = drawing()
    rounds, per_round = pick(size, (6, 40), (3, 20), (1, 3))
    sizes = pick(size, (2350, 11172, 50000), (2350, 11172, 50000), (50, 200))
    loads = pick(size, (0, 2), (0, 2), (0, 1))
    out: dict[str, Any] = {"rounds": rounds, "per_round_at_most": per_round, "k": 5,
                           "rows": []}
    for load in loads:
        with busy_load(load) if load else contextlib.nullcontext():
            la = loadavg()
            for c in sizes:
                run = fake_run(c)
                variants = {("current", 1): lambda r=run: query(r, [img], k=5),
                            ("current", 2): lambda r=run: query(r, [img], k=5),
                            ("before", 1): lambda r=run: legacy_query(r, [img], k=5),
                            ("before", 2): lambda r=run: legacy_query(r, [img], k=5)}
                times: dict[tuple[str, int], list[float]] = {key: [] for key in variants}
                for key, fn in variants.items():  # warm-up
                    torch.set_num_threads(key[1])
                    fn()
                for _ in range(rounds):  # rounds alternate, so noise hits all alike
                    for key, fn in variants.items():
                        torch.set_num_threads(key[1])
                        round_start = time.perf_counter()
                        for _ in range(per_round):  # at most ~2 s a round: slow ones get fewer
                            t0 = time.perf_counter()
                            fn()
                            times[key].append(time.perf_counter() - t0)
                            if t0 - round_start > 2.0:
                                break
                torch.set_num_threads(perf.DEFAULT_THREADS)
                for (code, threads), ts in times.items():
                    out["rows"].append({"classes": c, "extra_busy_processes": load,
                                        "loadavg_1m": la[0], "code": code,
                                        "caller_threads": threads, **percentiles(ts)})
    by = {(r["classes"], r["extra_busy_processes"], r["code"], r["caller_threads"]): r
          for r in out["rows"]}
    out["ratios_p95_before_over_current"] = {
        f"C={c} load={ld} threads={t}": round(by[(c, ld, "before", t)]["p95_ms"]
                                              / by[(c, ld, "current", t)]["p95_ms"], 2)
        for c in sizes for ld in loads for t in (1, 2)}
    worst = max(by[(sizes[-1], loads[-1], "current", t)]["p95_ms"] for t in (1, 2))
    out["goal"] = {"what": "query p95 < 5 ms at 50,000 classes, machine loaded",
                   "classes": sizes[-1], "extra_busy_processes": loads[-1],
                   "measured_p95_ms": worst, "met": worst < 5.0 if sizes[-1] >= 50000 else None}
    return out


def bench_search(size: str) -> dict[str, Any]:
    rows = []
    for c in pick(size, (2350, 11172), (2350,), (200,)):
        for variant in ("before_1t", "before_2t", "current_1w", "current_2w", "faiss_1t",
                        "faiss_2t"):
            rows.append({"classes": c, "variant": variant,
                         **run_probe("search", {"classes": c, "variant": variant},
                                     fresh=size != "smoke")})
    by = {(r["classes"], r["variant"]): r for r in rows}
    ratios = {}
    for c in {r["classes"] for r in rows}:
        cur = by[(c, "current_2w")].get("seconds")
        for v in ("before_1t", "before_2t", "faiss_2t"):
            s = by.get((c, v), {}).get("seconds")
            if s and cur:
                ratios[f"C={c} {v} / current_2w"] = round(s / cur, 2)
    return {"embeddings_per_class": 8, "k": 5, "loadavg_1m": loadavg()[0], "rows": rows,
            "time_ratios": ratios}


def probe_search(classes: int, variant: str) -> dict[str, Any]:
    from siam_workbench.parts.centers import nearest_centers

    perf.tune_allocator()
    emb, _ = spread_embeddings(classes, 8)
    centers, _ = spread_embeddings(classes, 1)
    threads = 2 if variant.endswith("2t") or variant.endswith("2w") else 1
    torch.set_num_threads(threads)
    if variant.startswith("before"):
        def fn():
            return legacy_nearest_centers(emb, centers)[1]
    elif variant.startswith("current"):
        def fn():
            return nearest_centers(emb, centers, workers=threads)[1]
    else:
        try:
            import faiss
        except ImportError:
            return {"skipped": "faiss is not installed"}
        faiss.omp_set_num_threads(threads)
        index = faiss.IndexFlatL2(D)
        index.add(centers.numpy())
        x = emb.numpy()

        def fn():
            return torch.from_numpy(index.search(x, 5)[1])
    idx, m = measured(fn)
    truth = torch.arange(classes).repeat_interleave(8)
    return {**m, "threads": threads, "top1": round(float((idx[:, 0] == truth).float().mean()),
                                                   4)}


def bench_epoch_end(size: str) -> dict[str, Any]:
    sizes = pick(size, (2350, 11172, 50000), (2350, 11172), (50, 200))
    rows = [{"classes": c, **run_probe("epoch_end", {"classes": c, "legacy": c <= 11172},
                                       fresh=size != "smoke")}
            for c in sizes]
    steps = ("reference_pass", "class_centers", "search", "search_before", "miners_ap_ac",
             "miners_distance")
    exponents = {}
    for step in steps:
        pts = [(r["classes"], r[step]["seconds"]) for r in rows
               if isinstance(r.get(step), dict) and r[step].get("seconds")]
        if len(pts) >= 2:
            (c0, t0), (c1, t1) = pts[0], pts[-1]
            exponents[step] = round(math.log(t1 / t0) / math.log(c1 / c0), 2)
    return {"images_per_class": 8, "threads": 1, "rows": rows,
            "time_growth_exponent_in_C": exponents, "loadavg_1m": loadavg()[0]}


def probe_epoch_end(classes: int, legacy: bool) -> dict[str, Any]:
    from benchmarks._synth import synth_images
    from siam_workbench.model.backbones import build_model
    from siam_workbench.parts.centers import class_centers, embed, nearest_centers, topk_accuracy
    from siam_workbench.parts.miners.sampler import make_sampler

    perf.tune_allocator()
    perf.set_threads(1)
    base = min(classes, 400)
    images, _ = synth_images(base, 8)
    reps = -(-classes // base)
    images_t = torch.from_numpy(np.concatenate([images] * reps)[: classes * 8])
    del images
    model = build_model("mokin37", D)
    out: dict[str, Any] = {"reference_images": int(images_t.shape[0])}
    _, out["reference_pass"] = measured(lambda: embed(model, images_t, "cpu"))
    images_t = None  # noqa: F841  (free it before the next measurements)
    emb, labels = spread_embeddings(classes, 8)
    (centers, spread), out["class_centers"] = measured(
        lambda: class_centers(emb, labels, classes))
    (_, idx), out["search"] = measured(lambda: nearest_centers(emb, centers, k=5))
    out["train_top1"] = round(topk_accuracy(idx, labels)[0], 4)
    if legacy:
        _, out["search_before"] = measured(lambda: legacy_nearest_centers(emb, centers, k=5))
    c_np, s_np, lab_np = centers.numpy(), spread.numpy(), labels.numpy()
    for name, negative in (("miners_ap_ac", "auto-clustering"), ("miners_distance",
                                                                 "distance")):
        sampler = make_sampler(lab_np, classes, mining_params(negative), seed=0)
        _, out[name] = measured(lambda s=sampler: s.update(s.epoch_stats(0, c_np, s_np)))
    out["dense_CxC_float32_mb"] = round(classes * classes * 4 / 2**20, 1)
    out["resident_mb_end"] = perf.resident_mb()
    return out


ALLOC_TOML = """
[project]
name = "alloc"
[data]
alphabet = "latin"
[mining]
positive = "auto-probabilistic"
negative = "auto-clustering"
eta = 1000
[train]
epochs = 1
iterations = {iterations}
batch_mode = "triplets"
triplets = {triplets}
device = "cpu"
eval_max = 0
"""


def bench_allocator(size: str) -> dict[str, Any]:
    from benchmarks._synth import write_synth_project

    classes = pick(size, 11172, 2350, 100)
    iterations = pick(size, 6, 6, 3)
    triplets = pick(size, 512, 512, 32)  # the paper's step, as in RESULTS.md (issue 13)
    variants = pick(size, ALLOC_VARIANTS, ALLOC_VARIANTS, ("current_256MiB_release",))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synth_project(Path(tmp) / "p", classes, 8,
                                   ALLOC_TOML.format(iterations=iterations, triplets=triplets))
        for variant in variants:
            rows.append({"variant": variant, "loadavg_1m": loadavg()[0], **run_probe(
                "allocator", {"root": str(root), "variant": variant})})
    by = {r["variant"]: r for r in rows}
    ratios = {}
    base = by.get("glibc_default", {}).get("step_s_median")
    for v in by:
        if base and by[v].get("step_s_median"):
            ratios[f"step time {v} / glibc_default"] = round(by[v]["step_s_median"] / base, 2)
    return {"classes": classes, "images_per_class": 8, "iterations": iterations,
            "triplets": triplets, "threads": 1, "rows": rows, "ratios": ratios,
            "loadavg_1m": loadavg()[0]}


PROC_TOML = """
[project]
name = "processes"
[data]
alphabet = "latin"
[mining]
positive = "auto-probabilistic"
negative = "auto-clustering"
[train]
epochs = 1
iterations = {iterations}
batch_mode = "triplets"
triplets = {triplets}
threads = {threads}
device = "cpu"
eval_max = 0
"""


def bench_processes(size: str) -> dict[str, Any]:
    """1 vs 2 training processes with the same global batch (see the module docstring)."""
    from benchmarks._synth import write_synth_project
    from siam_workbench.project.runfiles import read_metrics

    classes, iterations, triplets = pick(size, (1000, 14, 512), (200, 8, 256), (40, 4, 32))
    variants = (("1 process × 1 thread", 1, 1), ("2 processes × 1 thread", 2, 1),
                ("1 process × 2 threads", 1, 2))
    rows = []
    root_dir = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        for variant, nproc, threads in variants[1:2] if size == "smoke" else variants:
            root = write_synth_project(Path(tmp) / f"p{nproc}{threads}", classes, 8,
                                       PROC_TOML.format(iterations=iterations,
                                                        triplets=triplets, threads=threads))
            run = root / "runs" / "r"
            load = loadavg()[0]
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "siam_workbench.cli", "train", str(root),
                                  "--run-dir", str(run), "--nproc", str(nproc), "--json"],
                                 cwd=root_dir, capture_output=True, text=True, timeout=3000)
            wall = time.perf_counter() - t0
            if res.returncode != 0:
                rows.append({"variant": variant, "error": res.stderr.strip()[-300:]})
                continue
            its = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "iteration"]
            ips = [r["images_per_s"] for r in its[2:]]
            rows.append({"variant": variant, "processes": nproc, "threads": threads,
                         "images_per_s_median": round(float(np.median(ips)), 1),
                         "step_s_median": round(3 * triplets / float(np.median(ips)), 3),
                         "steps_measured": len(ips), "wall_s": round(wall, 1),
                         "loadavg_1m_before": load})
    by = {r["variant"]: r.get("images_per_s_median") for r in rows}
    one, two = by.get("1 process × 1 thread"), by.get("2 processes × 1 thread")
    out: dict[str, Any] = {"classes": classes, "images_per_class": 8, "iterations": iterations,
                           "global_batch_images": 3 * triplets, "rows": rows,
                           "loadavg_1m": loadavg()[0]}
    if one and two:
        out["speedup_2_vs_1_process"] = round(two / one, 3)
        out["efficiency_2_processes"] = round(two / (2 * one), 3)
    threaded = by.get("1 process × 2 threads")
    if two and threaded:
        out["2_processes_vs_1_process_2_threads"] = round(two / threaded, 3)
    return out


#: glibc's defaults; the code before issue 13 (1 GiB threshold, 8192 × C search blocks,
#: 1024-image embedding batches); this code at 1 GiB and at 256 MiB (the default); and that
#: with ``perf.release_memory()`` after each epoch end.
ALLOC_VARIANTS = ("glibc_default", "before_1GiB", "current_1GiB", "current_256MiB",
                  "current_256MiB_release")


def probe_allocator(root: str, variant: str) -> dict[str, Any]:
    from siam_workbench.parts import centers as centers_mod
    from siam_workbench.project.project import load_project
    from siam_workbench.train import events as E
    from siam_workbench.train import trainer as trainer_mod

    perf.set_threads(1)
    if variant == "glibc_default":
        trainer_mod.tune_allocator = lambda *a, **k: False
    elif "1GiB" in variant:
        trainer_mod.tune_allocator = lambda *a, **k: perf.tune_allocator(1 << 30)
    else:
        trainer_mod.tune_allocator = lambda *a, **k: perf.tune_allocator(256 << 20)
    if variant.startswith("before"):
        trainer_mod.nearest_centers = legacy_nearest_centers
        centers_mod.CPU_EMBED_BATCH = 1024
    release = variant.endswith("release")
    trainer = trainer_mod.Trainer(load_project(root),
                                  run_dir=Path(root) / "runs" / f"{variant}-{time.time_ns()}")
    steps: list[float] = []
    last = [None]
    epoch_end_rss: list[float | None] = []

    def on(ev):
        if isinstance(ev, E.IterationFinished):
            now = time.perf_counter()
            if last[0] is not None:
                steps.append(now - last[0])
            last[0] = now
        elif isinstance(ev, E.EpochFinished):
            if release:
                perf.release_memory()
            epoch_end_rss.append(perf.resident_mb())

    trainer.subscribe(on)
    t0 = time.perf_counter()
    trainer.run()
    return {"state": trainer.state, "wall_s": round(time.perf_counter() - t0, 1),
            "step_s_median": round(float(np.median(steps[1:])), 4) if len(steps) > 1 else None,
            "peak_resident_mb": perf.peak_resident_mb(),
            "resident_after_epoch_end_mb": epoch_end_rss[-1] if epoch_end_rss else None}


def bench_images(size: str) -> dict[str, Any]:
    from benchmarks._synth import synth_images
    from siam_workbench.data.glyphs import GlyphWriter

    classes, faces = pick(size, (11172, 80), (2350, 80), (100, 8))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.h5"
        block = min(400, classes)
        base, _ = synth_images(block, faces)  # [block·faces] ordered by class
        base = base.reshape(block, faces, 37, 37)
        t0 = time.perf_counter()
        with GlyphWriter(path, [f"c{i}" for i in range(classes)],
                         [f"f{j}" for j in range(faces)], 37) as w:
            for start in range(0, classes, block):
                n = min(block, classes - start)
                imgs = base[:n].reshape(-1, 37, 37)
                labels = np.repeat(np.arange(start, start + n), faces)
                w.append(imgs, labels, np.tile(np.arange(faces), n))
        write_s = time.perf_counter() - t0
        probe = run_probe("images", {"path": str(path), "classes": classes},
                          fresh=size != "smoke")
        size_mb = path.stat().st_size / 2**20
    return {"classes": classes, "faces": faces, "images": classes * faces,
            "file_mb": round(size_mb, 1), "write_s": round(write_s, 1), **probe,
            "loadavg_1m": loadavg()[0]}


def probe_images(path: str, classes: int) -> dict[str, Any]:
    from siam_workbench.data.glyphs import load_glyphs
    from siam_workbench.parts.centers import class_centers, nearest_centers
    from siam_workbench.parts.miners.sampler import make_sampler

    perf.tune_allocator()
    perf.set_threads(1)
    data, m_load = measured(lambda: load_glyphs(path))
    held = perf.resident_mb()
    out = {"images_tensor_mb": round(data.images.numel() / 2**20, 1),
           "load": m_load, "resident_after_load_mb": held}
    # The epoch end at this size on synthetic embeddings (the network pass itself runs in
    # 1024-image batches; its output is N × 25 float32).
    n = data.images.shape[0]
    per = n // classes
    g = torch.Generator().manual_seed(0)
    cent = torch.randn(classes, D, generator=g) * 3
    labels = data.labels.to(torch.int64)
    del data

    def epoch_end():
        emb = cent[labels] + 0.3 * torch.randn(n, D, generator=g)
        centers, spread = class_centers(emb, labels, classes)
        nearest_centers(emb, centers, k=5)
        sampler = make_sampler(labels.numpy(), classes, mining_params("auto-clustering"), 0)
        sampler.update(sampler.epoch_stats(0, centers.numpy(), spread.numpy()))

    _, out["epoch_end"] = measured(epoch_end)
    out["images_per_class"] = per
    out["resident_after_epoch_end_mb"] = perf.resident_mb()
    perf.release_memory()
    out["resident_after_release_mb"] = perf.resident_mb()
    return out


PROBES = {"search": probe_search, "epoch_end": probe_epoch_end,
          "allocator": probe_allocator, "images": probe_images}
BENCHES = {"query": bench_query, "search": bench_search, "epoch_end": bench_epoch_end,
           "allocator": bench_allocator, "images": bench_images, "processes": bench_processes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, seconds: checks that every section runs (make test)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections of {', '.join(SECTIONS)}")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)  # internal: one fresh process
    args = ap.parse_args()
    if args.probe:
        name, kw = args.probe
        print(json.dumps(PROBES[name](**json.loads(kw))))
        return
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    result: dict[str, Any] = {"machine": machine(), "loadavg_start": loadavg(), "size": size,
                              "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:])}
    for name in wanted:
        t0 = time.perf_counter()
        result[name] = BENCHES[name](size)
        result[name]["section_wall_s"] = round(time.perf_counter() - t0, 1)
        print(f"[scale] {name} done in {result[name]['section_wall_s']} s", file=sys.stderr)
        if args.out:  # after every section, so a long run keeps what it measured
            args.out.write_text(json.dumps(result, indent=1) + "\n")
    result["loadavg_end"] = loadavg()
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

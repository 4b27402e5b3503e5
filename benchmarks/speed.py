"""Speed figures of the engine, measured side by side in one run (prints JSON).

- trainer efficiency: triplets/s of the real trainer (sampling, gather, augmentation, loss,
  optimiser) ÷ triplets/s of bare forward+backward+step of the same network on pre-made batches
  of the same size, alternating the two so machine noise hits both alike;
- epoch-end update at C = 2,350 and 11,172: reference embedding pass, centers, AP probabilities,
  AC clusters (the mining part on synthetic embeddings), seconds and peak memory;
- query latency: one drawn image → top-5 among 11,172 centers, p50 / p95;
- evaluation throughput vs bare inference of the network.

- the shipped P×K step (hangul-2350's settings: 128 classes × 4 samples, semi-hard triplet
  loss, the default augmentation) at 1 and at 2 intra-op threads, prefetch on and off: the real
  trainer's time per step ÷ the bare network's (forward + backward + Adam step on a batch of the
  same shape), by wall time, by the process's CPU time and by the training thread's own CPU
  time, runs alternated (section ``pk_step``). One process each. With prefetch the process CPU
  includes the prefetch thread's (the next batch's sampling and augmentation); the training
  thread's CPU is the step's critical path on a machine with a core to spare for that thread,
  and the only figure that means something when other processes load the machine (wall time
  then measures the neighbours).

Usage: python benchmarks/speed.py [--quick | --smoke] [--device cpu|cuda] [--only trainer,...]
                                  [--modes pk,triplets] [--triplets N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks._synth

from benchmarks._synth import synth_images, write_synth_project  # noqa: E402
from siam_workbench.model.backbones import build_model  # noqa: E402
from siam_workbench.parts.centers import class_centers, embed, nearest_centers  # noqa: E402
from siam_workbench.parts.losses import metric_per_sample  # noqa: E402
from siam_workbench.parts.miners.sampler import make_sampler  # noqa: E402
from siam_workbench.project.config import Config  # noqa: E402
from siam_workbench.train import events as E  # noqa: E402

TOML = """
[project]
name = "speed"
[data]
alphabet = "latin"
[mining]
positive = "auto-probabilistic"
negative = "auto-clustering"
eta = 1000
[train]
epochs = 1
iterations = {iterations}
batch_mode = "{mode}"
triplets = {triplets}
classes_per_batch = {p}
samples_per_class = 4
device = "{device}"
eval_max = 0
"""


def trainer_rate(root: Path, iterations: int, images: int) -> float:
    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    project = load_project(root)
    trainer = Trainer(project, run_dir=root / "runs" / f"r{time.time_ns()}")
    times: list[float] = []
    last = [None]

    def on(ev):
        if isinstance(ev, E.IterationFinished):
            now = time.perf_counter()
            if last[0] is not None:
                times.append(now - last[0])
            last[0] = now

    trainer.subscribe(on)
    trainer.run()
    # Wall time between consecutive iteration events: everything the loop does per iteration.
    return images / float(np.median(times[1:]))


PK_TOML = """
[project]
name = "speed-pk"
[data]
alphabet = "latin"
[loss]
kind = "triplet"
alpha = 0.5
normalize = false
[mining]
positive = "auto-probabilistic"
negative = "auto-clustering"
batch = "semihard"
eta = 0
[augment]
enabled = true
p = 0.7
[train]
batch_mode = "pk"
classes_per_batch = {p}
samples_per_class = {k}
epochs = 1
iterations = {iterations}
threads = {threads}
device = "cpu"
eval_max = 0
"""


def _mark() -> tuple[float, float, float]:
    """(wall, process CPU, this thread's CPU) now."""
    return time.perf_counter(), time.process_time(), time.thread_time()


#: Every step's (wall, process CPU, thread CPU) seconds of the runs so far, by variant.
_STEPS: dict[str, list[np.ndarray]] = {}


def _median_step(marks: list[tuple[float, float, float]], variant: str) -> tuple[float, ...]:
    """Median (wall, process CPU, thread CPU) seconds between consecutive marks, the first two
    steps left out (the first has nothing prefetched; both warm the allocator)."""
    d = np.diff(np.array(marks), axis=0)[2:]
    _STEPS.setdefault(variant, []).append(d)
    return tuple(float(np.median(d[:, i])) for i in range(d.shape[1]))


def trainer_step(root: Path, prefetch: bool) -> tuple[float, ...]:
    """(wall, process CPU, training thread CPU) seconds of one real trainer step, between
    iteration events (whose subscribers run on the training thread)."""
    import os

    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    os.environ["SIAM_PREFETCH"] = "1" if prefetch else "0"
    trainer = Trainer(load_project(root), run_dir=root / "runs" / f"r{time.time_ns()}")
    marks: list[tuple[float, float, float]] = []
    trainer.subscribe(lambda ev: marks.append(_mark())
                      if isinstance(ev, E.IterationFinished) else None)
    trainer.run()
    batches = trainer._batches  # the prefetcher, if the run had one
    wait = batches.waited / batches.taken if batches is not None and batches.taken else 0.0
    return (*_median_step(marks, "on" if prefetch else "off"), wait)


def bare_step(images: int, iterations: int) -> tuple[float, ...]:
    """(wall, process CPU, thread CPU) seconds of forward + loss + backward + Adam step on
    ``images`` fixed images (the same network and batch shape, nothing else)."""
    model = build_model("mokin37", 25)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(images, 1, 37, 37)
    centers = torch.rand(images, 25)
    b = images // 3
    marks = [_mark()]
    for _ in range(iterations):
        emb = model(x)
        per = metric_per_sample(emb[:b], emb[b:2 * b], emb[2 * b:3 * b], centers[:b],
                                centers[b:2 * b], centers[2 * b:3 * b])[0]
        opt.zero_grad()
        per.mean().backward()
        opt.step()
        float(per[0].detach())
        marks.append(_mark())
    return _median_step(marks, "bare")


def pk_step(p: int, k: int, iterations: int, repeats: int, classes: int,
            thread_counts: tuple[int, ...]) -> list[dict]:
    """The shipped P×K step against the bare network, alternated trainer / bare / trainer with
    prefetch, at each intra-op thread count."""
    torch.set_flush_denormal(True)  # as the trainer does on its thread
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in thread_counts:
            torch.set_num_threads(threads)
            root = write_synth_project(Path(tmp) / f"pk{threads}", classes, 4, PK_TOML.format(
                p=p, k=k, iterations=iterations, threads=threads))
            got: dict[str, list[tuple[float, ...]]] = {"bare": [], "off": [], "on": []}
            _STEPS.clear()
            load_start = _load()
            for _ in range(repeats):  # alternated: the machine's noise hits all three alike
                got["off"].append(trainer_step(root, prefetch=False))
                got["bare"].append(bare_step(p * k, iterations))
                got["on"].append(trainer_step(root, prefetch=True))
            med = {key: np.median(np.array(v), axis=0) for key, v in got.items()}
            # The training thread's own CPU time is the step's only with one intra-op thread
            # (at more, the pool's other threads compute part of every operation).
            clocks = ("wall", "cpu", "train_thread_cpu") if threads == 1 else ("wall", "cpu")
            row: dict = {"threads": threads, "images_per_step": p * k, "classes": classes,
                         "processes": 1, "repeats": repeats, "steps_per_run": iterations,
                         "load_average_1_5_15min": {
                             "start": [round(v, 2) for v in load_start],
                             "end": [round(v, 2) for v in _load()]},
                         "bare_ms": {c: round(1000 * med["bare"][i], 1)
                                     for i, c in enumerate(clocks)}}
            for key in ("off", "on"):
                row[f"trainer_prefetch_{key}_ms"] = {c: round(1000 * med[key][i], 1)
                                                     for i, c in enumerate(clocks)}
            # Wall time the loop waited for the prefetched batch (0: the worker kept ahead).
            on_ms = row["trainer_prefetch_on_ms"]
            on_ms["waited_for_batch"] = round(1000 * med["on"][3], 1)
            if threads == 1:
                on_ms["prefetch_thread_cpu"] = round(on_ms["cpu"] - on_ms["train_thread_cpu"],
                                                     1)
            for key in ("off", "on"):
                # Ratio of rates = bare time ÷ trainer time (1.0: the trainer adds nothing).
                row[f"ratio_prefetch_{key}"] = {
                    c: round(float(med["bare"][i] / med[key][i]), 3)
                    for i, c in enumerate(clocks)}
                # The same within each repeat (a trainer run and the bare run beside it), whose
                # median drifts less when the machine's speed changes during the benchmark.
                per = [[b[i] / t[i] for b, t in zip(got["bare"], got[key], strict=True)]
                       for i in range(len(clocks))]
                row[f"ratio_prefetch_{key}_per_repeat"] = {
                    c: {"median": round(float(np.median(per[i])), 3),
                        "min": round(min(per[i]), 3), "max": round(max(per[i]), 3)}
                    for i, c in enumerate(clocks)}
                # The 10th percentile of every step of every repeat: the machine's neighbours
                # only ever add time (on a shared VM even to CPU time), so the fast steps are
                # the least disturbed measure of each side.
                fast = {v: np.percentile(np.concatenate(_STEPS[v]), 10, axis=0)
                        for v in ("bare", key)}
                row[f"ratio_prefetch_{key}_p10_steps"] = {
                    c: round(float(fast["bare"][i] / fast[key][i]), 3)
                    for i, c in enumerate(clocks)}
            row["bare_p10_ms"] = {c: round(1000 * float(np.percentile(
                np.concatenate(_STEPS["bare"]), 10, axis=0)[i]), 1) for i, c in enumerate(clocks)}
            for key in ("off", "on"):
                row[f"trainer_prefetch_{key}_p10_ms"] = {c: round(1000 * float(np.percentile(
                    np.concatenate(_STEPS[key]), 10, axis=0)[i]), 1)
                    for i, c in enumerate(clocks)}
            row["goal"] = ">= 0.95"
            out.append(row)
    return out


def _load() -> tuple[float, ...]:
    """The machine's 1-, 5- and 15-minute load averages (other processes' share of it)."""
    import os

    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def bare_rate(images: int, iterations: int, device: str = "cpu") -> float:
    """The network alone: forward + backward + Adam step on ``images`` random images with the
    metric loss on their thirds (no sampling, augmentation, mining or bookkeeping)."""
    model = build_model("mokin37", 25).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(images, 1, 37, 37, device=device)
    centers = torch.rand(images, 25, device=device)
    b = images // 3
    times = []
    for _ in range(iterations):
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        emb = model(x)
        per = metric_per_sample(emb[:b], emb[b:2 * b], emb[2 * b:3 * b], centers[:b],
                                centers[b:2 * b], centers[2 * b:3 * b])[0]
        opt.zero_grad()
        per.mean().backward()
        opt.step()
        float(per[0])  # like the trainer, which reads the loss every step
        times.append(time.perf_counter() - t0)
    return images / float(np.median(times[1:]))


def epoch_end(num_classes: int, per_class: int = 8) -> dict:
    """Reference pass on real-size images + the mining update on the resulting embeddings."""
    images, labels = synth_images(min(num_classes, 400), per_class)
    # Tile to the requested class count: the reference pass cost depends on N, not on content.
    reps = int(np.ceil(num_classes / min(num_classes, 400)))
    images = np.concatenate([images] * reps)[: num_classes * per_class]
    labels_t = torch.arange(num_classes).repeat_interleave(per_class)
    model = build_model("mokin37", 25)
    t0 = time.perf_counter()
    emb = embed(model, torch.from_numpy(images), "cpu")
    t_embed = time.perf_counter() - t0
    # Synthetic well-spread embeddings for the mining part (a random net gives degenerate ones).
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(num_classes, 25, generator=g).repeat_interleave(per_class, 0) * 3 \
        + 0.3 * torch.randn(num_classes * per_class, 25, generator=g)
    mining = Config({"mining": {"positive": "auto-probabilistic",
                                "negative": "auto-clustering", "eta": 1000}}).mining
    sampler = make_sampler(labels_t.numpy(), num_classes, mining, seed=0)
    tracemalloc.start()
    torch_peak_before = _rss_mb()
    t0 = time.perf_counter()
    centers, mean_dist = class_centers(emb, labels_t, num_classes)
    t_centers = time.perf_counter() - t0
    t0 = time.perf_counter()
    sampler.update(sampler.epoch_stats(0, centers.numpy(), mean_dist.numpy()))
    t_mining = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"classes": num_classes, "reference_images": int(images.shape[0]),
            "reference_pass_s": round(t_embed, 3), "centers_s": round(t_centers, 4),
            "mining_update_s": round(t_mining, 4),
            "mining_peak_python_mb": round(peak / 2**20, 1),
            "rss_growth_mb": round(_rss_mb() - torch_peak_before, 1),
            "clusters": int(len(set(sampler.clusters[sampler.clusters >= 0].tolist())))}


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def query_latency(num_classes: int = 11172, repeats: int = 300) -> dict:
    from siam_workbench.infer.evaluate import RunModel
    from siam_workbench.infer.query import query

    model = build_model("mokin37", 25).eval()
    centers = torch.nn.functional.softplus(torch.randn(num_classes, 25))
    run = RunModel(run_dir=Path("."), model=model, centers=centers,
                   classes=[str(i) for i in range(num_classes)], space="softplus",
                   image_size=37, device=torch.device("cpu"))
    drawing = np.full((300, 300), 255, np.uint8)
    drawing[60:240, 140:160] = 0
    drawing[140:160, 60:240] = 0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        query(run, [drawing], k=5)
        times.append(time.perf_counter() - t0)
    ms = np.array(times[10:]) * 1000
    return {"classes": num_classes, "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def eval_throughput(n: int = 20000) -> dict:
    images, _ = synth_images(100, n // 100)
    images_t = torch.from_numpy(images)
    model = build_model("mokin37", 25).eval()
    centers = torch.rand(2350, 25)
    t0 = time.perf_counter()
    emb = embed(model, images_t, "cpu")
    nearest_centers(emb, centers, k=5)
    t_eval = time.perf_counter() - t0
    x = images_t.unsqueeze(1).float() / 255
    t0 = time.perf_counter()
    # the same batch size as siam_workbench.parts.centers.embed, for a fair ratio
    with torch.no_grad():
        for s in range(0, n, 1024):
            model(x[s:s + 1024])
    t_bare = time.perf_counter() - t0
    return {"images": n, "eval_images_per_s": round(n / t_eval),
            "bare_inference_images_per_s": round(n / t_bare),
            "ratio": round(t_bare / t_eval, 3)}


SECTIONS = ("trainer", "pk_step", "epoch_end", "query", "eval")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, seconds: checks that the script runs (writes speed.json)")
    ap.add_argument("--threads", default="1,2", help="intra-op thread counts of pk_step")
    ap.add_argument("--triplets", type=int, default=512, help="triplets per step (paper mode)")
    ap.add_argument("--classes-per-batch", type=int, default=128, help="P of the P×K mode")
    ap.add_argument("--modes", default="pk,triplets", help="batch modes of the trainer section")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (trainer section)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections of {', '.join(SECTIONS)}")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    threads = tuple(int(t) for t in args.threads.split(",") if t.strip())
    if args.smoke:  # the P×K section at a tiny size, nothing else
        wanted, args.out = {"pk_step"}, args.out or Path("speed.json")
    modes = {s.strip() for s in args.modes.split(",") if s.strip()}
    iters = 6 if args.quick else 20
    result: dict = {"machine": {"cpu_threads": torch.get_num_threads(),
                                "platform": platform.platform(), "torch": torch.__version__,
                                "device": args.device,
                                "gpu": torch.cuda.get_device_name(0)
                                if args.device != "cpu" else None}}
    if "trainer" in wanted:
        result["trainer"] = []
    # Both batch layouts, each against the bare network on the same number of images per step.
    for mode, images in (("pk", 4 * args.classes_per_batch), ("triplets", 3 * args.triplets)):
        if "trainer" not in wanted or mode not in modes:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = write_synth_project(Path(tmp) / "p", 2350, 4, TOML.format(
                iterations=iters, mode=mode, triplets=args.triplets, p=args.classes_per_batch,
                device=args.device))
            rates_t, rates_b = [], []
            for _ in range(2 if args.quick else 3):  # alternate: noise hits both alike
                rates_t.append(trainer_rate(root, iters, images))
                rates_b.append(bare_rate(images, iters, args.device))
        t, b = float(np.median(rates_t)), float(np.median(rates_b))
        result["trainer"].append({"batch_mode": mode, "images_per_step": images,
                                  "classes": 2350, "device": args.device,
                                  "trainer_images_per_s": round(t, 1),
                                  "bare_images_per_s": round(b, 1), "ratio": round(t / b, 3),
                                  "goal": ">= 0.9"})
    if "pk_step" in wanted:
        if args.smoke:
            result["pk_step"] = pk_step(8, 4, 6, 1, 40, threads)
        else:
            result["pk_step"] = pk_step(128, 4, 10 if args.quick else 24, 2 if args.quick else 5,
                                        2350, threads)
    if "epoch_end" in wanted:
        result["epoch_end"] = [epoch_end(2350), epoch_end(11172)]
    if "query" in wanted:
        result["query"] = query_latency(repeats=100 if args.quick else 300)
    if "eval" in wanted:
        result["eval"] = eval_throughput(4000 if args.quick else 20000)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

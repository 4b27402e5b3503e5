"""Speed figures of the engine, measured side by side in one run (prints JSON).

- trainer efficiency: triplets/s of the real trainer (sampling, gather, augmentation, loss,
  optimiser) ÷ triplets/s of bare forward+backward+step of the same network on pre-made batches
  of the same size, alternating the two so machine noise hits both alike;
- epoch-end update at C = 2,350 and 11,172: reference embedding pass, centers, AP probabilities,
  AC clusters (the mining part on synthetic embeddings), seconds and peak memory;
- query latency: one drawn image → top-5 among 11,172 centers, p50 / p95;
- evaluation throughput vs bare inference of the network.

Usage: python benchmarks/speed.py [--quick] [--device cpu|cuda] [--only trainer,...]
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


SECTIONS = ("trainer", "epoch_end", "query", "eval")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    ap.add_argument("--triplets", type=int, default=512, help="triplets per step (paper mode)")
    ap.add_argument("--classes-per-batch", type=int, default=128, help="P of the P×K mode")
    ap.add_argument("--modes", default="pk,triplets", help="batch modes of the trainer section")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (trainer section)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections of {', '.join(SECTIONS)}")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
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

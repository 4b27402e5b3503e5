"""Quality benchmark: every Siamese configuration beside the baselines a practitioner tries first.

For one dataset (a project under ``projects/``: its train file, its validation file of unseen
faces, its distorted test file of other unseen faces) and one budget counted in **images through
the network**, it measures in one run:

* pixel 1-nearest-neighbour on raw pixels (no training);
* a softmax classifier on the same backbone, augmentation, optimiser, schedule and budget, read
  by its argmax and by the nearest class center of its embedding;
* the Siamese configurations of ``CONFIGS`` (the metric loss with random / AP / AC / AP+AC
  mining, contrastive, triplet, the paper's independent-triplet step, and the project's default),
  each over ``--seeds`` seeds, paired by seed;
* with ``--pml``, the standard pytorch-metric-learning semi-hard loop (benchmarks/pml_loop.py) at
  the same number of images and at the same training wall time as the project's default.

Accuracy is nearest-class-center top-1 / top-5 of the *last* checkpoint (nothing is selected on
validation or test). Every run writes ``<out>/<dataset>/<name>-s<seed>.json`` with its curve
(accuracy vs images and seconds) and is skipped when that file exists, so an interrupted
benchmark resumes. ``--report`` writes the table and curves (``docs/RESULTS.md`` quotes them).

    nice .venv/bin/python benchmarks/quality.py --dataset hangul-2350 --images 300000 --seeds 0
    .venv/bin/python benchmarks/quality.py --dataset hangul-2350 --images 300000 --report
    .venv/bin/python benchmarks/quality.py --smoke   # tiny synthetic project (make test)

Needs the bench extra for PML and the figures: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.conftest (--smoke)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from siam_workbench.data.baselines import pixel_nn  # noqa: E402
from siam_workbench.data.glyphs import GlyphSet, load_glyphs  # noqa: E402
from siam_workbench.infer.evaluate import evaluate, load_run  # noqa: E402
from siam_workbench.parts.centers import embed, nearest_centers, topk_accuracy  # noqa: E402
from siam_workbench.project.config import Config, paper_defaults  # noqa: E402
from siam_workbench.project.project import Project, load_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "quality"
RUNS = ROOT / "benchmarks" / "out" / "quality"

_RANDOM = {"mining.positive": "random", "mining.negative": "random"}
_AP = {"mining.positive": "auto-probabilistic"}
_AC = {"mining.negative": "auto-clustering"}
# The paper's metric loss (α = 10, ρ = 0.1, τ = 1, ξ = 1) at the P×K step. With every triplet
# of the batch it stalls (the easy ones dominate; docs/METHODS.md §3b), with semi-hard ones it
# keeps almost all; the hardest 1/16 by loss works, at a learning rate it does not collapse at.
_METRIC = {"loss.kind": "metric", "loss.alpha": 10.0, "loss.rho": 0.1, "loss.tau": 1.0,
           "loss.xi": 1.0, "mining.batch": "hard", "mining.hard_ratio": 16, "train.lr": 0.002,
           "train.grad_clip": 1.0}
#: name → overrides of the project's config. Margins are each loss's own (α = 10 is the metric
#: loss's; the hinge losses work on the raw output, where a margin of 10 would be another scale).
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "metric-random": {**_METRIC, **_RANDOM},
    "metric-ap": {**_METRIC, **_RANDOM, **_AP},
    "metric-ac": {**_METRIC, **_RANDOM, **_AC},
    "metric-apac": {**_METRIC, **_AP, **_AC},
    # The metric loss re-tuned for the P×K step: a margin on the hinge losses' scale, a weaker
    # pull toward the centers (ξ = 1 with α = 1 collapses), semi-hard triplets.
    "metric-tuned-apac": {"loss.kind": "metric", "loss.alpha": 1.0, "loss.xi": 0.1,
                          "mining.batch": "semihard", **_AP, **_AC},
    "triplet": {"loss.kind": "triplet", "loss.alpha": 0.5, "mining.batch": "semihard",
                **_RANDOM},
    "contrastive": {"loss.kind": "contrastive", "loss.alpha": 1.0, "mining.batch": "semihard",
                    **_RANDOM},
    # The paper's step (independent triplets, three images each, all kept, constant rate, the
    # paper's augmentation) with the paper's AP+AC and metric loss, at the same image budget.
    "paper-step": {"@paper": True},
}
MINER_STUDY = ("metric-random", "metric-ap", "metric-ac", "metric-apac")
CURVE_POINTS = 8  # epochs per run = points on its accuracy-vs-images curve


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                            "torch": torch.__version__, "threads": torch.get_num_threads(),
                            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                            else None, "load_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def ensure_data(project: Project) -> None:
    if all(p.exists() for p in project.dataset_paths().values()):
        return
    from siam_workbench.data.render_splits import render_splits

    print(f"rendering {project.root / 'data'} …", flush=True)
    render_splits(project, force=True)


def config_for(project: Project, name: str, seed: int, images: int) -> Config:
    """The project's config with the configuration's overrides, the seed, and epochs ×
    iterations sized so the run sees ``images`` images in :data:`CURVE_POINTS` epochs."""
    over = dict(CONFIGS[name])
    cfg = project.config
    if over.pop("@paper", False):
        paper = paper_defaults()
        paper["train"]["triplets"] = 512  # the paper's 10,240 per step would be a handful of steps
        cfg = cfg.replace({s: t for s, t in paper.items() if s != "model"})
    cfg = cfg.with_overrides([f"{k}={json.dumps(v)}" for k, v in over.items()])
    t = cfg.train
    per_step = (t.classes_per_batch * t.samples_per_class if t.batch_mode == "pk"
                else 3 * t.triplets * (cfg.mining.hard_ratio if cfg.mining.batch == "hard" else 1))
    iterations = max(1, math.ceil(images / (CURVE_POINTS * per_step)))
    return cfg.replace({"train": {"seed": seed, "epochs": CURVE_POINTS, "iterations": iterations,
                                  "eval_max": 0}})


def run_siamese(project: Project, name: str, seed: int, images: int,
                test: Path) -> dict[str, Any]:
    from siam_workbench.train.trainer import Trainer

    cfg = config_for(project, name, seed, images)
    run_dir = RUNS / project.root.name / f"{name}-s{seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    trainer = Trainer(project, config=cfg, run_dir=run_dir)
    curve: list[dict[str, Any]] = []
    test_set, _ = load_glyphs(test).aligned_to(load_glyphs(project.dataset_paths()["train"])
                                                .classes)
    t0 = time.perf_counter()

    def on(ev: Any) -> None:
        if type(ev).__name__ == "EpochFinished":
            # The test curve too (the benchmark's own pass; the trainer validates on val only).
            emb = embed(trainer.model, test_set.images, trainer.device, trainer.space)
            _, idx = nearest_centers(emb, torch.from_numpy(ev.centers), k=5)
            t1, t5 = topk_accuracy(idx, test_set.labels)
            curve.append({"images": ev.images, "seconds": round(time.perf_counter() - t0, 1),
                          "val": {"top1": ev.val_top1, "top5": ev.val_top5},
                          "test": {"top1": t1, "top5": t5},
                          "train_top1": ev.top1, "loss": ev.loss})

    trainer.subscribe(on)
    final = trainer.run()
    if type(final).__name__ != "RunFinished":
        raise SystemExit(f"{name} seed {seed}: {getattr(final, 'message', final)}")
    wall = time.perf_counter() - t0
    run = load_run(run_dir, which="last")
    res_test = evaluate(run, test)
    train_seconds = sum(r.get("train_seconds", 0.0) for r in _epochs(run_dir))
    return {"images": trainer.images_seen, "wall_seconds": round(wall, 1),
            "train_seconds": round(train_seconds, 1), "curve": curve,
            "final": {"val": curve[-1]["val"],
                      "test": {"top1": res_test["top1"], "top5": res_test["top5"]}},
            "priorities": priorities(run_dir) if cfg.mining.positive != "random" else [],
            "config": cfg.to_dict()}


def priorities(run_dir: Path, top: int = 16) -> list[dict[str, Any]]:
    """Per epoch, the classes the positive miner prioritised most (the AP snapshots) and how
    peaked its distribution was (share of the mass on the top 10 % of classes)."""
    from siam_workbench.infer.mining_log import read_mining

    hist = read_mining(run_dir / "mining.h5")
    out = []
    for e in range(hist.num_epochs):
        p = hist.probabilities[e]
        order = p.argsort()[::-1]
        k = max(1, len(p) // 10)
        out.append({"epoch": int(hist.epochs[e]), "top10pct_mass": float(p[order[:k]].sum()),
                    "classes": int((p > 0).sum()),
                    "top": [{"class": hist.classes[i], "p": float(p[i]),
                             "mean_distance": float(hist.mean_distance[e][i])}
                            for i in order[:top]]})
    return out


def _epochs(run_dir: Path) -> list[dict[str, Any]]:
    from siam_workbench.project.runfiles import read_metrics

    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("event") == "epoch"]


def run_softmax(project: Project, seed: int, images: int, data: dict[str, GlyphSet],
                train: GlyphSet, points: int = CURVE_POINTS) -> dict[str, Any]:
    """``points`` evaluations along the run (1: only the end; the training is the same, since
    scoring draws no random numbers and the schedule depends only on the budget)."""
    from siam_workbench.train.softmax import train_softmax

    cfg = config_for(project, "default", seed, images)
    t0 = time.perf_counter()
    res = train_softmax(train, cfg, images, evaluate=data,
                        eval_every=images // max(1, points))
    curve = [{"images": p["images"], "seconds": p["seconds"],
              **{k: {"top1": v["center_top1"], "top5": v["center_top5"],
                     "argmax_top1": v["argmax_top1"], "argmax_top5": v["argmax_top5"]}
                 for k, v in p.items() if isinstance(v, dict)}} for p in res.curve]
    return {"images": res.images, "wall_seconds": round(time.perf_counter() - t0, 1),
            "train_seconds": round(res.seconds, 1), "curve": curve,
            "final": {k: v for k, v in curve[-1].items() if isinstance(v, dict)}}


def run_pml(project: Project, seed: int, images: int | None, seconds: float | None,
            data: dict[str, GlyphSet], train: GlyphSet) -> dict[str, Any]:
    from pml_loop import train_pml

    cfg = config_for(project, "default", seed, images or 10**6)
    t0 = time.perf_counter()
    every = (images or 10**6) // CURVE_POINTS
    res = train_pml(train, cfg, images=images, seconds=seconds, evaluate=data, eval_every=every)
    return {"images": res.images, "wall_seconds": round(time.perf_counter() - t0, 1),
            "train_seconds": round(res.seconds, 1), "curve": res.curve, "final": res.final}


def save(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="hangul-2350", help="project under projects/")
    ap.add_argument("--images", type=int, default=300_000, help="budget per run, in images")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (paired across configs)")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated, from: {', '.join(CONFIGS)}")
    ap.add_argument("--no-baselines", action="store_true", help="skip pixel 1-NN and softmax")
    ap.add_argument("--pml", action="store_true", help="also the PML semi-hard loop")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--softmax-points", type=int, default=CURVE_POINTS,
                    help="evaluations along the softmax run (1: only at the end, which at "
                    "11,172 classes saves ~7 passes over val and test)")
    ap.add_argument("--report", action="store_true", help="write table and figures, train nothing")
    ap.add_argument("--smoke", action="store_true",
                    help="a tiny synthetic project, 256 images, the default config and both "
                    "baselines, in a temporary folder; prints the records as one JSON object")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        return _smoke(args)
    out = OUT / args.dataset / f"{args.images // 1000}k"
    if args.report:
        from quality_report import report

        print(report(out))
        return 0
    return _measure(args, out, load_project(ROOT / "projects" / args.dataset))


def _smoke(args: argparse.Namespace) -> int:
    """Everything a real run does, on the tests' tiny synthetic project (make test)."""
    import tempfile

    from tests.conftest import make_tiny_project

    global OUT, RUNS
    with tempfile.TemporaryDirectory() as tmp:
        OUT, RUNS = Path(tmp) / "results", Path(tmp) / "runs"
        project = load_project(make_tiny_project(Path(tmp) / "tiny"))
        args.dataset, args.images, args.configs, args.seeds = "tiny", 256, "default", "0"
        out = OUT / "tiny" / "smoke"
        with contextlib.redirect_stdout(sys.stderr):  # progress lines; stdout is the JSON
            _measure(args, out, project)
        recs = {f.stem: json.loads(f.read_text()).get("final") for f in sorted(out.glob("*.json"))}
    print(json.dumps({"benchmark": "quality", "smoke": True, "final": recs}, indent=1))
    return 0


def _measure(args: argparse.Namespace, out: Path, project: Project) -> int:
    ensure_data(project)
    paths = project.dataset_paths()
    train = load_glyphs(paths["train"])
    data = {"val": load_glyphs(paths["val"]), "test": load_glyphs(paths["test"])}
    common = {"dataset": args.dataset, "budget_images": args.images, "machine": machine()}
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]

    def once(name: str, seed: int, fn: Any) -> dict[str, Any]:
        path = out / f"{name}-s{seed}.json"
        if path.exists():
            return json.loads(path.read_text())
        print(f"[{time.strftime('%H:%M:%S')}] {args.dataset} {name} seed {seed} …", flush=True)
        rec = {"name": name, "seed": seed, **common, **fn()}
        save(path, rec)
        f = rec.get("final", {})
        print("   " + "  ".join(f"{k} top-1 {100 * v['top1']:.1f}%" for k, v in f.items()
                                if isinstance(v, dict) and v.get("top1") is not None)
              + f"  ({rec.get('wall_seconds', 0):.0f} s)", flush=True)
        return rec

    if not args.no_baselines:
        once("pixel-1nn", 0, lambda: {"final": {k: pixel_nn(train, v) for k, v in data.items()}})
    for seed in seeds:
        if not args.no_baselines:
            once("softmax", seed, lambda s=seed: run_softmax(project, s, args.images, data,
                                                              train, args.softmax_points))
        for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
            if name not in CONFIGS:
                raise SystemExit(f"unknown configuration {name!r}")
            once(name, seed, lambda n=name, s=seed: run_siamese(project, n, s, args.images,
                                                                 paths["test"]))
        if args.pml:
            once("pml-semihard", seed, lambda s=seed: run_pml(project, s, args.images, None,
                                                              data, train))
            default = once("default", seed, lambda s=seed: run_siamese(
                project, "default", s, args.images, paths["test"]))
            once("pml-semihard-equal-wall", seed, lambda s=seed, d=default: run_pml(
                project, s, None, d["train_seconds"], data, train))
    return 0


if __name__ == "__main__":
    sys.exit(main())

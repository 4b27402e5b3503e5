"""Miner study (DESIGN §7, "accuracy of each miner on the held-out-font benchmark").

Trains the same network with the same seed, budget and augmentation under six configurations —
metric loss with random / auto-probabilistic (AP) / auto-clustering (AC) / AP+AC mining, and
contrastive and triplet loss with random mining — on `hangul-2350` glyphs rendered from the 8
training faces of projects/hangul-2350, and measures nearest-center top-1 / top-5 after every
epoch on faces never seen in training, rendered with PHD08-like distortions (our stand-in for
PHD08, which is not available). Each configuration is a project in
``benchmarks/configs/<name>/project.toml``; they share one set of rendered files under
``benchmarks/out/data`` (rendered once, from the configs' font roles).

Run from the repository root (``nice`` keeps other work on the machine responsive)::

    nice -n 10 .venv/bin/python benchmarks/miners.py            # the study (budget of the configs)
    nice -n 10 .venv/bin/python benchmarks/miners.py --quick    # smoke run, ~20 s per config
    .venv/bin/python benchmarks/miners.py --full                # paper-sized epochs (GPU box)
    .venv/bin/python benchmarks/report.py                       # table + figures from the JSON

Per run it writes ``<results>/<config>-s<seed>.json`` (default results folder: docs/results for
the study budget, benchmarks/out/<budget>/results for --quick / --full) with top-1 / top-5 per
epoch, wall time, triplets/s, the budget, the faces and, for AP runs, the classes the miner
prioritised after each epoch; after training, the last checkpoint is also evaluated on the
clean validation faces (unseen, undistorted). ``<results>/untrained-s<seed>.json`` holds the
untrained network of each seed (the curves' epoch 0). A finished run (its JSON exists) is
skipped, so an interrupted study continues where it stopped; runs go to
``benchmarks/out/<budget>/runs/<config>-s<seed>``.

Per-epoch validation uses the distorted held-out test file: the study hands the trainer the
project's config with ``data.val`` set to ``data.test``. No checkpoint is chosen by it — the
figures reported are those of the last epoch, so nothing is tuned on the test faces.

Process tuning (does not change results, only speed; recorded in every JSON): torch uses
``--threads`` threads (default 1: on a 2-core machine shared with other work, a second
OpenMP thread mostly spins), and glibc malloc is told not to hand big tensors back to the kernel
after every use (``mallopt(M_MMAP_MAX, 0)``): with its defaults each training step page-faults
hundreds of MB of fresh memory, which halved the trainer's speed on this VM.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.train import events as E  # noqa: E402
from core.train.project import Project, load_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "benchmarks" / "configs"
OUT_DIR = ROOT / "benchmarks" / "out"
DOCS_RESULTS = ROOT / "docs" / "results"

#: The configurations, in the order of the paper's tables.
CONFIGS = ("metric-random", "metric-ap", "metric-ac", "metric-apac", "contrastive-random",
           "triplet-random")

#: Budget presets; "study" = the [train] section of the config files themselves.
BUDGETS: dict[str, dict[str, int]] = {
    "quick": {"epochs": 2, "iterations": 2, "triplets": 64, "eval_max": 2000},
    "full": {"epochs": 20, "iterations": 50, "triplets": 10240, "eval_max": 0},
}

#: How many of the most probable classes an AP run records per epoch.
TOP_K = 40


def tune_process(threads: int, malloc: bool) -> dict[str, Any]:
    """Thread count and glibc malloc settings for this process; returns what was set."""
    torch.set_num_threads(threads)
    done = {"torch_threads": torch.get_num_threads(), "malloc_no_mmap": False}
    if malloc and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            m_trim_threshold, m_mmap_max = -1, -4
            ok = libc.mallopt(m_mmap_max, 0) == 1
            ok = libc.mallopt(m_trim_threshold, 2**31 - 1) == 1 and ok
            done["malloc_no_mmap"] = bool(ok)
        except OSError:
            pass
    return done


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def load_configs(names: list[str]) -> dict[str, Project]:
    projects = {n: load_project(CONFIG_DIR / n) for n in names}
    first = next(iter(projects.values())).config.to_dict()["data"]
    for n, p in projects.items():
        if p.config.to_dict()["data"] != first:
            raise SystemExit(f"benchmarks/configs/{n}: [data] differs from the other "
                             "configurations; the study needs them to share one data set")
    return projects


def ensure_data(project: Project) -> dict[str, Any]:
    """Render the shared train / val / test files from the font roles unless all exist."""
    paths = project.dataset_paths()
    if all(p.exists() for p in paths.values()):
        return {"rendered": False}
    from core.data.render import render_splits

    print(f"rendering {', '.join(str(p) for p in paths.values())} …", flush=True)
    t0 = time.perf_counter()
    reports = render_splits(project, force=True)
    return {"rendered": True, "seconds": round(time.perf_counter() - t0, 1),
            **{k: r.to_dict() for k, r in reports.items()}}


def data_summary(project: Project) -> dict[str, Any]:
    from core.data.glyphs import read_info

    out: dict[str, Any] = {}
    for role, path in project.dataset_paths().items():
        info = read_info(path)
        render = info["attrs"].get("render") or {}
        out[role] = {"file": os.path.relpath(path.resolve(), ROOT),
                     "samples": info["samples"], "classes": info["classes"],
                     "faces": info["per_source"],
                     "distort": render.get("distort", "") if isinstance(render, dict) else "",
                     "variants": render.get("variants", 1) if isinstance(render, dict) else 1}
    d = project.config.data
    out["font_roles"] = {"train": list(d.train_fonts), "val": list(d.val_fonts),
                         "test": list(d.test_fonts)}
    return out


class Collector:
    """Subscriber that keeps what the study reports from the trainer's events."""

    def __init__(self, record_probs: bool) -> None:
        self.epochs: list[dict[str, Any]] = []
        self.priorities: list[dict[str, Any]] = []
        self.iter_seconds = 0.0
        self.record_probs = record_probs
        self.classes: list[str] = []
        self.t0 = time.perf_counter()
        self.last_epoch_end = self.t0
        self.first_iteration: float | None = None
        self.failed: str | None = None

    def __call__(self, ev: Any) -> None:
        now = time.perf_counter()
        if isinstance(ev, E.RunStarted):
            self.classes = list(ev.classes)
            self.started = now
        elif isinstance(ev, E.IterationFinished):
            if self.first_iteration is None:
                self.first_iteration = now
        elif isinstance(ev, E.EpochFinished):
            rec = {"epoch": ev.epoch + 1, "top1": ev.val_top1, "top5": ev.val_top5,
                   "train_top1": ev.top1, "train_top5": ev.top5, "loss": ev.loss,
                   "train_seconds": round(ev.seconds, 3),
                   "epoch_end_seconds": None,  # filled below
                   "wall_seconds": round(now - self.t0, 2)}
            self.epochs.append(rec)
            self.last_epoch_end = now
            if self.record_probs:
                self.priorities.append(priority_snapshot(ev, self.classes))
        elif isinstance(ev, E.RunFailed):
            self.failed = ev.message


def priority_snapshot(ev: E.EpochFinished, classes: list[str]) -> dict[str, Any]:
    """The AP distribution after an epoch: its shape and the most probable classes."""
    p = np.asarray(ev.probabilities, dtype=np.float64)
    c = int((p > 0).sum())
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    order = np.argsort(-p, kind="stable")
    top = order[:TOP_K]
    bottom = order[::-1][:8]
    md = np.asarray(ev.mean_distance, dtype=np.float64)
    k10 = max(1, c // 10)
    return {
        "epoch": ev.epoch + 1,  # the distribution epoch `epoch + 1` samples from
        "classes": c,
        "max_ratio": float(p.max() * c),  # × the uniform probability 1/C
        "min_ratio": float(nz.min() * c),
        "effective_classes": float(np.exp(entropy)),
        "top10pct_mass": float(np.sort(p)[::-1][:k10].sum()),
        "top": [{"index": int(i), "class": classes[i], "p": float(p[i]),
                 "mean_distance": float(md[i])} for i in top],
        "bottom": [{"index": int(i), "class": classes[i], "p": float(p[i]),
                    "mean_distance": float(md[i])} for i in bottom],
        "sorted_ratio_quantiles": [float(np.quantile(nz * c, q))
                                   for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)],
    }


def per_class_test(trainer: Any, test_path: Path) -> dict[str, Any]:
    """Top-1 / top-5 of the last model on the whole test file, and the correct top-1 count per
    class (to compare with what the AP miner prioritised)."""
    from core.data.glyphs import load_glyphs
    from core.infer.centers import embed, nearest_centers

    test = load_glyphs(test_path)
    index = {c: i for i, c in enumerate(trainer.classes)}
    mapped = torch.tensor([index.get(c, -1) for c in test.classes], dtype=torch.int64)
    labels = mapped[test.labels]
    keep = labels >= 0
    emb = embed(trainer.model, test.images[keep], trainer.device, trainer.space)
    _, idx = nearest_centers(emb, trainer._raw_centers, k=5)
    lab = labels[keep]
    hit = (idx[:, 0] == lab).to(torch.int64)
    hit5 = (idx == lab.unsqueeze(1)).any(1)
    n = len(trainer.classes)
    correct = torch.zeros(n, dtype=torch.int64).index_add_(0, lab, hit)
    count = torch.bincount(lab, minlength=n)
    return {"correct": correct.tolist(), "count": count.tolist(),
            "top1": float(hit.float().mean()), "top5": float(hit5.float().mean()),
            "images": int(lab.shape[0])}


def untrained_baseline(project: Project, seed: int, eval_max: int, results_dir: Path,
                       data: dict[str, Any], force: bool = False) -> dict[str, Any] | None:
    """Nearest-center accuracy of the *untrained* network (the initial weights every run of this
    seed starts from: ``torch.manual_seed(seed)`` then the backbone, as the trainer does), in
    both distance spaces: softplus (metric loss) and raw (contrastive, triplet). Written to
    ``<results>/untrained-s<seed>.json``; it is the curves' epoch 0."""
    from core.data.glyphs import load_glyphs
    from core.infer.centers import class_centers, embed, nearest_centers, to_space, topk_accuracy
    from core.train.models import build_model

    target = results_dir / f"untrained-s{seed}.json"
    if target.exists() and not force:
        return None
    cfg = project.config
    torch.manual_seed(seed)
    model = build_model(cfg.model.backbone, cfg.model.embedding_dim)
    paths = project.dataset_paths()
    train, test = load_glyphs(paths["train"]), load_glyphs(paths["test"])
    index = {c: i for i, c in enumerate(train.classes)}
    mapped = torch.tensor([index.get(c, -1) for c in test.classes], dtype=torch.int64)
    labels = mapped[test.labels]
    keep = labels >= 0
    images, labels = test.images[keep], labels[keep]
    # The trainer's per-epoch subset (core.train.trainer.Trainer._prepare_val), for the curves.
    subset = None
    if eval_max and labels.shape[0] > eval_max:
        g = torch.Generator().manual_seed(12345)
        subset = torch.randperm(labels.shape[0], generator=g)[:eval_max].sort().values
    val = load_glyphs(paths["val"])
    vmap = torch.tensor([index.get(c, -1) for c in val.classes], dtype=torch.int64)
    val_labels = vmap[val.labels]
    raw_val = embed(model, val.images[val_labels >= 0], "cpu", "raw")
    val_labels = val_labels[val_labels >= 0]
    raw_train = embed(model, train.images, "cpu", "raw")
    raw_test = embed(model, images, "cpu", "raw")
    out: dict[str, Any] = {}
    for space in ("softplus", "raw"):
        tr, te = to_space(raw_train, space), to_space(raw_test, space)
        centers, _ = class_centers(tr, train.labels, len(train.classes))
        _, idx = nearest_centers(te, centers, k=5)
        top1, top5 = topk_accuracy(idx, labels)
        rec = {"top1": top1, "top5": top5, "images": int(labels.shape[0])}
        if subset is not None:
            s1, s5 = topk_accuracy(idx[subset], labels[subset])
            rec["subset"] = {"top1": s1, "top5": s5, "images": int(subset.shape[0])}
        _, tidx = nearest_centers(tr, centers, k=5)
        rec["train_top1"], rec["train_top5"] = topk_accuracy(tidx, train.labels)
        _, vidx = nearest_centers(to_space(raw_val, space), centers, k=5)
        v1, v5 = topk_accuracy(vidx, val_labels)
        rec["clean_val"] = {"top1": v1, "top5": v5, "images": int(val_labels.shape[0])}
        out[space] = rec
    result = {"schema": "siam-miner-study-untrained/1", "seed": seed,
              "model": cfg.to_dict()["model"], "eval_max": eval_max, "data": data,
              "spaces": out, "note": "untrained network (initial weights of this seed); "
              "softplus space = metric-loss runs, raw = contrastive / triplet runs"}
    results_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_json(result), encoding="utf-8")
    return result


def clean_val(run_dir: Path, val_path: Path) -> dict[str, Any]:
    """The last checkpoint on the clean renders of the validation faces (unseen in training,
    undistorted): separates "new face" from "distortion" in the test figure."""
    from core.infer.evaluate import evaluate, load_run

    res = evaluate(load_run(run_dir, which="last"), val_path)
    return {"top1": res["top1"], "top5": res["top5"], "images": res["n"],
            "file": os.path.relpath(val_path.resolve(), ROOT)}


def backfill_clean_val(results_dir: Path, projects: dict[str, Project]) -> None:
    """Add ``clean_val`` to result files written before it existed (their runs must exist)."""
    for path in sorted(results_dir.glob("*-s*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if rec.get("schema") != "siam-miner-study/1" or "clean_val" in rec:
            continue
        run_dir = ROOT / rec["run_dir"]
        if rec["config"] not in projects or not (run_dir / "checkpoints" / "last.pt").exists():
            continue
        rec["clean_val"] = clean_val(run_dir, projects[rec["config"]].dataset_paths()["val"])
        path.write_text(dump_json(rec), encoding="utf-8")
        print(f"{path.name}: clean val top-1 {100 * rec['clean_val']['top1']:.2f}%", flush=True)


def dump_json(obj: Any) -> str:
    """Indented JSON with lists of plain numbers / strings kept on one line (per-class vectors
    would otherwise take one line per class)."""
    import re

    text = json.dumps(obj, ensure_ascii=False, indent=1)
    flat = re.compile(r"\[\s*((?:-?[\d.eE+-]+|null|\"[^\"\n]*\")(?:,\s*(?:-?[\d.eE+-]+|null|"
                      r"\"[^\"\n]*\"))*)\s*\]")
    return flat.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                    text) + "\n"


def run_one(name: str, project: Project, seed: int, budget: dict[str, int], budget_name: str,
            runs_dir: Path, results_dir: Path, data: dict[str, Any], tuning: dict[str, Any],
            command: str) -> dict[str, Any]:
    from core.train.trainer import Trainer

    cfg = project.config
    train = {"epochs": budget["epochs"], "iterations": budget["iterations"],
             "triplets": budget["triplets"], "eval_max": budget["eval_max"], "seed": seed}
    cfg = cfg.replace({"train": train, "data": {"val": cfg.data.test}})
    # The trainer reads data paths from its project, so the override travels in a Project too.
    study_project = Project(root=project.root, config=cfg)
    run_dir = runs_dir / f"{name}-s{seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an unfinished run of an interrupted study: start it again
    trainer = Trainer(study_project, config=cfg, run_dir=run_dir)
    col = Collector(record_probs=cfg.mining.positive == "auto-probabilistic")
    trainer.subscribe(col)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    final = trainer.run()
    wall = time.perf_counter() - t0
    if isinstance(final, E.RunFailed):
        raise SystemExit(f"{name} seed {seed} failed: {final.message}")
    per_class = per_class_test(trainer, study_project.dataset_paths()["test"])
    clean = clean_val(run_dir, project.dataset_paths()["val"])
    # Epoch-end seconds: wall time between epochs minus the iterations' time.
    prev = 0.0
    for rec in col.epochs:
        rec["epoch_end_seconds"] = round(rec["wall_seconds"] - prev - rec["train_seconds"], 2)
        prev = rec["wall_seconds"]
    trip = budget["iterations"] * budget["triplets"]
    train_s = sum(r["train_seconds"] for r in col.epochs)
    last = col.epochs[-1]
    tail = col.epochs[-3:]
    result = {
        "schema": "siam-miner-study/1",
        "config": name,
        "config_file": os.path.relpath(project.file, ROOT),
        "seed": seed,
        "loss": cfg.to_dict()["loss"],
        "mining": {k: v for k, v in cfg.to_dict()["mining"].items()
                   if k in ("positive", "negative", "gamma", "w", "theta", "eta")},
        "augment": cfg.to_dict()["augment"],
        "model": cfg.to_dict()["model"],
        "budget": {"name": budget_name, **budget,
                   "triplets_per_epoch": trip, "triplets_total": trip * budget["epochs"]},
        "data": data,
        "evaluated_on": "test file (held-out faces, distorted): per epoch on a fixed random "
                        "subset of eval_max images, final figures on all of it after the last "
                        "epoch",
        "final": {"top1": per_class["top1"], "top5": per_class["top5"],
                  "images": per_class["images"]},
        "last_epoch_subset": {"top1": last["top1"], "top5": last["top5"]},
        "last3_mean": {"top1": float(np.mean([r["top1"] for r in tail])),
                       "top5": float(np.mean([r["top5"] for r in tail]))},
        "epochs": col.epochs,
        "wall_seconds": round(wall, 1),
        "train_seconds": round(train_s, 1),
        "epoch_end_seconds": round(sum(r["epoch_end_seconds"] for r in col.epochs), 1),
        "triplets_per_s": round(trip * budget["epochs"] / max(train_s, 1e-9), 1),
        "clean_val": clean,
        "per_class_test": per_class,
        "ap_priorities": col.priorities,
        "run_dir": os.path.relpath(run_dir, ROOT),
        "machine": {**machine_info(), "loadavg_start": [round(x, 2) for x in load0],
                    "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                    "device": str(trainer.device), "nice": os.nice(0), **tuning},
        "command": command,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / f"{name}-s{seed}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(dump_json(result), encoding="utf-8")
    os.replace(tmp, target)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny smoke run (seconds per config)")
    size.add_argument("--full", action="store_true",
                      help="the paper's epoch: 20 epochs × 50 iterations × 10,240 triplets")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS,
                    metavar="NAME", help=f"subset of {', '.join(CONFIGS)}")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="default: 0 1")
    ap.add_argument("--epochs", type=int, help="override the budget's epochs")
    ap.add_argument("--iterations", type=int, help="override iterations per epoch")
    ap.add_argument("--triplets", type=int, help="override triplets per iteration")
    ap.add_argument("--eval-max", type=int, help="cap on test images per epoch (0 = all)")
    ap.add_argument("--results", type=Path, help="folder for the per-run JSON files")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--no-malloc-tune", action="store_true",
                    help="keep glibc malloc's defaults (slower on this VM)")
    ap.add_argument("--force", action="store_true", help="re-run runs whose JSON exists")
    ap.add_argument("--report", action="store_true",
                    help="run benchmarks/report.py on the results at the end")
    args = ap.parse_args(argv)

    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    tuning = tune_process(args.threads, not args.no_malloc_tune)
    projects = load_configs(list(args.configs))
    if args.quick or args.full:
        budget_name = "quick" if args.quick else "full"
        budget = dict(BUDGETS[budget_name])
    else:
        budget_name = "study"
        t = next(iter(projects.values())).config.train
        budget = {"epochs": t.epochs, "iterations": t.iterations, "triplets": t.triplets,
                  "eval_max": t.eval_max}
    for key in ("epochs", "iterations", "triplets", "eval_max"):
        value = getattr(args, key)
        if value is not None:
            budget[key] = value
            budget_name += "+custom" if not budget_name.endswith("+custom") else ""
    base = OUT_DIR / budget_name.replace("+", "-")
    results_dir = args.results or (DOCS_RESULTS if budget_name == "study"
                                   else base / "results")
    runs_dir = base / "runs"

    first = next(iter(projects.values()))
    rendered = ensure_data(first)
    data = data_summary(first)
    if rendered.get("rendered"):
        data["render_seconds"] = rendered["seconds"]
    n_runs = len(args.seeds) * len(args.configs)
    print(f"miner study: budget {budget_name} {budget}, {n_runs} runs, threads "
          f"{tuning['torch_threads']}, malloc tuned {tuning['malloc_no_mmap']}; results → "
          f"{results_dir}", flush=True)
    t_study = time.perf_counter()
    for seed in args.seeds:
        base_res = untrained_baseline(first, seed, budget["eval_max"], results_dir, data,
                                      force=args.force)
        if base_res is not None:
            sp = base_res["spaces"]
            print(f"untrained network, seed {seed}: top-1 {100 * sp['softplus']['top1']:.2f}% "
                  f"(softplus space), {100 * sp['raw']['top1']:.2f}% (raw)", flush=True)
    done = 0
    # Seed-major order: after the first pass every configuration has one finished seed.
    for seed in args.seeds:
        for name in args.configs:
            target = results_dir / f"{name}-s{seed}.json"
            done += 1
            if target.exists() and not args.force:
                print(f"[{done}/{n_runs}] {name} seed {seed}: done before, skipped", flush=True)
                continue
            print(f"[{done}/{n_runs}] {name} seed {seed} … (load {os.getloadavg()[0]:.1f})",
                  flush=True)
            res = run_one(name, projects[name], seed, budget, budget_name, runs_dir,
                          results_dir, data, tuning, command)
            curve = " ".join(f"{100 * r['top1']:.1f}" for r in res["epochs"])
            print(f"    top-1 {100 * res['final']['top1']:.2f}%  top-5 "
                  f"{100 * res['final']['top5']:.2f}%  in {res['wall_seconds']:.0f}s "
                  f"({res['triplets_per_s']:.0f} triplets/s, epoch ends "
                  f"{res['epoch_end_seconds']:.0f}s); top-1 by epoch: {curve}", flush=True)
    backfill_clean_val(results_dir, projects)
    total = time.perf_counter() - t_study
    print(f"miner study finished in {total / 60:.1f} min", flush=True)
    summary = {"budget": budget_name, "runs": n_runs, "wall_minutes": round(total / 60, 2),
               "results": str(results_dir)}
    print(json.dumps(summary), flush=True)
    if args.report:
        from benchmarks import report

        report.main(["--results", str(results_dir)])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Alphabet panel: a project made with ``siam new`` defaults, per alphabet, against the baselines.

For each alphabet this does what a new user does — ``siam new P --alphabet A`` (the default
recipe, sized to the alphabet by src/siam_workbench/project/recipe.py), render, ``siam train P``
with every default — and scores the **last** checkpoint by nearest class center on the project's own
validation file (clean renders of faces never trained on) and test file (distorted renders of
other unseen faces). Beside it, at the same budget:

* pixel 1-nearest-neighbour on raw pixels against the same training glyphs;
* a softmax classifier on the same backbone, augmentation, optimiser, schedule and number of
  images through the network (src/siam_workbench/train/softmax.py), read by argmax and by nearest
  center.

Every alphabet writes ``docs/results/alphabets/<name>.json`` and is skipped when that file
exists (an interrupted panel resumes); ``--report`` prints the table RESULTS.md quotes.

    nice .venv/bin/python benchmarks/alphabets.py --threads 1
    .venv/bin/python benchmarks/alphabets.py --report
    .venv/bin/python benchmarks/alphabets.py --smoke     # tiny run for the test suite
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from siam_workbench.data.baselines import pixel_nn  # noqa: E402
from siam_workbench.data.glyphs import load_glyphs  # noqa: E402
from siam_workbench.infer.evaluate import evaluate, load_run  # noqa: E402
from siam_workbench.project.project import create_project, load_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "alphabets"
WORK = ROOT / "benchmarks" / "out" / "alphabets"
LOWER = "abcdefghijklmnopqrstuvwxyz"
#: panel name → alphabet given to ``siam new`` (a named one, or "@lower": the 26 lowercase
#: Latin letters as a user's own class-list file).
PANEL = {"digits": "digits", "latin-lower": "@lower", "latin-digits": "latin-digits",
         "greek": "greek", "cyrillic": "cyrillic", "katakana": "katakana",
         "hiragana": "hiragana", "hangul-2350": "hangul-2350"}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "load_start": [round(x, 2) for x in os.getloadavg()]}


def new_project(folder: Path, alphabet: str, overrides: list[str]) -> Path:
    """``siam new`` as a user types it (the class-list file lies beside, as a user's would)."""
    if folder.exists():
        shutil.rmtree(folder)
    if alphabet == "@lower":
        folder.parent.mkdir(parents=True, exist_ok=True)
        src = folder.parent / f"{folder.name}-letters.txt"
        src.write_text("\n".join(LOWER) + "\n", encoding="utf-8")
        alphabet = str(src)
    create_project(folder, name=folder.name, alphabet=alphabet, overrides=overrides)
    return folder


def run_one(name: str, alphabet: str, work: Path, overrides: list[str]) -> dict[str, Any]:
    from siam_workbench.data.render_splits import render_splits
    from siam_workbench.train.softmax import train_softmax
    from siam_workbench.train.trainer import Trainer

    root = new_project(work / name, alphabet, overrides)
    project = load_project(root)
    t0 = time.perf_counter()
    render_splits(project, force=True)
    render_s = time.perf_counter() - t0
    paths = project.dataset_paths()
    train = load_glyphs(paths["train"])
    data = {s: load_glyphs(paths[s]) for s in ("val", "test")}
    faces = {s: len(load_glyphs(paths[s]).source_names) for s in ("train", "val", "test")}
    t0, cpu0 = time.perf_counter(), time.process_time()
    final = Trainer(project).run()
    if type(final).__name__ != "RunFinished":
        raise SystemExit(f"{name}: {getattr(final, 'message', final)}")
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    run_dir = Path(final.run_dir)
    run = load_run(run_dir, which="last")
    net = {s: evaluate(run, paths[s]) for s in ("val", "test")}
    images = sum(r.get("images", 0) for r in _last_epoch(run_dir))
    pixel = {s: pixel_nn(train, d) for s, d in data.items()}
    t0 = time.perf_counter()
    soft = train_softmax(train, project.config, images, evaluate=data)
    cfg = project.config
    return {
        "name": name, "alphabet": cfg.data.alphabet, "classes": train.num_classes,
        "faces": faces, "train_glyphs": len(train), "size_mode": cfg.data.size_mode,
        "config": {"loss": cfg.loss.kind, "batch": cfg.mining.batch,
                   "pk": [cfg.train.classes_per_batch, cfg.train.samples_per_class],
                   "epochs": cfg.train.epochs, "iterations": cfg.train.iterations,
                   "lr": cfg.train.lr},
        "images": images, "render_seconds": round(render_s, 1),
        "train_wall_seconds": round(train_wall, 1), "train_cpu_seconds": round(train_cpu, 1),
        "network": {s: {"top1": r["top1"], "top5": r["top5"], "n": r["n"]}
                    for s, r in net.items()},
        "pixel_1nn": {s: {"top1": r["top1"], "top5": r["top5"]} for s, r in pixel.items()},
        "softmax": {s: {"argmax_top1": v["argmax_top1"], "center_top1": v["center_top1"]}
                    for s, v in soft.final.items()},
        "softmax_seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }


def _last_epoch(run_dir: Path) -> list[dict[str, Any]]:
    from siam_workbench.project.runfiles import read_metrics

    epochs = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("event") == "epoch"]
    return epochs[-1:]


def report(out: Path) -> str:
    rows = ["| alphabet | classes | faces train/val/test | images | network val | test | "
            "pixel 1-NN val | test | softmax val | test | train CPU |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in PANEL:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        f = r["faces"]

        def pct(x: float) -> str:
            return f"{100 * x:.1f}"

        rows.append(
            f"| {name} | {r['classes']} | {f['train']}/{f['val']}/{f['test']} | "
            f"{r['images'] / 1000:.0f}k | **{pct(r['network']['val']['top1'])}** | "
            f"**{pct(r['network']['test']['top1'])}** | {pct(r['pixel_1nn']['val']['top1'])} | "
            f"{pct(r['pixel_1nn']['test']['top1'])} | "
            f"{pct(r['softmax']['val']['argmax_top1'])} | "
            f"{pct(r['softmax']['test']['argmax_top1'])} | "
            f"{r['train_cpu_seconds'] / 60:.1f} min |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alphabets", default=",".join(PANEL),
                    help=f"comma-separated, from: {', '.join(PANEL)}")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--report", action="store_true", help="print the table, train nothing")
    ap.add_argument("--smoke", action="store_true",
                    help="a tiny run (digits, 1 epoch of 3 steps) into a temporary folder")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.report:
        print(report(OUT))
        return 0
    names = [n.strip() for n in args.alphabets.split(",") if n.strip()]
    for n in names:
        if n not in PANEL:
            raise SystemExit(f"unknown alphabet {n!r} (known: {', '.join(PANEL)})")
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            rec = run_one("digits", "digits", Path(tmp),
                          ["train.epochs=1", "train.iterations=3", "data.test_variants=1"])
        print(json.dumps({"smoke": True, **rec}, default=float))
        return 0
    for name in names:
        path = OUT / f"{name}.json"
        if path.exists():
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {name} …", flush=True)
        rec = run_one(name, PANEL[name], WORK, [])
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=1, default=float) + "\n")
        tmp.replace(path)
        print(json.dumps(rec, default=float), flush=True)
    print(report(OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

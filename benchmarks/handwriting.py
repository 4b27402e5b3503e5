"""Real handwriting benchmark: fonts → Omniglot's katakana, and the paper's Omniglot protocol.

Two measurements, each beside pixel 1-NN and the softmax baseline at the same images:

* ``katakana`` — a project made as ``siam new --alphabet katakana`` makes it (fonts only, the
  recipe of projects/quickstart passed explicitly, ``--data`` settings on top), trained, then
  scored on the 940 real drawings of Omniglot's Japanese_(katakana) (47 characters × 20
  drawers), named through ``resources/omniglot/katakana.tsv`` and framed in the
  project's ``data.size_mode`` exactly as the run frames its own data. Top-1 is the nearest class
  center among **all** the project's classes (78); ``top1_47`` restricts the choice to the 47
  characters Omniglot draws. ``mapping_check`` counts the folders whose most frequent
  prediction is the character the table gives them (the table's quantitative check).
  ``--variants`` names augmentation / rendering variants (:data:`VARIANTS`) to compare.
* ``omniglot`` — the paper's protocol on the five alphabets here (152 characters): drawers
  1–12 train, 13–16 validation, 17–20 test (60 / 20 / 20 by drawer), trained on real drawings
  only, scored on the test drawers by the nearest class center of the training drawings.

Each run writes ``<out>/<part>/<name>-s<seed>.json`` and is skipped when it exists (resume).
The whole result is printed as JSON. ``--smoke`` is a tiny run of every code path (seconds) on
a stand-in built in a temporary folder, so it needs neither Omniglot nor fonts: an
Omniglot-layout folder of synthetic strokes (all 47 katakana folders the shipped table names, 3
characters of each other alphabet, 4 drawers) and a katakana project of synthetic glyphs of the
same strokes in place of the rendered fonts. Its figures say only that the code runs.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/handwriting.py --part katakana \\
        --images 150000 --variants base,pen
    .venv/bin/python benchmarks/handwriting.py --smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from siam_workbench.data.baselines import pixel_nn  # noqa: E402
from siam_workbench.data.glyphs import GlyphSet, load_glyphs  # noqa: E402
from siam_workbench.data.omniglot import load_drawings, read_mapping  # noqa: E402
from siam_workbench.parts.centers import class_centers, nearest_centers  # noqa: E402
from siam_workbench.project.config import Config  # noqa: E402
from siam_workbench.project.project import Project, create_project, load_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "handwriting"
OMNIGLOT = Path(os.environ.get("SIAM_OMNIGLOT", "/work/shared/data/omniglot"))
KATAKANA = "Japanese_(katakana)"
FIVE = ["Balinese", "Early_Aramaic", KATAKANA, "Sanskrit", "Tagalog"]
SPLIT = {"train": set(range(1, 13)), "val": set(range(13, 17)), "test": set(range(17, 21))}

#: The recipe the lead makes the default (projects/quickstart); P is set to the class count.
RECIPE = {"loss.kind": "triplet", "loss.alpha": 0.5, "mining.batch": "semihard",
          "mining.positive": "auto-probabilistic", "mining.negative": "auto-clustering",
          "mining.gamma": 2.0, "mining.eta": 0, "train.batch_mode": "pk", "train.lr": 0.003,
          "train.samples_per_class": 8, "train.lr_schedule": "cosine", "train.warmup": 0.05}
#: Augmentation / rendering variants of the katakana transfer (overrides on top of RECIPE).
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "pen": {"augment.pen": True},
    "shape": {"augment.shape": True},
    "pen-shape": {"augment.pen": True, "augment.shape": True},
    "elastic3": {"augment.elastic_px": 3.0},
    # The pen at the widths measured on the drawings (ink / skeleton length: 2.2–3.2 px).
    "pen23": {"augment.pen": True, "augment.pen_min_px": 2.0, "augment.pen_max_px": 3.2},
    "pen23-shape": {"augment.pen": True, "augment.pen_min_px": 2.0, "augment.pen_max_px": 3.2,
                    "augment.shape": True},
    "pen-shape-elastic3": {"augment.pen": True, "augment.shape": True,
                           "augment.elastic_px": 3.0},
}
EPOCHS = 6


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "load_start": [round(x, 2) for x in os.getloadavg()]}


def omniglot_root(given: Path, tmp: Path) -> Path:
    """The unzipped images: ``given`` itself when it holds alphabet folders, else its
    ``images_*.zip`` extracted under ``tmp`` (never into the repository)."""
    if not given.is_dir():
        raise SystemExit(f"{given}: Omniglot not found (--omniglot or SIAM_OMNIGLOT)")
    zips = sorted(given.glob("images_*.zip"))
    if not zips:
        return given
    for z in zips:
        with zipfile.ZipFile(z) as f:
            f.extractall(tmp)
    return tmp


def sized(cfg: Config, images: int, classes: int, epochs: int) -> Config:
    """P = every class up to 128, epochs × iterations to see ``images`` images."""
    p = min(128, classes)
    per_step = p * cfg.train.samples_per_class
    iterations = max(1, math.ceil(images / (epochs * per_step)))
    return cfg.replace({"train": {"classes_per_batch": p, "epochs": epochs,
                                  "iterations": iterations, "eval_max": 0,
                                  "threads": cfg.train.threads}})


def overrides(d: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in d.items()]


def score(emb_gallery: torch.Tensor, gallery_labels: torch.Tensor, classes: int,
          emb_query: torch.Tensor, query_labels: torch.Tensor,
          subset: list[int] | None = None) -> dict[str, float]:
    """Nearest-class-center top-1 / top-5 (centers of the gallery), optionally choosing among
    ``subset`` of the classes only."""
    centers, _ = class_centers(emb_gallery, gallery_labels, classes)
    if subset is not None:
        keep = torch.tensor(subset)
        _, idx = nearest_centers(emb_query, centers[keep], k=5)
        idx = keep[idx]
    else:
        _, idx = nearest_centers(emb_query, centers, k=5)
    truth = query_labels.unsqueeze(1)
    return {"top1": float((idx[:, :1] == truth).any(1).float().mean()),
            "top5": float((idx == truth).any(1).float().mean()),
            "pred": idx[:, 0].tolist()}


def mapping_check(pred: list[int], labels: torch.Tensor, classes: list[str]) -> dict[str, Any]:
    """Per drawn character, its most frequent prediction: the mapping is right where it is the
    character itself (a diagonal-heavy confusion matrix)."""
    counts: dict[int, dict[int, int]] = {}
    for p, t in zip(pred, labels.tolist(), strict=True):
        counts.setdefault(t, {}).setdefault(p, 0)
        counts[t][p] += 1
    off = {classes[t]: classes[max(c, key=c.get)] for t, c in counts.items()
           if max(c, key=c.get) != t}
    return {"agree": len(counts) - len(off), "of": len(counts), "disagree": off}


def siamese_run(project: Project, cfg: Config, run_dir: Path, queries: dict[str, GlyphSet],
                subset_names: list[str] | None = None) -> dict[str, Any]:
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.train.trainer import Trainer

    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    trainer = Trainer(project, config=cfg, run_dir=run_dir)
    final = trainer.run()
    if type(final).__name__ != "RunFinished":
        raise SystemExit(f"{run_dir.name}: {getattr(final, 'message', final)}")
    wall = time.perf_counter() - t0
    run = load_run(run_dir, which="last")
    train = load_glyphs(project.dataset_paths()["train"]).aligned_to(run.classes)[0]
    g = run.embed(train.images)
    out: dict[str, Any] = {"images": trainer.images_seen, "wall_seconds": round(wall, 1)}
    for name, q in queries.items():
        q = q.aligned_to(run.classes)[0]
        e = run.embed(q.images)
        res = score(g, train.labels, len(run.classes), e, q.labels)
        if subset_names is not None and name == "drawings":
            sub = [run.classes.index(c) for c in subset_names]
            r47 = score(g, train.labels, len(run.classes), e, q.labels, sub)
            res["top1_47"], res["top5_47"] = r47["top1"], r47["top5"]
            res["mapping_check"] = mapping_check(res["pred"], q.labels, run.classes)
        res.pop("pred")
        out[name] = res
    out["config"] = cfg.to_dict()
    return out


def softmax_run(train: GlyphSet, cfg: Config, images: int,
                queries: dict[str, GlyphSet]) -> dict[str, Any]:
    from siam_workbench.train.softmax import train_softmax

    t0 = time.perf_counter()
    aligned = {k: v.aligned_to(train.classes)[0] for k, v in queries.items()}
    res = train_softmax(train, cfg, images, evaluate=aligned)
    return {"images": res.images, "wall_seconds": round(time.perf_counter() - t0, 1),
            **{k: {"top1": v["center_top1"], "top5": v["center_top5"],
                   "argmax_top1": v["argmax_top1"]} for k, v in res.final.items()}}


def pixel_run(train: GlyphSet, queries: dict[str, GlyphSet],
              subset_names: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, q in queries.items():
        out[k] = pixel_nn(train, q)
        if subset_names is not None and k == "drawings":
            keep = torch.tensor([train.classes[int(lab)] in subset_names
                                 for lab in train.labels])
            sub = GlyphSet(images=train.images[keep], labels=train.labels[keep],
                           sources=train.sources[keep], classes=train.classes,
                           source_names=train.source_names, rows=train.rows[keep.numpy()])
            out[k]["top1_47"] = pixel_nn(sub, q)["top1"]
    return out


class Store:
    """``<out>/<part>/<name>-s<seed>.json``, skipped when present (an interrupted run resumes)."""

    def __init__(self, folder: Path, common: dict[str, Any], fresh: bool) -> None:
        self.folder, self.common, self.fresh = folder, common, fresh

    def once(self, name: str, fn: Any) -> dict[str, Any]:
        path = self.folder / f"{name}.json"
        if path.exists() and not self.fresh:
            return json.loads(path.read_text())
        print(f"[{time.strftime('%H:%M:%S')}] {name} …", file=sys.stderr, flush=True)
        rec = {"name": name, **self.common, **fn(),
               "load_end": [round(x, 2) for x in os.getloadavg()]}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=1, default=float) + "\n")
        tmp.replace(path)
        return rec


def katakana_part(args: argparse.Namespace, root: Path, out: Path) -> dict[str, Any]:
    data_over = overrides(json.loads(args.data)) if args.data else []
    tag = args.tag or "default"
    folder = out / "projects" / f"katakana-{tag}"
    if not (folder / "project.toml").exists():
        cfg = Config().with_overrides(data_over).replace({"data": {"alphabet": "katakana"}})
        create_project(folder, cfg, name=f"katakana-{tag}")
    project = load_project(folder)
    if not all(p.exists() for p in project.dataset_paths().values()):
        from siam_workbench.data.render_splits import render_splits

        render_splits(project, force=True)
    d = project.config.data
    mapping = read_mapping("katakana")
    drawings = load_drawings(root, [KATAKANA], size=d.image_size, margin=d.margin,
                             mode=d.size_mode, mapping=mapping)
    train = load_glyphs(project.dataset_paths()["train"])
    queries = {"drawings": drawings, "val": load_glyphs(project.dataset_paths()["val"])}
    subset = list(mapping.values())
    base = sized(project.config.with_overrides(overrides(RECIPE)), args.images,
                 train.num_classes, args.epochs)
    store = Store(out / f"katakana-{tag}", {"budget_images": args.images,
                                            "train_faces": len(train.source_names),
                                            "machine": machine()}, args.smoke)
    result: dict[str, Any] = {"project": str(folder), "faces": len(train.source_names),
                              "size_mode": d.size_mode, "runs": {}}
    if not args.no_baselines:
        result["runs"]["pixel-1nn"] = store.once("pixel-1nn", lambda: pixel_run(
            train, queries, subset))
    for seed in args.seed_list:
        if not args.no_baselines:
            cfg = base.replace({"train": {"seed": seed}})
            result["runs"][f"softmax-s{seed}"] = store.once(
                f"softmax-s{seed}", lambda c=cfg: softmax_run(train, c, args.images, queries))
        for v in args.variant_list:
            cfg = base.with_overrides(overrides(VARIANTS[v])).replace({"train": {"seed": seed}})
            name = f"{v}-s{seed}"
            result["runs"][name] = store.once(name, lambda c=cfg, n=name: siamese_run(
                project, c, out / "runs" / f"katakana-{tag}" / n, queries, subset))
    return result


def omniglot_part(args: argparse.Namespace, root: Path, out: Path) -> dict[str, Any]:
    """The paper's protocol: train drawers 1–12, validation 13–16, test 17–20."""
    from siam_workbench.data.glyphs import GlyphWriter

    folder = out / "projects" / "omniglot5"
    cfg0 = Config()
    size, margin = cfg0.data.image_size, cfg0.data.margin
    sets = {k: load_drawings(root, FIVE, size=size, margin=margin, mode="fit", drawers=v)
            for k, v in SPLIT.items()}
    if not (folder / "project.toml").exists():
        data = folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        for k, gs in sets.items():
            with GlyphWriter(data / f"{k}.h5", gs.classes, gs.source_names, size,
                             alphabet="omniglot5", force=True,
                             render={"size_mode": "fit", "margin": margin}) as w:
                w.append(gs.images.numpy(), gs.labels.numpy(), gs.sources.numpy())
        # Real drawings already vary: the test distortion applies to rendered test files only.
        (data / "classes.txt").write_text("\n".join(sets["train"].classes) + "\n",
                                          encoding="utf-8")
        create_project(folder, cfg0.replace({"data": {"alphabet": "data/classes.txt"}}),
                       name="omniglot5")
    project = load_project(folder)
    train = sets["train"]
    queries = {"test": sets["test"], "val": sets["val"]}
    base = sized(project.config.with_overrides(overrides(RECIPE)), args.images,
                 train.num_classes, args.epochs)
    store = Store(out / "omniglot5", {"budget_images": args.images, "machine": machine(),
                                      "split": {k: sorted(v) for k, v in SPLIT.items()}},
                  args.smoke)
    result: dict[str, Any] = {"project": str(folder), "classes": train.num_classes,
                              "images": {k: len(v) for k, v in sets.items()}, "runs": {}}
    if not args.no_baselines:
        result["runs"]["pixel-1nn"] = store.once("pixel-1nn", lambda: pixel_run(train,
                                                                                 queries))
    for seed in args.seed_list:
        if not args.no_baselines:
            cfg = base.replace({"train": {"seed": seed}})
            result["runs"][f"softmax-s{seed}"] = store.once(
                f"softmax-s{seed}", lambda c=cfg: softmax_run(train, c, args.images, queries))
        for v in args.variant_list:
            cfg = base.with_overrides(overrides(VARIANTS[v])).replace({"train": {"seed": seed}})
            name = f"{v}-s{seed}"
            result["runs"][name] = store.once(name, lambda c=cfg, n=name: siamese_run(
                project, c, out / "runs" / "omniglot5" / n, queries))
    return result


def _pct(v: Any) -> str:
    return f"{100 * v:.1f}" if isinstance(v, (int, float)) else "–"


def report(out: Path) -> str:
    """A markdown table per part from the stored runs (docs/RESULTS.md quotes them)."""
    lines: list[str] = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and p.name not in
                         ("projects", "runs")):
        recs = [json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))]
        if not recs:
            continue
        kata = folder.name.startswith("katakana")
        q, other = ("drawings", "val") if kata else ("test", "val")
        lines += ["", f"**{folder.name}** (budget {recs[0].get('budget_images', 0):,} images"
                  + (f", {recs[0]['train_faces']} training faces" if kata else "") + ")", ""]
        head = (f"| run | {q} top-1 | {q} top-5 |" + (" top-1 of the 47 | mapping |" if kata
                                                       else "") + f" {other} top-1 | wall s |")
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for r in recs:
            d, v = r.get(q, {}), r.get(other, {})
            m = d.get("mapping_check")
            row = f"| {r['name']} | {_pct(d.get('top1'))} | {_pct(d.get('top5'))} |"
            if kata:
                row += (f" {_pct(d.get('top1_47'))} | "
                        + (f"{m['agree']}/{m['of']}" if m else "–") + " |")
            lines.append(row + f" {_pct(v.get('top1'))} | {r.get('wall_seconds', '–')} |")
    return "\n".join(lines).strip() + "\n"


def smoke_standin(tmp: Path, project: Path) -> Path:
    """The smoke run's data (module docstring): writes ``project`` (project.toml and its
    train / val / test files) and returns the Omniglot-layout root."""
    import numpy as np

    sys.path.insert(0, str(ROOT))  # benchmarks._synth
    from benchmarks._synth import draw_strokes, stroke_classes, write_omniglot_like
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.data.glyphs import GlyphWriter

    kana = list(resolve_alphabet("katakana").classes)
    strokes = stroke_classes(len(kana))
    rng = np.random.default_rng(0)
    (project / "data").mkdir(parents=True)
    for split, faces, first in (("train", 3, 0), ("val", 1, 3), ("test", 1, 4)):
        images, labels, sources = [], [], []
        for f in range(faces):
            shift = (float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.05, 0.05)))
            for c, cls in enumerate(strokes):
                images.append(draw_strokes(cls, 37, shift, int(rng.integers(2, 4))))
                labels.append(c)
                sources.append(f)
        with GlyphWriter(project / "data" / f"{split}.h5", kana,
                         [f"synth{first + i}.ttf#0" for i in range(faces)], 37,
                         alphabet="katakana") as w:
            w.append(np.stack(images), np.array(labels), np.array(sources))
    (project / "project.toml").write_text(
        '[project]\nname = "katakana smoke"\n\n[data]\nalphabet = "katakana"\n',
        encoding="utf-8")
    root = tmp / "omniglot-standin"
    drawers = [1, 2, 13, 17]  # the katakana part uses all; the protocol needs one per role
    table = read_mapping("katakana")
    folders = sorted(k for k in table if k.startswith(f"{KATAKANA}/"))
    write_omniglot_like(root / KATAKANA, strokes[[kana.index(table[k]) for k in folders]],
                        drawers)
    for i, alphabet in enumerate(a for a in FIVE if a != KATAKANA):
        write_omniglot_like(root / alphabet, stroke_classes(3, seed=10 + i), drawers)
    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("katakana", "omniglot", "both"), default="both")
    ap.add_argument("--images", type=int, default=150_000, help="budget per run, in images")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default="base", help=f"from: {', '.join(VARIANTS)}")
    ap.add_argument("--data", default="", help='JSON of data overrides for the katakana '
                    'project, e.g. \'{"data.min_coverage": 0.9}\'')
    ap.add_argument("--tag", default="", help="name of the katakana project variant")
    ap.add_argument("--omniglot", type=Path, default=OMNIGLOT,
                    help="Omniglot folder: the zips or the unzipped images")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-baselines", action="store_true", help="the variants only")
    ap.add_argument("--baselines-only", action="store_true", help="pixel 1-NN and softmax only")
    ap.add_argument("--smoke", action="store_true", help="tiny budget, fresh temp folder")
    ap.add_argument("--report", action="store_true", help="print the tables, train nothing")
    args = ap.parse_args(argv)
    if args.report:
        print(report(args.out))
        return 0
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.variant_list = ([] if args.baselines_only else
                         [v.strip() for v in args.variants.split(",") if v.strip()])
    for v in args.variant_list:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v!r}")
    with tempfile.TemporaryDirectory(prefix="siam-hw-") as tmp:
        out = args.out
        if args.smoke:
            args.images, args.epochs, out = 2_000, 1, Path(tmp) / "out"
            args.seed_list, args.data = args.seed_list[:1], ""
            root = smoke_standin(Path(tmp), out / "projects" / f"katakana-{args.tag or 'default'}")
        else:
            root = omniglot_root(args.omniglot, Path(tmp) / "omniglot")
        result: dict[str, Any] = {"budget_images": args.images, "epochs": args.epochs}
        if args.part in ("katakana", "both"):
            result["katakana"] = katakana_part(args, root, out)
        if args.part in ("omniglot", "both"):
            result["omniglot"] = omniglot_part(args, root, out)
    print(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

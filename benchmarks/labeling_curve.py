"""Learning curve of model-assisted labeling: held-out top-1 on real handwriting against the
number of labelled samples, without fine-tuning (the labels become class centers: enrolment)
and with it (``siam train --finetune RUN --with labelled.h5``), beside pixel 1-NN and a
softmax classifier at the same budget.

Setting (declared): Omniglot Japanese_(katakana), 47 classes mapped to Unicode by
``resources/omniglot/katakana.tsv``; drawers 01–10 are the *labelled pool*,
drawers 11–20
the *held-out* drawers (470 images, never labelled, never trained on). A run trained on fonts
only (alphabet ``katakana``) proposes; for k = 1, 2, … labelled drawings per class (drawers
drawn from the pool, seeded) the labels go through the real labeling path (LabelSession →
journal → labelled.h5). Top-1 is among the 47 Omniglot classes.

    PYTHONPATH=src python benchmarks/labeling_curve.py --project P --run P/runs/R \\
        --omniglot /tmp/x/images_background_small2/Japanese_\\(katakana\\) --shots 0 1 2 5

prints one JSON object; ``--plot FILE.png`` also draws the curve (matplotlib).

    PYTHONPATH=src python benchmarks/labeling_curve.py --smoke   # make test; needs no data

``--smoke`` runs every column (enrolment, mixed centers, fine-tune, pixel 1-NN, softmax, the
plot where matplotlib is installed) on a tiny stand-in built here: a 10-class katakana project
of synthetic stroke glyphs trained for 2 steps, and an Omniglot-layout folder of the same
strokes drawn by 4 synthetic drawers (2 in the pool, 2 held out) for 8 of the classes, named by
a table written beside it. Its figures say only that the code runs.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks._synth (the smoke run's stand-in data)
sys.path.insert(0, str(REPO / "src"))

from siam_workbench.data.baselines import pixel_nn  # noqa: E402
from siam_workbench.data.glyphs import GlyphSet, load_glyphs  # noqa: E402
from siam_workbench.infer.evaluate import load_run  # noqa: E402
from siam_workbench.infer.labeling import LabelSession, frame  # noqa: E402
from siam_workbench.parts.centers import CenterIndex, class_centers  # noqa: E402
from siam_workbench.project.project import load_project  # noqa: E402

POOL = range(1, 11)
HELD_OUT = range(11, 21)
_DRAWER = re.compile(r"_(\d+)\.png$")


def read_map(path: Path) -> dict[str, str]:
    """``{character folder: kana}`` from the shipped Omniglot table
    (siam_workbench.data.omniglot)."""
    from siam_workbench.data.omniglot import read_mapping

    return {k.split("/")[-1]: v for k, v in read_mapping(path).items()}


def drawings(root: Path, mapping: dict[str, str]) -> list[tuple[Path, str, int]]:
    """(file, kana, drawer) for every drawing of the alphabet."""
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(folder.glob("*.png")):
            m = _DRAWER.search(f.name)
            if m:
                out.append((f, mapping[folder.name], int(m.group(1))))
    return out


def embed_images(run, images: np.ndarray) -> torch.Tensor:
    return run.embed(torch.from_numpy(images))


def top1(emb: torch.Tensor, centers: torch.Tensor, truth: np.ndarray) -> float:
    _, idx = CenterIndex(centers).search(emb, k=1)
    return float((idx[:, 0].numpy() == truth).mean())


def run_centers(run, classes: list[str]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(run.classes)}
    return run.centers[[index[c] for c in classes]]


def enrolled_centers(run, images: np.ndarray, labels: np.ndarray, n: int) -> torch.Tensor:
    centers, _ = class_centers(embed_images(run, images), torch.from_numpy(labels), n)
    return centers


def mixed_centers(run, project, labelled: Path, classes: list[str]) -> torch.Tensor:
    """Centers of the fonts + the labels, weighted exactly as a fine-tune's training set
    (siam_workbench.train.finetune.merge_labelled), in the font run's space: no training."""
    from siam_workbench.train.finetune import merge_labelled

    merged, _ = merge_labelled(load_glyphs(project.dataset_paths()["train"]), [labelled])
    centers, _ = class_centers(embed_images(run, merged.images.numpy()), merged.labels,
                               merged.num_classes)
    return centers[[merged.classes.index(c) for c in classes]]


def glyphset(images: np.ndarray, labels: np.ndarray, classes: list[str]) -> GlyphSet:
    return GlyphSet(images=torch.from_numpy(images), labels=torch.from_numpy(labels).long(),
                    sources=torch.zeros(len(labels), dtype=torch.int64), classes=classes,
                    source_names=["omniglot"], rows=np.arange(len(labels)))


def label_pool(folder: Path, out: Path, picks: list[tuple[Path, str, int]], framing) -> Path:
    """Label the picked drawings through a real session (journal + glyph file)."""
    session = LabelSession(folder, out, None, framing=framing)
    for path, kana, _ in picks:
        session.label(path, kana, how="benchmark")
    session.write_glyphs()
    return out


def finetune(project, run_dir: Path, labelled: Path, name: str, epochs: int) -> Path:
    from siam_workbench.train.finetune import FinetuneTrainer, finetune_config

    config = finetune_config(run_dir, [f"train.epochs={epochs}", "train.device=cpu"])
    target = project.runs_dir / name
    if target.exists():
        shutil.rmtree(target)
    tr = FinetuneTrainer(project, run_dir, [labelled], config=config, run_dir=target)
    final = tr.run()
    if type(final).__name__ != "RunFinished":
        raise SystemExit(f"fine-tune failed: {getattr(final, 'message', final)}")
    return target


def softmax_top1(run, font_train: GlyphSet, extra: GlyphSet | None, held: GlyphSet,
                 images: int) -> dict[str, float]:
    """The backbone as a plain classifier on the same images (fonts + labels), same budget."""
    from siam_workbench.train.softmax import train_softmax

    config = load_project(run.run_dir / "config.toml").config
    train = font_train
    if extra is not None:
        train = GlyphSet(images=torch.cat([font_train.images, extra.images]),
                         labels=torch.cat([font_train.labels, extra.labels]),
                         sources=torch.cat([font_train.sources, extra.sources]),
                         classes=font_train.classes, source_names=font_train.source_names,
                         rows=np.arange(len(font_train) + len(extra)))
    res = train_softmax(train, config, images, evaluate={"held": held}, device="cpu")
    f = res.final["held"]
    return {"argmax_top1": f["argmax_top1"], "center_top1": f["center_top1"]}


def images_budget(run, finetune_epochs: int) -> int:
    """Images the font run saw plus what a fine-tune adds (the softmax gets as many)."""
    from siam_workbench.model.checkpoint import load_checkpoint

    state = load_checkpoint(Path(run.meta["checkpoint"]), map_location="cpu")
    t = load_project(run.run_dir / "config.toml").config.train
    step = (t.classes_per_batch * t.samples_per_class if t.batch_mode == "pk"
            else 3 * t.triplets)
    return int(state.get("images_seen", 0)) + finetune_epochs * t.iterations * step


SMOKE_TOML = """
[project]
name = "labeling smoke"

[data]
alphabet = "katakana"

[train]
epochs = 1
iterations = 2
classes_per_batch = 8
samples_per_class = 4
lr = 0.003
device = "cpu"
"""


def _smoke_fonts(path: Path, classes: list[str], strokes: np.ndarray, faces: int,
                 first: int, rng: np.random.Generator) -> None:
    """A glyph file of the classes' strokes, each synthetic face shifting and thickening them."""
    from benchmarks._synth import draw_strokes
    from siam_workbench.data.glyphs import GlyphWriter

    images, labels, sources = [], [], []
    for f in range(faces):
        shift = (float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.05, 0.05)))
        width = int(rng.integers(2, 4))
        for c, cls in enumerate(strokes):
            images.append(draw_strokes(cls, 37, shift, width))
            labels.append(c)
            sources.append(f)
    with GlyphWriter(path, classes, [f"synth{first + i}.ttf#0" for i in range(faces)], 37,
                     alphabet="katakana") as w:
        w.append(np.stack(images), np.array(labels), np.array(sources))


def smoke() -> int:
    """Build the stand-in (module docstring), train it with ``siam train``, run :func:`main` on
    it with every column and print its JSON object, marked ``"smoke": true``."""
    import contextlib
    import io
    import os
    import subprocess

    from benchmarks._synth import stroke_classes, write_omniglot_like
    from siam_workbench.data.alphabets import resolve_alphabet

    kana = list(resolve_alphabet("katakana").classes)[:10]
    strokes = stroke_classes(len(kana))
    rng = np.random.default_rng(0)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="labeling-smoke-") as tmp:
        root = Path(tmp) / "project"
        (root / "data").mkdir(parents=True)
        _smoke_fonts(root / "data" / "train.h5", kana, strokes, 4, 0, rng)
        _smoke_fonts(root / "data" / "val.h5", kana, strokes, 2, 10, rng)
        (root / "project.toml").write_text(SMOKE_TOML, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "siam_workbench.cli", "train", str(root)],
                       check=True, capture_output=True, text=True, timeout=600, env=env)
        run = next(p.parent for p in sorted(root.glob("runs/*/config.toml")))
        table = Path(tmp) / "katakana-smoke.tsv"
        table.write_text("".join(f"Japanese_(katakana)/character{c:02d}\t{k}\n"
                                 for c, k in enumerate(kana[:8], 1)), encoding="utf-8")
        omniglot = write_omniglot_like(Path(tmp) / "omniglot" / "Japanese_(katakana)",
                                       strokes[:8], [POOL[0], POOL[1], HELD_OUT[0], HELD_OUT[1]])
        argv = ["--project", str(root), "--run", str(run), "--omniglot", str(omniglot),
                "--map", str(table), "--shots", "0", "1", "--finetune-epochs", "1",
                "--softmax"]
        try:
            import matplotlib  # noqa: F401
            argv += ["--plot", str(Path(tmp) / "curve.png")]
        except ImportError:
            print("labeling_curve --smoke: matplotlib is not installed, no plot",
                  file=sys.stderr)
        with contextlib.redirect_stdout(out):
            main(argv)
        plotted = (Path(tmp) / "curve.png").exists()
    result = json.loads(out.getvalue())
    print(json.dumps({**result, "smoke": True, "plotted": plotted}, ensure_ascii=False,
                     indent=1))
    return 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--project", type=Path, required=True)
    ap.add_argument("--run", type=Path, required=True, help="the font-trained run")
    ap.add_argument("--omniglot", type=Path, required=True,
                    help="unzipped Japanese_(katakana) folder")
    ap.add_argument("--map", type=Path,
                    default=REPO / "resources/omniglot/katakana.tsv")
    ap.add_argument("--shots", type=int, nargs="+", default=[0, 1, 2, 5])
    ap.add_argument("--finetune-epochs", type=int, default=2)
    ap.add_argument("--softmax", action="store_true",
                    help="also train the softmax baseline (at the last shot count)")
    ap.add_argument("--no-finetune", action="store_true",
                    help="only the columns that need no training (enrolment, mixed centers)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t_start = time.perf_counter()

    project = load_project(args.project)
    run = load_run(args.run)
    framing = run.preprocess.to_dict()
    mapping = read_map(args.map)
    classes = sorted(set(mapping.values()), key=lambda c: run.classes.index(c))
    cidx = {c: i for i, c in enumerate(classes)}
    allx = drawings(args.omniglot, mapping)
    held = [d for d in allx if d[2] in HELD_OUT]
    pool = [d for d in allx if d[2] in POOL]
    held_img = np.stack([frame(p, framing) for p, _, _ in held])
    held_lab = np.array([cidx[k] for _, k, _ in held])
    held_set = glyphset(held_img, held_lab, classes)
    font_train, _ = load_glyphs(project.dataset_paths()["train"]).aligned_to(classes)

    rng = np.random.default_rng(args.seed)
    by_class: dict[str, list] = {c: [d for d in pool if d[1] == c] for c in classes}
    order = {c: [by_class[c][i] for i in rng.permutation(len(by_class[c]))] for c in classes}
    budget = None
    rows = []
    font_emb = embed_images(run, held_img)
    work = Path(tempfile.mkdtemp(prefix="labeling-curve-"))
    try:
        for k in args.shots:
            row: dict[str, object] = {"shots": k, "labelled": k * len(classes)}
            row["font_centers_top1"] = top1(font_emb, run_centers(run, classes), held_lab)
            picks = [d for c in classes for d in order[c][:k]]
            ref = font_train
            labelled_set = None
            if k > 0:
                out = label_pool(args.omniglot, work / f"labelled-{k}.h5", picks, framing)
                lab = load_glyphs(out)
                lab_classes_idx = np.array([cidx[lab.classes[i]] for i in lab.labels.tolist()])
                lab_img = lab.images.numpy()
                labelled_set = glyphset(lab_img, lab_classes_idx, classes)
                row["enrol_top1"] = top1(font_emb, enrolled_centers(
                    run, lab_img, lab_classes_idx, len(classes)), held_lab)
                row["mixed_top1"] = top1(font_emb, mixed_centers(run, project, out, classes),
                                         held_lab)
                if args.no_finetune:
                    rows.append(row)
                    print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
                    continue
                ft_dir = finetune(project, args.run, out, f"labeling-curve-ft{k}",
                                  args.finetune_epochs)
                ft = load_run(ft_dir)
                ft_emb = embed_images(ft, held_img)
                row["finetune_top1"] = top1(ft_emb, run_centers(ft, classes), held_lab)
                row["finetune_enrol_top1"] = top1(ft_emb, enrolled_centers(
                    ft, lab_img, lab_classes_idx, len(classes)), held_lab)
                ref = glyphset(np.concatenate([font_train.images.numpy(), lab_img]),
                               np.concatenate([font_train.labels.numpy(), lab_classes_idx]),
                               classes)
                row["pixel_labelled_top1"] = pixel_nn(labelled_set, held_set)["top1"]
            row["pixel_top1"] = pixel_nn(ref, held_set)["top1"]
            if args.softmax and k == args.shots[-1]:
                if budget is None:
                    budget = images_budget(run, args.finetune_epochs)
                row["softmax"] = softmax_top1(run, font_train, labelled_set, held_set, budget)
                row["softmax_images"] = budget
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"benchmark": "labeling_curve", "alphabet": "Omniglot Japanese_(katakana)",
              "classes": len(classes), "pool_drawers": [POOL.start, POOL.stop - 1],
              "held_out_drawers": [HELD_OUT.start, HELD_OUT.stop - 1],
              "held_out_images": len(held), "run": str(args.run),
              "finetune_epochs": args.finetune_epochs, "seed": args.seed, "framing": framing,
              "seconds": round(time.perf_counter() - t_start, 1), "rows": rows}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.plot:
        plot(result, args.plot)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    x = [r["labelled"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)

    def line(key: str, label: str, style: str) -> None:
        pts = [(r["labelled"], r[key]) for r in rows if key in r]
        if pts:
            ax.plot(*zip(*pts), style, label=label)

    line("enrol_top1", "no fine-tune: centers from the labels", "o-")
    line("mixed_top1", "no fine-tune: centers from fonts + labels", "o--")
    line("finetune_enrol_top1", "fine-tuned: centers from the labels", "s-")
    line("finetune_top1", "fine-tuned: run's centers (fonts + labels)", "^--")
    line("pixel_top1", "pixel 1-NN (fonts + labels)", "x:")
    ax.axhline(rows[0]["font_centers_top1"], color="grey", lw=0.8,
               label="font-trained run, font centers (0 labels)")
    sm = [(r["labelled"], r["softmax"]["center_top1"]) for r in rows if "softmax" in r]
    if sm:
        ax.plot(*zip(*sm), "d", color="black", label="softmax, same budget (center)")
    ax.set_xlabel("labelled real drawings (47 classes × k)")
    ax.set_ylabel("held-out top-1 (drawers 11–20)")
    ax.set_xticks(x)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Omniglot katakana: learning from what was labelled", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(smoke() if sys.argv[1:] == ["--smoke"] else main())

"""Table, paired miner comparison and accuracy-vs-images figure of a quality benchmark folder
(benchmarks/quality.py writes the per-run JSON files this reads)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

LABELS = {
    "pixel-1nn": "pixel 1-NN (no training)",
    "softmax": "softmax classifier, same backbone",
    "default": "**project default**",
    "metric-random": "metric loss (paper's α, ρ, τ, ξ), random",
    "metric-ap": "metric loss (paper's α, ρ, τ, ξ), AP",
    "metric-ac": "metric loss (paper's α, ρ, τ, ξ), AC",
    "metric-apac": "metric loss (paper's α, ρ, τ, ξ), AP+AC",
    "metric-tuned-apac": "metric loss (α = 1, ξ = 0.1, semi-hard), AP+AC",
    "triplet": "triplet loss, random",
    "contrastive": "contrastive loss, random",
    "paper-step": "paper's step (independent triplets), AP+AC",
    "pml-semihard": "PML semi-hard loop, same images",
    "pml-semihard-equal-wall": "PML semi-hard loop, same wall time",
}
PAIRS = (("metric-apac", "metric-ac"), ("metric-ac", "metric-ap"), ("metric-ap", "metric-random"),
         ("metric-apac", "metric-random"))


def load(folder: Path) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in sorted(folder.glob("*.json")):
        rec = json.loads(f.read_text())
        runs[rec["name"]].append(rec)
    for recs in runs.values():
        recs.sort(key=lambda r: r["seed"])
    return runs


def _ms(values: list[float]) -> str:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "–"
    mean = sum(vals) / len(vals)
    if len(vals) == 1:
        return f"{100 * mean:.1f}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return f"{100 * mean:.1f} ± {100 * sd:.1f}"


def _get(rec: dict[str, Any], split: str, key: str = "top1") -> float | None:
    v = rec.get("final", {}).get(split)
    return None if not isinstance(v, dict) else v.get(key)


def table(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = ["| model | seeds | val top-1 % | test top-1 % | val top-5 % | test top-5 % | "
             "images | train s |", "|---|---|---|---|---|---|---|---|"]
    order = [n for n in LABELS if n in runs] + [n for n in runs if n not in LABELS]
    for name in order:
        recs = runs[name]
        row = [LABELS.get(name, name), str(len(recs))]
        for split, key in (("val", "top1"), ("test", "top1"), ("val", "top5"), ("test", "top5")):
            row.append(_ms([_get(r, split, key) for r in recs]))
        imgs = recs[0].get("images")
        row.append(f"{imgs:,}" if imgs else "–")
        secs = [r.get("train_seconds") for r in recs if r.get("train_seconds")]
        row.append(f"{sum(secs) / len(secs):.0f}" if secs else "–")
        lines.append("| " + " | ".join(row) + " |")
        if name == "softmax":
            arg = [_ms([r["final"][s].get("argmax_top1") for r in recs]) for s in ("val", "test")]
            lines.append(f"| softmax classifier, argmax | {len(recs)} | {arg[0]} | {arg[1]} | "
                         "| | | |")
    return lines


def paired(runs: dict[str, list[dict[str, Any]]], split: str) -> list[str]:
    out = []
    for a, b in PAIRS:
        if a not in runs or b not in runs:
            continue
        by_seed = {r["seed"]: _get(r, split) for r in runs[b]}
        diffs = [_get(r, split) - by_seed[r["seed"]] for r in runs[a]
                 if r["seed"] in by_seed and _get(r, split) is not None
                 and by_seed[r["seed"]] is not None]
        if not diffs:
            continue
        n = len(diffs)
        mean = sum(diffs) / n
        wins = sum(d > 0 for d in diffs)
        text = f"{LABELS[a]} − {LABELS[b]}: {100 * mean:+.1f} points ({wins}/{n} seeds ahead"
        if n > 1:
            sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
            p = _paired_p(mean, sd, n)
            text += f", sd {100 * sd:.1f}, paired t-test p = {p:.2g}" if p is not None else ""
        out.append(f"- {text})")
    return out


def _paired_p(mean: float, sd: float, n: int) -> float | None:
    if sd == 0:
        return 0.0 if mean != 0 else 1.0
    try:
        from scipy import stats
    except ImportError:
        return None
    t = mean / (sd / math.sqrt(n))
    return float(2 * stats.t.sf(abs(t), n - 1))


def figure(runs: dict[str, list[dict[str, Any]]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    colors = plt.get_cmap("tab10")
    curves = [n for n in LABELS if n in runs and n != "pixel-1nn" and runs[n][0].get("curve")]
    for ax, split in zip(axes, ("val", "test")):
        for i, name in enumerate(curves):
            pts: dict[int, list[float]] = defaultdict(list)
            for rec in runs[name]:
                for p in rec["curve"]:
                    v = p.get(split, {}).get("top1") if isinstance(p.get(split), dict) else None
                    if v is not None:
                        pts[int(p["images"])].append(v)
            if not pts:
                continue
            xs = sorted(pts)
            ys = [100 * sum(pts[x]) / len(pts[x]) for x in xs]
            ax.plot(xs, ys, marker="o", ms=3, color=colors(i % 10),
                    lw=2.4 if name == "default" else 1.4,
                    label=LABELS[name].replace("*", ""))
        if "pixel-1nn" in runs:
            v = _get(runs["pixel-1nn"][0], split)
            ax.axhline(100 * v, color="k", ls="--", lw=1, label="pixel 1-NN")
        ax.set_title({"val": "clean unseen faces (val)", "test": "distorted unseen faces (test)"}
                     [split])
        ax.set_xlabel("images through the network")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("nearest-center top-1, %")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _glyph_font() -> Any:
    """A font with Hangul for the snapshot labels (any of the Korean packages), else default."""
    import subprocess

    from matplotlib.font_manager import FontProperties

    try:
        path = subprocess.run(["fc-match", "-f", "%{file}", "NanumGothic:lang=ko"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        path = ""
    return FontProperties(fname=path, size=15) if path else FontProperties(size=15)


def snapshot_figure(runs: dict[str, list[dict[str, Any]]], path: Path) -> str | None:
    """The classes the auto-probabilistic miner put first, at a few epochs, as glyphs with
    their probability relative to uniform (p·C)."""
    name = next((n for n in ("metric-apac", "metric-ap", "default") if n in runs
                 and runs[n][0].get("priorities")), None)
    if name is None:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    snaps = runs[name][0]["priorities"]
    picks = sorted({0, len(snaps) // 2, len(snaps) - 1})
    cols = 12
    font = _glyph_font()
    fig, axes = plt.subplots(len(picks), 1, figsize=(12, 1.3 * len(picks)))
    for ax, i in zip(list(axes) if len(picks) > 1 else [axes], picks):
        snap = snaps[i]
        ax.set_xlim(0, cols)
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.text(-0.1, 0.5, f"after epoch {snap['epoch'] + 1}\ntop 10 %: "
                f"{100 * snap['top10pct_mass']:.0f} % of p", ha="right", va="center",
                fontsize=8)
        for j, item in enumerate(snap["top"][:cols]):
            ax.text(j + 0.5, 0.62, item["class"], ha="center", va="center",
                    fontproperties=font)
            ax.text(j + 0.5, 0.12, f"{item['p'] * snap['classes']:.1f}×", ha="center",
                    fontsize=7)
    fig.suptitle(f"{LABELS.get(name, name).replace('*', '')}, seed {runs[name][0]['seed']}: "
                 "most prioritised classes (p relative to uniform)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return name


def report(folder: Path) -> str:
    runs = load(folder)
    if not runs:
        return f"no results in {folder}"
    first = next(iter(runs.values()))[0]
    m = first.get("machine", {})
    lines = [f"### {first['dataset']}, {first['budget_images']:,} images per run", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, torch {m.get('torch')}, "
             f"CUDA: {m.get('cuda') or 'none'}.", ""]
    lines += table(runs)
    for split in ("val", "test"):
        p = paired(runs, split)
        if p:
            lines += ["", f"Paired by seed, {split} top-1:", *p]
    png = folder / "curves.png"
    if figure(runs, png):
        lines += ["", f"![accuracy vs images]({png.relative_to(folder.parents[2])})"]
    snap = folder / "ap_snapshots.png"
    if snapshot_figure(runs, snap):
        lines += ["", f"![AP snapshots]({snap.relative_to(folder.parents[2])})"]
    return "\n".join(lines)


def _smoke_records(folder: Path) -> None:
    """Per-run JSON files in the shape quality.py writes (two miners × two seeds, a pixel
    1-NN row, AP snapshots), so the report's table, paired test and figures all run."""
    import random

    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("pixel-1nn", "metric-ap", "metric-apac"):
        for seed in (0, 1) if name != "pixel-1nn" else (0,):
            acc = {s: {"top1": rng.uniform(0.2, 0.6), "top5": rng.uniform(0.6, 0.9)}
                   for s in ("val", "test")}
            rec = {"name": name, "seed": seed, "dataset": "smoke (synthetic records)",
                   "budget_images": 1000, "images": 1000, "train_seconds": 1.0,
                   "machine": {"cpu": "smoke", "cpus": 1, "torch": "-"}, "final": acc,
                   "curve": [{"images": i, **{s: {"top1": rng.uniform(0.1, 0.6)}
                                              for s in ("val", "test")}}
                             for i in (250, 500, 1000)]}
            if name == "metric-apac":
                rec["priorities"] = [{"epoch": e, "classes": 3, "top10pct_mass": 0.2,
                                      "top": [{"class": c, "p": 0.4} for c in "ABC"]}
                                     for e in range(3)]
            (folder / f"{name}-{seed}.json").write_text(json.dumps(rec))


def main() -> None:
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, help="a folder of quality.py results")
    ap.add_argument("--smoke", action="store_true",
                    help="report on a few synthetic records in a temporary folder (make test)")
    args = ap.parse_args()
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "benchmarks" / "results" / "smoke"
            _smoke_records(folder)
            text = report(folder)
            figures = sorted(p.name for p in folder.glob("*.png"))
        try:
            import matplotlib  # noqa: F401

            has_mpl = True
        except ImportError:  # the figures are skipped then; the table still runs
            has_mpl = False
        print(json.dumps({"benchmark": "quality_report", "smoke": True, "lines": len(
            text.splitlines()), "figures": figures, "matplotlib": has_mpl}, indent=1))
        return
    if args.folder is None:
        ap.error("give a results folder (or --smoke)")
    print(report(args.folder))


if __name__ == "__main__":
    main()

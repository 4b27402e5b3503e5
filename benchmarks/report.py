"""Report of the miner study: the table and figures of docs/RESULTS.md from the per-run JSON.

    .venv/bin/python benchmarks/report.py                   # docs/results/*.json → docs/
    .venv/bin/python benchmarks/report.py --results benchmarks/out/quick/results \\
        --md benchmarks/out/quick/RESULTS.md --figures benchmarks/out/quick

Reads the JSON files written by benchmarks/miners.py and writes

- ``<figures>/miners_curves.png``: top-1 and top-5 on the held-out distorted faces after every
  epoch, all configurations (mean over seeds bold, each seed thin);
- ``<figures>/miners_ap_snapshots.png``: the classes the auto-probabilistic miner gave the
  highest sampling probability after a few epochs, drawn as glyphs of a training face with
  their probability (× the uniform 1/C);
- the miner-study section of ``<md>`` (between ``<!-- miners:begin -->`` and
  ``<!-- miners:end -->``; the rest of the file is kept).

Figures are drawn with PIL only (no matplotlib); Hangul labels use a Korean training face.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- miners:begin -->", "<!-- miners:end -->"

#: name → (loss, method label, parameters, paper figure, paper source)
METHODS: dict[str, tuple[str, str, str, str, str]] = {
    "metric-random": ("metric", "Random mining", "—", "88.6", "Table 3, 2,350 cl.; "
                      "82.6 in Table 2, 11,172 cl."),
    "metric-ap": ("metric", "Auto-probabilistic (AP)", "γ = 1, w = 0", "90.6", "Table 3"),
    "metric-ac": ("metric", "Auto-clustering (AC)", "θ = 0.5, η = 1000", "91.1", "Table 3"),
    "metric-apac": ("metric", "AP + AC", "γ = 2, w = 0, θ = 0.5, η = 1000", "92.3", "Table 3"),
    "contrastive-random": ("contrastive", "Random mining", "α = 10", "63.7",
                           "Table 2, 11,172 cl."),
    "triplet-random": ("triplet", "Random mining", "α = 10", "—", "not in the paper"),
}
ORDER = list(METHODS)
COLORS = {
    "metric-random": (40, 40, 40),
    "metric-ap": (31, 119, 180),
    "metric-ac": (255, 127, 14),
    "metric-apac": (214, 39, 40),
    "contrastive-random": (44, 160, 44),
    "triplet-random": (148, 103, 189),
}
DASHED = {"contrastive-random", "triplet-random"}
LABELS = {
    "metric-random": "metric · random",
    "metric-ap": "metric · AP (γ=1)",
    "metric-ac": "metric · AC",
    "metric-apac": "metric · AP+AC (γ=2)",
    "contrastive-random": "contrastive · random",
    "triplet-random": "triplet · random",
}


# -- fonts ---------------------------------------------------------------------------------------


def _font_path(names: Sequence[str]) -> str | None:
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts"):
        for dirpath, _, files in os.walk(folder):
            for name in names:
                if name in files:
                    return os.path.join(dirpath, name)
    return None


_FONT_CACHE: dict[tuple[str, int], Any] = {}


def font(size: int, bold: bool = False, hangul: bool = False) -> Any:
    """A TrueType font for labels (DejaVu for Latin, NanumGothic where Hangul is needed)."""
    if hangul:
        names = ["NanumGothicBold.ttf" if bold else "NanumGothic.ttf", "NanumGothic.ttf"]
    else:
        names = ["DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", "DejaVuSans.ttf",
                 "NanumGothic.ttf"]
    key = ("|".join(names), size)
    if key not in _FONT_CACHE:
        path = _font_path(names)
        _FONT_CACHE[key] = (ImageFont.truetype(path, size) if path
                            else ImageFont.load_default(size))
    return _FONT_CACHE[key]


def text_size(draw: ImageDraw.ImageDraw, text: str, f: Any) -> tuple[int, int]:
    box = draw.textbbox((0, 0), text, font=f)
    return box[2] - box[0], box[3] - box[1]


# -- data ----------------------------------------------------------------------------------------


def load_results(folder: Path) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("schema") != "siam-miner-study/1":
            continue
        runs.setdefault(rec["config"], []).append(rec)
    for recs in runs.values():
        recs.sort(key=lambda r: r["seed"])
    return {k: runs[k] for k in ORDER if k in runs}


def load_untrained(folder: Path) -> dict[int, dict[str, Any]]:
    """The untrained-network baselines (``untrained-s<seed>.json``) by seed."""
    out: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.glob("untrained-s*.json")):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("schema") == "siam-miner-study-untrained/1":
            out[int(rec["seed"])] = rec
    return out


def space_of(rec: dict[str, Any]) -> str:
    return "softplus" if rec["loss"]["kind"] == "metric" else "raw"


def attach_curves(runs: dict[str, list[dict[str, Any]]],
                  untrained: dict[int, dict[str, Any]]) -> None:
    """``rec["curve"]``: the per-epoch records, preceded by epoch 0 (the untrained network on
    the same test subset, in the run's distance space) when its baseline exists."""
    for recs in runs.values():
        for r in recs:
            curve = list(r["epochs"])
            base = untrained.get(r["seed"])
            if base:
                sp = base["spaces"][space_of(r)]
                sub = sp.get("subset", sp)
                curve.insert(0, {"epoch": 0, "top1": sub["top1"], "top5": sub["top5"]})
            r["curve"] = curve


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and half the range (± spread) of a few seeds."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), (max(values) - min(values)) / 2


def final_top1(r: dict[str, Any]) -> float:
    return 100 * r["final"]["top1"]


def clean_top1(r: dict[str, Any]) -> float:
    return 100 * r["clean_val"]["top1"] if "clean_val" in r else math.nan


def pooled_seed_sd(runs: dict[str, list[dict[str, Any]]], get: Any = final_top1
                   ) -> tuple[float, int]:
    """Pooled standard deviation of one run's final figure across seeds (all configurations
    pooled), and its degrees of freedom."""
    ss, dof = 0.0, 0
    for recs in runs.values():
        vals = [get(r) for r in recs if not math.isnan(get(r))]
        if len(vals) > 1:
            m = statistics.fmean(vals)
            ss += sum((v - m) ** 2 for v in vals)
            dof += len(vals) - 1
    return (math.sqrt(ss / dof) if dof else math.nan), dof


def epoch_jitter(runs: dict[str, list[dict[str, Any]]]) -> float:
    """Mean over runs of the standard deviation of top-1 over the last 3 epochs (points)."""
    sds = []
    for recs in runs.values():
        for r in recs:
            tail = [100 * e["top1"] for e in r["epochs"][-3:]]
            if len(tail) > 1:
                sds.append(statistics.stdev(tail))
    return statistics.fmean(sds) if sds else math.nan


# -- curves figure -------------------------------------------------------------------------------


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _dashed(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], fill: tuple[int, ...],
            width: int, dash: float = 9, gap: float = 6) -> None:
    on, left = True, dash
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        seg = math.hypot(x1 - x0, y1 - y0)
        pos = 0.0
        while pos < seg:
            step = min(left, seg - pos)
            if on:
                t0, t1 = pos / seg, (pos + step) / seg
                draw.line([(x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0),
                           (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)], fill=fill, width=width)
            pos += step
            left -= step
            if left <= 1e-9:
                on = not on
                left = dash if on else gap


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str,
           runs: dict[str, list[dict[str, Any]]], key: str) -> None:
    x0, y0, x1, y1 = box
    first = min(r["curve"][0]["epoch"] for recs in runs.values() for r in recs)
    n_ep = max(r["curve"][-1]["epoch"] for recs in runs.values() for r in recs)
    vals = [100 * e[key] for recs in runs.values() for r in recs for e in r["curve"]
            if e[key] is not None]
    lo, hi = 0.0, max(vals) if vals else 1.0
    step = _nice_step(hi - lo)
    hi = math.ceil(hi / step) * step + (step if hi % step == 0 else 0)
    f_tick, f_lab, f_title = font(15), font(16), font(19, bold=True)

    def px(ep: float) -> float:
        return (x0 + (ep - first) / (n_ep - first) * (x1 - x0) if n_ep > first
                else (x0 + x1) / 2)

    def py(v: float) -> float:
        return y1 - (v - lo) / (hi - lo) * (y1 - y0)

    v = lo
    while v <= hi + 1e-9:
        y = py(v)
        draw.line([(x0, y), (x1, y)], fill=(225, 225, 225), width=1)
        label = f"{v:g}"
        w, h = text_size(draw, label, f_tick)
        draw.text((x0 - 8 - w, y - h / 2 - 3), label, fill=(60, 60, 60), font=f_tick)
        v += step
    every = max(1, math.ceil((n_ep - first + 1) / 12))
    for ep in range(first, n_ep + 1):
        x = px(ep)
        draw.line([(x, y1), (x, y1 + 5)], fill=(60, 60, 60), width=1)
        if (ep - first) % every == 0 or ep == n_ep:
            w, _ = text_size(draw, str(ep), f_tick)
            draw.text((x - w / 2, y1 + 8), str(ep), fill=(60, 60, 60), font=f_tick)
    draw.rectangle([x0, y0, x1, y1], outline=(90, 90, 90), width=1)
    xlab = "epoch (0 = untrained network)" if first == 0 else "epoch"
    w, _ = text_size(draw, xlab, f_lab)
    draw.text(((x0 + x1) / 2 - w / 2, y1 + 30), xlab, fill=(30, 30, 30), font=f_lab)
    w, _ = text_size(draw, title, f_title)
    draw.text(((x0 + x1) / 2 - w / 2, y0 - 32), title, fill=(20, 20, 20), font=f_title)
    ylab = Image.new("RGBA", text_size(draw, "accuracy, %", f_lab), (0, 0, 0, 0))
    ImageDraw.Draw(ylab).text((0, -3), "accuracy, %", fill=(30, 30, 30), font=f_lab)
    ylab = ylab.rotate(90, expand=True)
    draw._image.paste(ylab, (x0 - 62, int((y0 + y1) / 2 - ylab.height / 2)), ylab)  # type: ignore[attr-defined]

    for name, recs in runs.items():
        color = COLORS[name]
        faint = tuple(int(c + (255 - c) * 0.6) for c in color)
        curves = []
        for r in recs:
            pts = [(px(e["epoch"]), py(100 * e[key])) for e in r["curve"] if e[key] is not None]
            curves.append([(e["epoch"], 100 * e[key]) for e in r["curve"] if e[key] is not None])
            if len(recs) > 1 and len(pts) > 1:
                (_dashed if name in DASHED else _solid)(draw, pts, faint, 1)
        n = min(len(c) for c in curves)
        mean = [(curves[0][i][0], statistics.fmean(c[i][1] for c in curves)) for i in range(n)]
        pts = [(px(ep), py(m)) for ep, m in mean]
        if len(pts) > 1:
            (_dashed if name in DASHED else _solid)(draw, pts, color, 3)
        for x, y in pts:
            draw.ellipse([x - 3.5, y - 3.5, x + 3.5, y + 3.5], fill=color)


def _solid(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], fill: tuple[int, ...],
           width: int) -> None:
    draw.line(pts, fill=fill, width=width, joint="curve")


def draw_curves(runs: dict[str, list[dict[str, Any]]], out: Path, subtitle: str) -> None:
    w, h = 1500, 720
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    title = "Miner study: accuracy on held-out, distorted Hangul faces after each epoch"
    f = font(22, bold=True)
    tw, _ = text_size(d, title, f)
    d.text(((w - tw) / 2, 14), title, fill=(10, 10, 10), font=f)
    fs = font(15)
    sw, _ = text_size(d, subtitle, fs)
    d.text(((w - sw) / 2, 46), subtitle, fill=(70, 70, 70), font=fs)
    _panel(d, (100, 120, 720, 560), "top-1", runs, "top1")
    _panel(d, (850, 120, 1470, 560), "top-5", runs, "top5")
    # legend under the panels
    fl = font(16)
    items = list(runs)
    col_w = (w - 120) // 3
    for i, name in enumerate(items):
        x = 60 + (i % 3) * col_w
        y = 625 + (i // 3) * 30
        pts = [(x, y + 10), (x + 46, y + 10)]
        (_dashed if name in DASHED else _solid)(d, pts, COLORS[name], 3)
        d.ellipse([x + 19.5, y + 6.5, x + 26.5, y + 13.5], fill=COLORS[name])
        n = len(runs[name])
        d.text((x + 56, y), f"{LABELS[name]}  ({n} seed{'s' if n != 1 else ''})",
               fill=(20, 20, 20), font=fl)
    img.save(out, optimize=True)


# -- AP snapshot figure ----------------------------------------------------------------------------


def _glyph_face() -> Any:
    from core.data.fonts import discover_fonts, match_faces

    faces = discover_fonts()
    for spec in ("NanumGothic.ttf", "NanumBarunGothic.ttf", "UnDotum.ttf"):
        hits = match_faces(spec, faces)
        if hits:
            return hits[0]
    return None


def _glyph_tile(face: Any, text: str, size: int) -> Image.Image:
    arr = None
    if face is not None:
        from core.data.render import render_glyph

        arr = render_glyph(face, text, size=size, margin=max(2, size // 12))
    if arr is None:  # fall back to PIL with a Korean font
        img = Image.new("L", (size, size), 0)
        dd = ImageDraw.Draw(img)
        f = font(int(size * 0.8), hangul=True)
        tw, th = text_size(dd, text, f)
        dd.text(((size - tw) / 2, (size - th) / 2 - size * 0.1), text, fill=255, font=f)
        arr = np.asarray(img)
    return Image.fromarray(255 - np.asarray(arr, dtype=np.uint8)).convert("RGB")


def snapshot_epochs(n: int) -> list[int]:
    if n <= 3:
        return list(range(1, n + 1))
    return sorted({1, (n + 1) // 2, n})


def draw_snapshots(runs: dict[str, list[dict[str, Any]]], out: Path, source: str,
                   per_row: int = 12) -> list[str]:
    """Rows: for each AP configuration (seed 0), a few epochs × the top classes. Returns the
    configurations drawn."""
    blocks = []
    for name in ("metric-ap", "metric-apac"):
        recs = [r for r in runs.get(name, []) if r.get("ap_priorities")]
        if recs:
            blocks.append((name, recs[0]))
    if not blocks:
        return []
    face = _glyph_face()
    tile = 64
    cell_w, cell_h = 96, 124
    left = 250
    rows = [(name, rec, snap) for name, rec in blocks
            for snap in rec["ap_priorities"]
            if snap["epoch"] in snapshot_epochs(len(rec["ap_priorities"]))]
    header = 120
    block_gap = 46
    w = left + per_row * cell_w + 30
    h = header + len(rows) * (cell_h + 14) + len(blocks) * block_gap + 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    title = "What the auto-probabilistic miner prioritised"
    f = font(24, bold=True)
    tw, _ = text_size(d, title, f)
    d.text(((w - tw) / 2, 14), title, fill=(10, 10, 10), font=f)
    sub = (f"The {per_row} classes with the highest anchor/positive sampling probability after "
           "an epoch (what the next epoch draws from), drawn in a training face.")
    sub2 = ("Under each glyph: probability × C (1.0 = the uniform 1/C of random mining) and "
            "the class's test top-1 at the end of the run (correct / images).")
    fs = font(15)
    for i, s in enumerate((sub, sub2)):
        sw, _ = text_size(d, s, fs)
        d.text(((w - sw) / 2, 52 + 22 * i), s, fill=(70, 70, 70), font=fs)
    y = header
    f_row, f_row2, f_cap = font(17, bold=True), font(14), font(14)
    for name, rec in blocks:
        m = rec["mining"]
        label = (f"{LABELS[name]} — seed {rec['seed']}, γ = {m['gamma']:g}, w = {m['w']:g}"
                 + (f", AC θ = {m['theta']:g}, η = {m['eta']}"
                    if m["negative"] == "auto-clustering" else "")
                 + f"; final test top-1 {100 * rec['final']['top1']:.1f}%")
        d.text((20, y + 8), label, fill=COLORS[name], font=font(18, bold=True))
        y += block_gap - 8
        pc = rec.get("per_class_test") or {}
        correct, count = pc.get("correct"), pc.get("count")
        for snap in rec["ap_priorities"]:
            if snap["epoch"] not in snapshot_epochs(len(rec["ap_priorities"])):
                continue
            d.text((20, y + 18), f"after epoch {snap['epoch']}", fill=(20, 20, 20), font=f_row)
            lines = [f"effective classes {snap['effective_classes']:,.0f}",
                     f"of {snap['classes']:,}; max {snap['max_ratio']:.2f}×",
                     f"top 10% hold {100 * snap['top10pct_mass']:.0f}% of p"]
            for i, s in enumerate(lines):
                d.text((20, y + 44 + 19 * i), s, fill=(80, 80, 80), font=f_row2)
            for k, item in enumerate(snap["top"][:per_row]):
                x = left + k * cell_w + (cell_w - tile) // 2
                img.paste(_glyph_tile(face, item["class"], tile), (x, y + 4))
                d.rectangle([x - 1, y + 3, x + tile, y + 4 + tile], outline=(200, 200, 200))
                cap = f"{item['p'] * snap['classes']:.2f}×"
                cw, _ = text_size(d, cap, f_cap)
                d.text((x + tile / 2 - cw / 2, y + tile + 9), cap, fill=(20, 20, 20), font=f_cap)
                if correct and count:
                    i = item["index"]
                    acc = f"{correct[i]}/{count[i]}"
                    aw, _ = text_size(d, acc, f_cap)
                    good = count[i] and correct[i] / count[i] >= 0.5
                    d.text((x + tile / 2 - aw / 2, y + tile + 29), acc,
                           fill=(40, 120, 40) if good else (190, 40, 40), font=f_cap)
            y += cell_h + 14
        y += 8
    face_name = face.id if face is not None else "NanumGothic"
    foot = f"Glyphs rendered from the training face {face_name}. Data: {source}."
    d.text((20, h - 36), foot, fill=(90, 90, 90), font=font(14))
    img.save(out, optimize=True)
    return [n for n, _ in blocks]


# -- markdown ------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.1f}"


def _ms(values: list[float]) -> str:
    m, s = mean_spread(values)
    if len(values) == 1:
        return f"{m:.1f}"
    return f"{m:.1f} ± {s:.1f}"


def ap_analysis(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Test accuracy of the classes AP prioritised at the end vs all classes, and the same
    classes under random mining (are they hard anyway, or did AP fail to fix them?)."""
    lines: list[str] = []
    for name in ("metric-ap", "metric-apac"):
        for rec in runs.get(name, []):
            pri = rec.get("ap_priorities")
            pc = rec.get("per_class_test")
            if not pri or not pc:
                continue
            top = [t["index"] for t in pri[-1]["top"]]
            corr, cnt = np.asarray(pc["correct"]), np.asarray(pc["count"])
            acc_top = corr[top].sum() / max(cnt[top].sum(), 1)
            ctrl_s = ""
            for r in runs.get("metric-random", []):
                if r["seed"] != rec["seed"]:
                    continue
                c2 = np.asarray(r["per_class_test"]["correct"])
                n2 = np.asarray(r["per_class_test"]["count"])
                ctrl_s = (f"; under random mining (same seed) the same classes score "
                          f"{100 * c2[top].sum() / max(n2[top].sum(), 1):.1f}% vs "
                          f"{100 * r['per_class_test']['top1']:.1f}% overall")
            first = pri[0]
            lines.append(
                f"- {LABELS[name]}, seed {rec['seed']}: after epoch 1 the distribution spans "
                f"{first['min_ratio']:.2f}×–{first['max_ratio']:.2f}× uniform (effective "
                f"classes {first['effective_classes']:,.0f} of {first['classes']:,}); after the "
                f"last epoch {pri[-1]['min_ratio']:.2f}×–{pri[-1]['max_ratio']:.2f}× "
                f"({pri[-1]['effective_classes']:,.0f}). Its {len(top)} most-sampled classes "
                f"reach {100 * acc_top:.1f}% test top-1 vs {100 * pc['top1']:.1f}% over all "
                f"classes{ctrl_s}.")
    return lines


def t_two_sided_p(t: float, df: int) -> float:
    """Two-sided p-value of Student's t (Simpson integration of the density; no scipy)."""
    if df < 1 or math.isnan(t):
        return math.nan
    t = abs(t)
    if math.isinf(t):
        return 0.0
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def pdf(x: float) -> float:
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    n = 2000
    h = t / n
    acc = pdf(0) + pdf(t) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, n))
    return max(0.0, 1 - 2 * acc * h / 3)


def noise_lines(runs: dict[str, list[dict[str, Any]]], get: Any, what: str,
                jitter: float | None = None) -> list[str]:
    """Seed noise of ``get`` and each configuration's difference to metric · random."""
    sd, dof = pooled_seed_sd(runs, get)
    lines = []
    if dof:
        extra = (f" Epoch-to-epoch jitter over the last 3 epochs (test subset): "
                 f"{jitter:.2f} points." if jitter is not None else "")
        lines.append(f"- Seed-to-seed standard deviation of one run's {what}, pooled over all "
                     f"configurations: **{sd:.2f} points** ({dof} degrees of freedom).{extra}")
    else:
        lines.append("- One seed per configuration: no seed spread available"
                     + (f"; epoch-to-epoch jitter over the last 3 epochs: {jitter:.2f} points "
                        "(a lower bound on the noise)." if jitter is not None else "."))
        sd = jitter if jitter is not None else math.nan
    base = [r for r in runs.get("metric-random", []) if not math.isnan(get(r))]
    if not base or math.isnan(sd):
        return lines
    mb = statistics.fmean(get(r) for r in base)
    by_seed = {r["seed"]: get(r) for r in base}
    for name, recs in runs.items():
        recs = [r for r in recs if not math.isnan(get(r))]
        if name == "metric-random" or not recs:
            continue
        diff = statistics.fmean(get(r) for r in recs) - mb
        se = sd * math.sqrt(1 / len(base) + 1 / len(recs))
        verdict = ("within noise" if abs(diff) < 2 * se else
                   ("better, beyond 2 s.e." if diff > 0 else "worse, beyond 2 s.e."))
        paired = [get(r) - by_seed[r["seed"]] for r in recs if r["seed"] in by_seed]
        same_sign = len(paired) > 1 and (all(p > 0 for p in paired)
                                         or all(p < 0 for p in paired))
        paired_s = ""
        if paired:
            paired_s = (f"; paired by seed (same initial weights): "
                        f"[{', '.join(f'{p:+.1f}' for p in paired)}]")
            if len(paired) > 1:
                paired_s += (", same sign in every seed" if same_sign
                             else ", sign differs between seeds")
                sd_p = statistics.stdev(paired)
                if sd_p > 0 and len(paired) > 2:
                    t = statistics.fmean(paired) / (sd_p / math.sqrt(len(paired)))
                    paired_s += (f", paired t = {t:.1f} ({len(paired) - 1} df, two-sided "
                                 f"p ≈ {t_two_sided_p(t, len(paired) - 1):.2f})")
        lines.append(f"- {LABELS[name]} vs metric · random: {diff:+.1f} points "
                     f"(s.e. of the difference ≈ {se:.1f}{paired_s}) → **{verdict}**.")
    return lines


def build_markdown(runs: dict[str, list[dict[str, Any]]], figures_rel: str,
                   snapshot_drawn: list[str], results_rel: str,
                   untrained: dict[int, dict[str, Any]]) -> str:
    any_rec = next(iter(runs.values()))[0]
    b = any_rec["budget"]
    data = any_rec["data"]
    mach = any_rec["machine"]
    seeds = sorted({r["seed"] for recs in runs.values() for r in recs})
    walls = [r["wall_seconds"] for recs in runs.values() for r in recs]
    rates = [r["triplets_per_s"] for recs in runs.values() for r in recs]
    ends = [r["epoch_end_seconds"] for recs in runs.values() for r in recs]
    loads = [r["machine"][k][0] for recs in runs.values() for r in recs
             for k in ("loadavg_start", "loadavg_end")]
    commands = sorted({r["command"] for recs in runs.values() for r in recs})
    out: list[str] = [BEGIN, "", "## Miner study: accuracy on held-out fonts", ""]
    out.append(
        "Generated by `benchmarks/report.py` from the per-run JSON files in "
        f"`{results_rel}/` (written by `benchmarks/miners.py`). **Not comparable in absolute "
        "terms with the paper**: the paper tests on PHD08 scans with 50 × 10,240 triplets per "
        f"epoch on a GPU; we test on {data['test']['samples']:,} synthetic distorted glyphs of 4 "
        f"faces never seen in training, with {b['triplets_total']:,} triplets per run in total "
        "on a shared 2-core CPU. Only the *ordering* of methods is worth comparing, and only "
        "where it is beyond noise.")
    out += ["", "### Setup", ""]
    faces = data["font_roles"]
    tr = data["train"]
    te = data["test"]
    aug = any_rec["augment"]
    short = tr["classes"] * len(te["faces"]) * te["variants"] - te["samples"]
    missing = (f" ({short // te['variants']} glyph(s) missing in the test faces)"
               if short > 0 else "")
    out += [
        "- **Classes**: `hangul-2350` (KS X 1001 syllables, the PHD08 set), 37×37 px.",
        f"- **Training faces** ({len(tr['faces'])}, {tr['samples']:,} clean glyphs): "
        + ", ".join(f"`{f}`" for f in tr["faces"]) + ".",
        f"- **Test faces** ({len(te['faces'])}, never seen in training): "
        + ", ".join(f"`{f}`" for f in te["faces"])
        + f"; distortions `{te['distort']}` (PHD08-like), {te['variants']} variants per glyph "
        f"→ {te['samples']:,} images{missing}.",
        f"- **Clean unseen faces** ({', '.join('`' + f + '`' for f in faces['val'])}; the "
        "configs' validation role, also never seen in training): rendered without distortion, "
        f"{data['val']['samples']:,} images, used once after training to separate \"new face\" "
        "from \"distortion\".",
        f"- **Accuracy**: nearest class center (centers = mean embedding of the clean training "
        f"glyphs), top-1 / top-5. Curves: after every epoch on a fixed random subset of "
        f"{b['eval_max']:,} test images; table: all {te['samples']:,} test images after the "
        "last epoch (no checkpoint selection on the test faces).",
        f"- **Network / training**: `{any_rec['model']['backbone']}` (paper Table 1, softsign, "
        f"25-d embedding), Adam lr 1e-3, augmentation p = {aug['p']} (projective "
        f"{aug['projective_shift']}, rotation ±{aug['rotation_deg']:g}°, "
        f"scale {aug['scale_min']}–{aug['scale_max']}); "
        "α = 10 for every loss; metric loss ρ = 0.1, τ = 1, ξ = 1.",
        f"- **Budget** (`{b['name']}`): {b['epochs']} epochs × {b['iterations']} iterations × "
        f"{b['triplets']} triplets = {b['triplets_total']:,} triplets per run (paper: 50 × "
        f"10,240 = 512,000 per epoch), seeds {', '.join(map(str, seeds))}; same seed ⇒ same "
        "initial weights for every configuration.",
        f"- **Machine**: {mach.get('cpu', 'CPU')} × {mach['cpu_count']} cores, no GPU, shared "
        f"with other work (1-min load average {min(loads):.1f}–{max(loads):.1f} at the start "
        f"and end of the runs); torch {mach['torch']}, {mach['torch_threads']} thread, glibc "
        f"malloc without mmap ({'on' if mach.get('malloc_no_mmap') else 'off'}; speed only, "
        f"see `benchmarks/miners.py`), `nice -n {mach.get('nice', 0)}`. Per run: "
        f"{statistics.fmean(walls) / 60:.1f} min wall on average, "
        f"{statistics.fmean(rates):.0f} triplets/s while training "
        f"({min(rates):.0f}–{max(rates):.0f}), {statistics.fmean(ends):.0f} s of epoch-end "
        f"passes; {len(walls)} runs, {sum(walls) / 60:.0f} min of run wall time in all.",
    ]
    out += ["", "### Results", ""]
    out.append(f"Accuracy after the last epoch, %, mean ± half-range over {len(seeds)} "
               "seed(s). *Distorted*: the test faces with PHD08-like distortions (the study's "
               "measure). *Clean*: the validation faces, also never seen in training, rendered "
               "without distortion (evaluated once, on the last checkpoint). *Training glyphs*: "
               "the clean training set itself. Paper: accuracy on PHD08.")
    out.append("")
    out.append("| Loss | Method | Parameters | Distorted top-1 | Distorted top-5 | "
               "Clean top-1 | Clean top-5 | Training glyphs top-1 | Paper (PHD08) |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for name, recs in runs.items():
        loss, method, params, paper, src = METHODS[name]
        t1 = [final_top1(r) for r in recs]
        t5 = [100 * r["final"]["top5"] for r in recs]
        c1 = [clean_top1(r) for r in recs if "clean_val" in r]
        c5 = [100 * r["clean_val"]["top5"] for r in recs if "clean_val" in r]
        train = [100 * r["epochs"][-1]["train_top1"] for r in recs]
        paper_s = paper if paper == "—" else f"{paper} ({src})"
        out.append(f"| {loss} | {method} | {params} | {_ms(t1)} | {_ms(t5)} | "
                   f"{_ms(c1) if c1 else 'n/a'} | {_ms(c5) if c5 else 'n/a'} | {_ms(train)} | "
                   f"{paper_s} |")
    if untrained:
        def u(space: str, key: str, sub: str | None = None) -> str:
            vals = [100 * (b["spaces"][space][sub][key] if sub else b["spaces"][space][key])
                    for b in untrained.values() if sub is None or sub in b["spaces"][space]]
            return _ms(vals) if vals else "n/a"

        out.append(f"| (none) | untrained network, {len(untrained)} seed(s) | softplus space "
                   f"(metric) / raw (others) | {u('softplus', 'top1')} / {u('raw', 'top1')} | "
                   f"{u('softplus', 'top5')} / {u('raw', 'top5')} | "
                   f"{u('softplus', 'top1', 'clean_val')} / {u('raw', 'top1', 'clean_val')} | "
                   f"{u('softplus', 'top5', 'clean_val')} / {u('raw', 'top5', 'clean_val')} | "
                   f"{u('softplus', 'train_top1')} / {u('raw', 'train_top1')} | — |")
    out.append("")
    out.append("Per-seed distorted top-1: " + "; ".join(
        f"{LABELS[n]} [{', '.join(f'{final_top1(r):.1f}' for r in recs)}]"
        for n, recs in runs.items()) + ".")
    out.append("")
    out += ["**Noise.** A difference smaller than twice its standard error (from the pooled "
            "seed-to-seed spread, unpaired) is called within noise. Runs of one seed share "
            "their initial weights, and the seed moves every configuration together, so the "
            "paired differences and a paired t-test are shown too; with 3 seeds a paired "
            "p ≈ 0.05 is weak evidence, not a finding.", "",
            "*Distorted unseen faces* (the study's measure):", ""]
    out += noise_lines(runs, final_top1, "final distorted top-1", epoch_jitter(runs))
    if any("clean_val" in r for recs in runs.values() for r in recs):
        out += ["", "*Clean unseen faces*:", ""]
        out += noise_lines(runs, clean_top1, "clean top-1")
    out += ["", f"![accuracy vs epoch]({figures_rel}/miners_curves.png)", ""]
    if snapshot_drawn:
        out += ["### What the auto-probabilistic miner prioritised", "",
                "Each row: the 12 classes with the highest sampling probability after that "
                "epoch, as glyphs of a training face; under each, its probability × C (1.0 = "
                "random mining's 1/C) and its test top-1 at the end of the run.", "",
                f"![AP snapshots]({figures_rel}/miners_ap_snapshots.png)", ""]
        out += ap_analysis(runs)
        out.append("")
    out += ["### Reproduce", "", "```sh",
            "# the study (≈ the wall time above on a shared 2-core CPU); skips finished runs",
            "nohup nice -n 10 .venv/bin/python benchmarks/miners.py > benchmarks/out/study.log "
            "2>&1 &",
            "# table, curves (miners_curves.png) and AP snapshots (miners_ap_snapshots.png)",
            ".venv/bin/python benchmarks/report.py",
            "# one configuration alone (validates on the clean val faces instead)",
            ".venv/bin/siam train benchmarks/configs/metric-apac --run-dir /tmp/apac",
            ".venv/bin/siam eval /tmp/apac --data benchmarks/out/data/test.h5 --checkpoint last",
            "# paper-sized epochs on a GPU box; smoke test",
            ".venv/bin/python benchmarks/miners.py --full --report",
            ".venv/bin/python benchmarks/miners.py --quick", "```", "",
            "Commands of these runs: " + ", ".join(f"`{c}`" for c in commands)
            + " (run with `nice -n 10`), then `python benchmarks/report.py`.", "", END]
    return "\n".join(out) + "\n"


def write_markdown(path: Path, section: str) -> None:
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            text = head + section.rstrip("\n") + tail
        else:
            text = text.rstrip("\n") + "\n\n" + section
    else:
        text = "# Results\n\nBenchmarks of Siam Workbench (DESIGN §7).\n\n" + section
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=ROOT / "docs" / "results",
                    help="folder of the miners.py JSON files (default docs/results)")
    ap.add_argument("--md", type=Path, default=ROOT / "docs" / "RESULTS.md",
                    help="markdown file whose miner-study section is (re)written")
    ap.add_argument("--figures", type=Path, help="where the PNGs go (default: --results)")
    args = ap.parse_args(argv)
    runs = load_results(args.results)
    if not runs:
        print(f"no miner-study results in {args.results}", file=sys.stderr)
        return 2
    untrained = load_untrained(args.results)
    attach_curves(runs, untrained)
    figures = args.figures or args.results
    figures.mkdir(parents=True, exist_ok=True)
    any_rec = next(iter(runs.values()))[0]
    b = any_rec["budget"]
    te = any_rec["data"]["test"]
    subtitle = (f"{b['epochs']} epochs × {b['iterations']} × {b['triplets']} triplets, "
                f"{len(te['faces'])} unseen faces distorted ({te['distort']}), "
                f"{b['eval_max'] or te['samples']:,} test images per epoch; bold = mean over "
                "seeds, thin = each seed")
    draw_curves(runs, figures / "miners_curves.png", subtitle)
    results_rel = os.path.relpath(args.results.resolve(), ROOT)
    drawn = draw_snapshots(runs, figures / "miners_ap_snapshots.png", f"{results_rel}/*.json")
    md_dir = args.md.resolve().parent
    section = build_markdown(runs, os.path.relpath(figures.resolve(), md_dir), drawn,
                             results_rel, untrained)
    write_markdown(args.md, section)
    print(json.dumps({"md": str(args.md), "curves": str(figures / "miners_curves.png"),
                      "snapshots": str(figures / "miners_ap_snapshots.png") if drawn else None,
                      "configs": {k: len(v) for k, v in runs.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

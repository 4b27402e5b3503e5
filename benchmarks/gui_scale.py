"""Longest GUI-thread block while a finished 11,172-class run is explored (issue 11).

Run from the repository root (offscreen; no fonts or training needed)::

    QT_QPA_PLATFORM=offscreen nice -n 15 .venv/bin/python benchmarks/gui_scale.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_scale.py --classes 2350 --epochs 8
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_scale.py --smoke  # make test

``--smoke`` goes through the same phases at 52 classes (the ``latin`` alphabet), 2 epochs and
short settling pauses, and fails (exit 1) if a view never reaches the state it waits for.

It writes a hangul-11172-like project into a temporary folder — synthetic train / val glyph
files of every class, and one run folder through :mod:`siam_workbench.project.runfiles`' own writers
(config.toml, status.json, metrics.jsonl, mining.h5 with probabilities, clusters, mean
distances and cluster edges per epoch, centers.npy) — so nothing is trained. Then it opens the
real main window at 1280×720 and goes through the views a user would: the Miners tab
(probabilities with a class selected, the history heat map, the cluster graph, the Why view),
the Runs tab (list, comparison plot) and a Runs › Evaluate result of every class.

The Why view and the evaluation result need a trained checkpoint; their evaluation pass runs on
a worker thread anyway, so a synthetic result (per-class errors, predictions with confusions) is
handed to the same GUI code that shows a real one: what is measured is the GUI thread's share.

A 10 ms QTimer on the GUI thread records, per tick, the wall-clock gap and the GUI thread's own
CPU time (``time.thread_time``) since the previous tick. A gap is the event loop not running;
on a loaded machine the OS also parks the GUI thread, which stretches wall gaps without any GUI
work, so the CPU column says how much of a gap the GUI thread itself spent. Output: one JSON
object with, per phase, the longest wall gap and the longest GUI-thread CPU block (ms), and
the machine's load average (the goal, < 0.5 s per block, is for an idle machine). For the
longest wall gap of each phase it also gives the CPU time of the whole process during it: near
zero, the OS was running other processes; large while the GUI thread's share is small, worker
threads held the interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SIAM_WORKBENCH_SETTINGS_DIR", tempfile.mkdtemp(prefix="siam-scale-"))

import numpy as np  # noqa: E402

TICK_MS = 10
ALPHABETS = {52: "latin", 2350: "hangul-2350", 11172: "hangul-11172"}  # 52: the smoke size


# -- the synthetic project ----------------------------------------------------------------------
def _glyph_file(path: Path, classes: list[str], faces: int, seed: int) -> None:
    from siam_workbench.data.glyphs import GlyphWriter

    rng = np.random.default_rng(seed)
    with GlyphWriter(path, classes, [f"synth{i}.ttf#0" for i in range(faces)], 37,
                     alphabet="synthetic", force=True) as w:
        for f in range(faces):
            imgs = (rng.random((len(classes), 37, 37)) > 0.85).astype(np.uint8) * 255
            w.append(imgs, np.arange(len(classes)), np.full(len(classes), f))


def synthetic_mining(n: int, epochs: int, eta: int, dim: int = 25, seed: int = 0
                     ) -> dict[str, Any]:
    """What an auto-probabilistic + auto-clustering run logs: skewed probabilities, clusters of
    2–11 nearby classes joined by ``eta`` closest pairs, centers grouped accordingly."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n, dim)).astype(np.float32) * 3
    probs, clusters_all, dists, edges = [], [], [], {}
    for e in range(epochs):
        dist = rng.gamma(2.0, 1.0 + 0.2 * e, size=n)
        p = dist ** 2
        probs.append(p / p.sum())
        dists.append(dist)
        clusters = np.full(n, -1, dtype=np.int64)
        pairs: list[tuple[int, int]] = []
        members = rng.permutation(n)
        pos, cid = 0, 0
        while len(pairs) < eta and pos < n - 1:
            group = members[pos:pos + int(rng.integers(2, 12))]
            pos += group.size
            if group.size < 2:
                break
            clusters[group] = cid
            cid += 1
            pairs += [(int(min(a, b)), int(max(a, b))) for a, b in zip(group[:-1], group[1:])]
            centers[group] = centers[group[0]] + rng.normal(size=(group.size, dim)) * 0.3
        clusters_all.append(clusters)
        edges[e] = np.array(pairs[:eta], dtype=np.int64).reshape(-1, 2)
    return {"centers": centers, "edges": edges, "probabilities": np.stack(probs),
            "clusters": np.stack(clusters_all), "mean_distance": np.stack(dists)}


def build_project(root: Path, n: int, epochs: int) -> tuple[Path, Path, list[str]]:
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.project.config import Config
    from siam_workbench.project.runfiles import MetricsLog, MiningLog, save_centers, write_status

    classes = list(resolve_alphabet(ALPHABETS[n]).classes)
    eta = int(0.4 * n)
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.toml").write_text(
        f'[project]\nname = "scale {n}"\n\n[data]\nalphabet = "{ALPHABETS[n]}"\n'
        'train_fonts = ["synth0.ttf"]\nval_fonts = ["synth9.ttf"]\ntest_fonts = []\n\n'
        f"[mining]\neta = {eta}\n\n[train]\nepochs = {epochs}\ndevice = \"cpu\"\n",
        encoding="utf-8")
    (root / "data").mkdir()
    _glyph_file(root / "data" / "train.h5", classes, 2, 0)
    _glyph_file(root / "data" / "val.h5", classes, 1, 1)
    run = root / "runs" / "synthetic"
    run.mkdir(parents=True)
    data = synthetic_mining(n, epochs, eta)
    cfg = Config().replace({"mining": {"eta": eta}, "train": {"epochs": epochs}})
    (run / "config.toml").write_text(cfg.to_toml(), encoding="utf-8")
    log = MiningLog(run / "mining.h5", classes, "auto-probabilistic", "auto-clustering")
    metrics = MetricsLog(run / "metrics.jsonl")
    step = 0
    for e in range(epochs):
        log.append(e, data["probabilities"][e], data["clusters"][e], data["mean_distance"][e],
                   data["edges"][e])
        for it in range(50):
            metrics.write("iteration", epoch=e, iteration=it, step=step,
                          loss=10.0 / (1 + step), images_per_s=1000.0, lr=1e-3)
            step += 1
        metrics.write("epoch", epoch=e, top1=0.1 * (e + 1), top5=min(1.0, 0.2 * (e + 1)),
                      val_top1=0.08 * (e + 1), val_top5=0.15 * (e + 1), loss=1.0, seconds=1.0,
                      best=True)
    metrics.close()
    save_centers(run, data["centers"])
    write_status(run, status="finished", epoch=epochs, epochs=epochs, best_top1=0.1 * epochs)
    return root, run, classes


def synthetic_evaluation(run: Path, val: Path, classes: list[str], seed: int = 0
                         ) -> dict[str, Any]:
    """An ``evaluate(..., keep_predictions=True)``-shaped result: one image per class, 60 % read
    right, the rest as a nearby class."""
    rng = np.random.default_rng(seed)
    n = len(classes)
    labels = np.arange(n)
    pred = np.stack([(labels + rng.integers(0, 30, n) * (rng.random(n) > 0.6)) % n]
                    + [rng.integers(0, n, n) for _ in range(4)], axis=1)
    return {"top1": float((pred[:, 0] == labels).mean()),
            "top5": float((pred == labels[:, None]).any(1).mean()), "n": n,
            "unknown_classes": 0, "data": str(val), "run": str(run), "labels": labels,
            "pred": pred, "dist": np.zeros(pred.shape, np.float32), "rows": labels}


# -- measuring ----------------------------------------------------------------------------------
class Probe:
    """Ticks on the GUI thread; ``phase(name)`` starts a new row of the report."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.rows: dict[str, list[tuple[float, float, float]]] = {}
        self.name = "start"
        self.last = (time.perf_counter(), time.thread_time(), time.process_time())
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        now = (time.perf_counter(), time.thread_time(), time.process_time())
        self.rows.setdefault(self.name, []).append(
            (now[0] - self.last[0], now[1] - self.last[1], now[2] - self.last[2]))
        self.last = now

    def phase(self, name: str) -> None:
        self.tick()
        self.name = name

    def report(self) -> list[dict[str, Any]]:
        out = []
        for name, rows in self.rows.items():
            arr = np.asarray(rows)
            wall, cpu, proc = arr[:, 0] * 1000, arr[:, 1] * 1000, arr[:, 2] * 1000
            worst = int(np.argmax(wall))
            out.append({"phase": name, "ticks": int(arr.shape[0]),
                        "max_wall_gap_ms": round(float(wall.max()), 1),
                        # CPU of the whole process (all threads) during that longest gap:
                        # near 0 means the OS ran other processes, not that the GUI waited.
                        "process_cpu_in_max_gap_ms": round(float(proc[worst]), 1),
                        "max_gui_cpu_block_ms": round(float(cpu.max()), 1),
                        "p99_wall_gap_ms": round(float(np.percentile(wall, 99)), 1)})
        return out


def run(n: int, epochs: int, timeout: float, pause: float = 1.0) -> dict[str, Any]:
    """Every phase at ``n`` classes; ``pause`` scales the settling waits (the smoke run's are
    short). A view that never reaches the state waited for raises (a hang is a failure)."""
    from siam_workbench.app.app import make_app, wait_until
    from siam_workbench.app.main_window import MainWindow
    from siam_workbench.app.workers import live_threads
    from siam_workbench.infer.evaluate import confused_pairs, per_class_table

    app = make_app(sys.argv[:1])
    base = Path(tempfile.mkdtemp(prefix="siam-scale-"))
    t0 = time.perf_counter()
    root, run_dir, classes = build_project(base / f"c{n}", n, epochs)
    built = time.perf_counter() - t0
    idle = lambda: not live_threads()  # noqa: E731
    settle = lambda s=0.5: wait_until(app, lambda: False, s * pause)  # noqa: E731

    def wait(condition, what: str) -> None:
        if not wait_until(app, condition, timeout):
            raise RuntimeError(f"gui_scale: {what} did not happen within {timeout:.0f} s")

    probe = Probe()
    try:
        window = MainWindow()
        window.resize(1280, 720)
        window.show()
        probe.phase("open project")
        window.open_project(root, ask_save=False)
        wait(idle, "opening the project")
        settle()
        miners = window.miners_tab
        probe.phase("miners: probabilities")
        window.tabs.setCurrentWidget(miners)
        wait(lambda: miners.history is not None and idle(), "the Miners tab's history")
        miners.views.setCurrentIndex(0)
        settle()
        miners.select_class(int(np.argmax(miners.history.probabilities[-1])))
        wait(idle, "selecting a class")
        miners.epoch_slider.setValue(0)
        settle()
        miners.epoch_slider.setValue(epochs - 1)
        settle()
        probe.phase("miners: history")
        miners.views.setCurrentIndex(1)
        settle(1.0)
        probe.phase("miners: clusters")
        miners.views.setCurrentIndex(2)
        wait(lambda: miners.graph.stack.currentWidget() is miners.graph.plot and idle(),
             "the cluster graph")
        settle()
        probe.phase("miners: why")
        miners.views.setCurrentIndex(3)
        settle()
        why = miners.why
        res = synthetic_evaluation(run_dir, root / "data" / "val.h5", classes)
        err = 1.0 - (res["pred"][:, 0] == res["labels"]).astype(float)
        why._measured(why.source, {"run": run_dir, "classes": classes, "error": err,
                                   "labels": res["labels"], "pred": res["pred"],
                                   "top1": res["top1"], "n": n, "epoch": epochs})
        settle()
        why.select_class(int(np.argmax(err)))
        settle()
        probe.phase("runs: list and compare")
        runs = window.runs_tab
        window.tabs.setCurrentWidget(runs)
        wait(idle, "the Runs tab")
        settle(1.0)
        probe.phase("runs: evaluation of every class")
        runs.pages.setCurrentIndex(1)
        panel = runs.evaluate_panel
        out = {"result": res, "classes": classes, "per_class": per_class_table(res, classes),
               "pairs": confused_pairs(res, classes, 20)}
        panel._done(run_dir, "val", out)
        wait(idle, "the evaluation result")
        settle(1.0)
        probe.phase("end")
        window._close_confirmed = True
        window._closing_blocks = True
        window.close()
        settle()
    finally:
        probe.timer.stop()
        shutil.rmtree(base, ignore_errors=True)
    return {"classes": n, "epochs": epochs, "build_s": round(built, 1),
            "phases": [r for r in probe.report() if r["phase"] not in ("start", "end")]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classes", type=int, nargs="+", default=[11172], choices=sorted(ALPHABETS))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--timeout", type=float, default=600.0, help="longest wait per step, s")
    p.add_argument("--smoke", action="store_true",
                   help="seconds: 52 classes, 2 epochs, short pauses (make test)")
    args = p.parse_args(argv)
    if args.smoke:
        args.classes, args.epochs, args.timeout = [52], 2, 120.0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = [run(n, args.epochs, args.timeout, 0.2 if args.smoke else 1.0)
               for n in args.classes]
    worst = max((ph["max_gui_cpu_block_ms"] for r in results for ph in r["phases"]), default=0)
    print(json.dumps({"benchmark": "gui_scale", "tick_ms": TICK_MS, "goal_block_ms": 500,
                      "longest_gui_cpu_block_ms": worst, "load_avg_1min_at_start": load,
                      "cpus": os.cpu_count(), "smoke": args.smoke,
                      "machine": platform.processor() or platform.machine(),
                      "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

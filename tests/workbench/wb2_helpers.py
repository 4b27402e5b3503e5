"""Data for the Miners / Draw / Runs tab tests and their screenshot script (``wb2_shots.py``).

* :func:`trained_tiny` — one tiny synthetic project trained once per test session (3 epochs ×
  15 iterations, auto-probabilistic + auto-clustering), with the copied trainer events recorded
  so a test can replay exactly what the live training sent.
* :func:`class_strokes` — the strokes of each synthetic class (the same random strokes as
  ``tests/conftest.py::synth_glyphs``), so a test can trace a class on the canvas.
* :func:`write_synthetic_run` — a run folder with a synthetic mining log of any size
  (11,172 classes), written with the engine's own writers.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

TINY_TOML = """
[project]
name = "{name}"

[data]
alphabet = "latin"

[mining]
positive = "{positive}"
negative = "{negative}"
eta = 10

[train]
epochs = {epochs}
iterations = {iterations}
triplets = 32
lr = 0.003
device = "cpu"
"""


def class_strokes(num_classes: int, size: int = 37, seed: int = 0) -> list[np.ndarray]:
    """``[3, 4]`` line segments (x0, y0, x1, y1) per class — tests/conftest.py's synth_glyphs."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(6, size - 6, size=(3, 4)) for _ in range(num_classes)]


def synth_normalized(num_classes: int, fonts: int, font_offset: int = 0, size: int = 37
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """synth_glyphs' classes with per-font jitter of the stroke ends, each normalised like a
    rendered glyph (crop to ink, fit, centre) — so the network learns the framing that
    ``siam_workbench.infer.query.prepare`` gives a drawing."""
    from siam_workbench.data.imaging import normalize_glyph

    strokes = class_strokes(num_classes, size)
    images, labels, sources = [], [], []
    for f in range(fonts):
        frng = np.random.default_rng(1000 + f + font_offset)
        dx, dy = frng.integers(-2, 3, size=2)
        width = int(frng.integers(2, 4))
        for c in range(num_classes):
            im = Image.new("L", (size * 2, size * 2), 0)
            d = ImageDraw.Draw(im)
            # Each "font" writes the strokes a little differently (normalisation removes the
            # shift, so without this every sample of a class would be identical).
            jitter = frng.normal(0.0, 0.8, size=(3, 4))
            for x0, y0, x1, y1 in strokes[c] + jitter:
                d.line([(2 * (x0 + dx), 2 * (y0 + dy)), (2 * (x1 + dx), 2 * (y1 + dy))],
                       fill=255, width=2 * width)
            images.append(normalize_glyph(np.asarray(im), size))
            labels.append(c)
            sources.append(f)
    return np.stack(images), np.array(labels), np.array(sources)


def write_glyphs(path: Path, num_classes: int, fonts: int, font_offset: int = 0) -> Path:
    from siam_workbench.data.glyphs import GlyphWriter

    images, labels, sources = synth_normalized(num_classes, fonts, font_offset)
    classes = [chr(ord("A") + i) for i in range(num_classes)]
    with GlyphWriter(path, classes, [f"synth{font_offset + i}.ttf#0" for i in range(fonts)],
                     37, alphabet="synthetic") as w:
        w.append(images, labels, sources)
    return path


def make_tiny(root: Path, positive: str = "auto-probabilistic",
              negative: str = "auto-clustering", epochs: int = 3, iterations: int = 15,
              classes: int = 12, name: str = "tiny") -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    write_glyphs(root / "data" / "train.h5", classes, fonts=4)
    write_glyphs(root / "data" / "val.h5", classes, fonts=2, font_offset=10)
    (root / "project.toml").write_text(TINY_TOML.format(
        name=name, positive=positive, negative=negative, epochs=epochs,
        iterations=iterations), encoding="utf-8")
    return root


def train(root: Path, run_name: str, updates: dict[str, dict[str, Any]] | None = None,
          record: bool = False) -> tuple[Path, list[Any]]:
    """Train a run of the project at ``root`` into ``runs/<run_name>`` (one CPU thread: on a
    loaded two-core machine that is several times faster than two)."""
    import torch

    from siam_workbench.app.workers import copy_event
    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    project = load_project(root)
    config = project.config.replace(updates) if updates else project.config
    events: list[Any] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(project, config=config, run_dir=project.runs_dir / run_name)
        if record:
            trainer.subscribe(lambda e: events.append(copy_event(e)))
        final = trainer.run()
    finally:
        torch.set_num_threads(threads)
    assert type(final).__name__ == "RunFinished", final
    return project.runs_dir / run_name, events


@dataclass
class Trained:
    root: Path
    run_dir: Path
    events: list[Any] = field(default_factory=list)

    def copy_to(self, dest: Path) -> Path:
        """A private copy of the project (tests that write drawings or runs)."""
        shutil.copytree(self.root, dest)
        return dest


_CACHE: dict[str, Trained] = {}


def trained_tiny() -> Trained:
    """The tiny project, trained once per process (≈ 10–30 s on a busy 2-core machine)."""
    if "tiny" not in _CACHE:
        tmp = tempfile.mkdtemp(prefix="wb2-tiny-")
        atexit.register(shutil.rmtree, tmp, True)
        root = make_tiny(Path(tmp) / "tiny")
        # The paper's metric loss, in the project itself: its three parts (g1, g2, g3) are what
        # the plots and views show part by part, and the run's settings are the project's.
        with (root / "project.toml").open("a", encoding="utf-8") as f:
            f.write('\n[loss]\nkind = "metric"\nalpha = 10.0\n')
        run_dir, events = train(root, "run-ap-ac", record=True)
        _CACHE["tiny"] = Trained(root, run_dir, events)
    return _CACHE["tiny"]


# -- synthetic big runs ------------------------------------------------------------------------
def hangul_classes(n: int = 11_172) -> list[str]:
    return [chr(0xAC00 + i) for i in range(n)]


def synthetic_mining(num_classes: int, epochs: int, eta: int = 1000, dim: int = 25,
                     seed: int = 0) -> dict[str, Any]:
    """Probabilities, clusters, mean distances, edges per epoch and centers that look like an
    auto-probabilistic + auto-clustering run: groups of nearby centers form the clusters."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, dim)).astype(np.float32) * 3
    rows: dict[str, list[np.ndarray]] = {"probabilities": [], "clusters": [],
                                         "mean_distance": []}
    edges: dict[int, np.ndarray] = {}
    for e in range(epochs):
        dist = rng.gamma(2.0, 1.0 + 0.2 * e, size=num_classes)
        p = dist ** 2
        rows["probabilities"].append(p / p.sum())
        rows["mean_distance"].append(dist)
        clusters = np.full(num_classes, -1, dtype=np.int64)
        pairs = []
        members = rng.permutation(num_classes)
        pos, cid = 0, 0
        while len(pairs) < eta and pos < num_classes - 1:
            size = int(rng.integers(2, 12))
            group = members[pos:pos + size]
            pos += size
            if group.size < 2:
                break
            clusters[group] = cid
            cid += 1
            for a, b in zip(group[:-1], group[1:]):
                pairs.append((min(a, b), max(a, b)))
            centers[group] = centers[group[0]] + rng.normal(size=(group.size, dim)) * 0.3
        rows["clusters"].append(clusters)
        edges[e] = np.array(pairs[:eta], dtype=np.int64)
    return {"centers": centers, "edges": edges,
            **{k: np.stack(v) for k, v in rows.items()}}


def write_synthetic_run(run_dir: Path, classes: list[str], epochs: int = 4, eta: int = 1000,
                        positive: str = "auto-probabilistic",
                        negative: str = "auto-clustering") -> dict[str, Any]:
    """A finished-looking run folder: config.toml, status.json, metrics.jsonl, mining.h5,
    centers.npy — through siam_workbench.project.runfiles' writers, so the format is the
    engine's."""
    from siam_workbench.project.config import Config
    from siam_workbench.project.runfiles import MetricsLog, MiningLog, save_centers, write_status

    run_dir.mkdir(parents=True, exist_ok=True)
    data = synthetic_mining(len(classes), epochs, eta)
    if positive == "random":  # what the random miner logs: the uniform distribution
        data["probabilities"][:] = 1.0 / len(classes)
    if negative != "auto-clustering":  # only auto-clustering forms clusters
        data["clusters"][:] = -1
        data["edges"] = {e: np.zeros((0, 2), np.int64) for e in range(epochs)}
    cfg = Config().replace({"mining": {"positive": positive, "negative": negative, "eta": eta},
                            "train": {"epochs": epochs}})
    (run_dir / "config.toml").write_text(cfg.to_toml(), encoding="utf-8")
    log = MiningLog(run_dir / "mining.h5", classes, positive, negative)
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    for e in range(epochs):
        log.append(e, data["probabilities"][e], data["clusters"][e], data["mean_distance"][e],
                   data["edges"][e])
        for it in range(5):
            metrics.write("iteration", epoch=e, iteration=it, step=e * 5 + it,
                          loss=10.0 / (1 + e * 5 + it), images_per_s=1000.0, lr=1e-3)
        metrics.write("epoch", epoch=e, top1=0.1 * (e + 1), top5=min(1.0, 0.2 * (e + 1)),
                      val_top1=None,
                      val_top5=None, loss=1.0, seconds=1.0, best=True)
    metrics.close()
    save_centers(run_dir, data["centers"])
    write_status(run_dir, status="finished", epoch=epochs, epochs=epochs, best_top1=0.1 * epochs)
    return data


def epoch_event(data: dict[str, Any], epoch: int, epochs: int) -> Any:
    """An ``EpochFinished`` carrying row ``epoch`` of :func:`synthetic_mining`'s data."""
    from siam_workbench.train.events import EpochFinished

    return EpochFinished(epoch=epoch, epochs=epochs, top1=0.5, top5=0.8, val_top1=None,
                         val_top5=None, loss=1.0, seconds=1.0,
                         probabilities=data["probabilities"][epoch].copy(),
                         clusters=data["clusters"][epoch].copy(),
                         mean_distance=data["mean_distance"][epoch].copy(),
                         centers=data["centers"].copy())

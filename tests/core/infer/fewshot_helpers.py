"""Shared by the few-shot tests: a tiny trained run and images of shapes it never trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tests.conftest import make_tiny_project


def train_tiny(root: Path) -> Path:
    """A tiny project trained for a few seconds; returns its run folder."""
    import torch

    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    make_tiny_project(root, epochs=2, iterations=6)
    torch.set_num_threads(1)
    trainer = Trainer(load_project(root), run_dir=root / "runs" / "r")
    trainer.run()
    assert trainer.state == "finished"
    return root / "runs" / "r"


def shape_image(kind: str, variant: int) -> np.ndarray:
    """Dark-on-white drawings of a ring or a box (variants shift and thicken the strokes),
    in odd sizes, as a scan or a phone photo would be."""
    dx, w = [(0, 6), (4, 8), (-3, 7)][variant % 3]
    if kind == "ring":
        im = Image.new("L", (90, 80), 255)
        d = ImageDraw.Draw(im)
        d.ellipse([15 + dx, 10, 70 + dx, 65], outline=0, width=w)
        d.line([20 + dx, 70, 75 + dx, 5], fill=0, width=w)
    else:
        im = Image.new("L", (60, 100), 255)
        d = ImageDraw.Draw(im)
        d.rectangle([10 + dx, 10, 45 + dx, 85], outline=0, width=w // 2 + 2)
        d.line([10 + dx, 45, 45 + dx, 45], fill=0, width=w // 2 + 2)
        d.line([10 + dx, 85, 45 + dx, 10], fill=0, width=max(2, w // 3))
    return np.asarray(im)


def shape_pngs(folder: Path, kind: str, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for v in range(n):
        p = folder / f"{kind}{v}.png"
        Image.fromarray(shape_image(kind, v)).save(p)
        out.append(p)
    return out

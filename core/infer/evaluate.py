"""Load a finished (or running) run's model and centers; measure nearest-center accuracy.

Evaluation maps the evaluated file's classes to the run's classes *by name*, so a test file
rendered separately (other fonts, other class order, a subset) is scored correctly; samples of
classes the run never saw are counted and reported, not silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.data.glyphs import load_glyphs
from core.errors import SiamError
from core.infer.centers import embed, nearest_centers, topk_accuracy
from core.train.checkpoint import check_model_fields, load_checkpoint
from core.train.models import build_model, resolve_device
from core.train.project import is_run_dir


@dataclass
class RunModel:
    """A trained network ready for inference, with its class centers and class names."""

    run_dir: Path
    model: nn.Module
    centers: torch.Tensor  # [C, D] float32 (NaN rows: classes without samples)
    classes: list[str]
    space: str
    image_size: int
    device: torch.device
    meta: dict[str, Any] = field(default_factory=dict)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return embed(self.model, images, self.device, self.space)

    def classify(self, images: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images [N,H,W] → (distances [N,k], class indices [N,k])."""
        return nearest_centers(self.embed(images), self.centers, k=k)


def load_run(run_dir: str | Path, which: str = "best", device: str = "cpu") -> RunModel:
    """Open ``runs/<id>``; ``which`` = best | last (best falls back to last)."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    ckpt_dir = run_dir / "checkpoints"
    path = ckpt_dir / f"{which}.pt"
    if which == "best" and not path.exists():
        path = ckpt_dir / "last.pt"
    dev = resolve_device(device)
    state = load_checkpoint(path, map_location=dev)
    check_model_fields(state, path)  # sizes, shapes, finiteness: before building anything
    try:
        model = build_model(state["backbone"], int(state["embedding_dim"])).to(dev)
        model.load_state_dict(state["model"])
        centers = state["centers"].float().cpu()
        classes = [str(c) for c in state["classes"]]
    except (KeyError, RuntimeError, TypeError) as exc:
        raise SiamError(f"checkpoint is incomplete ({type(exc).__name__}: {exc})", path) from None
    if centers.shape[0] != len(classes):
        raise SiamError("checkpoint centers and classes disagree", path)
    model.eval()
    epoch = state.get("epoch", 0)
    meta = {"checkpoint": str(path), "epoch": epoch if isinstance(epoch, int) else 0,
            "backbone": state["backbone"], "best": state.get("best")}
    return RunModel(run_dir=run_dir, model=model, centers=centers, classes=classes,
                    space=str(state["space"]), image_size=int(state["image_size"]),
                    device=dev, meta=meta)


def evaluate(run: RunModel, data_path: str | Path, k: int = 5,
             keep_predictions: bool = False) -> dict[str, Any]:
    """Top-1 / top-5 nearest-center accuracy of ``run`` on a glyph file."""
    data = load_glyphs(data_path)
    if data.image_size != run.image_size:
        raise SiamError(f"images are {data.image_size}×{data.image_size}, the run's network takes "
                        f"{run.image_size}×{run.image_size}", data_path)
    index = {c: i for i, c in enumerate(run.classes)}
    mapped = torch.tensor([index.get(c, -1) for c in data.classes], dtype=torch.int64)
    labels = mapped[data.labels] if len(data) else torch.zeros(0, dtype=torch.int64)
    known = labels >= 0
    n_unknown = int((~known).sum())
    if int(known.sum()) == 0:
        raise SiamError("none of its classes are known to the run", data_path)
    images, labels = data.images[known], labels[known]
    dist, idx = run.classify(images, k=max(k, 5))
    if dist.numel() and not bool(torch.isfinite(dist).all()):
        raise SiamError("the network gives non-finite distances on this data (a damaged "
                        "checkpoint?)", run.meta.get("checkpoint", run.run_dir))
    top1, top5 = topk_accuracy(idx, labels)
    result: dict[str, Any] = {"top1": top1, "top5": top5, "n": int(labels.shape[0]),
                              "unknown_classes": n_unknown, "data": str(data_path),
                              "run": str(run.run_dir)}
    if keep_predictions:
        result["labels"] = labels.numpy()
        result["pred"] = idx.numpy()
        result["dist"] = dist.numpy()
        result["rows"] = data.rows[known.numpy()]
    return result


def per_class_accuracy(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy per class (NaN where a class has no samples) for the Miners/Runs views."""
    hits = np.bincount(labels, weights=(pred[:, 0] == labels), minlength=num_classes)
    total = np.bincount(labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / total


def dumps(result: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in result.items() if not isinstance(v, np.ndarray)})

"""Load a finished (or running) run's model and centers; measure nearest-center accuracy.

Evaluation maps the evaluated file's classes to the run's classes *by name*, so a test file
rendered separately (other fonts, other class order, a subset) is scored correctly; samples of
classes the run never saw are counted and reported, not silently dropped.
"""

from __future__ import annotations

import json
import tomllib
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
    # How the run's training images were framed (image_size, margin, size_mode): query and
    # drawing frame their images the same way. Runs from before it was recorded: margin 2.
    preprocess: dict[str, Any] = field(default_factory=dict)

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
    preprocess = {"image_size": int(state["image_size"]), "margin": 2, "size_mode": "fit",
                  **dict(state.get("preprocess") or {})}
    run = RunModel(run_dir=run_dir, model=model, centers=centers, classes=classes,
                   space=str(state["space"]), image_size=int(state["image_size"]),
                   device=dev, meta=meta, preprocess=preprocess)
    if int(state.get("centers_step", state.get("step", 0))) != int(state.get("step", 0)):
        _recompute_centers(run, state)
    return run


def _recompute_centers(run: RunModel, state: dict[str, Any]) -> None:
    """A run stopped mid-epoch saved weights newer than its centers (the epoch-end pass had not
    run); classify with centers of *these* weights, from the run's training file, rather than
    with centers that belong to other weights. Without the training file the saved centers
    stay, and ``meta["centers"]`` says they are stale."""
    from core.infer.centers import class_centers
    from core.train.config import Config

    try:
        config = Config(tomllib.loads(str(state["config"])))
        train_path = Path(config.data.train).expanduser()
        if not train_path.is_absolute():
            train_path = run.run_dir.parent.parent / train_path
        train = load_glyphs(train_path)
    except (SiamError, KeyError, tomllib.TOMLDecodeError):
        run.meta["centers"] = "stale (from the last epoch end; training data not found)"
        return
    train, _ = train.aligned_to(run.classes)
    emb = embed(run.model, train.images, run.device, run.space)
    centers, _ = class_centers(emb, train.labels, len(run.classes))
    run.centers = centers
    run.meta["centers"] = f"recomputed from the weights at step {int(state['step'])}"


def evaluate(run: RunModel, data_path: str | Path, k: int = 5,
             keep_predictions: bool = False) -> dict[str, Any]:
    """Top-1 / top-5 nearest-center accuracy of ``run`` on a glyph file."""
    data = load_glyphs(data_path)
    if data.image_size != run.image_size:
        raise SiamError(f"images are {data.image_size}×{data.image_size}, the run's network takes "
                        f"{run.image_size}×{run.image_size}", data_path)
    known, n_unknown = data.aligned_to(run.classes)
    if len(known) == 0:
        raise SiamError("none of its classes are known to the run", data_path)
    labels = known.labels
    dist, idx = run.classify(known.images, k=max(k, 5))
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
        result["rows"] = known.rows
    return result


def per_class_accuracy(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy per class (NaN where a class has no samples) for the Miners/Runs views."""
    hits = np.bincount(labels, weights=(pred[:, 0] == labels), minlength=num_classes)
    total = np.bincount(labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / total


def dumps(result: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in result.items() if not isinstance(v, np.ndarray)})

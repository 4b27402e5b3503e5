"""The softmax baseline: the same backbone trained as a plain classifier.

Every Siamese figure stands beside it (DESIGN §7): the backbone's embedding followed by a linear
layer over the C classes, cross-entropy, the same augmentation, optimiser and learning-rate
schedule, and the same budget counted in images through the network. It is read two ways: the
classifier's argmax, and — like the Siamese networks — the nearest class center of its
embedding, which is what carries over to classes or fonts the head never saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siam_workbench.data.glyphs import GlyphSet
from siam_workbench.model.backbones import build_model
from siam_workbench.parts.augment import Augmenter
from siam_workbench.parts.centers import (
    class_centers,
    embed,
    images_to_input,
    nearest_centers,
    topk_accuracy,
)
from siam_workbench.project.config import Config
from siam_workbench.train.schedule import lr_at


@dataclass
class SoftmaxResult:
    images: int
    seconds: float
    curve: list[dict[str, Any]] = field(default_factory=list)  # per evaluation point
    final: dict[str, dict[str, float]] = field(default_factory=dict)  # set → metrics
    backbone: Any = None  # the trained backbone (its embedding: few-shot baselines)


class _Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, dim: int, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@torch.no_grad()
def _score(model: _Classifier, train: GlyphSet, data: GlyphSet, device: torch.device,
           centers: torch.Tensor) -> dict[str, float]:
    data, _ = data.aligned_to(train.classes)
    model.eval()
    # Top-5 per block, not the whole logit matrix: at 11,172 classes the 89,376 test images'
    # logits alone are 4 GB (and twice that while concatenated).
    top5 = torch.cat([torch.topk(model(images_to_input(data.images[s:s + 1024], device)),
                                 min(5, train.num_classes), dim=1).indices.cpu()
                      for s in range(0, len(data), 1024)])
    model.train()
    arg1, arg5 = topk_accuracy(top5, data.labels)
    emb = embed(model.backbone, data.images, device, "raw")
    _, idx = nearest_centers(emb, centers, k=5)
    c1, c5 = topk_accuracy(idx, data.labels)
    return {"argmax_top1": arg1, "argmax_top5": arg5, "center_top1": c1, "center_top5": c5}


def train_softmax(train: GlyphSet, config: Config, images: int,
                  evaluate: dict[str, GlyphSet] | None = None, eval_every: int = 0,
                  device: str | torch.device = "cpu",
                  progress: Callable[[int, int], None] | None = None) -> SoftmaxResult:
    """Train the classifier on ``train`` for ``images`` images (batches of
    ``classes_per_batch × samples_per_class``, or ``3 × triplets`` in the triplet mode, so each
    step costs what a Siamese step costs) and score it on ``evaluate`` every ``eval_every``
    images and at the end."""
    cfg = config.train
    torch.manual_seed(cfg.seed)
    dev = torch.device(device)
    backbone = build_model(config.model.backbone, config.model.embedding_dim)
    model = _Classifier(backbone, config.model.embedding_dim, train.num_classes).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    aug = Augmenter(config.augment, train.image_size)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed + 1)
    rng = np.random.default_rng(cfg.seed)
    batch = (cfg.classes_per_batch * cfg.samples_per_class if cfg.batch_mode == "pk"
             else 3 * cfg.triplets)
    steps = max(1, images // batch)
    data = train.images.to(dev)
    labels = train.labels.to(dev)
    result = SoftmaxResult(images=0, seconds=0.0)
    t0 = time.perf_counter()
    next_eval = eval_every or 0
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, cfg.lr, cfg.lr_schedule, cfg.warmup, cfg.lr_min)
        rows = torch.from_numpy(rng.integers(0, len(train), size=batch)).to(dev)
        x = aug(images_to_input(data[rows], dev), gen)
        loss = F.cross_entropy(model(x), labels[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        result.images += batch
        if progress:
            progress(step + 1, steps)
        last = step == steps - 1
        if evaluate and ((eval_every and result.images >= next_eval) or last):
            result.seconds += time.perf_counter() - t0
            emb = embed(model.backbone, train.images, dev, "raw")
            centers, _ = class_centers(emb, train.labels, train.num_classes)
            point: dict[str, Any] = {"images": result.images,
                                     "seconds": round(result.seconds, 1)}
            for name, ds in evaluate.items():
                point[name] = _score(model, train, ds, dev, centers)
            result.curve.append(point)
            next_eval += eval_every
            t0 = time.perf_counter()
    result.seconds += time.perf_counter() - t0
    result.backbone = model.backbone.eval()
    if result.curve:
        result.final = {k: v for k, v in result.curve[-1].items() if isinstance(v, dict)}
    return result

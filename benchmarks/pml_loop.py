"""The standard library's loop, for comparison: pytorch-metric-learning's semi-hard triplets.

What a practitioner would try first instead of this workbench (issue "Training that learns"):
``MPerClassSampler`` (m = 4, batch 1,536), ``TripletMarginMiner`` semi-hard and
``TripletMarginLoss`` (margin 0.2, cosine similarity — the recipe of PML's own MNIST example),
Adam, on the same ``mokin37`` network, the same training file and the same batched augmentation
as the Siamese runs it is compared with. It is scored like them: nearest class center, here of
L2-normalised embeddings (the space its loss works in).

An optional benchmark extra (``pip install -e '.[bench]'``), never a runtime dependency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from siam_workbench.data.glyphs import GlyphSet
from siam_workbench.model.backbones import build_model
from siam_workbench.parts.augment import Augmenter
from siam_workbench.parts.centers import (
    class_centers,
    images_to_input,
    nearest_centers,
    topk_accuracy,
)
from siam_workbench.project.config import Config

BATCH = 1536
M_PER_CLASS = 4
MARGIN = 0.2


@dataclass
class PMLResult:
    images: int = 0
    seconds: float = 0.0
    curve: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, dict[str, float]] = field(default_factory=dict)


@torch.no_grad()
def _embed_normalised(model: torch.nn.Module, images: torch.Tensor,
                      device: torch.device) -> torch.Tensor:
    model.eval()
    out = [F.normalize(model(images_to_input(images[s:s + 1024], device)), dim=1).cpu()
           for s in range(0, images.shape[0], 1024)]
    model.train()
    return torch.cat(out)


def _score(model, train: GlyphSet, evaluate: dict[str, GlyphSet],
           device: torch.device) -> dict[str, dict[str, float]]:
    centers, _ = class_centers(_embed_normalised(model, train.images, device), train.labels,
                               train.num_classes)
    out = {}
    for name, data in evaluate.items():
        data, _ = data.aligned_to(train.classes)
        _, idx = nearest_centers(_embed_normalised(model, data.images, device), centers, k=5)
        top1, top5 = topk_accuracy(idx, data.labels)
        out[name] = {"top1": top1, "top5": top5}
    return out


def train_pml(train: GlyphSet, config: Config, images: int | None = None,
              seconds: float | None = None, evaluate: dict[str, GlyphSet] | None = None,
              eval_every: int = 0, device: str | torch.device = "cpu",
              lr: float = 1e-3) -> PMLResult:
    """Train until ``images`` images or ``seconds`` of training (evaluation excluded), whichever
    comes first; score on ``evaluate`` every ``eval_every`` images and at the end."""
    from pytorch_metric_learning import distances, losses, miners, reducers, samplers

    dev = torch.device(device)
    torch.manual_seed(config.train.seed)
    model = build_model(config.model.backbone, config.model.embedding_dim).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    distance = distances.CosineSimilarity()
    loss_fn = losses.TripletMarginLoss(margin=MARGIN, distance=distance,
                                       reducer=reducers.ThresholdReducer(low=0))
    miner = miners.TripletMarginMiner(margin=MARGIN, distance=distance,
                                      type_of_triplets="semihard")
    labels_np = train.labels.numpy()
    # 1,536 (the loop this stands for), or all classes × m on a small alphabet.
    batch = min(BATCH, M_PER_CLASS * len(np.unique(labels_np)))
    sampler = samplers.MPerClassSampler(labels_np, m=M_PER_CLASS, batch_size=batch,
                                        length_before_new_iter=max(batch, len(labels_np)))
    aug = Augmenter(config.augment, train.image_size)
    gen = torch.Generator(device=dev).manual_seed(config.train.seed + 1)
    data, labels = train.images.to(dev), train.labels.to(dev)
    result = PMLResult()
    next_eval = eval_every
    images = images or 10**12
    seconds = seconds or float("inf")
    t0 = time.perf_counter()
    while result.images < images and result.seconds + (time.perf_counter() - t0) < seconds:
        order = np.fromiter(iter(sampler), dtype=np.int64)
        for s in range(0, len(order) - batch + 1, batch):
            rows = torch.from_numpy(order[s:s + batch]).to(dev)
            x = aug(images_to_input(data[rows], dev), gen)
            emb = model(x)
            y = labels[rows]
            loss = loss_fn(emb, y, miner(emb, y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            result.images += batch
            done = (result.images >= images
                    or result.seconds + (time.perf_counter() - t0) >= seconds)
            if evaluate and ((eval_every and result.images >= next_eval) or done):
                result.seconds += time.perf_counter() - t0
                result.curve.append({"images": result.images,
                                     "seconds": round(result.seconds, 1),
                                     **_score(model, train, evaluate, dev)})
                next_eval += eval_every
                t0 = time.perf_counter()
            if done:
                break
    result.seconds += time.perf_counter() - t0
    if result.curve:
        result.final = {k: v for k, v in result.curve[-1].items() if isinstance(v, dict)}
    return result

"""Export a run as one TorchScript file that loads with plain ``torch.jit.load`` — no Siam
Workbench needed on the deploying side. The file carries the network, the class centers and
(as extra files) the class list and preprocessing facts.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.atomic import atomic_path
from core.infer.evaluate import RunModel


class ExportedClassifier(nn.Module):
    """``forward(x)`` → embeddings; ``classify(x, k)`` → (distances, class indices).

    ``x`` is float ``[B,1,H,W]`` in [0,1] with ink = 1 (see meta.json in the file).
    """

    def __init__(self, net: nn.Module, centers: Tensor, softplus: bool) -> None:
        super().__init__()
        self.net = net
        valid = ~torch.isnan(centers).any(dim=1)
        self.register_buffer("centers", centers[valid].clone())
        self.register_buffer("class_ids", torch.nonzero(valid).squeeze(1).clone())
        self.softplus = softplus

    def forward(self, x: Tensor) -> Tensor:
        e = self.net(x)
        if self.softplus:
            e = F.softplus(e)
        return e

    @torch.jit.export
    def classify(self, x: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
        d = torch.cdist(self.forward(x), self.centers)
        k = min(k, int(self.centers.shape[0]))
        dist, i = torch.topk(d, k, dim=1, largest=False)
        return dist, self.class_ids[i]


def export_run(run: RunModel, out: str | Path, force: bool = False) -> Path:
    out = Path(out)
    net = run.model.cpu().eval()
    module = ExportedClassifier(net, run.centers.cpu(), run.space == "softplus")
    extra = {
        "classes.json": json.dumps(run.classes, ensure_ascii=False),
        "meta.json": json.dumps({
            "format": "siam-export/1",
            "image_size": run.image_size,
            "input": "float [B,1,H,W] in [0,1], ink = 1; "
                     + ("glyph cropped to ink, padded and resized to image_size"
                        if run.preprocess.get("size_mode", "fit") == "fit" else
                        "em box (0.95 em above to 0.25 em below the baseline) scaled to "
                        "image_size, ink centred horizontally")
                     + f" (margin {run.preprocess.get('margin', 2)})",
            "preprocess": run.preprocess,
            "space": run.space,
            "run": str(run.run_dir),
            **{k: v for k, v in run.meta.items() if isinstance(v, (int, float, str))},
        }),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
        buf = io.BytesIO()
        torch.jit.save(scripted, buf, _extra_files=extra)
    with atomic_path(out, force=force) as tmp:
        tmp.write_bytes(buf.getvalue())
    return out

"""Divergence guard: stop a run whose loss or weights explode, before a checkpoint keeps them.

A non-finite loss already stops training. A loss of 10³⁵ is finite, though, and softsign
embeddings stay bounded while the weights under them run off to infinity, so the guard also
watches the size of the loss and of the weights against their values at the start of the run
(or of the resumed session). "Exploding" means growing by :data:`FACTOR` (four orders of
magnitude): far beyond any healthy run, where the loss falls and the weights grow slowly.
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import nn

#: Growth over the starting value that counts as divergence (loss, and norm of the weights).
FACTOR = 1e4
#: Iterations whose losses set the reference (their median).
WARMUP = 5
#: Reference floor, so a run that starts at a loss of ~0 is not stopped by ordinary noise.
LOSS_FLOOR = 1e-3


class DivergenceGuard:
    """``check(loss, model)`` after every optimiser step; a returned message stops the run."""

    def __init__(self, factor: float = FACTOR, warmup: int = WARMUP) -> None:
        self.factor = factor
        self.warmup = warmup
        self._first: list[float] = []
        self.loss_reference: float | None = None
        self.weight_reference: float | None = None

    def check(self, loss: float, model: nn.Module) -> str | None:
        problem = self._check_loss(loss)
        return problem or self._check_weights(model)

    def _check_loss(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            return f"loss became {loss}"
        if self.loss_reference is None:
            self._first.append(loss)
            if len(self._first) >= self.warmup:
                self.loss_reference = max(statistics.median(self._first), LOSS_FLOOR)
            return None
        if loss > self.factor * self.loss_reference:
            return (f"loss exploded to {loss:.3g}, {loss / self.loss_reference:.2g}× its "
                    f"starting value {self.loss_reference:.3g}")
        return None

    def _check_weights(self, model: nn.Module) -> str | None:
        params = [p.detach() for p in model.parameters()]
        if not params:
            return None
        with torch.no_grad():
            norm = float(torch.nn.utils.get_total_norm(params, norm_type=2.0))
        if not math.isfinite(norm):
            return "the network's weights became NaN or infinite"
        if self.weight_reference is None:
            self.weight_reference = max(norm, 1e-6)
            return None
        if norm > self.factor * self.weight_reference:
            ref = self.weight_reference
            return (f"the network's weights exploded (norm {norm:.3g}, {norm / ref:.2g}× the "
                    f"starting {ref:.3g})")
        return None


def step_memory(model: nn.Module, image_size: int, samples: int,
                device: torch.device | str = "cpu") -> int:
    """Bytes one training step over ``samples`` images needs, roughly: every layer's output is
    kept for the backward pass and gets a gradient of the same size, measured with one image
    through the network (×2.5: within 20 % of the measured peak for mokin37, twice it for
    koch105, whose in-place activations save more)."""
    sizes: list[int] = []
    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(
        lambda _m, _i, out: sizes.append(out.numel() * out.element_size())
        if isinstance(out, torch.Tensor) else None) for m in leaves]
    was_training = model.training
    try:
        model.eval()  # batch norm cannot train on one image; eval changes no statistics
        with torch.no_grad():
            model(torch.zeros(1, 1, image_size, image_size, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    per_image = sum(sizes) + 4 * image_size * image_size
    return int(2.5 * per_image * samples)


def check_step_memory(model: nn.Module, image_size: int, samples: int,
                      device: torch.device | str = "cpu") -> None:
    """Refuse, with the figures, a training step larger than the memory available (before the
    first step, instead of the kernel's OOM killer half-way through)."""
    from siam_workbench.base.errors import SiamError
    from siam_workbench.base.paths import available_memory, human_bytes

    need = step_memory(model, image_size, samples, device)
    dev = torch.device(device)
    if dev.type == "cuda":
        avail = int(torch.cuda.mem_get_info(dev)[0])
    else:
        avail = available_memory()
    if need > avail:
        raise SiamError(f"one training step of {samples:,} images needs about "
                        f"{human_bytes(need)}, more than the {human_bytes(avail)} of memory "
                        "available; lower train.triplets (or mining.hard_ratio)")

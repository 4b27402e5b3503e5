"""Backbone registry. ``mokin37`` is the paper's Table 1 network; others plug in by name so the
config, checkpoints and export all refer to backbones the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from siam_workbench.base.part import PartRegistry

ModelFactory = Callable[[int], nn.Module]
#: name → factory ``f(embedding_dim) -> nn.Module``; each factory carries the part attributes
#: (``name``, ``label``, ``short``, ``help``, ``params`` — see
#: :class:`siam_workbench.base.part.Part`).
MODELS: PartRegistry[ModelFactory] = PartRegistry("a backbone")
INPUT_SIZES: dict[str, int] = {}


def register_model(name: str, input_size: int, label: str = "", help: str = "",
                   short: str = "") -> Callable[[ModelFactory], ModelFactory]:
    """Decorator adding a factory ``f(embedding_dim) -> nn.Module`` under ``name``; ``label``
    and ``help`` are what the form and ``siam parts`` show (``help`` defaults to the first line
    of the factory's docstring)."""

    def deco(factory: ModelFactory) -> ModelFactory:
        MODELS.add(name, factory)
        INPUT_SIZES[name] = input_size
        doc = (factory.__doc__ or "").strip().splitlines()
        f: Any = factory
        f.name, f.short, f.params = name, short or name, {}
        f.label = label or name
        f.help = help or (doc[0] if doc else "")
        f.input_size = input_size
        return factory

    return deco


def backbone_describe(name: str) -> str:
    """Rich text for the help: the backbone's label, input size and help."""
    f: Any = MODELS[name]
    return f"<b>{f.label}</b> ({f.input_size}×{f.input_size} input): {f.help}"


def build_model(name: str = "mokin37", embedding_dim: int = 25) -> nn.Module:
    if name not in MODELS:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](embedding_dim)


class _SoftsignFn(torch.autograd.Function):
    """softsign with its derivative taken from the output: d/dx = (1 − |y|)².

    Autograd's composite of abs/add/div keeps three intermediates and runs five kernels
    backwards; on CPU that cost as much as the convolutions of the 37×37 network.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = x / (1 + x.abs())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        t = 1 - y.abs()
        return grad * t * t


class Softsign(nn.Softsign):
    """``nn.Softsign`` with a fused backward; scripts (export) to the plain formula."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting() or not torch.is_grad_enabled():
            return x / (1 + x.abs())
        return self._fused(x)

    @torch.jit.unused
    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        return _SoftsignFn.apply(x)


def _conv(cin: int, cout: int, k: int, s: int, p: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=s, padding=p), Softsign()]


@register_model("mokin37", input_size=37, label="mokin37 — the paper's Table 1 network")
def mokin37(embedding_dim: int = 25) -> nn.Module:
    """Table 1: six softsign convolutions, 37×37×1 → 9×9×24, then a linear layer to 25."""
    return nn.Sequential(
        *_conv(1, 16, 3, 1, 0),  # 35×35×16
        *_conv(16, 16, 5, 2, 2),  # 18×18×16
        *_conv(16, 16, 3, 1, 1),  # 18×18×16
        *_conv(16, 24, 5, 2, 2),  # 9×9×24
        *_conv(24, 24, 3, 1, 1),  # 9×9×24
        *_conv(24, 24, 3, 1, 1),  # 9×9×24
        nn.Flatten(),
        nn.Linear(9 * 9 * 24, embedding_dim),
    )


@register_model("lenet37", input_size=37, label="lenet37 — LeNet-5 style baseline")
def lenet37(embedding_dim: int = 25) -> nn.Module:
    """A LeNet-5-style baseline (tanh, average pooling) on the same 37×37 input."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),  # 33 → 16
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),  # 12 → 6
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, embedding_dim),
    )


@register_model("koch105", input_size=105, label="koch105 — Koch et al. 2015, 105×105")
def koch105(embedding_dim: int = 128) -> nn.Module:
    """Koch et al. (2015) style network for 105×105 Omniglot images, with a linear embedding."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 10), nn.ReLU(), nn.MaxPool2d(2),  # 96 → 48
        nn.Conv2d(64, 128, 7), nn.ReLU(), nn.MaxPool2d(2),  # 42 → 21
        nn.Conv2d(128, 128, 4), nn.ReLU(), nn.MaxPool2d(2),  # 18 → 9
        nn.Conv2d(128, 256, 4), nn.ReLU(),  # 6
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, embedding_dim),
    )


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is a user error."""
    from siam_workbench.base.errors import SiamError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SiamError("device 'cuda' requested but no CUDA device is available "
                        "(use device = \"auto\" or \"cpu\")")
    if name not in ("cpu", "cuda"):
        raise SiamError(f"unknown device {name!r} (auto, cpu or cuda)")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return "CPU"

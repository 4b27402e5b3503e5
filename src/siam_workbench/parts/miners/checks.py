"""What a miner returns, checked where the sampler receives it.

A miner from a plug-in may raise, return NaN, the wrong shape, class indices out of range or
as floats, a negative that is the anchor's own class, or probabilities that are negative or do
not sum to 1. Unchecked, that meant a traceback and "failed: internal error" with the plug-in
unnamed — or, worse, silently wrong triplets. Each check raises one line naming the miner, the
file it comes from and what it returned (as PyTorch Metric Learning's output assertions do).
The built-in miners pass the same checks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siam_workbench.base.errors import SiamError

#: How far a distribution's sum may stray from 1 (float64 sums of C terms).
SUM_TOLERANCE = 1e-6


def describe(miner: Any) -> str:
    """``positive miner 'val-error' (plugins/error_miner.py)``; built-ins say "built-in"."""
    cls = type(miner)
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    builtin = cls.__module__.startswith("siam_workbench.") or not file
    where = "built-in" if builtin or not file else Path(file).name
    return f"{getattr(miner, 'role', '?')} miner {getattr(miner, 'name', cls.__name__)!r} " \
           f"({where})"


def call(miner: Any, method: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``; an exception (or sys.exit) from the miner becomes one line naming it."""
    try:
        return fn(*args)
    except SiamError as exc:
        raise SiamError(f"{describe(miner)}: {method}: {exc}") from None
    except (Exception, SystemExit) as exc:
        what = (f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit)
                else f"raised {type(exc).__name__}: {exc}")
        raise SiamError(f"{describe(miner)}: {method} {what}") from None


def _fail(miner: Any, method: str, what: str) -> SiamError:
    return SiamError(f"{describe(miner)}: {method} returned {what}")


def probabilities(miner: Any, probs: Any, present: np.ndarray) -> np.ndarray:
    """A distribution over the C classes: finite, ≥ 0, 0 where a class has no samples,
    summing to 1, and giving some class a chance."""
    c = present.shape[0]
    a = np.asarray(probs)
    if a.shape != (c,) or a.dtype.kind not in "fiub":
        raise _fail(miner, "probabilities()", f"{a.dtype} {a.shape}; expected float [{c}]")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise _fail(miner, "probabilities()", f"{int((~np.isfinite(a)).sum())} non-finite "
                    "values (NaN or inf)")
    if (a < 0).any():
        raise _fail(miner, "probabilities()", f"negative values (min {a.min():.3g})")
    if (a[~present] > 0).any():
        raise _fail(miner, "probabilities()", f"{int((a[~present] > 0).sum())} classes without "
                    "training samples drawn with probability > 0")
    total = float(a.sum())
    if not abs(total - 1.0) <= SUM_TOLERANCE:
        raise _fail(miner, "probabilities()", f"values summing to {total:.6g}, not 1")
    return a


def negatives(miner: Any, neg: Any, anchors: np.ndarray, present: np.ndarray) -> np.ndarray:
    """One integer class per anchor, in range, with samples, never the anchor's own class."""
    c = present.shape[0]
    a = np.asarray(neg)
    if a.shape != anchors.shape:
        raise _fail(miner, "sample()", f"shape {a.shape} for {anchors.shape[0]} anchors")
    if a.dtype.kind not in "iu":
        raise _fail(miner, "sample()", f"{a.dtype} values; expected integer class indices")
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() >= c):
        raise _fail(miner, "sample()", f"class indices out of range 0..{c - 1} "
                    f"(min {a.min()}, max {a.max()})")
    if (~present[a]).any():
        raise _fail(miner, "sample()", "classes without training samples")
    same = a == anchors
    if same.any():
        raise _fail(miner, "sample()", f"the anchor's own class as negative for "
                    f"{int(same.sum())} of {a.size} anchors")
    return a


def mask(miner: Any, got: Any, shape: torch.Size) -> torch.Tensor:
    """A boolean mask broadcastable to the candidates' shape."""
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool:
        kind = got.dtype if isinstance(got, torch.Tensor) else type(got).__name__
        raise _fail(miner, "select()", f"{kind}; expected a bool tensor of shape "
                    f"{tuple(shape)}")
    try:
        torch.broadcast_shapes(got.shape, shape)
    except RuntimeError:
        raise _fail(miner, "select()", f"shape {tuple(got.shape)}; expected "
                    f"{tuple(shape)}") from None
    return got


def series(miner: Any, out: Any, c: int) -> dict[str, np.ndarray]:
    """Named float arrays ``[C]`` (NaN allowed: "no value for this class")."""
    if not isinstance(out, dict):
        raise _fail(miner, "series()", f"{type(out).__name__}; expected a dict of arrays")
    checked = {}
    for key, arr in out.items():
        a = np.asarray(arr)
        if not isinstance(key, str) or a.shape != (c,) or a.dtype.kind not in "fiub":
            raise _fail(miner, "series()", f"{key!r}: {a.dtype} {a.shape}; expected float [{c}]")
        checked[key] = a.astype(np.float64)
    return checked

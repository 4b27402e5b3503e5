"""Auto-probabilistic positives (paper §3.2): classes whose samples lie far from their center are
drawn more often as anchor/positive classes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from siam_workbench.base.fields import Field
from siam_workbench.base.notice import Notice, Seen
from siam_workbench.parts.miners.base import (
    EpochStats,
    PositiveMiner,
    tensor,
    uniform_probabilities,
)
from siam_workbench.parts.miners.registry import register_miner


def _power_normalise(x: np.ndarray, gamma: float, present: np.ndarray) -> np.ndarray | None:
    """``x^γ / Σ x^γ`` over ``present`` (x ≥ 0), or ``None`` when that is not a distribution.

    ``x`` is divided by its maximum first: the ratio is unchanged (the expression is homogeneous)
    but ``d^γ`` can no longer overflow for large distances and γ up to 20.
    """
    xm = np.where(present, x, 0.0)
    top = float(xm.max(initial=0.0))
    if not math.isfinite(top) or top <= 0.0:
        return None
    r = np.where(present, (xm / top) ** gamma, 0.0)  # 0**0 = 1, so γ = 0 gives uniform
    s = float(r.sum())
    if not math.isfinite(s) or s <= 0.0:
        return None
    return r / s


def auto_probabilistic(
    mean_distance: np.ndarray,
    previous: np.ndarray,
    gamma: float,
    w: float,
    present: np.ndarray,
) -> np.ndarray:
    """Paper §3.2, equations (3) and (4), exactly as written; returns float64 ``[C]`` summing to 1.

    ``P = d^γ / Σ d^γ`` (3), then ``P_k = ((1−w)·P + w·P_{k−1})^γ`` (4), normalised. γ is applied
    twice (so with w = 0 the effective exponent is γ²); we keep that because it is what the paper
    prints. ``previous`` is the previous epoch's normalised distribution (uniform before the first
    update).

    Guards (never NaN): classes absent from ``present`` get 0. A present class whose ``d`` is NaN,
    infinite or negative gets the uniform share ``1/K`` in ``P`` and the valid classes share the
    rest in proportion to ``d^γ``. If no ``d`` is valid, or all valid ``d`` are 0, ``P`` is
    uniform; if (4) degenerates, the result is uniform.
    """
    present = np.asarray(present, dtype=bool)
    d = np.asarray(mean_distance, dtype=np.float64)
    prev = np.asarray(previous, dtype=np.float64)
    k = int(present.sum())
    if k == 0:
        return np.zeros(present.shape[0], dtype=np.float64)
    uniform = uniform_probabilities(present)
    with np.errstate(invalid="ignore"):
        valid = present & np.isfinite(d) & (d >= 0.0)
    p = np.zeros_like(uniform)
    p[present & ~valid] = 1.0 / k
    if valid.any():
        share = _power_normalise(np.where(valid, d, 0.0), gamma, valid)
        if share is None:  # all valid d are 0 with γ > 0: nothing to prefer
            share = uniform_probabilities(valid)
        p += (int(valid.sum()) / k) * share
    with np.errstate(invalid="ignore"):
        prev_ok = np.isfinite(prev) & (prev >= 0.0)
    prev = np.where(present & prev_ok, prev, 0.0)
    total = float(prev.sum())
    prev = prev / total if total > 0.0 else uniform
    mixed = (1.0 - w) * p + w * prev
    out = _power_normalise(mixed, gamma, present)
    return uniform if out is None else out


@register_miner
class AutoProbabilistic(PositiveMiner):
    """``P_k`` of equations (3)–(4) from each class's mean distance to its center."""

    name = "auto-probabilistic"
    label = "auto-probabilistic (AP)"
    short = "ap"
    help = ("Draws anchor classes in proportion to d^γ, each class's mean distance to its "
            "center, mixed with the previous epoch's distribution (paper §3.2).")
    params = {
        "gamma": Field(float, 2.0, "Auto-probabilistic amplification γ (paper: 1 alone, 2 with "
                       "auto-clustering)", min=0.0, max=20.0,
                       label="γ (gamma) — amplification of far-spread classes"),
        "w": Field(float, 0.0, "Auto-probabilistic weight w of the previous epoch's "
                   "distribution", min=0.0, max=1.0,
                   label="w — weight of the previous epoch's distribution"),
    }

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        return (
            "<b>Auto-probabilistic positives</b> (anchor class): d<sub>i</sub> = mean distance "
            "of class i's samples to its center; P<sub>i</sub> = d<sub>i</sub><sup>γ</sup> / "
            "Σ<sub>j</sub> d<sub>j</sub><sup>γ</sup>; P<sub>k</sub> = normalise(((1 − w)·P + "
            f"w·P<sub>k−1</sub>)<sup>γ</sup>) — with <b>γ = {cls.value(settings, 'gamma'):g}</b>, "
            f"<b>w = {cls.value(settings, 'w'):g}</b>. Larger γ concentrates sampling on the "
            "loosest classes.")

    @classmethod
    def advise(cls, settings: Any, seen: Seen) -> list[Notice]:
        """The distribution put nearly all mass on a few classes (γ large): most classes are
        then never trained as anchors."""
        if seen.probabilities is None:
            return []
        p = np.nan_to_num(np.asarray(seen.probabilities, dtype=np.float64))
        present = seen.present(len(p))
        n = int(present.sum())
        if n < 4 or p.sum() <= 0:
            return []
        q = p[present] / p[present].sum()
        nz = q[q > 0]
        effective = float(math.exp(-(nz * np.log(nz)).sum()))
        if effective >= 0.1 * n:
            return []
        gamma = float(cls.value(settings, "gamma"))
        return [Notice("sampling-degenerate", f"Sampling concentrated on ~{effective:.0f} of "
                       f"{n:,} classes", f"With γ = {gamma:g} the positive miner draws its "
                       f"anchors from about {effective:.0f} classes (the perplexity of its "
                       "distribution); the rest are hardly trained. A smaller γ flattens it "
                       "(γ = 1 is the paper's setting without auto-clustering).",
                       {cls.section: {cls.schema_key("gamma"): max(0.5, round(gamma / 2, 2))}})]

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        super().__init__(num_classes, present, settings)
        self._probs = uniform_probabilities(self.present)

    def probabilities(self) -> np.ndarray:
        return self._probs

    def update(self, stats: EpochStats) -> None:
        self._probs = auto_probabilistic(stats.mean_distance, self._probs,
                                         float(self.setting("gamma")), float(self.setting("w")),
                                         self.present)

    def state_dict(self) -> dict[str, Any]:
        return {"probabilities": tensor(self._probs)}

    def load_state_dict(self, state: dict[str, Any], same_labels: bool) -> None:
        self._probs = restore_probabilities(state, self.present, same_labels)


def restore_probabilities(state: dict[str, Any], present: np.ndarray,
                          same_labels: bool) -> np.ndarray:
    """A saved ``[C]`` distribution; after the training set changed, classes that became empty
    are dropped and the rest renormalised (uniform if nothing is left)."""
    from siam_workbench.base.errors import SiamError

    probs = state["probabilities"].detach().cpu().numpy().astype(np.float64)
    if probs.shape != present.shape:
        raise SiamError(f"sampler state probabilities have shape {probs.shape}")
    if not same_labels:
        probs = np.where(present & np.isfinite(probs) & (probs > 0), probs, 0.0)
        total = float(probs.sum())
        probs = probs / total if total > 0 else uniform_probabilities(present)
    return probs

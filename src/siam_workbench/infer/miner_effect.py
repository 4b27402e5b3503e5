"""Whether the miners push the classes the network gets wrong (the Why view): sampling
probability against validation error, what a class is read as, and the miners' formulas
with the run's settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siam_workbench.project.config import Config


def _rank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    # average ranks over ties so a flat distribution has no correlation
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=r)
    return sums[inv] / counts[inv]

@dataclass
class MinerEffect:
    """How a positive miner's sampling probabilities line up with per-class error."""

    n: int  # classes compared (sampled and evaluated)
    spearman: float  # rank correlation of probability and error (NaN if undefined)
    ratio: float  # mean probability of the worse half ÷ that of the better half
    verdict: str

def miner_effect(probabilities: np.ndarray, error: np.ndarray) -> MinerEffect:
    """Compare each class's sampling probability with its error rate (1 − top-1 on held-out
    data). A miner that "pushes the classes the network gets wrong" gives the high-error
    classes more probability: a positive rank correlation and a ratio above 1."""
    p = np.asarray(probabilities, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(e) & (p > 0)
    n = int(ok.sum())
    if n < 3:
        return MinerEffect(n, float("nan"), float("nan"), "Too few classes to compare.")
    p, e = p[ok], e[ok]
    rp, re = _rank(p), _rank(e)
    sp, se = rp.std(), re.std()
    rho = float(((rp - rp.mean()) * (re - re.mean())).mean() / (sp * se)) if sp and se \
        else float("nan")
    worse = e > np.median(e)
    if not worse.any() or worse.all():
        worse = e >= np.median(e)
    ratio = float(p[worse].mean() / p[~worse].mean()) if worse.any() and (~worse).any() \
        else float("nan")
    if rho != rho:
        verdict = ("The distribution or the errors are flat: there is nothing for the miner to "
                   "push (every class equally sampled, or equally hard).")
    elif rho > 0.1 and ratio > 1.05:
        verdict = (f"Yes: the classes the network gets wrong more often are sampled "
                   f"{ratio:.2f}× as much as the others (rank correlation {rho:+.2f}).")
    elif rho < -0.1:
        verdict = (f"No: the miner samples the classes the network already gets right more "
                   f"(rank correlation {rho:+.2f}, ratio {ratio:.2f}×).")
    else:
        verdict = (f"Hardly: sampling probability and error are nearly unrelated (rank "
                   f"correlation {rho:+.2f}, ratio {ratio:.2f}×).")
    return MinerEffect(n, rho, ratio, verdict)

def confusers(labels: np.ndarray, pred: np.ndarray, index: int, k: int = 5
              ) -> list[tuple[int, int]]:
    """The classes samples of class ``index`` were read as (top-1), most frequent first:
    ``[(class, count)]`` without the class itself."""
    labels, top = np.asarray(labels), np.asarray(pred)[:, 0]
    wrong = top[(labels == index) & (top != index)]
    if wrong.size == 0:
        return []
    cls, counts = np.unique(wrong, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:k]
    return [(int(cls[i]), int(counts[i])) for i in order]

def formula_text(config: Config | None, positive: str, negative: str,
                 num_classes: int | None = None) -> str:
    """The miners' formulas with a run's values (rich text for the Miners tab), each from its
    part's ``describe()`` (siam_workbench.project.partinfo); with ``num_classes`` an automatic η
    (0) is shown as the value the miner used."""
    from siam_workbench.project.partinfo import describe_miners

    return describe_miners(config, positive, negative, num_classes)

"""Guided training: what a practitioner would notice while a run trains, and what to change.

Each check is a plain function of what a run has recorded so far (its config, per-epoch
accuracies and losses, the miners' distributions, the pixel 1-NN baseline) and returns a
:class:`Notice` or None. A notice names the setting to change and the value to try, as a
``{section: {key: value}}`` suggestion the Train tab applies to the next run with one click;
``siam train`` prints the same notices as they appear. The same functions run on a live run
(the GUI feeds its epoch events) and on a finished one (:func:`advise_run` reads its files).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.parts.miners.auto_clustering import default_eta
from siam_workbench.project.config import SCHEMA, Config


@dataclass(frozen=True)
class Notice:
    code: str  # stable id, e.g. "clusters-collapsed"
    title: str  # one line
    detail: str  # what was seen and why it matters
    suggestion: dict[str, dict[str, Any]] = field(default_factory=dict)  # for the next run
    severity: str = "warning"  # warning | info

    def suggestion_text(self) -> str:
        return ", ".join(f"{s}.{k} = {_toml(v)}" for s, t in self.suggestion.items()
                         for k, v in t.items())

    def set_args(self) -> str:
        """The suggestion as ``siam train`` options (``--set mining.eta=250``)."""
        return " ".join(f"--set {s}.{k}={_toml(v)}" for s, t in self.suggestion.items()
                        for k, v in t.items())


def _toml(value: Any) -> str:
    """A value as TOML writes it (what ``--set`` parses back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)


@dataclass
class Snapshot:
    """What a run has recorded up to now (all optional but the config)."""

    config: Config
    epochs: list[dict[str, Any]] = field(default_factory=list)  # metrics "epoch" records
    probabilities: np.ndarray | None = None  # [C] latest positive-miner distribution
    clusters: np.ndarray | None = None  # [C] latest cluster label per class (-1: none)
    mean_distance: np.ndarray | None = None  # [C] (NaN: class without samples)
    pixel_nn_val: float | None = None  # top-1 of pixel 1-NN on the validation data
    # The batch spread of the latest iterations (IterationFinished.spread), for a collapse
    # seen within the first epoch rather than at its end.
    spreads: list[float] = field(default_factory=list)

    def add_epoch(self, ev: Any) -> None:
        """Record an :class:`~siam_workbench.train.events.EpochFinished` (the CLI and the GUI feed
        their live runs through here, so both see the same notices)."""
        self.epochs.append({"epoch": ev.epoch, "top1": ev.top1, "top5": ev.top5,
                            "val_top1": ev.val_top1, "val_top5": ev.val_top5,
                            "loss": ev.loss, "val_n": getattr(ev, "val_n", 0),
                            "loss_se": getattr(ev, "loss_se", 0.0)})
        self.probabilities = ev.probabilities
        self.clusters = ev.clusters
        self.mean_distance = ev.mean_distance

    def add_iteration(self, ev: Any) -> Notice | None:
        """Record an :class:`~siam_workbench.train.events.IterationFinished`; the collapse notice as
        soon as the spreads show one (None otherwise). Cheap: it runs every step."""
        spread = getattr(ev, "spread", None)
        if spread is None or not math.isfinite(spread):
            return None
        self.spreads.append(float(spread))
        del self.spreads[:-_SPREAD_KEEP]
        return collapsed(self)


_SPREAD_KEEP = 64  # iterations of spread a snapshot keeps
# A batch whose mean anchor–negative distance stays below this share of the margin, without
# growing, has collapsed: the loss is pinned at its value for zero distances. A freshly
# initialised mokin37 sits near 0.1 % of the paper's α = 10 and grows within a few steps when
# it learns; a collapsed run shrinks towards 0 instead.
_COLLAPSE_SHARE = 0.02


def _present(s: Snapshot, n: int) -> np.ndarray:
    if s.mean_distance is not None and len(s.mean_distance) == n:
        return np.isfinite(np.asarray(s.mean_distance, dtype=np.float64))
    return np.ones(n, dtype=bool)


def _has(section: str, key: str) -> bool:
    return key in SCHEMA.get(section, {})


# -- the checks --------------------------------------------------------------------------------

def cluster_shares(clusters: np.ndarray, present: np.ndarray | None = None
                   ) -> tuple[float, float, int]:
    """``(largest cluster's share, clustered share, classes)`` over the classes with samples:
    the two numbers that say whether auto-clustering collapsed or left most classes alone."""
    labels = np.asarray(clusters)
    if present is not None and len(present) == len(labels):
        labels = labels[np.asarray(present, dtype=bool)]
    if labels.size == 0:
        return 0.0, 0.0, 0
    inside = labels[labels >= 0]
    largest = int(np.bincount(inside).max()) if inside.size else 0
    return largest / labels.size, inside.size / labels.size, int(labels.size)


def cluster_warning(clusters: np.ndarray, present: np.ndarray | None = None) -> str | None:
    """One line for the Miners view when the clusters are not doing their job (the Train tab's
    notices say the same with a suggested η)."""
    largest, clustered, n = cluster_shares(clusters, present)
    if n < 4:
        return None
    if largest > 0.5:
        return (f"Auto-clustering has collapsed: one cluster holds {largest:.0%} of the "
                "classes, so its negatives are almost random. Use a smaller η.")
    if clustered < 0.2:
        return (f"Auto-clustering left {1 - clustered:.0%} of the classes in no cluster; they "
                "get random negatives only. Use a larger η.")
    return None


def clusters_collapsed(s: Snapshot) -> Notice | None:
    """Auto-clustering merged most classes into one cluster: η is too large for C, so the
    "hard" negatives of that cluster are just random ones."""
    if s.config.mining.negative != "auto-clustering" or s.clusters is None:
        return None
    share, _, n = cluster_shares(s.clusters, _present(s, len(s.clusters)))
    if n < 4 or share <= 0.5:
        return None
    largest = round(share * n)
    eta = int(s.config.mining.eta) or default_eta(n)  # 0: scaled to the alphabet
    new = max(1, min(eta // 4, int(0.4 * n)))
    return Notice("clusters-collapsed", f"Auto-clustering collapsed: one cluster holds "
                  f"{share:.0%} of the classes",
                  f"η = {eta:,} closest center pairs link {largest:,} of {n:,} "
                  "classes into one cluster, so a negative \"from the anchor's cluster\" is "
                  "almost any class. Fewer pairs give small clusters of truly similar classes.",
                  {"mining": {"eta": new}})


def clusters_too_sparse(s: Snapshot) -> Notice | None:
    """Auto-clustering left most classes in no cluster: η is too small for C."""
    if s.config.mining.negative != "auto-clustering" or s.clusters is None:
        return None
    _, share, n = cluster_shares(s.clusters, _present(s, len(s.clusters)))
    if n < 4 or share >= 0.2:
        return None
    eta = int(s.config.mining.eta) or default_eta(n)  # 0: scaled to the alphabet
    new = max(eta * 4, int(0.4 * n))
    return Notice("clusters-sparse", f"Auto-clustering left {1 - share:.0%} of the classes "
                  "in no cluster",
                  f"η = {eta:,} pairs reach only {share:.0%} of {n:,} classes; the "
                  "others get random negatives only. The paper used η ≈ 0.4 × C "
                  "(1,000 for 2,350 classes).", {"mining": {"eta": new}})


def sampling_degenerate(s: Snapshot) -> Notice | None:
    """The auto-probabilistic distribution put nearly all mass on a few classes (γ large):
    most classes are then never trained as anchors."""
    if s.config.mining.positive != "auto-probabilistic" or s.probabilities is None:
        return None
    p = np.nan_to_num(np.asarray(s.probabilities, dtype=np.float64))
    present = _present(s, len(p))
    n = int(present.sum())
    if n < 4 or p.sum() <= 0:
        return None
    q = p[present] / p[present].sum()
    nz = q[q > 0]
    effective = float(math.exp(-(nz * np.log(nz)).sum()))
    if effective >= 0.1 * n:
        return None
    gamma = float(s.config.mining.gamma)
    return Notice("sampling-degenerate", f"Sampling concentrated on ~{effective:.0f} of "
                  f"{n:,} classes", f"With γ = {gamma:g} the positive miner draws its anchors "
                  f"from about {effective:.0f} classes (the perplexity of its distribution); "
                  "the rest are hardly trained. A smaller γ flattens it (γ = 1 is the paper's "
                  "setting without auto-clustering).",
                  {"mining": {"gamma": max(0.5, round(gamma / 2, 2))}})


def _val_or_train(rec: dict[str, Any]) -> float | None:
    v = rec.get("val_top1")
    return v if v is not None else rec.get("top1")


def loss_climbing(s: Snapshot) -> Notice | None:
    """The mean epoch loss rose two epochs in a row, well above its best: the step size is
    too large."""
    losses = [float(r["loss"]) for r in s.epochs if r.get("loss") is not None]
    if len(losses) < 3:
        return None
    a, b, c = losses[-3:]
    if not (c > b > a and c > 1.1 * min(losses)):
        return None
    lr = float(s.config.train.lr)
    return Notice("loss-climbing", "The loss is climbing",
                  f"The mean loss rose for two epochs ({a:.4g} → {b:.4g} → {c:.4g}) and is "
                  f"{c / min(losses):.2f}× its lowest. A smaller learning rate usually "
                  "steadies it.", {"train": {"lr": float(f"{lr / 3:.3g}")}})


def loss_plateau(s: Snapshot) -> Notice | None:
    """The loss and the accuracy stopped moving for three epochs."""
    recs = [r for r in s.epochs if r.get("loss") is not None]
    if len(recs) < 4:
        return None
    last = [float(r["loss"]) for r in recs[-3:]]
    spread = (max(last) - min(last)) / max(abs(float(np.mean(last))), 1e-12)
    # Which batches an epoch drew moves its mean loss too: a change within twice that noise
    # is no movement (epochs of a few steps have a noisy mean).
    se = [float(r.get("loss_se") or 0.0) for r in recs[-3:]]
    noise = 2.0 * math.sqrt(2.0 * float(np.mean(np.square(se)))) / max(abs(float(np.mean(last))),
                                                                     1e-12)
    maybe = [_val_or_train(r) for r in recs[-4:]]
    if spread > max(0.01, noise) or any(a is None for a in maybe):
        return None
    accs = [float(a) for a in maybe if a is not None]
    gain = (accs[2] + accs[3] - accs[0] - accs[1]) / 2
    # Accuracy still rising beyond a validation set's noise is no plateau. Early in a decaying
    # schedule the rate comes down by itself, so only a run that gains nothing is flagged.
    t = s.config.train
    decaying = getattr(t, "lr_schedule", "constant") != "constant"
    early = decaying and len(recs) < 0.8 * int(t.epochs)
    if gain > max(0.005 if early else 0.02, _sampling_noise(recs[-1], accs[3])):
        return None
    lr = float(s.config.train.lr)
    return Notice("loss-plateau", "Training has plateaued",
                  f"Over the last three epochs the loss changed by {spread:.1%} and the "
                  f"accuracy by {gain:+.1%}. If the accuracy is not yet "
                  "good enough, a lower learning rate lets it settle further; more of the "
                  "same does little.", {"train": {"lr": float(f"{lr / 3:.3g}")}},
                  severity="info")


def _sampling_noise(rec: dict[str, Any], acc: float) -> float:
    """The standard error of an accuracy measured on the record's validation images: on 48
    images one image more or less is 2 points, which is no gain (0 when the count is unknown).
    """
    n = rec.get("val_n") if rec.get("val_top1") is not None else None
    if not isinstance(n, (int, float)) or n <= 0:
        return 0.0
    p = min(max(float(acc), 0.0), 1.0)
    return math.sqrt(p * (1 - p) / float(n))


def memorising_faces(s: Snapshot) -> Notice | None:
    """Validation trails training by a margin that widened for three epochs: the network
    learns the training fonts, not the characters."""
    recs = [r for r in s.epochs if r.get("top1") is not None and r.get("val_top1") is not None]
    if len(recs) < 3:
        return None
    g = [r["top1"] - r["val_top1"] for r in recs[-3:]]
    train_gain = recs[-1]["top1"] - recs[-3]["top1"]
    # The gap must widen because training accuracy rises (memorising), not by noise.
    if not (g[2] > g[1] > g[0] and g[2] > 0.12 and train_gain > 0.02):
        return None
    aug = s.config.augment
    suggestion: dict[str, dict[str, Any]] = {"augment": {"enabled": True,
                                                         "p": min(1.0, round(aug.p + 0.15, 2))}}
    if _has("augment", "rotation_deg"):
        suggestion["augment"]["rotation_deg"] = min(15.0, float(aug.rotation_deg) + 3.0)
    return Notice("memorising", "Validation trails training by a widening margin",
                  f"Training top-1 leads validation (unseen fonts) by {g[0]:.0%} → {g[1]:.0%} "
                  f"→ {g[2]:.0%}: the network memorises the training faces. Stronger "
                  "augmentation (or more training fonts) helps it generalise.", suggestion)


def _n_classes(s: Snapshot) -> int | None:
    for arr in (s.mean_distance, s.probabilities, s.clusters):
        if arr is not None and len(arr):
            return len(arr)
    return None


def _margin(config: Config) -> float:
    alpha = getattr(config.loss, "alpha", None)
    return float(alpha) if isinstance(alpha, (int, float)) and alpha > 0 else 1.0


def spread_collapsed(s: Snapshot) -> float | None:
    """The batch spread (share of the margin) when the last iterations show a collapse: every
    spread far below the margin and none of them growing; None otherwise. The window is half an
    epoch, at most 20 and at least 3 steps, so a collapse is seen within the first epoch."""
    window = max(3, min(20, int(s.config.train.iterations) // 2))
    if len(s.spreads) < window:
        return None
    last = np.asarray(s.spreads[-window:], dtype=np.float64)
    margin = _margin(s.config)
    third = max(1, window // 3)
    if last.max() >= _COLLAPSE_SHARE * margin or last[-third:].mean() > 1.1 * last[:third].mean():
        return None
    return float(last[-1] / margin)


def collapsed(s: Snapshot) -> Notice | None:
    """The embedding put every image in one place, a state no amount of further training
    leaves (no gradient is left): seen within the first epoch as a batch spread pinned near 0
    against the margin, or after an epoch as accuracy at chance."""
    share = spread_collapsed(s)
    accs = [a for a in (_val_or_train(r) for r in s.epochs) if a is not None]
    n = _n_classes(s)
    at_chance = bool(accs) and n is not None and n >= 2 and accs[-1] <= max(3.0 / n, 0.02)
    if share is None and not at_chance:
        return None
    lr = float(s.config.train.lr)
    metric = s.config.loss.kind == "metric"
    if lr < 1e-5:
        why = f"The learning rate {lr:g} is too small for the weights to move. "
        suggestion: dict[str, dict[str, Any]] = {"train": {"lr": 0.003}}
    elif metric:
        why = ("With the metric loss this is softplus' flat region, where every distance is 0 "
               "and the loss sits at (τ·softplus(α))² (docs/METHODS.md §3b); the triplet loss "
               "with semi-hard triplets does not have one. ")
        suggestion = {"loss": {"kind": "triplet",
                               "alpha": SCHEMA["loss"]["alpha"].default}}
        if _has("mining", "batch") and s.config.mining.batch == "all":
            suggestion["mining"] = {"batch": "semihard"}
    else:
        why = ""
        suggestion = {"train": {"lr": float(f"{lr / 3:.3g}")}}
    seen = (f"After {len(s.spreads)} steps the images of a batch lie {share:.2%} of the margin "
            "apart and are not moving apart" if share is not None else
            f"Top-1 is {accs[-1]:.1%} after {len(accs)} epoch(s), chance is {1 / (n or 1):.1%}")
    return Notice("collapsed", "The embedding has collapsed",
                  f"{seen}: every image lands in the same place and training cannot leave it. "
                  f"{why}Stop this run and start another.", suggestion)


def below_pixel_baseline(s: Snapshot) -> Notice | None:
    """After two epochs the network is still worse on validation than nearest-neighbour
    search on raw pixels."""
    if s.pixel_nn_val is None:
        return None
    vals = [float(r["val_top1"]) for r in s.epochs if r.get("val_top1") is not None]
    if len(vals) < 2 or vals[-1] >= s.pixel_nn_val:
        return None
    t = s.config.train
    return Notice("below-pixel-nn", "Still below pixel 1-NN on validation",
                  f"Validation top-1 {vals[-1]:.1%} after {len(vals)} epochs is below the "
                  f"{s.pixel_nn_val:.1%} of nearest-neighbour search on raw pixels: the "
                  "embedding has not yet learned anything a lookup table cannot do. Train "
                  "longer (more epochs or iterations).",
                  {"train": {"epochs": int(t.epochs) * 2}})


CHECKS: tuple[Callable[[Snapshot], Notice | None], ...] = (
    collapsed, clusters_collapsed, clusters_too_sparse, sampling_degenerate, loss_climbing,
    loss_plateau, memorising_faces, below_pixel_baseline)


def advise(snapshot: Snapshot) -> list[Notice]:
    """Every notice that applies now, most important first (warnings before info)."""
    out = [n for n in (check(snapshot) for check in CHECKS) if n is not None]
    return sorted(out, key=lambda n: n.severity != "warning")


def snapshot_of_run(run_dir: str | Path) -> Snapshot | None:
    """What a run folder has recorded (None when its config cannot be read)."""
    from siam_workbench.infer.analysis import read_mining, read_run_config
    from siam_workbench.project.runfiles import read_metrics
    from siam_workbench.project.runfolder import RunFolder

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if config is None:
        return None
    recs = read_metrics(RunFolder(run_dir).metrics)
    snap = Snapshot(config=config, epochs=[r for r in recs if r.get("event") == "epoch"])
    its = [r for r in recs if r.get("event") == "iteration"]
    snap.spreads = _recorded_spreads(its)
    snap.pixel_nn_val = next((r.get("top1") for r in recs if r.get("event") == "baseline"
                              and r.get("method") == "pixel-1nn"), None)
    try:
        h = read_mining(RunFolder(run_dir).mining)
    except Exception:  # noqa: BLE001 - a run without (readable) mining log still gets advice
        h = None
    if h is not None and h.num_epochs:
        snap.probabilities = None if h.probabilities is None else h.probabilities[-1]
        snap.clusters = None if h.clusters is None else h.clusters[-1]
        snap.mean_distance = None if h.mean_distance is None else h.mean_distance[-1]
    return snap


def _recorded_spreads(iterations: list[dict[str, Any]]) -> list[float]:
    """The latest spreads a run logged, as a live run's snapshot holds them."""
    values = [float(r["spread"]) for r in iterations
              if isinstance(r.get("spread"), (int, float)) and math.isfinite(r["spread"])]
    return values[-_SPREAD_KEEP:]


def advise_run(run_dir: str | Path) -> list[Notice]:
    """:func:`advise` on a run folder's files (``siam advise RUN``)."""
    snap = snapshot_of_run(run_dir)
    return advise(snap) if snap is not None else []

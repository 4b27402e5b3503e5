"""Guided training: what a practitioner would notice while a run trains, and what to change.

Each run-wide check is a plain function of what a run has recorded so far (its config,
per-epoch accuracies and losses, the miners' distributions, the pixel 1-NN baseline) and returns
a :class:`Notice` or None; what is about one part (auto-clustering's η, auto-probabilistic's γ,
a plug-in miner's own parameter) that part says itself — :meth:`Part.advise
<siam_workbench.base.part.Part.advise>`, asked for each part the config chooses, so this module
names none of them. A notice names the setting to change and the value to try, as a
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

from siam_workbench.base.notice import Notice as Notice
from siam_workbench.base.notice import Seen
from siam_workbench.parts.miners.auto_clustering import cluster_shares as cluster_shares
from siam_workbench.parts.miners.auto_clustering import cluster_warning as cluster_warning
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.partinfo import active_parts
from siam_workbench.project.partinfo import loss as loss_part_of


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
    series: dict[str, np.ndarray] = field(default_factory=dict)  # the miners' own, "role.name"

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
        self.series = dict(getattr(ev, "series", None) or {})

    def seen(self) -> Seen:
        """What the parts' own advice looks at, as plain values."""
        return Seen(epochs=tuple(self.epochs), probabilities=self.probabilities,
                    clusters=self.clusters, mean_distance=self.mean_distance,
                    series=dict(self.series))

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


def _has(section: str, key: str) -> bool:
    return key in SCHEMA.get(section, {})


# -- the checks --------------------------------------------------------------------------------

def part_notices(s: Snapshot) -> list[Notice]:
    """What the run's parts say about it (each part's :meth:`~siam_workbench.base.part.Part.advise`
    given its section's values and what the run recorded): the miners in role order, then the
    loss. A part whose advice fails (a plug-in's bug) says nothing rather than stop a run."""
    seen = s.seen()
    out: list[Notice] = []
    for section, part in active_parts(s.config.to_dict()):
        try:
            said = part.advise(getattr(s.config, section), seen)
        except Exception:  # noqa: BLE001 - one part's advice must not break guided training
            continue
        out += [n for n in said or () if isinstance(n, Notice)]
    return out


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
    loss_part = loss_part_of(s.config.loss.kind)
    remedy = None if lr < 1e-5 or loss_part is None else \
        loss_part.collapse_remedy(s.config.loss, s.config.to_dict())
    if lr < 1e-5:
        why = f"The learning rate {lr:g} is too small for the weights to move. "
        suggestion: dict[str, dict[str, Any]] = {"train": {"lr": 0.003}}
    elif remedy is not None:  # the loss knows why it collapses (the metric loss's softplus)
        why, suggestion = remedy
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


#: The run-wide checks; what is about one part is that part's own advice (:func:`part_notices`,
#: asked after :func:`collapsed`).
CHECKS: tuple[Callable[[Snapshot], Notice | None], ...] = (
    collapsed, loss_climbing, loss_plateau, memorising_faces, below_pixel_baseline)


def advise(snapshot: Snapshot) -> list[Notice]:
    """Every notice that applies now, most important first (warnings before info)."""
    first, rest = CHECKS[0], CHECKS[1:]
    out = [n for n in [first(snapshot), *part_notices(snapshot), *(c(snapshot) for c in rest)]
           if n is not None]
    return sorted(out, key=lambda n: n.severity != "warning")


def snapshot_of_run(run_dir: str | Path) -> Snapshot | None:
    """What a run folder has recorded (None when its config cannot be read)."""
    from siam_workbench.infer.mining_log import read_mining
    from siam_workbench.infer.run_config import read_run_config
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
        snap.series = {k: v[-1] for k, v in h.extra.items() if len(v)}
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

"""Typed trainer events. Subscribers (the CLI progress bar, the GUI worker, tests) receive these
on the training thread; anything they carry is a copy, safe to hand to another thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class RunPreparing:
    """Emitted before :class:`RunStarted` while the trainer sets up, so a view can say what the
    wait is for (``stage`` is a short sentence; ``total`` 0 = no measurable progress)."""

    stage: str  # e.g. "loading 18,800 training images", "first center pass"
    done: int = 0
    total: int = 0


@dataclass
class RunStarted:
    run_dir: Path
    num_classes: int
    train_samples: int
    device: str
    start_epoch: int  # 0 for a new run; > 0 when resumed
    epochs: int
    iterations: int
    triplets: int
    classes: list[str] = field(default_factory=list)
    # Nearest-neighbour accuracy on raw pixels of the validation file (None: no validation
    # data): the floor a trained network must clear (siam_workbench.data.baselines).
    pixel_nn_val_top1: float | None = None
    pixel_nn_val_top5: float | None = None
    # What the run's log records about its start (siam_workbench.train.recorders.MetricsRecorder).
    resumed: bool = False
    start_iteration: int = 0  # > 0 when resumed mid-epoch
    torch_device: str = ""  # the torch device string ("cpu", "cuda:0"); `device` is for people
    processes: int | None = None  # distributed ranks (None: one process)
    threads: int = 0  # intra-op CPU threads
    threads_measured: dict[str, float] | None = None  # the thread-count measurement, if made


@dataclass
class IterationFinished:
    epoch: int  # 0-based
    iteration: int  # 0-based within the epoch
    iterations: int
    step: int  # global iteration counter across epochs
    loss: float
    parts: dict[str, float]
    images_per_s: float  # images through the network (forward + backward) per second, smoothed
    lr: float
    images: int = 0  # images through the network since the run began (the budget)
    triplets: int = 0  # triplets this step trained on (after the batch miner's choice)
    # Mean anchor–negative distance of the batch in the loss's space (siam_workbench.train.step): a
    # collapse shows as this staying near 0 against the margin
    # (siam_workbench.infer.advice.collapsed).
    spread: float | None = None
    # share of the candidate triplets inside the margin (siam_workbench.train.step.active_share)
    active: float | None = None
    step_images_per_s: float = 0.0  # this step's own rate (`images_per_s` is smoothed)


@dataclass
class EpochFinished:
    epoch: int  # 0-based
    epochs: int
    top1: float  # nearest-center accuracy on the un-augmented training reference set
    top5: float
    val_top1: float | None  # on the validation file (held-out fonts), if there is one
    val_top5: float | None
    loss: float  # mean total loss over the epoch
    seconds: float
    probabilities: np.ndarray  # [C] positive-class sampling distribution for the next epoch
    clusters: np.ndarray  # [C] int cluster id per class (-1: in no cluster)
    mean_distance: np.ndarray  # [C] mean distance of a class's samples to its center
    centers: np.ndarray  # [C, D] class centers in the loss's space
    is_best: bool = False
    images: int = 0  # images through the network since the run began
    val_accuracy: np.ndarray | None = None  # [C] per-class top-1 on validation (NaN: none)
    val_n: int = 0  # validation images behind val_top1 (its sampling noise)
    loss_se: float = 0.0  # standard error of `loss` over the epoch's steps (batch noise)
    train_seconds: float = 0.0  # of `seconds`: the steps (pauses excluded) ...
    eval_seconds: float = 0.0  # ... and the epoch-end passes
    # The clustering's edges (class index pairs, [E, 2] int) and every miner's own per-class
    # series (``role.name`` -> [C]): what mining.h5 records for the epoch, so a live view needs
    # not read back the file the trainer just rewrote.
    edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    series: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class RunFinished:
    run_dir: Path
    epochs_done: int
    best_top1: float | None


@dataclass
class RunStopped:
    run_dir: Path
    epochs_done: int  # the run resumes from last.pt at this epoch
    iteration: int = 0  # ... and this iteration within it


@dataclass
class RunFailed:
    run_dir: Path
    message: str  # one line a user can act on


TrainerEvent = (RunPreparing | RunStarted | IterationFinished | EpochFinished | RunFinished
                | RunStopped | RunFailed)

"""What a training run leaves on disk, written by subscribers of the trainer's events (as
Lightning's callbacks are): ``metrics.jsonl``, ``mining.h5``, ``centers.npy`` and the
checkpoints. The trainer computes and emits; these record. They run on the training thread
before any outside subscriber (the CLI's progress, the GUI), in the order of
:func:`recorders_for` — the log and the mining history are complete before the checkpoint
they belong to is written, so a kill between two writes never loses a logged epoch (a resume
trims what was logged after its checkpoint).

Iteration records nest the loss's parts (``"parts": {"triplet": 0.05}``), so a reader need not
know which other keys are per-step numbers; :func:`siam_workbench.project.runfiles.iteration_parts`
also reads the flat records of older runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.model.checkpoint import save_checkpoint
from siam_workbench.project.runfiles import MetricsLog, MiningLog, save_centers
from siam_workbench.project.runfolder import RunFolder
from siam_workbench.train.events import (
    EpochFinished,
    IterationFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    TrainerEvent,
)


class Recorder:
    """A subscriber that writes one of the run's files; ``close()`` when the run ends."""

    def __call__(self, event: TrainerEvent) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MetricsRecorder(Recorder):
    """``metrics.jsonl``: one record per start, baseline, step, epoch and end."""

    def __init__(self, folder: RunFolder) -> None:
        self.log = MetricsLog(folder.metrics)

    def __call__(self, event: TrainerEvent) -> None:
        write = self.log.write
        if isinstance(event, RunStarted):
            ranks = {} if event.processes is None else {"processes": event.processes}
            write("start", device=event.torch_device, resumed=event.resumed,
                  epoch=event.start_epoch, iteration=event.start_iteration,
                  classes=event.num_classes, samples=event.train_samples, **ranks,
                  threads=event.threads, threads_measured=event.threads_measured)
            if event.pixel_nn_val_top1 is not None:
                write("baseline", method="pixel-1nn", data="val", top1=event.pixel_nn_val_top1,
                      top5=event.pixel_nn_val_top5)
        elif isinstance(event, IterationFinished):
            write("iteration", epoch=event.epoch, iteration=event.iteration, step=event.step,
                  loss=event.loss, parts=dict(event.parts),
                  images_per_s=event.step_images_per_s, images=event.images,
                  triplets=event.triplets, lr=event.lr, spread=event.spread,
                  active=event.active)
        elif isinstance(event, EpochFinished):
            write("epoch", epoch=event.epoch, top1=event.top1, top5=event.top5,
                  val_top1=event.val_top1, val_top5=event.val_top5, loss=event.loss,
                  seconds=event.seconds, train_seconds=event.train_seconds,
                  eval_seconds=event.eval_seconds, images=event.images, best=event.is_best,
                  val_n=event.val_n, loss_se=event.loss_se)
        elif isinstance(event, RunFinished):
            write("finished", epoch=event.epochs_done, best_top1=event.best_top1)
        elif isinstance(event, RunStopped):
            write("stopped", epoch=event.epochs_done, iteration=event.iteration)
        elif isinstance(event, RunFailed):
            with contextlib.suppress(SiamError, OSError):  # e.g. the disk is still full
                write("failed", message=event.message)

    def close(self) -> None:
        self.log.close()


class MiningRecorder(Recorder):
    """``mining.h5``: each epoch's sampling probabilities, clusters, distances, edges and the
    miners' own series (with per-class validation accuracy)."""

    def __init__(self, log: MiningLog) -> None:
        self.log = log

    def __call__(self, event: TrainerEvent) -> None:
        if not isinstance(event, EpochFinished):
            return
        extra = dict(event.series)
        if event.val_accuracy is not None:
            extra["val_accuracy"] = event.val_accuracy
        self.log.append(event.epoch, event.probabilities, event.clusters, event.mean_distance,
                        event.edges, extra=extra)


class CentersRecorder(Recorder):
    """``centers.npy``: the class centers of the last finished epoch."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def __call__(self, event: TrainerEvent) -> None:
        if isinstance(event, EpochFinished):
            save_centers(self.folder.path, event.centers)


class CheckpointRecorder(Recorder):
    """``checkpoints/last.pt`` after every epoch and on a stop, ``best.pt`` when the epoch is
    the best so far. The state (weights, optimizer, sampler, generator) is the trainer's, taken
    when the event arrives: it cannot travel in an event."""

    def __init__(self, folder: RunFolder, state: Callable[[], dict[str, Any]]) -> None:
        self.folder, self.state = folder, state

    def __call__(self, event: TrainerEvent) -> None:
        if isinstance(event, EpochFinished):
            self.save(best=event.is_best)
        elif isinstance(event, RunStopped):
            self.save(best=False)

    def save(self, best: bool) -> None:
        state = self.state()
        save_checkpoint(self.folder.last, state)
        if best:
            save_checkpoint(self.folder.best, state)


def recorders_for(folder: RunFolder, mining: MiningLog,
                  state: Callable[[], dict[str, Any]]) -> list[Recorder]:
    """The run's file writers, in the order they must write (see the module docstring)."""
    return [MiningRecorder(mining), CentersRecorder(folder), MetricsRecorder(folder),
            CheckpointRecorder(folder, state)]


def as_int_pairs(edges: Any) -> np.ndarray:
    """Cluster edges as ``[E, 2]`` int64 (an empty set is ``(0, 2)``)."""
    return np.asarray(edges, dtype=np.int64).reshape(-1, 2)

"""The training loop: sampler → batched augmentation → network → loss → optimiser, with the
epoch-end refresh of class centers that the metric loss and both miners feed on.

A :class:`Trainer` is a plain object: ``run()`` blocks on whatever thread calls it; ``pause()``,
``resume()`` and ``stop()`` only flip thread-safe flags that the loop checks between iterations,
so the GUI never has to queue anything into the busy training thread.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import check_allocation, check_inside
from siam_workbench.data.baselines import cached_pixel_nn
from siam_workbench.data.drawn import conform_drawn
from siam_workbench.data.framing import Framing, Preprocess, check_framing, size_mode_of
from siam_workbench.data.glyphs import GlyphSet, load_glyphs
from siam_workbench.model.backbones import INPUT_SIZES, build_model, device_label, resolve_device
from siam_workbench.model.checkpoint import check_resume, load_checkpoint
from siam_workbench.model.perf import choose_threads, release_memory, set_threads, tune_allocator
from siam_workbench.parts.augment import Augmenter
from siam_workbench.parts.centers import (
    class_centers,
    embed,
    images_to_input,
    nearest_centers,
    per_class_accuracy,
    topk_accuracy,
)
from siam_workbench.parts.losses import loss_class
from siam_workbench.parts.losses.spaces import to_space
from siam_workbench.parts.miners.sampler import make_sampler
from siam_workbench.project.config import Config
from siam_workbench.project.project import Project, is_run_dir
from siam_workbench.project.runfiles import (
    MiningLog,
    claim_run_folder,
    trim_metrics,
    write_status,
)
from siam_workbench.project.runfolder import RunFolder
from siam_workbench.train.distributed import (
    DistContext,
    default_threads,
    is_comm_error,
    shard_bounds,
    shard_sizes,
    step_seed,
)
from siam_workbench.train.events import (
    EpochFinished,
    IterationFinished,
    RunFailed,
    RunFinished,
    RunPreparing,
    RunStarted,
    RunStopped,
    TrainerEvent,
)
from siam_workbench.train.guard import DivergenceGuard, check_step_memory
from siam_workbench.train.prefetch import Batch, BatchPrefetcher, prefetch_wanted
from siam_workbench.train.recorders import Recorder, as_int_pairs, recorders_for
from siam_workbench.train.schedule import lr_at
from siam_workbench.train.step import PKLayout, StepLoss, pk_step, triplet_step

# Keys that may differ between a run's config and the config it is resumed with.
_RESUMABLE_CHANGES = {"train.epochs", "train.device", "train.eval_max", "train.threads",
                      "train.train_eval_max", "project.name", "project.description"}


def new_run_id(config: Config) -> str:
    """``<time>-<positive>-<negative>[-<batch>]-<loss>``, each miner by its declared short name
    (siam_workbench.project.partinfo.run_tokens; a quiet default such as the batch miner ``all``
    left out)."""
    from siam_workbench.project.partinfo import run_tokens

    names = [*run_tokens(config.to_dict()["mining"]), config.loss.kind]
    return "-".join([time.strftime("%Y%m%d-%H%M%S"), *(n for n in names if n)])


#: Bytes per class and embedding dimension the trainer holds at least (class centers in two
#: spaces, their sums on the device and on the host, the epoch-end distances: ~8 float32 and
#: float64 copies), for the memory pre-check of a huge class list.
_CLASS_BYTES = 48


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


class Trainer:
    """Train one run of a project. See module docstring for the threading contract."""

    def __init__(
        self,
        project: Project,
        config: Config | None = None,
        run_dir: Path | None = None,
        resume: Path | None = None,
        dist: DistContext | None = None,
    ) -> None:
        project.require_trust("training")  # restricted mode: its plug-ins did not load
        self.project = project
        # One rank of a multi-process run (siam_workbench.train.distributed); None: a single
        # process.
        self.dist = dist
        self._writes = dist is None or dist.is_main  # rank 0 alone writes the run folder
        self._ddp: torch.nn.Module | None = None
        self._subscribers: list[Callable[[TrainerEvent], None]] = []
        self._recorders: list[Recorder] = []  # the run's file writers, before any subscriber
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()  # set = not paused
        self.state = "idle"
        if resume is not None:
            resume = Path(resume)
            if not is_run_dir(resume):
                raise SiamError("not a run folder (no config.toml)", resume)
            if not RunFolder(resume).can_resume():
                raise SiamError("run has no checkpoints/last.pt to resume from", resume)
            from siam_workbench.project.project import load_project

            run_config = load_project(RunFolder(resume).config).config
            if config is not None:
                changed = [k for k, _, _ in run_config.differences(config)
                           if k not in _RESUMABLE_CHANGES]
                if changed:
                    raise SiamError(f"cannot change {', '.join(changed)} when resuming "
                                    "(start a new run instead)", resume)
                run_config = config
            self.config = run_config
            self.run_dir = resume
            self.resuming = True
        else:
            self.config = config or project.config
            base = Path(run_dir) if run_dir else check_inside(
                project.runs_dir / new_run_id(self.config), project.root, "runs/")
            problem = None
            if self._writes and base.exists() and any(base.iterdir()):
                problem = "run folder already exists and is not empty"
            if dist is not None:  # rank 0's folder (the time in its name) and verdict
                name, problem = dist.broadcast_object((str(base), problem))
                base = Path(name)
            if problem:
                raise SiamError(problem, base)
            self.run_dir = base
            self.resuming = False

    # -- control (thread-safe) ----------------------------------------------------------------
    def subscribe(self, callback: Callable[[TrainerEvent], None]) -> None:
        self._subscribers.append(callback)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.run_dir)

    def _emit(self, event: TrainerEvent) -> None:
        self._record(event)
        self._notify(event)

    def _record(self, event: TrainerEvent) -> None:
        """The run's files first (siam_workbench.train.recorders): a subscriber sees them
        written."""
        for recorder in self._recorders:
            recorder(event)

    def _notify(self, event: TrainerEvent) -> None:
        for cb in list(self._subscribers):
            cb(event)

    # -- main entry ---------------------------------------------------------------------------
    def run(self) -> TrainerEvent:
        """Train until done, stopped or failed; returns (and emitted) the final event."""
        # Tiny softsign gradients turn denormal; on x86 CPUs each denormal op costs ~100×.
        # The flag is per thread, so it is set on whichever thread runs the loop.
        torch.set_flush_denormal(True)
        tune_allocator()
        lock = None
        refused: str | None = None
        if self._writes:
            try:  # hold the run folder: a second trainer of this run is refused, naming our PID
                lock = claim_run_folder(self.run_dir, self.resuming, self.config.train.epochs)
            except SiamError as exc:
                refused = str(exc)
        if self.dist is not None:  # every rank fails together, or none does
            refused = self.dist.first_error(refused)
        if refused is not None:
            if lock is not None:
                lock.release()
            self.state = "failed"
            failed = RunFailed(run_dir=self.run_dir, message=refused)
            self._emit(failed)
            return failed
        self.state = "running"
        event: TrainerEvent
        try:
            self._setup()
            event = self._loop()
        except SiamError as exc:
            event = self._fail(str(exc))
        except OSError as exc:  # e.g. a full disk in a write not wrapped in SiamError
            event = self._fail(f"cannot write the run's files ({exc.strerror or exc})")
        except Exception as exc:
            if _out_of_memory(exc):  # the torch allocator's refusal: a user-sized problem
                event = self._fail("out of memory (the classes, images or batch are larger "
                                   "than this machine, or its ulimit -v, allows)")
            elif self.dist is None or not is_comm_error(exc):
                self._fail(f"internal error: {type(exc).__name__}: {exc}")
                raise
            event = self._fail("lost contact with another training process (it died, or hung "
                               f"past SIAM_DIST_TIMEOUT): {' '.join(str(exc).split())[:160]}; "
                               "resume the run from its last checkpoint")
        finally:
            batches = getattr(self, "_batches", None)
            if batches is not None:
                batches.close()  # the prefetch thread ends with the run, however it ends
            for recorder in self._recorders:
                recorder.close()
            if lock is not None:
                lock.release()
        return event

    def _status(self, **fields: Any) -> None:
        """status.json, written by rank 0 only (a single process is rank 0)."""
        if self._writes:
            if getattr(self, "threads", None):
                fields.setdefault("threads", self.threads)  # intra-op threads of the run
            write_status(self.run_dir, **fields)

    def _fail(self, message: str) -> RunFailed:
        self.state = "failed"
        if self._writes and self.run_dir.exists() and self.folder.config.exists():
            with contextlib.suppress(SiamError, OSError):  # e.g. the disk is still full
                write_status(self.run_dir, status="failed", epoch=getattr(self, "epoch", 0),
                             epochs=self.config.train.epochs,
                             best_top1=getattr(self, "best", None), message=message)
        event = RunFailed(run_dir=self.run_dir, message=message)  # the log records it
        self._emit(event)
        return event

    # -- setup --------------------------------------------------------------------------------
    def _load_split(self, name: str, required: bool) -> GlyphSet | None:
        # From the run's config, not the project's: `--set data.val=…` must take effect.
        path = self.project.resolve(getattr(self.config.data, name))
        if not path.exists():
            if required:
                raise SiamError(f"{name} data not found; render it first "
                                f"(siam render --project {self.project.root})", path)
            return None
        data = load_glyphs(path)
        want = INPUT_SIZES[self.config.model.backbone]
        if data.image_size != want:
            raise SiamError(f"images are {data.image_size}×{data.image_size} but backbone "
                            f"{self.config.model.backbone} takes {want}×{want}", path)
        if len(data) == 0:
            raise SiamError("holds no (non-excluded) samples", path)
        check_framing(path, data.attrs, Framing.of_data(self.config.data))
        return data

    def _setup(self) -> None:
        if self.dist is None:
            self._prepare()
        else:  # a rank whose local preparation fails must not leave the others waiting
            problem = None
            try:
                self._prepare()
            except SiamError as exc:
                problem = str(exc)
            problem = self.dist.first_error(problem)
            if problem is not None:
                raise SiamError(problem)
        self._start_state()

    def _prepare(self) -> None:
        """Local work of the setup: device, data, network, optimiser, sampler."""
        self.device = resolve_device(self.config.train.device)
        if self.dist is not None:
            self.device = self.dist.train_device(self.device)
        if self.device.type == "cuda" and self.config.train.cuda_scale != 1.0:
            # Recorded as plain iterations (scale 1) so a resume does not scale again.
            t = self.config.train
            self.config = self.config.replace({"train": {
                "iterations": max(1, round(t.iterations * t.cuda_scale)), "cuda_scale": 1.0}})
        cfg = self.config
        if cfg.train.threads > 0:
            set_threads(cfg.train.threads)  # this (the training) thread's intra-op threads
        elif self.dist is not None and self.device.type == "cpu":
            set_threads(default_threads(int(os.environ.get("LOCAL_WORLD_SIZE",
                                                           self.dist.world))))
        self._emit(RunPreparing("loading the training images"))
        train = self._load_split("train", required=True)
        assert train is not None
        if cfg.data.include_drawn:
            train = self._with_drawings(train)
        if cfg.data.extra_train:  # imported samples beside the fonts, by class name
            from siam_workbench.data.samples import merge_extra_train

            train = merge_extra_train(train, [self.project.resolve(p)
                                              for p in cfg.data.extra_train],
                                      cfg.data.size_mode, warn=lambda m: self._emit(
                                          RunPreparing(m)))
        self.train_set = train
        self.classes = train.classes
        self.num_classes = train.num_classes
        check_allocation(self.num_classes * _CLASS_BYTES * max(1, cfg.model.embedding_dim),
                         f"training {self.num_classes:,} classes (centers, sums and miner "
                         "tables per class)", train.path)
        counts = np.bincount(train.labels.numpy(), minlength=self.num_classes)
        if (counts > 0).sum() < 2:
            raise SiamError("training needs samples of at least two classes", train.path)
        self.val = self._prepare_val()
        self.pixel_nn = self._pixel_baseline() if self._writes else None
        self.loss_fn = loss_class(cfg.loss.kind)(cfg.loss)
        self.space = self.loss_fn.space

        torch.manual_seed(cfg.train.seed)
        self.model = build_model(cfg.model.backbone, cfg.model.embedding_dim).to(self.device)
        self._pick_threads()
        if cfg.train.optimizer == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(
                self.model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(
                self.model.parameters(), lr=cfg.train.lr, momentum=cfg.train.momentum,
                weight_decay=cfg.train.weight_decay)
        self.sampler = make_sampler(train.labels.numpy(), self.num_classes, cfg.mining,
                                    seed=cfg.train.seed)
        self.augmenter = Augmenter(cfg.augment, train.image_size)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.train.seed + 1)
        # The next batch prepared during this step's network part
        # (src/siam_workbench/train/prefetch.py).
        self._batches = BatchPrefetcher(self._draw_batch, self._draws_state,
                                        self._set_draws_state) if prefetch_wanted(
                                            self.device, self.dist is not None,
                                            torch.get_num_threads()) else None
        self.images = train.images.to(self.device)
        self.labels = train.labels.to(self.device)
        self._layouts: dict[tuple[int, int], PKLayout] = {}
        # Loss centers (g3): the last reference pass, or a running mean of the training
        # embeddings ("ema"); `_seen` marks classes whose running mean has started.
        self._ema = getattr(cfg.loss, "centers", "epoch") == "ema"
        dim = cfg.model.embedding_dim
        self.loss_centers = torch.zeros(self.num_classes, dim, device=self.device)
        self._seen = torch.zeros(self.num_classes, dtype=torch.bool, device=self.device)

        self.epoch, self.iteration = 0, 0
        self.best: float | None = None
        self.epoch_loss_sum, self.epoch_loss_n = 0.0, 0
        self.epoch_loss_sq = 0.0  # with the sum: the spread of the steps' losses in the epoch
        self.step = 0
        self.images_seen = 0
        self._active = float("nan")  # the last step's active-triplet share
        self.centers_step = 0
        dim_nan = torch.full((self.num_classes, dim), float("nan"))
        self._raw_centers = dim_nan

    def _pick_threads(self) -> None:
        """``train.threads = 0`` on one CPU process: measure 1 against N threads on this
        network (siam_workbench.model.perf.choose_threads) and keep the count in the run's config,
        so a resume, and a rerun of its config.toml, computes with the same count."""
        t = self.config.train
        self.thread_choice = None
        if t.threads == 0 and self.dist is None and self.device.type == "cpu":
            rows = (t.classes_per_batch * t.samples_per_class if t.batch_mode == "pk"
                    else 3 * t.triplets)
            self._emit(RunPreparing("measuring the fastest CPU thread count"))
            # 1 against the count this thread has (torch's default, one per core, unless the
            # caller set another: a caller that set one thread keeps it, unmeasured)
            counts = tuple(sorted({1, torch.get_num_threads()}))
            self.thread_choice = choose_threads(self.model, self.train_set.image_size, rows,
                                                candidates=counts)
            self.config = self.config.replace({"train": {
                "threads": self.thread_choice.threads}})
        self.threads = torch.get_num_threads()

    def _start_state(self) -> None:
        """The checkpoint resumed or the first center pass, and the run's log files."""
        cfg, train = self.config, self.train_set
        folder = self.folder
        ckpt_dir = folder.checkpoints
        if self.resuming:
            # Every rank reads the same checkpoint (rank 0's state: no rank-specific parts).
            self._restore(load_checkpoint(folder.last, map_location=self.device))
            if self._writes:
                trim_metrics(folder.metrics, self.epoch, self.iteration)
        else:
            if self._writes:
                ckpt_dir.mkdir(parents=True, exist_ok=True)
            # Also for losses without centers: a run stopped before its first epoch end then
            # still has centers, so its checkpoint evaluates, answers queries and resumes.
            # (One forward pass; it draws no random numbers, so seeded runs are unchanged.)
            if not self._ema:
                self._reference_pass(progress=lambda done, total: self._emit(RunPreparing(
                    f"first center pass over {len(train):,} training images", done, total)))
        if self.dist is not None:
            step_rows = (cfg.train.classes_per_batch * cfg.train.samples_per_class
                         if cfg.train.batch_mode == "pk" else 3 * cfg.train.triplets)
            if step_rows < self.dist.world:
                raise SiamError(f"a step of {step_rows} images cannot be shared by "
                                f"{self.dist.world} processes")
            self._ddp = self.dist.wrap(self.model)
        if not self._writes:  # ranks other than 0 write nothing
            return
        # Always rewrite: a resume may extend train.epochs or change the device.
        write_text_atomic(folder.config, cfg.to_toml())
        mining = MiningLog(folder.mining, self.classes, cfg.mining.positive, cfg.mining.negative)
        if self.resuming:
            mining.trim(self.epoch)
        self._recorders = recorders_for(folder, mining, self._state)

    def _with_drawings(self, train: GlyphSet) -> GlyphSet:
        """Append the project's labelled drawings whose class the training data knows."""
        path = self.project.resolve(self.config.data.drawn)
        if not path.exists():
            return train
        drawn = load_glyphs(path)
        if drawn.image_size != train.image_size:
            raise SiamError(f"drawings are {drawn.image_size}px, training images "
                            f"{train.image_size}px", path)
        drawn = conform_drawn(drawn, Framing.of_data(self.config.data))
        drawn, _ = drawn.aligned_to(train.classes)
        if len(drawn) == 0:
            return train
        src = len(train.source_names)
        return GlyphSet(
            images=torch.cat([train.images, drawn.images]),
            labels=torch.cat([train.labels, drawn.labels]),
            sources=torch.cat([train.sources, torch.full((len(drawn),), src)]),
            classes=train.classes, source_names=[*train.source_names, "drawn"],
            rows=np.concatenate([train.rows, np.full(len(drawn), -1)]),
            path=train.path, attrs=train.attrs)

    def _prepare_val(self) -> dict[str, Tensor] | None:
        val = self._load_split("val", required=False)
        if val is None:
            return None
        val, _ = val.aligned_to(self.classes)
        images, labels = val.images, val.labels
        limit = self.config.train.eval_max
        if limit and labels.shape[0] > limit:
            g = torch.Generator().manual_seed(12345)
            pick = torch.randperm(labels.shape[0], generator=g)[:limit].sort().values
            images, labels = images[pick], labels[pick]
        if labels.shape[0] == 0:
            return None
        return {"images": images, "labels": labels}

    def _pixel_baseline(self) -> dict[str, float] | None:
        """Pixel 1-NN accuracy of the validation file against the training file (cached)."""
        if self.val is None:
            return None
        train, val = (self.project.resolve(getattr(self.config.data, s)) for s in ("train", "val"))
        return cached_pixel_nn(train, val, cache=self.project.root / "data" / ".baselines.json",
                               progress=lambda done, total: self._emit(RunPreparing(
                                   "pixel 1-NN baseline on the validation data", done, total)))

    # -- checkpoints --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "centers": self._raw_centers.detach().cpu(),  # NaN rows: empty classes
            # The step whose weights gave `centers`: a run stopped mid-epoch saves newer
            # weights than its centers, and evaluation recomputes them
            # (siam_workbench.infer.evaluate).
            "centers_step": self.centers_step,
            "loss_centers": self.loss_centers.detach().cpu(),
            "loss_centers_seen": self._seen.detach().cpu(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "step": self.step,
            "images_seen": self.images_seen,
            "best": self.best,
            "epoch_loss_sum": self.epoch_loss_sum,
            "epoch_loss_n": self.epoch_loss_n,
            "epoch_loss_sq": self.epoch_loss_sq,
            "generator": self.generator.get_state(),
            "classes": list(self.classes),
            "space": self.space,
            "backbone": cfg.model.backbone,
            "embedding_dim": cfg.model.embedding_dim,
            "image_size": self.train_set.image_size,
            "preprocess": preprocess_of(cfg, self.train_set.image_size),
            "config": cfg.to_toml(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        check_resume(state, self.config.model.backbone, self.config.model.embedding_dim,
                     self.classes, self.folder.last)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self._raw_centers = state["centers"].float().cpu()
        self.centers = torch.nan_to_num(self._raw_centers, nan=0.0).to(self.device)
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.step = int(state["step"])
        self.images_seen = int(state.get("images_seen", 0))
        self.centers_step = int(state.get("centers_step", self.step))
        if "loss_centers" in state:
            self.loss_centers = state["loss_centers"].float().to(self.device)
            self._seen = state["loss_centers_seen"].bool().to(self.device)
        self.best = state["best"]
        self.epoch_loss_sum = float(state["epoch_loss_sum"])
        self.epoch_loss_n = int(state["epoch_loss_n"])
        self.epoch_loss_sq = float(state.get("epoch_loss_sq", 0.0))
        self.generator.set_state(state["generator"].cpu())

    # -- epoch end ----------------------------------------------------------------------------
    def _reference_pass(self, progress: Callable[[int, int], None] | None = None
                        ) -> tuple[float, float, Tensor, np.ndarray]:
        """One inference pass over the un-augmented training set → class centers and spreads;
        top-1/top-5 and per-class accuracy on a fixed sample of at most ``train_eval_max``
        images (the nearest-center search is what grows with C, not the embedding)."""
        if self.dist is None:
            emb = embed(self.model, self.train_set.images, self.device, self.space,
                        progress=progress)
        else:
            emb = self._embed_sharded(self.train_set.images, progress)
        labels = self.train_set.labels
        centers, mean_dist = class_centers(emb, labels, self.num_classes)
        if self.dist is not None:  # rank 0's bits everywhere, whatever the device's sums did
            centers = self.dist.broadcast_tensor(centers)
            mean_dist = self.dist.broadcast_tensor(mean_dist)
        limit = self.config.train.train_eval_max
        pick = torch.arange(labels.shape[0])
        if limit and labels.shape[0] > limit:
            g = torch.Generator().manual_seed(54321)
            pick = torch.randperm(labels.shape[0], generator=g)[:limit].sort().values
        if self.dist is None:
            _, idx = nearest_centers(emb[pick], centers, k=5)
        else:
            idx = self._nearest_sharded(emb[pick], centers)
        top1, top5 = topk_accuracy(idx, labels[pick])
        per_class = per_class_accuracy(labels[pick].numpy(), idx.numpy(), self.num_classes)
        self.centers = torch.nan_to_num(centers, nan=0.0).to(self.device)
        self._raw_centers, self._mean_dist = centers, mean_dist
        self.centers_step = self.step
        if not self._ema:
            self.loss_centers = self.centers.clone()
            self._seen = ~torch.isnan(centers).any(1).to(self.device)
        return top1, top5, mean_dist, per_class

    def _validate(self) -> tuple[float | None, float | None, np.ndarray | None]:
        if self.val is None:
            return None, None, None
        if self.dist is None:
            emb = embed(self.model, self.val["images"], self.device, self.space)
            _, idx = nearest_centers(emb, self._raw_centers, k=5)
        else:  # each rank embeds and searches its share; the answers are gathered
            images = self.val["images"]
            lo, hi = shard_bounds(images.shape[0], self.dist.world, self.dist.rank)
            emb = embed(self.model, images[lo:hi], self.device, self.space)
            _, idx = nearest_centers(emb, self._raw_centers, k=5)
            idx = self.dist.gather_rows(idx, shard_sizes(images.shape[0], self.dist.world))
        top1, top5 = topk_accuracy(idx, self.val["labels"])
        per_class = per_class_accuracy(self.val["labels"].numpy(), idx.numpy(),
                                       self.num_classes)
        return top1, top5, per_class

    def _embed_sharded(self, images: Tensor, progress: Callable[[int, int], None] | None
                       ) -> Tensor:
        """The reference pass over ranks: each embeds its contiguous share, all gather."""
        assert self.dist is not None
        n, world = int(images.shape[0]), self.dist.world
        lo, hi = shard_bounds(n, world, self.dist.rank)
        local = embed(self.model, images[lo:hi], self.device, self.space, progress=progress)
        return self.dist.gather_rows(local, shard_sizes(n, world))

    def _nearest_sharded(self, emb: Tensor, centers: Tensor) -> Tensor:
        """Top-5 nearest centers of ``emb``'s rows, each rank searching its share."""
        assert self.dist is not None
        n, world = int(emb.shape[0]), self.dist.world
        lo, hi = shard_bounds(n, world, self.dist.rank)
        _, idx = nearest_centers(emb[lo:hi], centers, k=5)
        return self.dist.gather_rows(idx, shard_sizes(n, world))

    # -- the loop -----------------------------------------------------------------------------
    def _layout(self, p: int, k: int) -> PKLayout:
        key = (p, k)
        if key not in self._layouts:
            self._layouts[key] = PKLayout(p, k, self.device)
        return self._layouts[key]

    def _embed_rows_sharded(self, rows: np.ndarray) -> tuple[Tensor, Tensor]:
        """This rank's share of the global batch ``rows`` through DDP, gathered with the other
        ranks' shares into the whole batch (gradient through the own share only)."""
        assert self.dist is not None and self._ddp is not None
        d = self.dist
        n = int(rows.shape[0])
        lo, hi = shard_bounds(n, d.world, d.rank)
        self.generator.manual_seed(step_seed(self.config.train.seed, d.rank, self.step))
        idx = torch.from_numpy(rows).to(self.device)
        x = images_to_input(self.images[idx[lo:hi]], self.device)
        x = self.augmenter(x, self.generator)
        emb = d.gather_rows_with_grad(self._ddp(x), shard_sizes(n, d.world))
        return emb, self.labels[idx]

    def _update_ema(self, emb: Tensor, labels: Tensor) -> None:
        """Move the running class centers toward this batch's class means (detached)."""
        s = to_space(emb.detach(), self.space)
        sums = torch.zeros_like(self.loss_centers).index_add_(0, labels, s)
        counts = torch.bincount(labels, minlength=self.num_classes).to(s.dtype)
        here = counts > 0
        means = sums[here] / counts[here, None]
        m = float(self.config.loss.center_momentum)
        fresh = here & ~self._seen
        old = self.loss_centers[here]
        new = torch.where(fresh[here][:, None], means, (1 - m) * old + m * means)
        self.loss_centers[here] = new
        self._seen |= here

    def _draw_batch(self) -> Batch:
        """Sample and augment one step's rows (on the loop's thread or the prefetch thread)."""
        cfg = self.config.train
        if cfg.batch_mode == "pk":
            rows, _ = self.sampler.pk_batch(cfg.classes_per_batch, cfg.samples_per_class)
        else:
            rows = np.concatenate(self.sampler.triplets(
                cfg.triplets * self.sampler.batch.oversample()))
        idx = torch.from_numpy(rows).to(self.device)
        x = self.augmenter(images_to_input(self.images[idx], self.device), self.generator)
        return Batch(rows, idx, x)

    def _draws_state(self) -> tuple[Mapping[str, Any], Tensor]:
        return self.sampler._rng.bit_generator.state, self.generator.get_state()

    def _set_draws_state(self, state: tuple[dict[str, Any], Tensor]) -> None:
        self.sampler._rng.bit_generator.state = state[0]
        self.generator.set_state(state[1])

    def _rows_embedded(self) -> tuple[np.ndarray, Tensor, Tensor]:
        """This step's rows, their embeddings and labels (the batch prefetched if it was)."""
        if self.dist is not None:
            cfg = self.config.train
            if cfg.batch_mode == "pk":
                rows, _ = self.sampler.pk_batch(cfg.classes_per_batch, cfg.samples_per_class)
            else:
                rows = np.concatenate(self.sampler.triplets(
                    cfg.triplets * self.sampler.batch.oversample()))
            return (rows, *self._embed_rows_sharded(rows))
        more = self.iteration + 1 < self.config.train.iterations  # no prefetch past epoch end
        batch = self._draw_batch() if self._batches is None else self._batches.take(more)
        return batch.rows, self.model(batch.x), self.labels[batch.index]

    def _step_loss(self) -> tuple[StepLoss, int]:
        cfg = self.config.train
        rows, emb, labels = self._rows_embedded()
        if self._ema:
            self._update_ema(emb, labels)
        if cfg.batch_mode == "pk":
            p = rows.shape[0] // cfg.samples_per_class
            out = pk_step(emb, self.loss_centers, labels, self._layout(p, cfg.samples_per_class),
                          self.loss_fn, self.sampler.batch)
        else:
            out = triplet_step(emb, self.loss_centers, labels, self.loss_fn, self.sampler.batch)
        return out, int(rows.shape[0])

    def _iteration(self) -> tuple[float, dict[str, float], int, int, float]:
        cfg = self.config.train
        total = cfg.epochs * cfg.iterations
        lr = lr_at(self.step, total, cfg.lr, cfg.lr_schedule, cfg.warmup, cfg.lr_min)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        out, n_images = self._step_loss()
        if not torch.isfinite(out.loss):
            raise _NonFinite(float(out.loss.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        if self.dist is None:
            out.loss.backward()
        else:  # DDP averages the ranks' gradients; each holds only its own share's part
            (out.loss * self.dist.world).backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        parts = {k: float(v) for k, v in out.parts.items()}
        self._active = out.active  # read by _loop for its iteration record and event
        return float(out.loss.detach()), parts, n_images, out.kept, out.spread

    def _loop(self) -> TrainerEvent:
        cfg = self.config.train
        train = self.train_set
        self._guard = DivergenceGuard()  # stops a run whose loss or weights explode
        step_images = (cfg.classes_per_batch * cfg.samples_per_class if cfg.batch_mode == "pk"
                       else 3 * cfg.triplets * self.sampler.batch.oversample())
        check_step_memory(self.model, train.image_size, step_images, self.device)
        self._status(status="running", epoch=self.epoch, epochs=cfg.epochs, best_top1=self.best)
        ranks = {} if self.dist is None else {"processes": self.dist.world}
        chosen = self.thread_choice.to_dict() if self.thread_choice is not None else {}
        self._emit(RunStarted(run_dir=self.run_dir, num_classes=self.num_classes,
                              train_samples=len(train), device=self._device_label(),
                              start_epoch=self.epoch, epochs=cfg.epochs,
                              iterations=cfg.iterations, triplets=cfg.triplets,
                              classes=list(self.classes),
                              pixel_nn_val_top1=(self.pixel_nn or {}).get("top1"),
                              pixel_nn_val_top5=(self.pixel_nn or {}).get("top5"),
                              resumed=self.resuming, start_iteration=self.iteration,
                              torch_device=str(self.device), processes=ranks.get("processes"),
                              threads=self.threads, threads_measured=chosen.get("measured")))
        rate = 0.0
        while self.epoch < cfg.epochs:
            active = 0.0  # seconds spent training this epoch (pauses excluded)
            while self.iteration < cfg.iterations:
                if self._pause_or_stop():
                    return self._stopped()
                t0 = time.perf_counter()
                try:
                    loss, parts, n_images, kept, spread = self._iteration()
                except _NonFinite as exc:
                    msg = (f"loss became {exc.value} at epoch {self.epoch + 1}, iteration "
                           f"{self.iteration + 1}; the last good checkpoint is kept — lower "
                           "train.lr or check the data")
                    return self._fail(msg)
                problem = self._guard.check(loss, self.model)
                if problem:
                    return self._fail(f"{problem} at epoch {self.epoch + 1}, iteration "
                                      f"{self.iteration + 1}; the last good checkpoint is kept "
                                      "— lower train.lr or check the data")
                dt = time.perf_counter() - t0
                active += dt
                inst = n_images / max(dt, 1e-9)
                rate = inst if rate == 0.0 else 0.8 * rate + 0.2 * inst
                self.images_seen += n_images
                self.epoch_loss_sum += loss
                self.epoch_loss_sq += loss * loss
                self.epoch_loss_n += 1
                lr = self.optimizer.param_groups[0]["lr"]
                self._emit(IterationFinished(epoch=self.epoch, iteration=self.iteration,
                                             iterations=cfg.iterations, step=self.step,
                                             loss=loss, parts=parts, images_per_s=rate,
                                             images=self.images_seen, triplets=kept, lr=lr,
                                             spread=spread, active=self._active,
                                             step_images_per_s=inst))
                self.iteration += 1
                self.step += 1
            if self._stop_agreed():  # stop now; the epoch end runs when the run resumes
                return self._stopped()
            t0 = time.perf_counter()
            self._end_epoch(active, t0)
        self.state = "finished"
        self._status(status="finished", epoch=self.epoch, epochs=cfg.epochs, best_top1=self.best)
        event = RunFinished(run_dir=self.run_dir, epochs_done=self.epoch, best_top1=self.best)
        self._emit(event)
        return event

    def _end_epoch(self, train_seconds: float, t0: float) -> None:
        cfg = self.config.train
        top1, top5, mean_dist, train_class = self._reference_pass()
        val_top1, val_top5, val_class = self._validate()
        stats = self.sampler.epoch_stats(
            self.epoch, self._raw_centers.numpy(), mean_dist.numpy(),
            train_accuracy=train_class, val_accuracy=val_class)
        if self._writes:
            self.sampler.update(stats)
        if self.dist is not None:  # rank 0 updated the miners; every rank samples from that
            state = self.dist.broadcast_object(self.sampler.state_dict() if self._writes
                                               else None)
            if not self._writes:
                self.sampler.load_state_dict(state)
        score = val_top1 if val_top1 is not None else top1
        is_best = self.best is None or (not math.isnan(score) and score > self.best)
        if is_best:
            self.best = score
        n_steps = max(self.epoch_loss_n, 1)
        loss = self.epoch_loss_sum / n_steps
        # Standard error of the epoch's mean loss: how much of an epoch-to-epoch change is
        # just which batches were drawn (siam_workbench.infer.advice.loss_plateau).
        loss_se = math.sqrt(max(self.epoch_loss_sq / n_steps - loss * loss, 0.0) / n_steps)
        probs = np.asarray(self.sampler.probabilities, dtype=np.float64)
        clusters = np.asarray(self.sampler.clusters, dtype=np.int64)
        edges = as_int_pairs(self.sampler.cluster_edges)
        series = {k: np.array(v, copy=True) for k, v in self.sampler.series().items()}
        centers_np = self._raw_centers.numpy()
        epoch = self.epoch
        val_n = 0 if self.val is None else int(self.val["labels"].shape[0])
        eval_seconds = time.perf_counter() - t0
        event = EpochFinished(
            epoch=epoch, epochs=cfg.epochs, top1=top1, top5=top5, val_top1=val_top1,
            val_top5=val_top5, loss=loss, seconds=train_seconds + eval_seconds,
            probabilities=probs.copy(), clusters=clusters.copy(),
            mean_distance=mean_dist.numpy().copy(), centers=centers_np.copy(), is_best=is_best,
            images=self.images_seen, val_accuracy=val_class, val_n=val_n, loss_se=loss_se,
            train_seconds=train_seconds, eval_seconds=eval_seconds, edges=edges.copy(),
            series=series)
        self.epoch += 1
        self.iteration = 0
        self.epoch_loss_sum, self.epoch_loss_n, self.epoch_loss_sq = 0.0, 0, 0.0
        # mining.h5, centers.npy, the epoch's record, then the checkpoint (at the next epoch)
        self._record(event)
        release_memory()  # the epoch-end passes' blocks would otherwise stay in the heap
        self._status(status="running", epoch=self.epoch, epochs=cfg.epochs, best_top1=self.best)
        self._notify(event)

    # -- pause and stop ------------------------------------------------------------------------
    def _pause_or_stop(self) -> bool:
        """Between iterations: wait while paused; True when the run is to stop. Across ranks
        the flags are agreed each iteration, so every rank pauses and stops at the same step."""
        cfg = self.config.train
        if self.dist is not None:
            return self._pause_or_stop_agreed()
        if not self._running.is_set():
            self.state = "paused"
            self._status(status="paused", epoch=self.epoch, epochs=cfg.epochs,
                         best_top1=self.best)
            self._running.wait()
            self.state = "running"
            self._status(status="running", epoch=self.epoch, epochs=cfg.epochs,
                         best_top1=self.best)
        return self._stop.is_set()

    def _pause_or_stop_agreed(self) -> bool:
        assert self.dist is not None
        cfg = self.config.train
        was_paused = False
        while True:  # every rank runs this loop the same number of times (same flags)
            stop, paused = self.dist.control(self._stop.is_set(), self.paused)
            if stop or not paused:
                break
            if not was_paused:
                was_paused, self.state = True, "paused"
                self._status(status="paused", epoch=self.epoch, epochs=cfg.epochs,
                             best_top1=self.best)
            self._running.wait(0.2)
        if was_paused:
            self.state = "running"
            self._status(status="running", epoch=self.epoch, epochs=cfg.epochs,
                         best_top1=self.best)
        return stop

    def _stop_agreed(self) -> bool:
        if self.dist is None:
            return self._stop.is_set()
        return self.dist.control(self._stop.is_set(), False)[0]

    def _device_label(self) -> str:
        label = device_label(self.device)
        return label if self.dist is None else f"{label} × {self.dist.world} processes"

    def _stopped(self) -> RunStopped:
        batches = getattr(self, "_batches", None)
        if batches is not None:
            batches.cancel()  # its draws undone: the checkpoint continues exactly
        self.state = "stopped"
        event = RunStopped(run_dir=self.run_dir, epochs_done=self.epoch, iteration=self.iteration)
        self._record(event)  # last.pt, then the "stopped" record
        self._status(status="stopped", epoch=self.epoch, epochs=self.config.train.epochs,
                     best_top1=self.best,
                     message=f"stopped at epoch {self.epoch + 1}, iteration {self.iteration}")
        self._notify(event)
        return event


def preprocess_of(config: Config, image_size: int) -> dict[str, Any]:
    """How images are framed for this run's network; query, drawing and evaluation of the run
    read it from the checkpoint so that they frame exactly as the training data was."""
    return Preprocess(size_mode_of(config.data), int(config.data.margin),
                      int(image_size)).to_dict()


class _NonFinite(Exception):
    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value

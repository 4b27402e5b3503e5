"""The training loop: sampler → batched augmentation → network → loss → optimiser, with the
epoch-end refresh of class centers that the metric loss and both miners feed on.

A :class:`Trainer` is a plain object: ``run()`` blocks on whatever thread calls it; ``pause()``,
``resume()`` and ``stop()`` only flip thread-safe flags that the loop checks between iterations,
so the GUI never has to queue anything into the busy training thread.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.atomic import write_text_atomic
from core.data.glyphs import GlyphSet, load_glyphs
from core.errors import SiamError
from core.infer.baselines import cached_pixel_nn
from core.infer.centers import (
    class_centers,
    embed,
    images_to_input,
    nearest_centers,
    space_for_loss,
    topk_accuracy,
)
from core.train.augment import Augmenter
from core.train.checkpoint import check_resume, load_checkpoint, save_checkpoint
from core.train.config import Config
from core.train.events import (
    EpochFinished,
    IterationFinished,
    RunFailed,
    RunFinished,
    RunPreparing,
    RunStarted,
    RunStopped,
    TrainerEvent,
)
from core.train.guard import DivergenceGuard, check_step_memory
from core.train.losses import contrastive_per_sample, metric_per_sample, triplet_per_sample
from core.train.miners import make_sampler, select_hardest
from core.train.models import INPUT_SIZES, build_model, device_label, resolve_device
from core.train.perf import tune_allocator
from core.train.project import Project, is_run_dir
from core.train.runfiles import (
    MetricsLog,
    MiningLog,
    claim_run_folder,
    save_centers,
    trim_metrics,
    write_status,
)

# Keys that may differ between a run's config and the config it is resumed with.
_RESUMABLE_CHANGES = {"train.epochs", "train.device", "train.eval_max", "project.name",
                      "project.description"}


def new_run_id(config: Config) -> str:
    short = {"random": "rnd", "auto-probabilistic": "ap", "auto-clustering": "ac",
             "hard": "hard", "distance": "dist"}
    m = config.mining
    return (f"{time.strftime('%Y%m%d-%H%M%S')}-{short[m.positive]}-{short[m.negative]}-"
            f"{config.loss.kind}")


class Trainer:
    """Train one run of a project. See module docstring for the threading contract."""

    def __init__(
        self,
        project: Project,
        config: Config | None = None,
        run_dir: Path | None = None,
        resume: Path | None = None,
    ) -> None:
        self.project = project
        self._subscribers: list[Callable[[TrainerEvent], None]] = []
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()  # set = not paused
        self.state = "idle"
        if resume is not None:
            resume = Path(resume)
            if not is_run_dir(resume):
                raise SiamError("not a run folder (no config.toml)", resume)
            if not (resume / "checkpoints" / "last.pt").exists():
                raise SiamError("run has no checkpoints/last.pt to resume from", resume)
            from core.train.project import load_project

            run_config = load_project(resume / "config.toml").config
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
            base = Path(run_dir) if run_dir else project.runs_dir / new_run_id(self.config)
            if base.exists() and any(base.iterdir()):
                raise SiamError("run folder already exists and is not empty", base)
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

    def _emit(self, event: TrainerEvent) -> None:
        for cb in list(self._subscribers):
            cb(event)

    # -- main entry ---------------------------------------------------------------------------
    def run(self) -> TrainerEvent:
        """Train until done, stopped or failed; returns (and emitted) the final event."""
        # Tiny softsign gradients turn denormal; on x86 CPUs each denormal op costs ~100×.
        # The flag is per thread, so it is set on whichever thread runs the loop.
        torch.set_flush_denormal(True)
        tune_allocator()
        try:  # hold the run folder: a second trainer of this run is refused, naming our PID
            lock = claim_run_folder(self.run_dir, self.resuming, self.config.train.epochs)
        except SiamError as exc:
            self.state = "failed"
            event = RunFailed(run_dir=self.run_dir, message=str(exc))
            self._emit(event)
            return event
        self.state = "running"
        try:
            self._setup()
            event = self._loop()
        except SiamError as exc:
            event = self._fail(str(exc))
        except OSError as exc:  # e.g. a full disk in a write not wrapped in SiamError
            event = self._fail(f"cannot write the run's files ({exc.strerror or exc})")
        except Exception as exc:
            self._fail(f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:
            if hasattr(self, "_metrics"):
                self._metrics.close()
            lock.release()
        return event

    def _fail(self, message: str) -> RunFailed:
        self.state = "failed"
        if self.run_dir.exists() and (self.run_dir / "config.toml").exists():
            with contextlib.suppress(SiamError, OSError):  # e.g. the disk is still full
                write_status(self.run_dir, status="failed", epoch=getattr(self, "epoch", 0),
                             epochs=self.config.train.epochs,
                             best_top1=getattr(self, "best", None), message=message)
                if hasattr(self, "_metrics"):
                    self._metrics.write("failed", message=message)
        event = RunFailed(run_dir=self.run_dir, message=message)
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
        return data

    def _setup(self) -> None:
        cfg = self.config
        self.device = resolve_device(cfg.train.device)
        self._emit(RunPreparing("loading the training images"))
        train = self._load_split("train", required=True)
        assert train is not None
        if cfg.data.include_drawn:
            train = self._with_drawings(train)
        self.train_set = train
        self.classes = train.classes
        self.num_classes = train.num_classes
        counts = np.bincount(train.labels.numpy(), minlength=self.num_classes)
        if (counts > 0).sum() < 2:
            raise SiamError("training needs samples of at least two classes", train.path)
        self.val = self._prepare_val()
        self.pixel_nn = self._pixel_baseline()
        self.space = space_for_loss(cfg.loss.kind)

        torch.manual_seed(cfg.train.seed)
        self.model = build_model(cfg.model.backbone, cfg.model.embedding_dim).to(self.device)
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
        self.images = train.images.to(self.device)
        self.labels = train.labels.to(self.device)

        self.epoch, self.iteration = 0, 0
        self.best: float | None = None
        self.epoch_loss_sum, self.epoch_loss_n = 0.0, 0
        self.step = 0
        ckpt_dir = self.run_dir / "checkpoints"
        if self.resuming:
            self._restore(load_checkpoint(ckpt_dir / "last.pt", map_location=self.device))
            trim_metrics(self.run_dir / "metrics.jsonl", self.epoch, self.iteration)
        else:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            self._emit(RunPreparing(f"first center pass over {len(train):,} training images"))
            self.centers = self._refresh_centers(update_sampler=False)[0]
        # Always rewrite: a resume may extend train.epochs or change the device.
        write_text_atomic(self.run_dir / "config.toml", cfg.to_toml())
        self._mining = MiningLog(self.run_dir / "mining.h5", self.classes,
                                 cfg.mining.positive, cfg.mining.negative)
        if self.resuming:
            self._mining.trim(self.epoch)
        self._metrics = MetricsLog(self.run_dir / "metrics.jsonl")

    def _with_drawings(self, train: GlyphSet) -> GlyphSet:
        """Append the project's labelled drawings whose class the training data knows."""
        path = self.project.resolve(self.config.data.drawn)
        if not path.exists():
            return train
        drawn = load_glyphs(path)
        if drawn.image_size != train.image_size:
            raise SiamError(f"drawings are {drawn.image_size}px, training images "
                            f"{train.image_size}px", path)
        index = {c: i for i, c in enumerate(train.classes)}
        mapped = torch.tensor([index.get(c, -1) for c in drawn.classes], dtype=torch.int64)
        labels = mapped[drawn.labels]
        keep = labels >= 0
        if not bool(keep.any()):
            return train
        src = len(train.source_names)
        return GlyphSet(
            images=torch.cat([train.images, drawn.images[keep]]),
            labels=torch.cat([train.labels, labels[keep]]),
            sources=torch.cat([train.sources, torch.full((int(keep.sum()),), src)]),
            classes=train.classes, source_names=[*train.source_names, "drawn"],
            rows=np.concatenate([train.rows, np.full(int(keep.sum()), -1)]),
            path=train.path, attrs=train.attrs)

    def _prepare_val(self) -> dict[str, Tensor] | None:
        val = self._load_split("val", required=False)
        if val is None:
            return None
        index = {c: i for i, c in enumerate(self.classes)}
        mapped = torch.tensor([index.get(c, -1) for c in val.classes], dtype=torch.int64)
        labels = mapped[val.labels]
        keep = labels >= 0
        images, labels = val.images[keep], labels[keep]
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
        self._emit(RunPreparing("pixel 1-NN baseline on the validation data"))
        paths = [self.project.resolve(getattr(self.config.data, s)) for s in ("train", "val")]
        return cached_pixel_nn(*paths, cache=self.project.root / "data" / ".baselines.json")

    # -- checkpoints --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "centers": self._raw_centers.detach().cpu(),  # NaN rows: empty classes
            "epoch": self.epoch,
            "iteration": self.iteration,
            "step": self.step,
            "best": self.best,
            "epoch_loss_sum": self.epoch_loss_sum,
            "epoch_loss_n": self.epoch_loss_n,
            "generator": self.generator.get_state(),
            "classes": list(self.classes),
            "space": self.space,
            "backbone": cfg.model.backbone,
            "embedding_dim": cfg.model.embedding_dim,
            "image_size": self.train_set.image_size,
            "config": cfg.to_toml(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        check_resume(state, self.config.model.backbone, self.config.model.embedding_dim,
                     self.classes, self.run_dir / "checkpoints" / "last.pt")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self._raw_centers = state["centers"].float().cpu()
        self.centers = torch.nan_to_num(self._raw_centers, nan=0.0).to(self.device)
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.step = int(state["step"])
        self.best = state["best"]
        self.epoch_loss_sum = float(state["epoch_loss_sum"])
        self.epoch_loss_n = int(state["epoch_loss_n"])
        self.generator.set_state(state["generator"].cpu())

    def _save(self, best: bool = False) -> None:
        state = self._state()
        ckpt = self.run_dir / "checkpoints"
        save_checkpoint(ckpt / "last.pt", state)
        if best:
            save_checkpoint(ckpt / "best.pt", state)

    # -- epoch end ----------------------------------------------------------------------------
    def _refresh_centers(self, update_sampler: bool) -> tuple[Tensor, float, float, Tensor]:
        """One batched inference pass over the un-augmented training set → centers, accuracy."""
        emb = embed(self.model, self.train_set.images, self.device, self.space)
        centers, mean_dist = class_centers(emb, self.train_set.labels, self.num_classes)
        _, idx = nearest_centers(emb, centers, k=5)
        top1, top5 = topk_accuracy(idx, self.train_set.labels)
        if update_sampler:
            self.sampler.update(centers.numpy(), mean_dist.numpy())
        self.centers = torch.nan_to_num(centers, nan=0.0).to(self.device)
        self._raw_centers, self._mean_dist = centers, mean_dist
        return self.centers, top1, top5, mean_dist

    def _validate(self) -> tuple[float | None, float | None]:
        if self.val is None:
            return None, None
        emb = embed(self.model, self.val["images"], self.device, self.space)
        _, idx = nearest_centers(emb, self._raw_centers, k=5)
        return topk_accuracy(idx, self.val["labels"])

    # -- the loop -----------------------------------------------------------------------------
    def _batch_loss(self, rows: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Forward ``rows`` = [3, B] sample indices (anchor, positive, negative) as one batch."""
        cfg = self.config.loss
        b = rows.shape[1]
        flat = rows.reshape(-1)
        x = images_to_input(self.images[flat], self.device)
        x = self.augmenter(x, self.generator)
        emb = self.model(x)
        a, p, n = emb[:b], emb[b:2 * b], emb[2 * b:]
        if cfg.kind == "metric":
            lab = self.labels[flat]
            c = self.centers[lab]
            per, g1, g2, g3 = metric_per_sample(a, p, n, c[:b], c[b:2 * b], c[2 * b:],
                                                cfg.alpha, cfg.rho, cfg.tau, cfg.xi)
            parts = {"g1": g1, "g2": g2, "g3": g3}
        elif cfg.kind == "triplet":
            per = triplet_per_sample(a, p, n, cfg.alpha)
            parts = {"triplet": per}
        else:
            ones = torch.ones(b, device=emb.device)
            pos = contrastive_per_sample(a, p, ones, cfg.alpha)
            neg = contrastive_per_sample(a, n, torch.zeros_like(ones), cfg.alpha)
            # Each triplet contributes one positive and one negative pair.
            per = (pos + neg) / 2
            parts = {"pos": pos / 2, "neg": neg / 2}
        return per, parts

    def _iteration(self) -> tuple[float, dict[str, float]]:
        t = self.config.train.triplets
        r = self.sampler.oversample
        a, p, n = self.sampler.sample(t * r)
        rows = torch.from_numpy(np.stack([a, p, n])).to(self.device)
        if r > 1:
            with torch.no_grad():
                per, _ = self._batch_loss(rows)
            keep = select_hardest(per, t)
            rows = rows[:, keep.to(self.device)]
        per, parts = self._batch_loss(rows)
        loss = per.mean()
        if not torch.isfinite(loss):
            raise _NonFinite(float(loss.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach()), {k: float(v.detach().mean()) for k, v in parts.items()}

    def _loop(self) -> TrainerEvent:
        cfg = self.config.train
        train = self.train_set
        self._guard = DivergenceGuard()  # stops a run whose loss or weights explode
        check_step_memory(self.model, train.image_size,  # a step larger than memory: refused
                          3 * cfg.triplets * self.sampler.oversample, self.device)
        write_status(self.run_dir, status="running", epoch=self.epoch, epochs=cfg.epochs,
                     best_top1=self.best)
        self._metrics.write("start", device=str(self.device), resumed=self.resuming,
                            epoch=self.epoch, iteration=self.iteration,
                            classes=self.num_classes, samples=len(train))
        if self.pixel_nn is not None:
            self._metrics.write("baseline", method="pixel-1nn", data="val",
                                top1=self.pixel_nn["top1"], top5=self.pixel_nn.get("top5"))
        self._emit(RunStarted(run_dir=self.run_dir, num_classes=self.num_classes,
                              train_samples=len(train), device=device_label(self.device),
                              start_epoch=self.epoch, epochs=cfg.epochs,
                              iterations=cfg.iterations, triplets=cfg.triplets,
                              classes=list(self.classes),
                              pixel_nn_val_top1=(self.pixel_nn or {}).get("top1")))
        rate = 0.0
        while self.epoch < cfg.epochs:
            epoch_start = time.perf_counter()
            while self.iteration < cfg.iterations:
                if not self._running.is_set():
                    self.state = "paused"
                    write_status(self.run_dir, status="paused", epoch=self.epoch,
                                 epochs=cfg.epochs, best_top1=self.best)
                    self._running.wait()
                    self.state = "running"
                    write_status(self.run_dir, status="running", epoch=self.epoch,
                                 epochs=cfg.epochs, best_top1=self.best)
                if self._stop.is_set():
                    return self._stopped()
                t0 = time.perf_counter()
                try:
                    loss, parts = self._iteration()
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
                inst = cfg.triplets / max(dt, 1e-9)
                rate = inst if rate == 0.0 else 0.8 * rate + 0.2 * inst
                self.epoch_loss_sum += loss
                self.epoch_loss_n += 1
                lr = self.optimizer.param_groups[0]["lr"]
                self._metrics.write("iteration", epoch=self.epoch, iteration=self.iteration,
                                    step=self.step, loss=loss, **parts, triplets_per_s=inst,
                                    lr=lr)
                self._emit(IterationFinished(epoch=self.epoch, iteration=self.iteration,
                                             iterations=cfg.iterations, step=self.step,
                                             loss=loss, parts=parts, triplets_per_s=rate,
                                             lr=lr))
                self.iteration += 1
                self.step += 1
            self._end_epoch(time.perf_counter() - epoch_start)
            if self._stop.is_set() and self.epoch < cfg.epochs:
                return self._stopped()
        self.state = "finished"
        write_status(self.run_dir, status="finished", epoch=self.epoch, epochs=cfg.epochs,
                     best_top1=self.best)
        self._metrics.write("finished", epoch=self.epoch, best_top1=self.best)
        event = RunFinished(run_dir=self.run_dir, epochs_done=self.epoch, best_top1=self.best)
        self._emit(event)
        return event

    def _end_epoch(self, seconds: float) -> None:
        cfg = self.config.train
        _, top1, top5, mean_dist = self._refresh_centers(update_sampler=True)
        val_top1, val_top5 = self._validate()
        score = val_top1 if val_top1 is not None else top1
        is_best = self.best is None or (not math.isnan(score) and score > self.best)
        if is_best:
            self.best = score
        loss = self.epoch_loss_sum / max(self.epoch_loss_n, 1)
        probs = np.asarray(self.sampler.probabilities, dtype=np.float64)
        clusters = np.asarray(self.sampler.clusters, dtype=np.int64)
        edges = np.asarray(self.sampler.cluster_edges, dtype=np.int64).reshape(-1, 2)
        self._mining.append(self.epoch, probs, clusters, mean_dist.numpy(), edges)
        centers_np = self._raw_centers.numpy()
        save_centers(self.run_dir, centers_np)
        epoch = self.epoch
        self._metrics.write("epoch", epoch=epoch, top1=top1, top5=top5, val_top1=val_top1,
                            val_top5=val_top5, loss=loss, seconds=seconds, best=is_best)
        self.epoch += 1
        self.iteration = 0
        self.epoch_loss_sum, self.epoch_loss_n = 0.0, 0
        self._save(best=is_best)
        write_status(self.run_dir, status="running", epoch=self.epoch, epochs=cfg.epochs,
                     best_top1=self.best)
        self._emit(EpochFinished(
            epoch=epoch, epochs=cfg.epochs, top1=top1, top5=top5, val_top1=val_top1,
            val_top5=val_top5, loss=loss, seconds=seconds, probabilities=probs.copy(),
            clusters=clusters.copy(), mean_distance=mean_dist.numpy().copy(),
            centers=centers_np.copy(), is_best=is_best))

    def _stopped(self) -> RunStopped:
        self._save(best=False)
        self.state = "stopped"
        write_status(self.run_dir, status="stopped", epoch=self.epoch,
                     epochs=self.config.train.epochs, best_top1=self.best,
                     message=f"stopped at epoch {self.epoch + 1}, iteration {self.iteration}")
        self._metrics.write("stopped", epoch=self.epoch, iteration=self.iteration)
        event = RunStopped(run_dir=self.run_dir, epochs_done=self.epoch)
        self._emit(event)
        return event


class _NonFinite(Exception):
    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value

"""Fine-tuning: a new run that starts from another run's weights and trains on the fonts plus
labelled real samples (``siam train PROJECT --finetune RUN --with data/labelled.h5``).

It is the trainer with two hooks and nothing else changed: the training set is the run's font
file with the labelled files merged in by class name (a class only the labels know joins the
class list, so a fine-tuned run knows it), and the network's weights come from RUN's checkpoint
before the first center pass. Optimiser, sampler and schedule start fresh; the fonts stay in the
mix so the run does not forget them. The real samples are few, so they are repeated until they
are about ``real_share`` of the training rows (every repeat is augmented differently).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.data.framing import size_mode_of
from siam_workbench.data.glyphs import GlyphSet, load_glyphs
from siam_workbench.model.checkpoint import load_checkpoint
from siam_workbench.project.config import Config
from siam_workbench.project.project import Project, is_run_dir
from siam_workbench.project.runfolder import RunFolder
from siam_workbench.train.trainer import Trainer, new_run_id

#: Default share of the real (labelled) rows in the fine-tuning set.
REAL_SHARE = 0.5
#: Without --epochs: a short fine-tune.
DEFAULT_EPOCHS = 2
#: Without --set train.lr: this share of the run's learning rate (the weights are trained).
LR_FACTOR = 0.3
MAX_REPEAT = 100


def source_checkpoint(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    path = RunFolder(run_dir).checkpoint("best")
    if path.exists():
        return path
    raise SiamError("run has no checkpoint to fine-tune from", run_dir)


def finetune_config(run_dir: Path, sets: Sequence[str] = (),
                    train_over: dict[str, Any] | None = None) -> Config:
    """RUN's own settings (same network), shortened: ``train.epochs`` = :data:`DEFAULT_EPOCHS`
    and ``train.lr`` × :data:`LR_FACTOR` unless given; then ``--set`` and the train options."""
    from siam_workbench.project.project import load_project

    config = load_project(RunFolder(run_dir).config).config
    base: dict[str, Any] = {"epochs": DEFAULT_EPOCHS}
    if not any(s.split("=", 1)[0].strip() == "train.lr" for s in sets):
        base["lr"] = float(config.train.lr) * LR_FACTOR
    config = config.replace({"train": base}).with_overrides(list(sets))
    if train_over:
        config = config.replace({"train": dict(train_over)})
    return config


def merge_labelled(train: GlyphSet, files: Sequence[Path], real_share: float = REAL_SHARE,
                   size_mode: str | None = None) -> tuple[GlyphSet, dict[str, Any]]:
    """``train`` with the samples of ``files`` appended (classes matched by name, new classes
    appended), real rows repeated to about ``real_share`` of the result; returns the set and
    what was merged."""
    classes = list(train.classes)
    index = {c: i for i, c in enumerate(classes)}
    images, labels, sources = [], [], []
    source_names = list(train.source_names)
    report: dict[str, Any] = {"files": [], "new_classes": []}
    for path in files:
        data = load_glyphs(path)
        if data.image_size != train.image_size:
            raise SiamError(f"labelled images are {data.image_size}px, the training images "
                            f"{train.image_size}px", path)
        render = data.attrs.get("render")
        mode = render.get("size_mode") if isinstance(render, dict) else None
        if size_mode is not None and mode is not None and mode != size_mode:
            raise SiamError(f"framed in size mode {mode!r} but the run uses {size_mode!r}", path)
        for c in data.classes:
            if c not in index:
                index[c] = len(classes)
                classes.append(c)
                report["new_classes"].append(c)
        remap = torch.tensor([index[c] for c in data.classes], dtype=torch.int64)
        images.append(data.images)
        labels.append(remap[data.labels] if len(data) else torch.zeros(0, dtype=torch.int64))
        sources.append(data.sources + len(source_names))
        source_names.extend(data.source_names)
        report["files"].append({"path": str(path), "samples": len(data)})
    n_real = sum(int(x.shape[0]) for x in labels)
    if n_real == 0:
        raise SiamError("the labelled files hold no samples", files[0] if files else None)
    share = min(max(float(real_share), 0.0), 0.95)
    repeat = max(1, min(MAX_REPEAT, round(share / (1 - share) * len(train) / n_real)))
    real_images = torch.cat(images).repeat(repeat, 1, 1)
    report.update({"real_samples": n_real, "repeat": repeat, "font_samples": len(train)})
    merged = GlyphSet(
        images=torch.cat([train.images, real_images]),
        labels=torch.cat([train.labels, torch.cat(labels).repeat(repeat)]),
        sources=torch.cat([train.sources, torch.cat(sources).repeat(repeat)]),
        classes=classes, source_names=source_names,
        rows=np.concatenate([train.rows, np.full(n_real * repeat, -1)]),
        path=train.path, attrs=train.attrs)
    return merged, report


class FinetuneTrainer(Trainer):
    """A new run initialised from ``source``'s weights, trained on fonts + ``labelled``."""

    def __init__(self, project: Project, source: Path, labelled: Sequence[Path],
                 config: Config | None = None, run_dir: Path | None = None,
                 real_share: float = REAL_SHARE) -> None:
        self.source = Path(source)
        self.source_ckpt = source_checkpoint(self.source)
        if not labelled:
            raise SiamError("--finetune needs at least one labelled file (--with FILE)")
        # Relative names are the project's (data/labelled.h5), else the working folder's.
        self.labelled = [project.resolve(str(p)) if project.resolve(str(p)).exists() else Path(p)
                         for p in labelled]
        for p in self.labelled:
            if not p.exists():
                raise SiamError("labelled file not found", p)
        self.real_share = real_share
        self.merged: dict[str, Any] = {}
        config = config or finetune_config(self.source)
        if run_dir is None:
            run_dir = project.runs_dir / f"{new_run_id(config)}-ft"
        super().__init__(project, config=config, run_dir=run_dir)

    def _load_split(self, name: str, required: bool) -> GlyphSet | None:
        data = super()._load_split(name, required)
        if name == "train" and data is not None:
            data, self.merged = merge_labelled(
                data, self.labelled, self.real_share,
                size_mode=size_mode_of(self.config.data))
        return data

    def _start_state(self) -> None:
        state = load_checkpoint(self.source_ckpt, map_location=self.device)
        cfg = self.config.model
        if state.get("backbone") != cfg.backbone or \
                int(state.get("embedding_dim", -1)) != int(cfg.embedding_dim):
            raise SiamError(f"the run is a {state.get('backbone')} / "
                            f"{state.get('embedding_dim')}-d network, the settings ask for "
                            f"{cfg.backbone} / {cfg.embedding_dim}-d", self.source_ckpt)
        try:
            self.model.load_state_dict(state["model"])
        except (KeyError, RuntimeError) as exc:
            raise SiamError(f"cannot load the run's weights ({type(exc).__name__})",
                            self.source_ckpt) from None
        super()._start_state()
        if self._writes:
            note = {"from": str(self.source), "checkpoint": str(self.source_ckpt),
                    "epoch": state.get("epoch"), "real_share": self.real_share,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **self.merged}
            write_text_atomic(RunFolder(self.run_dir).finetune,
                              json.dumps(note, indent=1, ensure_ascii=False) + "\n")

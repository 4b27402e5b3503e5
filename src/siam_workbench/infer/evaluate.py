"""Load a finished (or running) run's model and centers; measure nearest-center accuracy.

Evaluation maps the evaluated file's classes to the run's classes *by name*, so a test file
rendered separately (other fonts, other class order, a subset) is scored correctly; samples of
classes the run never saw are counted and reported, not silently dropped.
"""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.drawn import conform_drawn
from siam_workbench.data.framing import (
    DEFAULT_SIZE,
    SIZE_MODES,
    Framing,
    FramingMismatch,
    Preprocess,
    check_framing,
    recorded_framing,
)
from siam_workbench.data.glyphs import load_glyphs
from siam_workbench.infer.runs import read_evaluations, save_evaluation  # noqa: F401 - kept with runs
from siam_workbench.model.backbones import build_model, resolve_device
from siam_workbench.model.checkpoint import check_model_fields, load_checkpoint, state_digest
from siam_workbench.parts.centers import (
    CenterIndex,
    embed,
    per_class_accuracy,  # noqa: F401  (re-exported)
    topk_accuracy,
)
from siam_workbench.project.project import is_run_dir
from siam_workbench.project.runfolder import RunFolder


def run_preprocess(run_dir: Path, state: dict[str, Any] | None = None) -> Preprocess:
    """The framing a run was trained with: ``state["preprocess"]`` (checkpoints that carry it),
    else the ``[data]`` margin / size_mode of the run's ``config.toml``, else the defaults; the
    image side is the checkpoint's ``image_size``."""
    state = state or {}
    size = state.get("image_size")
    size = size if isinstance(size, int) else DEFAULT_SIZE
    pre = state.get("preprocess")
    if isinstance(pre, dict):
        return Preprocess.from_dict(pre, size)
    try:
        data = tomllib.loads(RunFolder(run_dir).config.read_text(encoding="utf-8")).get("data", {})
    except (OSError, ValueError):
        return Preprocess(image_size=size)
    data = data if isinstance(data, dict) else {}
    default = Preprocess(image_size=size)
    margin = data.get("margin")
    mode = data.get("size_mode")
    return Preprocess(mode if mode in SIZE_MODES else default.size_mode,
                      margin if isinstance(margin, int) else default.margin, size)


@dataclass
class RunModel:
    """A trained network ready for inference, with its class centers and class names."""

    run_dir: Path
    model: nn.Module
    centers: torch.Tensor  # [C, D] float32 (NaN rows: classes without samples)
    classes: list[str]
    space: str
    image_size: int
    device: torch.device
    meta: dict[str, Any] = field(default_factory=dict)
    # How an image is framed before the network sees it (siam_workbench.data.imaging): margin and
    # size_mode, from the checkpoint's "preprocess", else the run's config.toml, else today's
    # defaults (margin 2, fit).
    preprocess: Preprocess = field(default_factory=Preprocess)
    # Classes enrolled after training (siam_workbench.infer.enrol, runs/<id>/enrolled.json), merged
    # into centers / classes by load_run.
    enrolled: list[str] = field(default_factory=list)

    _index: CenterIndex | None = field(default=None, init=False, repr=False, compare=False)
    _index_key: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def trained_classes(self) -> list[str]:
        """The classes the network trained on (enrolled ones appended by load_run left out)."""
        return self.classes[:int(self.meta.get("trained_classes", len(self.classes)))]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images [N,H,W] → float32 embeddings [N,D] on the CPU."""
        return embed(self.model, images, self.device, self.space)

    def index(self) -> CenterIndex:
        """The centers prepared for search on the run's device, built once and reused (a query
        at 50,000 classes would otherwise spend most of its time re-preparing them); rebuilt
        when ``centers`` is replaced or changed in place."""
        # The key holds the tensor itself, so a new tensor at a freed one's address can't match.
        key = (self.centers, self.centers._version, str(self.device))
        old = self._index_key
        if (self._index is None or old is None or old[0] is not key[0]
                or old[1:] != key[1:]):
            self._index = CenterIndex(self.centers, device=self.device)
            self._index_key = key
        return self._index

    def classify(self, images: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images [N,H,W] → (distances [N,k], class indices [N,k]) on the CPU."""
        emb = embed(self.model, images, self.device, self.space, to_cpu=False)
        dist, idx = self.index().search(emb, k=k)
        return dist.cpu(), idx.cpu()


def load_run(run_dir: str | Path, which: str = "best", device: str = "cpu",
             enrolled: bool = True) -> RunModel:
    """Open ``runs/<id>``; ``which`` = best | last (best falls back to last).

    ``enrolled``: merge the run's enrolled classes (``enrolled.json``) into its centers and
    classes — the one place they join, so query, eval, the Draw tab and exports see them."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    path = RunFolder(run_dir).checkpoint("last" if which == "last" else "best")
    dev = resolve_device(device)
    state = load_checkpoint(path, map_location=dev)
    check_model_fields(state, path)  # sizes, shapes, finiteness: before building anything
    from siam_workbench.model.backbones import MODELS

    if isinstance(state.get("backbone"), str) and state["backbone"] not in MODELS:
        raise SiamError(f"backbone {state['backbone']!r} is not a built-in part; it comes from "
                        "a plug-in of the run's project, which loads once the project is "
                        "trusted (siam trust PROJECT)", path)
    try:
        model = build_model(state["backbone"], int(state["embedding_dim"])).to(dev)
        model.load_state_dict(state["model"])
        centers = state["centers"].float().cpu()
        classes = [str(c) for c in state["classes"]]
    except (KeyError, RuntimeError, TypeError) as exc:
        raise SiamError(f"checkpoint is incomplete ({type(exc).__name__}: {exc})", path) from None
    if centers.shape[0] != len(classes):
        raise SiamError("checkpoint centers and classes disagree", path)
    model.eval()
    epoch = state.get("epoch", 0)
    meta = {"checkpoint": str(path), "which": path.stem,
            "epoch": epoch if isinstance(epoch, int) else 0,
            "backbone": state["backbone"], "best": state.get("best"),
            "digest": str(state.get("digest") or state_digest(state))}
    preprocess = run_preprocess(run_dir, state)
    run = RunModel(run_dir=run_dir, model=model, centers=centers, classes=classes,
                   space=str(state["space"]), image_size=int(state["image_size"]),
                   device=dev, meta=meta, preprocess=preprocess)
    if int(state.get("centers_step", state.get("step", 0))) != int(state.get("step", 0)):
        _recompute_centers(run, state)
    if enrolled:
        from siam_workbench.infer.enrolled import merge_enrolled

        merge_enrolled(run)
    return run


def _recompute_centers(run: RunModel, state: dict[str, Any]) -> None:
    """A run stopped mid-epoch saved weights newer than its centers (the epoch-end pass had not
    run); classify with centers of *these* weights, from the run's training file, rather than
    with centers that belong to other weights. Without the training file the saved centers
    stay, and ``meta["centers"]`` says they are stale."""
    from siam_workbench.parts.centers import class_centers
    from siam_workbench.project.config import Config

    try:
        config = Config(tomllib.loads(str(state["config"])))
        train_path = Path(config.data.train).expanduser()
        if not train_path.is_absolute():
            train_path = run.run_dir.parent.parent / train_path
        train = load_glyphs(train_path)
    except (SiamError, KeyError, tomllib.TOMLDecodeError):
        run.meta["centers"] = "stale (from the last epoch end; training data not found)"
        return
    train, _ = train.aligned_to(run.classes)
    emb = embed(run.model, train.images, run.device, run.space)
    centers, _ = class_centers(emb, train.labels, len(run.classes))
    run.centers = centers
    run.meta["centers"] = f"recomputed from the weights at step {int(state['step'])}"


Progress = Callable[[int, int], None]
EVAL_BATCH = 512


def classify_batched(run: RunModel, images: torch.Tensor, k: int = 5,
                     progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:meth:`RunModel.classify` in blocks of :data:`EVAL_BATCH` images, reporting
    ``progress(done, total)`` after each and raising :class:`Cancelled` once ``cancel`` is set."""
    n = int(images.shape[0])
    dists, idxs = [], []
    if progress is not None:
        progress(0, n)
    for start in range(0, n, EVAL_BATCH):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        d, i = run.classify(images[start:start + EVAL_BATCH], k=k)
        dists.append(d)
        idxs.append(i)
        if progress is not None:
            progress(min(n, start + EVAL_BATCH), n)
    if not dists:
        return torch.zeros(0, k), torch.zeros(0, k, dtype=torch.int64)
    return torch.cat(dists), torch.cat(idxs)


def framing_of(run: RunModel) -> Framing:
    """The framing the run's network was trained on (what its inputs must look like)."""
    return run.preprocess


def check_data_framing(run: RunModel, data: Any, data_path: str | Path,
                       allow_mismatch: bool = False) -> tuple[Any, dict[str, Any]]:
    """``(data, framing report)``: a drawings file is re-framed from its originals to the
    run's framing; any other file framed otherwise is refused (:class:`FramingMismatch`,
    naming the command that re-makes it) unless ``allow_mismatch``, when the report carries
    the mismatch. The report is what ``siam eval --json`` prints under ``framing``."""
    want = framing_of(run)
    have = recorded_framing(data.attrs)
    report: dict[str, Any] = {"run": asdict(want), "data": asdict(have) if have else None,
                              "match": None if have is None else True, "converted": False}
    render = data.attrs.get("render") if isinstance(data.attrs, dict) else None
    if isinstance(render, dict) and render.get("source") == "drawn":
        framed = conform_drawn(data, want)
        if framed is not data:
            report.update(converted=True, match=True)
            return framed, report
    try:
        check_framing(data_path, data.attrs, want, reader="the run")
    except FramingMismatch as exc:
        if not allow_mismatch:
            raise
        report.update(match=False, mismatch=str(exc), fix=exc.fix)
        return data, report
    if have is None and not want.fits_ink:
        report["warning"] = (f"the file does not record its framing; the run takes "
                             f"{want.describe()} — if the file was framed 'fit' (files made "
                             "before framing was recorded were), the figure is meaningless")
    return data, report


def evaluate(run: RunModel, data_path: str | Path, k: int = 5,
             keep_predictions: bool = False, progress: Progress | None = None,
             cancel: threading.Event | None = None,
             allow_mismatch: bool = False) -> dict[str, Any]:
    """Top-1 / top-5 nearest-center accuracy of ``run`` on a glyph file (``progress(done,
    total)`` in images; ``cancel`` stops between blocks with :class:`Cancelled`).

    A file framed otherwise than the run was trained (``render`` attrs vs the checkpoint's
    ``preprocess``) is refused in one line naming the command that re-makes it; with
    ``allow_mismatch`` it is scored and ``result["warning"]`` says so. ``result["framing"]``
    always reports both framings (:func:`check_data_framing`)."""
    data = load_glyphs(data_path)
    if data.image_size != run.image_size:
        raise SiamError(f"images are {data.image_size}×{data.image_size}, the run's network takes "
                        f"{run.image_size}×{run.image_size}", data_path)
    data, framing = check_data_framing(run, data, data_path, allow_mismatch)
    known, n_unknown = data.aligned_to(run.classes)
    if len(known) == 0:
        raise SiamError("none of its classes are known to the run", data_path)
    labels = known.labels
    dist, idx = classify_batched(run, known.images, k=min(max(k, 5), len(run.classes)),
                                 progress=progress, cancel=cancel)
    if dist.numel() and not bool(torch.isfinite(dist).all()):
        raise SiamError("the network gives non-finite distances on this data (a damaged "
                        "checkpoint?)", run.meta.get("checkpoint", run.run_dir))
    top1, top5 = topk_accuracy(idx, labels)
    result: dict[str, Any] = {"top1": top1, "top5": top5, "n": int(labels.shape[0]),
                              "unknown_classes": n_unknown, "data": str(data_path),
                              "run": str(run.run_dir), "checkpoint": run.meta.get("which"),
                              "epoch": run.meta.get("epoch"), "framing": framing}
    if framing.get("mismatch") or framing.get("warning"):
        result["warning"] = framing.get("mismatch") or framing.get("warning")
    if keep_predictions:
        result["labels"] = labels.numpy()
        result["pred"] = idx.numpy()
        result["dist"] = dist.numpy()
        result["rows"] = known.rows
    return result




@dataclass
class ClassScore:
    """One row of the per-class accuracy table."""

    index: int
    name: str
    n: int
    top1: float
    top5: float
    confused_with: str  # the class it is most often read as ("" if never wrong)
    confused_count: int


def per_class_table(result: dict[str, Any], classes: list[str]) -> list[ClassScore]:
    """Per-class top-1 / top-5 and most frequent wrong answer, for every class evaluated
    (``result`` from :func:`evaluate` with ``keep_predictions=True``), worst first."""
    labels, pred = np.asarray(result["labels"]), np.asarray(result["pred"])
    c = len(classes)
    total = np.bincount(labels, minlength=c)
    hit1 = np.bincount(labels, weights=(pred[:, 0] == labels), minlength=c)
    hit5 = np.bincount(labels, weights=(pred[:, :5] == labels[:, None]).any(1), minlength=c)
    wrong = pred[:, 0] != labels
    pair = labels[wrong].astype(np.int64) * c + pred[wrong, 0].astype(np.int64)
    uniq, counts = np.unique(pair, return_counts=True)
    worst: dict[int, tuple[int, int]] = {}
    for p, n in zip(uniq.tolist(), counts.tolist()):
        t, q = divmod(p, c)
        if n > worst.get(t, (-1, 0))[1]:
            worst[t] = (q, n)
    rows = []
    for i in np.flatnonzero(total):
        q, n = worst.get(int(i), (-1, 0))
        rows.append(ClassScore(int(i), classes[int(i)], int(total[i]),
                               float(hit1[i] / total[i]), float(hit5[i] / total[i]),
                               classes[q] if q >= 0 else "", int(n)))
    rows.sort(key=lambda r: (r.top1, r.top5, -r.n, r.index))
    return rows


@dataclass
class ConfusedPair:
    """Two classes the network mixes up: ``a`` read as ``b`` and ``b`` read as ``a``."""

    a: int
    b: int
    a_name: str
    b_name: str
    a_as_b: int
    b_as_a: int

    @property
    def count(self) -> int:
        return self.a_as_b + self.b_as_a


def confused_pairs(result: dict[str, Any], classes: list[str], top: int = 20
                   ) -> list[ConfusedPair]:
    """The ``top`` class pairs with most top-1 confusions (both directions counted)."""
    labels, pred = np.asarray(result["labels"]), np.asarray(result["pred"])[:, 0]
    wrong = pred != labels
    c = len(classes)
    a = np.minimum(labels[wrong], pred[wrong]).astype(np.int64)
    b = np.maximum(labels[wrong], pred[wrong]).astype(np.int64)
    forward = labels[wrong] == a  # the smaller index was the truth
    uniq, inv = np.unique(a * c + b, return_inverse=True)
    ab = np.bincount(inv, weights=forward, minlength=len(uniq))
    ba = np.bincount(inv, weights=~forward, minlength=len(uniq))
    order = np.argsort(-(ab + ba), kind="stable")[:top]
    out = []
    for j in order:
        x, y = divmod(int(uniq[j]), c)
        out.append(ConfusedPair(x, y, classes[x], classes[y], int(ab[j]), int(ba[j])))
    return out




def dumps(result: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in result.items() if not isinstance(v, np.ndarray)})

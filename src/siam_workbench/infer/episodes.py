"""Few-shot episodes: W-way K-shot nearest-center accuracy on classes a run may never have seen.

Protocol (docs/FEWSHOT.md):

* An **episode** draws ``way`` classes of a glyph file (optionally all from one *group*: an
  alphabet), ``shot`` support samples of each and ``queries`` query samples of each.
* **Queries come from other sources than the supports**: each episode ranks the file's sources
  (drawers, faces) in a random order and takes every class's supports from the first-ranked
  sources that have the class; the queries are drawn only from samples whose source supplies
  *no* support in the episode. A query is never matched against a drawing by its own drawer.
* The network (the run's own weights, loss space and framing) embeds supports and queries;
  each class's center is the mean of its supports; a query is right when its nearest center
  is its class. **Pixel 1-NN** classifies the same queries against the same supports on raw
  pixels (:func:`siam_workbench.data.baselines.pixel_nn`), so the two figures are paired.
* Accuracy is the mean over episodes with a 95 % interval (1.96 standard errors of the
  per-episode accuracies). Episodes depend only on the file, the options and ``seed``.

Groups (``group`` option): ``prefix`` (default) takes a class's group from its name up to the
last ``/`` (``siam import omniglot`` names classes ``<Alphabet>/<characterNN>``); ``attr``
reads the file's ``class_groups`` attribute (a JSON object class → group); ``none`` puts every
class in one group.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.glyphs import GlyphSet, load_glyphs

GROUP_MODES = ("prefix", "attr", "none")
#: Tries to draw one episode before the options are declared impossible for the file.
MAX_TRIES = 50

Progress = Callable[[int, int], None]


@dataclass
class Episode:
    classes: np.ndarray  # int64 [W]: file class indices
    support: np.ndarray  # int64 [W*K]: rows of the loaded set
    support_labels: np.ndarray  # int64 [W*K] in 0..W-1
    query: np.ndarray  # int64 [Q]
    query_labels: np.ndarray  # int64 [Q]
    group: str = ""


def class_groups(data: GlyphSet, mode: str = "prefix") -> list[str]:
    """One group name per class of ``data`` (see the module docstring)."""
    if mode == "none":
        return [""] * data.num_classes
    if mode == "prefix":
        return [c.rsplit("/", 1)[0] if "/" in c else "" for c in data.classes]
    if mode == "attr":
        raw = data.attrs.get("class_groups") if isinstance(data.attrs, dict) else None
        try:
            table = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            table = None
        if not isinstance(table, dict):
            raise SiamError("--group attr: the file has no class_groups attribute (a JSON "
                            "object class → group)", data.path)
        return [str(table.get(c, "")) for c in data.classes]
    raise SiamError(f"unknown group mode {mode!r} (choose {', '.join(GROUP_MODES)})")


class EpisodeSampler:
    """Seeded episodes over one file's labels and sources (no images needed).

    ``groups`` (one per class) with ``within_group``: all ``way`` classes of an episode share
    a group, the group drawn uniformly among those with enough classes.
    """

    def __init__(self, labels: np.ndarray, sources: np.ndarray, way: int, shot: int,
                 queries: int = 1, groups: list[str] | None = None,
                 within_group: bool = False, classes: np.ndarray | None = None,
                 name: str | Path | None = None) -> None:
        for key, value, low in (("way", way, 2), ("shot", shot, 1), ("queries", queries, 1)):
            if value < low:
                raise SiamError(f"--{key} must be ≥ {low}, got {value}")
        self.labels = np.asarray(labels, np.int64)
        self.sources = np.asarray(sources, np.int64)
        self.way, self.shot, self.queries = way, shot, queries
        self.rows_of: dict[int, np.ndarray] = {}
        allowed = None if classes is None else {int(c) for c in classes}
        for c in np.unique(self.labels):
            rows = np.flatnonzero(self.labels == c)
            # A class needs its supports and at least one sample from another source.
            if (allowed is None or int(c) in allowed) and rows.size > shot \
                    and np.unique(self.sources[rows]).size >= 2:
                self.rows_of[int(c)] = rows
        self.within_group = within_group
        pools: dict[str, list[int]] = {}
        for c in self.rows_of:
            key = groups[c] if (groups is not None and within_group) else ""
            pools.setdefault(key, []).append(c)
        self.pools = {g: np.array(sorted(cs)) for g, cs in pools.items() if len(cs) >= way}
        if not self.pools:
            where = "in any one group" if within_group else "in the file"
            if allowed is not None:
                where += " among the classes the run did not train on"
            raise SiamError(f"fewer than {way} classes {where} have more than {shot} samples "
                            f"from at least two sources (needed for {way}-way {shot}-shot "
                            "episodes with queries from other sources)", name)
        self.group_names = sorted(self.pools)
        self.name = name
        self.n_sources = int(self.sources.max()) + 1 if self.sources.size else 0

    def _one(self, rng: np.random.Generator) -> Episode | None:
        group = self.group_names[int(rng.integers(len(self.group_names)))]
        pool = self.pools[group]
        chosen = rng.choice(pool, size=self.way, replace=False)
        rank = rng.permutation(self.n_sources)  # this episode's order of sources
        supports, used = [], set()
        for c in chosen:
            rows = self.rows_of[int(c)]
            # By source rank, ties (several samples of one source) broken at random.
            order = np.lexsort((rng.random(rows.size), rank[self.sources[rows]]))
            pick = rows[order[:self.shot]]
            supports.append(pick)
            used.update(self.sources[pick].tolist())
        used_arr = np.array(sorted(used))
        queries = []
        for c in chosen:
            rows = self.rows_of[int(c)]
            free = rows[~np.isin(self.sources[rows], used_arr)]
            if free.size == 0:
                return None
            queries.append(rng.choice(free, size=min(self.queries, free.size), replace=False))
        return Episode(
            classes=np.asarray(chosen, np.int64),
            support=np.concatenate(supports),
            support_labels=np.repeat(np.arange(self.way), self.shot),
            query=np.concatenate(queries),
            query_labels=np.concatenate([np.full(q.size, i) for i, q in enumerate(queries)]),
            group=group)

    def sample(self, n: int, seed: int = 0) -> list[Episode]:
        """``n`` episodes, the same for the same seed and options."""
        if n < 1:
            raise SiamError(f"--episodes must be ≥ 1, got {n}")
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n):
            for _ in range(MAX_TRIES):
                ep = self._one(rng)
                if ep is not None:
                    out.append(ep)
                    break
            else:
                raise SiamError(f"cannot draw {self.way}-way {self.shot}-shot episodes whose "
                                "queries come from sources without supports: the classes have "
                                "too few sources (lower --shot or --way)", self.name)
        return out


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of its 95 % interval (normal approximation over episodes)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float("nan")
    return float(v.mean()), float(1.96 * v.std(ddof=1) / math.sqrt(v.size))


def _pixel_episode(images: torch.Tensor, ep: Episode, way: int) -> float:
    from siam_workbench.data.baselines import pixel_nn

    names = [str(i) for i in range(way)]
    rows = np.arange(0)

    def subset(r: np.ndarray, lab: np.ndarray) -> GlyphSet:
        return GlyphSet(images=images[torch.from_numpy(r)], labels=torch.from_numpy(lab),
                        sources=torch.zeros(r.size, dtype=torch.int64), classes=names,
                        source_names=["s"], rows=rows)

    return float(pixel_nn(subset(ep.support, ep.support_labels),
                          subset(ep.query, ep.query_labels), k=1)["top1"])


def evaluate_episodes(run: Any, data: GlyphSet | str | Path, episodes: int = 100, way: int = 5,
                      shot: int = 1, queries: int = 1, within_group: bool = False,
                      group: str = "prefix", seed: int = 0, unseen: bool = False,
                      pixel: bool = True, progress: Progress | None = None,
                      cancel: threading.Event | None = None,
                      keep_predictions: bool = False) -> dict[str, Any]:
    """W-way K-shot accuracy of ``run`` (a :class:`siam_workbench.infer.evaluate.RunModel`) on a
    glyph file, beside pixel 1-NN on the same episodes (``progress(done, total)`` in episodes).

    ``keep_predictions`` adds every query's answers as :func:`siam_workbench.infer.evaluate.
    evaluate` keeps them — ``labels`` (int64 ``[Q]``, the query's class in the file),
    ``pred`` (int64 ``[Q, k]``, the episode's classes by nearness of their support centers,
    k = min(5, way), as file class indices) and ``class_names`` — so that
    :func:`~siam_workbench.infer.evaluate.per_class_table` and
    :func:`~siam_workbench.infer.evaluate.confused_pairs` read them: per class, how often its
    queries were right among their episode's W classes, and which class they were read as."""
    from siam_workbench.parts.centers import nearest_centers

    if not isinstance(data, GlyphSet):
        data = load_glyphs(data)
    name = data.path
    if data.image_size != run.image_size:
        raise SiamError(f"images are {data.image_size}×{data.image_size}, the run's network "
                        f"takes {run.image_size}×{run.image_size}", name)
    trained = set(run.trained_classes)
    keep = None
    if unseen:
        keep = np.array([i for i, c in enumerate(data.classes) if c not in trained], np.int64)
    groups = class_groups(data, group) if within_group else None
    sampler = EpisodeSampler(data.labels.numpy(), data.sources.numpy(), way, shot, queries,
                             groups, within_group, keep, name)
    eps = sampler.sample(episodes, seed)
    used = np.unique(np.concatenate([np.concatenate([e.support, e.query]) for e in eps]))
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    emb_used = run.embed(data.images[torch.from_numpy(used)])
    slot = np.full(len(data), -1, np.int64)
    slot[used] = np.arange(used.size)
    model_acc, pixel_acc = [], []
    k = min(5, way)
    kept_labels: list[np.ndarray] = []
    kept_pred: list[np.ndarray] = []
    if progress is not None:
        progress(0, len(eps))
    for i, ep in enumerate(eps):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        s_emb = emb_used[torch.from_numpy(slot[ep.support])]
        centers = torch.zeros(way, s_emb.shape[1], dtype=torch.float64)
        centers.index_add_(0, torch.from_numpy(ep.support_labels), s_emb.double())
        centers = (centers / shot).float()
        # Always the same k: the top-1 answer never depends on whether predictions are kept.
        _, idx = nearest_centers(emb_used[torch.from_numpy(slot[ep.query])], centers, k=k)
        model_acc.append(float((idx[:, 0].numpy() == ep.query_labels).mean()))
        if keep_predictions:
            kept_labels.append(ep.classes[ep.query_labels])
            kept_pred.append(ep.classes[idx.numpy().astype(np.int64)])
        if pixel:
            pixel_acc.append(_pixel_episode(data.images, ep, way))
        if progress is not None:
            progress(i + 1, len(eps))
    top1, ci = mean_ci(np.array(model_acc))
    ep_classes = {int(c) for e in eps for c in e.classes}
    result: dict[str, Any] = {
        "mode": "episodes", "top1": top1, "ci95": ci,
        "episodes": len(eps), "way": way, "shot": shot, "queries": queries,
        "queries_total": int(sum(e.query.size for e in eps)),
        "within_group": within_group, "group": group if within_group else None,
        "groups": len(sampler.pools) if within_group else None,
        "seed": seed, "classes": len(sampler.rows_of),
        "classes_known_to_run": sum(data.classes[c] in trained for c in ep_classes),
        "data": str(name), "run": str(run.run_dir), "space": run.space,
    }
    if pixel:
        p1, pci = mean_ci(np.array(pixel_acc))
        result.update(pixel_top1=p1, pixel_ci95=pci)
    if keep_predictions:
        result.update(labels=np.concatenate(kept_labels), pred=np.concatenate(kept_pred),
                      pred_k=k, class_names=list(data.classes))
    return result


def json_fields(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without the kept predictions (arrays, the class list): what ``--json``
    prints."""
    return {key: v for key, v in result.items()
            if key not in ("labels", "pred", "class_names")}


def summary_line(r: dict[str, Any]) -> str:
    def pct(v: float) -> str:
        return "n/a" if v != v else f"{100 * v:.1f}%"

    def ci(v: float) -> str:
        return "" if v != v else f" ± {100 * v:.1f}"

    line = (f"{r['way']}-way {r['shot']}-shot, {r['episodes']} episodes"
            + (" within group" if r["within_group"] else "")
            + f": top-1 {pct(r['top1'])}{ci(r['ci95'])}")
    if "pixel_top1" in r:
        line += f"; pixel 1-NN {pct(r['pixel_top1'])}{ci(r['pixel_ci95'])}"
    return line + f" ({r['queries_total']} queries, seed {r['seed']})"

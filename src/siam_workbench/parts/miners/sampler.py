"""The sampler: one positive and one negative miner composed into what a step trains on.

Two batch layouts (``train.batch_mode``):

* ``triplets`` — the paper's: ``n`` independent (anchor, positive, negative) sample rows, three
  images per triplet. :meth:`Sampler.triplets`.
* ``pk`` — P classes × K samples embedded once, every triplet inside the batch available to the
  batch miner. Half of the P classes are anchors drawn from the positive miner's distribution
  (without replacement); each brings a partner drawn by the negative miner for it (with
  auto-clustering, often a class of its own cluster); the rest is topped up from the positive
  distribution. :meth:`Sampler.pk_batch`.

Sampling runs on the training hot path (up to 11,172 classes and ~900k samples), so it is
vectorised numpy with a fixed number of uniform draws per call: the RNG stream, and with it a
resumed run, is reproducible whatever the miners' tables hold.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.parts.miners import checks
from siam_workbench.parts.miners.base import (
    BatchMiner,
    EpochStats,
    NegativeMiner,
    PositiveMiner,
    floor_index,
)
from siam_workbench.parts.miners.registry import miner_class

STATE_FORMAT = "siam-sampler/2"
_OLD_FORMAT = "siam-triplet-sampler/1"


class Sampler:
    """Draws training rows; see the module docstring.

    ``labels`` int ``[N]``: the class of each row of the in-memory training set. A negative label
    marks a row that must never be drawn. Classes with no rows get probability 0 and are never
    drawn, as anchors or as negatives. ``settings`` is ``Config().mining`` (or any object with
    its keys as attributes).
    """

    def __init__(self, labels: np.ndarray, num_classes: int, settings: Any, seed: int = 0) -> None:
        c = int(num_classes)
        if c < 1:
            raise SiamError(f"num_classes must be ≥ 1, got {c}")
        lab = np.asarray(labels)
        if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(f"labels must be a 1-D integer array, got {lab.dtype} {lab.shape}")
        lab = lab.astype(np.int64, copy=False)
        if lab.size and int(lab.max()) >= c:
            raise SiamError(f"a training label ({int(lab.max())}) is outside the {c} classes")
        self.num_classes = c
        self.num_samples = int(lab.shape[0])
        self.seed = int(seed)
        self.updates = 0  # epochs folded into the miners
        # numpy's stubs give ndarray its buffer protocol (__buffer__) only for Python >= 3.12
        self._labels_crc = zlib.crc32(
            np.ascontiguousarray(lab).view(np.uint8))  # type: ignore[arg-type]

        usable = np.flatnonzero(lab >= 0)
        self._order = usable[np.argsort(lab[usable], kind="stable")]  # rows grouped by class
        self._count = np.bincount(lab[usable], minlength=c).astype(np.int64)
        self._start = np.zeros(c, dtype=np.int64)
        np.cumsum(self._count[:-1], out=self._start[1:])
        self._present = self._count > 0
        self._present_idx = np.flatnonzero(self._present).astype(np.int64)
        if self._present_idx.size < 2:
            raise SiamError("triplets need training samples of at least two classes; "
                            f"found {self._present_idx.size}")
        self._rank = np.full(c, -1, dtype=np.int64)  # position among the present classes
        self._rank[self._present_idx] = np.arange(self._present_idx.size)

        def build(role: str) -> Any:
            return miner_class(role, str(getattr(settings, role)))(c, self._present, settings)

        self.positive: PositiveMiner = build("positive")
        self.negative: NegativeMiner = build("negative")
        self.batch: BatchMiner = build("batch")
        self._rng = np.random.Generator(np.random.PCG64(self.seed))
        self._refresh()
        self._probe()

    def _probe(self) -> None:
        """Ask the negative miner once, with uniforms of its own (the sampler's stream is not
        touched), so a faulty miner is refused before the run starts, not at its first step."""
        anchors = self._present_idx[:8]
        coin, u = np.random.default_rng(0).random((2, anchors.size))
        self._negatives(anchors, coin, u)

    def _refresh(self) -> None:
        """Cumulative table of the positive distribution (rebuilt after every update)."""
        pos = self.positive
        self._probs = checks.probabilities(
            pos, checks.call(pos, "probabilities()", pos.probabilities), self._present)
        self._cdf = np.cumsum(self._probs)
        self._cdf_total = float(self._cdf[-1])
        self._last_drawable = int(np.flatnonzero(self._probs > 0)[-1])

    # ---- sampling ----------------------------------------------------------------------------

    def _uniform_negative(self, anchor_cls: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Uniform over present classes except the anchor's: draw among K−1 slots and skip the
        anchor's own slot, which is exact (no rejection loop)."""
        j = floor_index(u, self._present_idx.size - 1)
        j += j >= self._rank[anchor_cls]
        return self._present_idx[j]

    def _negatives(self, anchor_cls: np.ndarray, coin: np.ndarray, u: np.ndarray) -> np.ndarray:
        neg = self.negative
        got = checks.call(neg, "sample()", neg.sample, anchor_cls, coin, u,
                          self._uniform_negative(anchor_cls, u))
        return checks.negatives(neg, got, anchor_cls, self._present)

    def triplets(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` triplets as int64 sample-row indices ``(anchor, positive, negative)``.

        Six uniforms per triplet whatever the miners, so the RNG advances by the same amount on
        every call (what makes a restored sampler continue identically).
        """
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be ≥ 0, got {n}")
        u = self._rng.random((6, n))
        cls = np.searchsorted(self._cdf, u[0] * self._cdf_total, side="right")
        np.minimum(cls, self._last_drawable, out=cls)
        cnt = self._count[cls]
        a_off = floor_index(u[1], cnt)
        p_off = floor_index(u[2], cnt - 1)
        p_off += (p_off >= a_off) & (cnt > 1)  # another sample, unless the class has only one
        base = self._start[cls]
        anchor = self._order[base + a_off]
        positive = self._order[base + p_off]
        neg_cls = self._negatives(cls, u[3], u[4])
        negative = self._order[self._start[neg_cls] + floor_index(u[5], self._count[neg_cls])]
        return anchor, positive, negative

    def pk_batch(self, p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``P`` classes × ``K`` samples: ``(rows int64 [P'·K], classes int64 [P'])``, rows
        grouped in blocks of K by class (block ``i`` is class ``classes[i]``).

        ``P' = min(P, classes with samples)``. Within a class the K samples are distinct when it
        has at least K, otherwise drawn with repetition (augmentation still makes them differ).
        """
        p = min(int(p), int(self._present_idx.size))
        k = int(k)
        if p < 2 or k < 1:
            raise ValueError(f"a P×K batch needs P ≥ 2 classes and K ≥ 1, got {p}×{k}")
        c = self.num_classes
        n_anchor = (p + 1) // 2
        u_anchor = self._rng.random(c)
        u_pair = self._rng.random((2, n_anchor))
        u_fill = self._rng.random(c)
        u_rows = self._rng.random((p, k))

        anchors = _weighted_without_replacement(self._probs, u_anchor, n_anchor)
        partners = self._negatives(anchors, u_pair[0], u_pair[1])
        chosen = _unique_in_order(np.concatenate([anchors, partners]))[:p]
        if chosen.size < p:
            # Top up from the positive distribution; classes it gives 0 come last but still come.
            weight = self._probs + 1e-12 * self._present
            weight[chosen] = 0.0
            chosen = np.concatenate([chosen, _weighted_without_replacement(
                weight, u_fill, p - chosen.size)])
        offsets = _distinct_offsets(u_rows, self._count[chosen])
        rows = self._order[self._start[chosen][:, None] + offsets]
        return rows.reshape(-1), chosen

    # ---- epoch end -------------------------------------------------------------------------

    def update(self, stats: EpochStats) -> None:
        """Fold one epoch's statistics into every miner (``stats.present`` is the sampler's)."""
        c = self.num_classes
        if stats.centers.ndim != 2 or stats.centers.shape[0] != c:
            raise ValueError(f"centers must be [{c}, D], got {stats.centers.shape}")
        if np.asarray(stats.mean_distance).shape != (c,):
            raise ValueError(f"mean_distance must be [{c}]")
        for miner in (self.positive, self.negative, self.batch):
            checks.call(miner, "update()", miner.update, stats)
        self.updates += 1
        self._refresh()

    def epoch_stats(self, epoch: int, centers: np.ndarray, mean_distance: np.ndarray,
                    **accuracies: np.ndarray | None) -> EpochStats:
        return EpochStats(epoch=epoch, centers=np.asarray(centers),
                          mean_distance=np.asarray(mean_distance, dtype=np.float64),
                          present=self._present.copy(), **accuracies)

    # ---- introspection (GUI, mining.h5) ------------------------------------------------------

    @property
    def probabilities(self) -> np.ndarray:
        """float64 ``[C]``: the current anchor-class distribution (a copy)."""
        return self._probs.copy()

    @property
    def clusters(self) -> np.ndarray:
        """int64 ``[C]``: cluster id per class, −1 for none."""
        return np.asarray(self.negative.clusters(), dtype=np.int64).copy()

    @property
    def cluster_edges(self) -> np.ndarray:
        """int64 ``[E, 2]``: the class pairs that formed the clusters, closest first."""
        return np.asarray(self.negative.cluster_edges(), dtype=np.int64).reshape(-1, 2).copy()

    @property
    def present(self) -> np.ndarray:
        """bool ``[C]``: classes with at least one drawable sample."""
        return self._present.copy()

    def negative_distribution(self, anchor_class: int) -> np.ndarray:
        """float64 ``[C]``: the probability of each negative class given ``anchor_class``."""
        a = int(anchor_class)
        if not 0 <= a < self.num_classes:
            raise IndexError(f"anchor_class {a} outside 0..{self.num_classes - 1}")
        return self.negative.distribution(a)

    def series(self) -> dict[str, np.ndarray]:
        """Every miner's per-class arrays worth logging per epoch, keyed ``role.name``."""
        out: dict[str, np.ndarray] = {}
        for miner in (self.positive, self.negative, self.batch):
            got = checks.call(miner, "series()", miner.series)
            for key, arr in checks.series(miner, got, self.num_classes).items():
                out[f"{miner.role}.{key}"] = arr
        return out

    # ---- checkpoints -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything sampling depends on, as tensors and primitives only (checkpoints load with
        ``torch.load(weights_only=True)``, which refuses numpy objects)."""
        return {
            "format": STATE_FORMAT,
            "num_classes": self.num_classes,
            "num_samples": self.num_samples,
            "labels_crc32": int(self._labels_crc),
            "seed": self.seed,
            "updates": self.updates,
            "rng": _rng_state_out(self._rng),
            "miners": {m.role: {"name": m.name, "state": m.state_dict()}
                       for m in (self.positive, self.negative, self.batch)},
        }

    def load_state_dict(self, state: dict[str, Any], strict: bool = False) -> None:
        """Restore a :meth:`state_dict`; afterwards sampling continues exactly as the saved
        sampler would have, given the same training labels and miners.

        The class count must match. If the labels changed since the save (a CRC of them is
        stored) — e.g. drawings were added or samples excluded before a resume — each miner
        adapts (drops what refers to classes that became empty); the RNG is restored all the
        same, but the draws can no longer match the old sequence. ``strict=True`` refuses
        changed labels instead. A miner's state saved under another name is ignored.
        """
        if state.get("format") == _OLD_FORMAT:
            state = _upgrade_v1(state)
        if state.get("format") != STATE_FORMAT:
            raise SiamError(f"not a sampler state (format {state.get('format')!r})")
        if int(state["num_classes"]) != self.num_classes:
            raise SiamError(f"the checkpoint's sampler has {state['num_classes']} classes, "
                            f"the training set {self.num_classes}")
        same = (int(state["num_samples"]) == self.num_samples
                and int(state["labels_crc32"]) == self._labels_crc)
        if strict and not same:
            raise SiamError("the checkpoint's sampler was built for different training labels "
                            "(the training set changed since it was saved)")
        saved = state.get("miners", {})
        for miner in (self.positive, self.negative, self.batch):
            entry = saved.get(miner.role)
            if entry and entry.get("name") == miner.name and entry.get("state"):
                miner.load_state_dict(entry["state"], same_labels=same)
        self.updates = int(state["updates"])
        _rng_state_in(self._rng, state["rng"])
        self._refresh()


def make_sampler(labels: np.ndarray, num_classes: int, settings: Any, seed: int = 0) -> Sampler:
    """Build the sampler the config's ``[mining]`` section asks for."""
    return Sampler(labels, num_classes, settings, seed=seed)


# ---- vectorised building blocks ------------------------------------------------------------


def _weighted_without_replacement(weight: np.ndarray, u: np.ndarray, n: int) -> np.ndarray:
    """``n`` distinct indices drawn with probability ∝ ``weight`` without replacement, from one
    uniform per index (Efraimidis–Spirakis: the ``n`` largest ``log(u)/w``). Zero weights are
    never drawn unless fewer than ``n`` entries are positive; the result is in draw order."""
    w = np.asarray(weight, dtype=np.float64)
    with np.errstate(divide="ignore"):
        keys = np.where(w > 0, np.log(np.maximum(u, 1e-300)) / np.where(w > 0, w, 1.0), -np.inf)
    n = min(int(n), int((w > 0).sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-keys, n - 1)[:n]
    return top[np.argsort(-keys[top], kind="stable")].astype(np.int64)


def _unique_in_order(x: np.ndarray) -> np.ndarray:
    _, first = np.unique(x, return_index=True)
    return x[np.sort(first)]


def _distinct_offsets(u: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row ``i``, ``K`` offsets in ``[0, counts[i])`` from the uniforms ``u[i]``: distinct
    where ``counts[i] ≥ K`` (the j-th draw picks among the ``n − j`` offsets not taken yet and
    steps over the taken ones in ascending order), independent draws otherwise."""
    p, k = u.shape
    n = np.asarray(counts, dtype=np.int64)
    distinct = n >= k
    out = np.empty((p, k), dtype=np.int64)
    taken = np.empty((p, 0), dtype=np.int64)
    for j in range(k):
        x = floor_index(u[:, j], np.where(distinct, n - j, n))
        for col in range(taken.shape[1]):  # taken is sorted ascending in each row
            x += distinct & (x >= taken[:, col])
        out[:, j] = x
        taken = np.sort(np.concatenate([taken, x[:, None]], axis=1), axis=1)
    return out


def _rng_state_out(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's state as primitives: 128-bit integers become decimal strings so the state
    loads under ``torch.load(weights_only=True)`` with no numpy objects involved."""
    st = rng.bit_generator.state
    return {
        "bit_generator": str(st["bit_generator"]),
        "state": str(int(st["state"]["state"])),
        "inc": str(int(st["state"]["inc"])),
        "has_uint32": int(st["has_uint32"]),
        "uinteger": int(st["uinteger"]),
    }


def _rng_state_in(rng: np.random.Generator, state: dict[str, Any]) -> None:
    if state.get("bit_generator") != "PCG64":
        raise SiamError(f"sampler state has an unknown generator {state.get('bit_generator')!r}")
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": int(state["state"]), "inc": int(state["inc"])},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _upgrade_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of the first sampler (one class, all tables flat) in today's layout, so runs
    trained before the miners became parts still resume."""
    negative = state.get("negative", "random")
    miners: dict[str, Any] = {
        "positive": {"name": state.get("positive", "random"),
                     "state": {"probabilities": state["probabilities"]}},
        "negative": {"name": "random" if negative == "hard" else negative, "state": {
            "cluster_edges": state["cluster_edges"],
            "cluster_edge_distances": state["cluster_edge_distances"],
            "neighbors": state["neighbors"],
            "neighbor_distances": state["neighbor_distances"]}},
    }
    if negative == "hard":
        miners["batch"] = {"name": "hard", "state": {}}
    out = {k: state[k] for k in ("num_classes", "num_samples", "labels_crc32", "seed",
                                 "updates", "rng")}
    return {"format": STATE_FORMAT, **out, "miners": miners}

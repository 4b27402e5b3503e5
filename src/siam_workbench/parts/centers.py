"""Embedding passes, class centers ("ideal vectors") and nearest-center classification.

Shared by the trainer (epoch end), evaluation, query and the GUI, so accuracy means the same
thing everywhere: the share of images whose nearest class center is their own class.

Everything works in blocks so 900 k reference images or 50,000 centers never need an N×C matrix,
and everything runs on the device of its input (a CUDA evaluation never visits the host).

On the CPU, a block is a handful of small ops. With two intra-op threads every op ends at an
OpenMP barrier, and on a machine shared with other work the scheduler often parks one of the two:
measured here, a query took 136 ms with two threads and 3 ms with one. So each block runs with
one intra-op thread, and a large job spreads its blocks over a few Python threads instead
(:func:`run_blocks`), which take blocks from one queue: when one is parked the others carry on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from siam_workbench.model.perf import intra_op_threads
from siam_workbench.parts.ann import faiss_module
from siam_workbench.parts.losses.registry import space_for_loss  # noqa: F401  (re-exported)
from siam_workbench.parts.losses.spaces import SPACES, to_space  # noqa: F401  (re-exported)

#: Images per forward pass of :func:`embed`: on one CPU thread 128 ran 2.3× faster than 1024
#: (activations of 128 images, 10 MiB a layer, stay in cache) and kept the pass's peak small.
CPU_EMBED_BATCH = 128
DEVICE_EMBED_BATCH = 1024
#: Elements of one [rows, C] block of squared distances: 2**18 float32 = 1 MiB on the CPU, small
#: enough to stay in cache between the matmul that writes it and the selection that reads it
#: (measured: 6× faster than 8192-row blocks at 11,172 classes), and 2**24 on an accelerator.
CPU_BLOCK_ELEMENTS = 1 << 18
CUDA_BLOCK_ELEMENTS = 1 << 24
#: Columns per group of the two-stage selection (see :func:`_select_topk`).
GROUP = 64
#: Below this many distances (N·C) a search runs on the calling thread alone.
PARALLEL_MIN_WORK = 1 << 26


def images_to_input(images: Tensor, device: torch.device | str) -> Tensor:
    """uint8 ``[B,H,W]`` (ink 255) → float ``[B,1,H,W]`` in [0,1] on ``device``."""
    return images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


def embed(
    model: nn.Module,
    images: Tensor,
    device: torch.device | str,
    space: str = "softplus",
    batch: int | None = None,
    workers: int | None = None,
    to_cpu: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Embed uint8 images ``[N,H,W]`` in batches (eval mode restored afterwards).

    Returns float32 on the CPU (``to_cpu=False``: on ``device``). On the CPU the batches are
    spread over ``workers`` threads of one intra-op thread each (default: the caller's
    intra-op thread count; see the module docstring). ``progress(done, total)`` is called on
    the caller's thread only (a view may hand it to its own event loop), after each batch the
    caller finished and once at the end.
    """
    device = torch.device(device)
    n = int(images.shape[0])
    if batch is None:
        batch = CPU_EMBED_BATCH if device.type == "cpu" else DEVICE_EMBED_BATCH
    out_device = torch.device("cpu") if to_cpu else device
    was_training = model.training
    model.eval()
    try:
        if n == 0:
            return torch.zeros(0, _out_dim(model), device=out_device)

        def forward(start: int) -> Tensor:
            x = images_to_input(images[start:start + batch], device)
            return to_space(model(x), space).float()

        # The first batch on this thread tells the embedding size, whatever the backbone.
        with torch.no_grad(), intra_op_threads(1) if device.type == "cpu" \
                else contextlib.nullcontext():
            first = forward(0)
        out = torch.empty(n, first.shape[1], dtype=torch.float32, device=out_device)
        out[:first.shape[0]] = first
        caller = threading.get_ident()
        lock = threading.Lock()
        done = [first.shape[0]]

        def run(start: int) -> None:
            e = forward(start)
            out[start:start + e.shape[0]] = e
            with lock:
                done[0] += e.shape[0]
                finished = done[0]
            if progress is not None and threading.get_ident() == caller:
                progress(finished, n)

        starts = list(range(batch, n, batch))
        if device.type == "cpu":
            run_blocks(run, starts, _pool_size(workers, len(starts), len(starts) >= 4))
        else:
            with torch.no_grad():
                for s in starts:
                    run(s)
        if progress is not None:
            progress(n, n)
        return out
    finally:
        model.train(was_training)


def _out_dim(model: nn.Module) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else 0


def class_centers(emb: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Mean embedding per class and mean distance of each class's samples to its center.

    Empty classes get NaN rows / NaN distance, which the miners and the classifier skip. Sums run
    in float64 on ``emb``'s device (results float32 there); on the CPU with one intra-op thread,
    as these are a few bandwidth-bound ops that a second thread only slows on a busy machine.
    """
    device = emb.device
    with intra_op_threads(1) if device.type == "cpu" else contextlib.nullcontext():
        labels = labels.to(device=device, dtype=torch.int64)
        dim = emb.shape[1]
        e64 = emb.double()
        sums = torch.zeros(num_classes, dim, dtype=torch.float64, device=device)
        sums.index_add_(0, labels, e64)
        counts = torch.bincount(labels, minlength=num_classes).double()
        centers = sums / counts.clamp(min=1).unsqueeze(1)
        dist = torch.linalg.vector_norm(e64 - centers[labels], dim=1)
        del e64
        mean_dist = torch.zeros(num_classes, dtype=torch.float64, device=device)
        mean_dist.index_add_(0, labels, dist)
        mean_dist = mean_dist / counts.clamp(min=1)
        empty = counts == 0
        centers[empty] = float("nan")
        mean_dist[empty] = float("nan")
        return centers.float(), mean_dist.float()


class CenterIndex:
    """Class centers prepared once for many searches (a loaded run's queries, an evaluation).

    Holds the valid rows' ids, the centers transposed and padded to a multiple of
    :data:`GROUP` columns (padding and classes without samples: ``‖c‖² = +inf``, never
    selected) and their squared norms, on ``device``. Exact L2 search, nearest first.
    """

    def __init__(self, centers: Tensor, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32, backend: str = "auto") -> None:
        """``backend``: ``"torch"`` (the blockwise search below), ``"faiss"`` (faiss's exact
        flat index; an error where faiss is missing) or ``"auto"``: faiss for float32 CPU
        searches where it is importable (:mod:`siam_workbench.parts.ann`), else torch."""
        if backend not in ("auto", "torch", "faiss"):
            raise ValueError(f"CenterIndex: unknown backend {backend!r}")
        device = torch.device(device) if device is not None else centers.device
        valid = ~torch.isnan(centers).any(dim=1)
        self.ids = torch.nonzero(valid).squeeze(1).to(device)
        c = centers[valid].to(device=device, dtype=dtype)
        self.size, dim = int(c.shape[0]), int(centers.shape[1])
        self.width = -(-self.size // GROUP) * GROUP
        self.device, self.dtype = device, dtype
        self.c_t = torch.zeros(dim, self.width, dtype=dtype, device=device)
        self.c_t[:, :self.size] = c.T
        self.c_sq = torch.full((self.width,), float("inf"), dtype=dtype, device=device)
        self.c_sq[:self.size] = (c * c).sum(1)
        self._faiss: Any = None
        faiss = faiss_module() if backend != "torch" else None
        if backend == "faiss" and faiss is None:
            raise ValueError("CenterIndex: faiss is not installed (pip install faiss-cpu)")
        if (faiss is not None and device.type == "cpu" and dtype == torch.float32
                and self.size > 0):
            self._faiss_lib = faiss
            self._faiss = faiss.IndexFlatL2(dim)
            self._faiss.add(np.ascontiguousarray(c.numpy(), dtype=np.float32))

    @property
    def backend(self) -> str:
        """``"faiss"`` or ``"torch"``: what :meth:`search` runs."""
        return "torch" if self._faiss is None else "faiss"

    def search(self, emb: Tensor, k: int = 5, block_elements: int | None = None,
               workers: int | None = None) -> tuple[Tensor, Tensor]:
        """``(distances [N,k], class indices [N,k])``; memory O(block_elements + N·k).

        ``emb`` is moved to the index's device; results come back there. Large CPU searches
        (N·C ≥ :data:`PARALLEL_MIN_WORK`) spread their blocks over ``workers`` threads
        (default: the caller's intra-op thread count).
        """
        emb = emb.to(device=self.device, dtype=self.dtype)
        n = int(emb.shape[0])
        k = min(k, self.size)
        if n == 0 or k == 0:
            return (torch.zeros(n, k, dtype=self.dtype, device=self.device),
                    torch.zeros(n, k, dtype=torch.int64, device=self.device))
        if self._faiss is not None:
            return self._search_faiss(emb, k, workers)
        if block_elements is None:
            block_elements = (CPU_BLOCK_ELEMENTS if self.device.type == "cpu"
                              else CUDA_BLOCK_ELEMENTS)
        rows = max(1, min(n, block_elements // self.width))
        grouped = self.size >= 4 * GROUP * k
        dist = torch.empty(n, k, dtype=self.dtype, device=self.device)
        idx = torch.empty(n, k, dtype=torch.int64, device=self.device)

        def run(start: int) -> None:
            e = emb[start:start + rows]
            # ‖e−c‖² = ‖e‖² − 2e·c + ‖c‖²: ‖c‖² rides in the matmul; ‖e‖², the same for a
            # whole row, is added to the k survivors only.
            d2 = torch.addmm(self.c_sq, e, self.c_t, alpha=-2.0)
            v, i = (_select_topk(d2, k) if grouped
                    else torch.topk(d2, k, dim=1, largest=False))
            v = v + (e * e).sum(1, keepdim=True)
            dist[start:start + e.shape[0]] = v.clamp_(min=0).sqrt_()
            idx[start:start + e.shape[0]] = i

        starts = list(range(0, n, rows))
        if self.device.type == "cpu":
            run_blocks(run, starts, _pool_size(workers, len(starts),
                                               n * self.size >= PARALLEL_MIN_WORK))
        else:
            with torch.no_grad():
                for s in starts:
                    run(s)
        return dist, self.ids[idx]


    def _search_faiss(self, emb: Tensor, k: int, workers: int | None) -> tuple[Tensor, Tensor]:
        """The same exact L2 top-k through faiss's flat index (its own OpenMP threads: as many
        as the caller's intra-op threads, or ``workers``)."""
        self._faiss_lib.omp_set_num_threads(max(1, workers or torch.get_num_threads()))
        d2, i = self._faiss.search(np.ascontiguousarray(emb.detach().numpy(), dtype=np.float32),
                                   k)
        dist = torch.from_numpy(d2).clamp_(min=0).sqrt_()
        return dist, self.ids[torch.from_numpy(i.astype(np.int64))]


def nearest_centers(
    emb: Tensor, centers: Tensor, k: int = 5, block_elements: int | None = None,
    workers: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Top-k nearest centers per embedding: ``(distances [N,k], class indices [N,k])``.

    Exact L2, nearest first. NaN rows of ``centers`` (classes without samples) are never
    returned. Runs on ``emb``'s device (centers are moved there) and returns there. For many
    searches against the same centers build a :class:`CenterIndex` once.
    """
    dtype = torch.float64 if emb.dtype == torch.float64 else torch.float32
    # Half-precision embeddings (autocast) are searched in float32.
    return CenterIndex(centers, device=emb.device, dtype=dtype, backend="torch").search(
        emb, k=k, block_elements=block_elements, workers=workers)


def _select_topk(d2: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The k smallest per row, sorted, via groups of :data:`GROUP` columns.

    The k smallest values of a row lie in the k groups with the smallest minima (each of those
    values is ≥ its group's minimum, and at most k groups have a minimum ≤ the k-th value), so
    one vectorised min over groups, a top-k over C/64 group minima and a top-k over k·64
    candidates replace a top-k over all C columns — about half the time at C = 11,172.
    """
    rows, width = d2.shape
    g = d2.view(rows, width // GROUP, GROUP)
    _, gi = torch.topk(g.amin(2), k, dim=1, largest=False, sorted=False)
    cand = torch.gather(g, 1, gi.unsqueeze(2).expand(rows, k, GROUP)).reshape(rows, k * GROUP)
    v, j = torch.topk(cand, k, dim=1, largest=False)
    return v, torch.gather(gi, 1, torch.div(j, GROUP, rounding_mode="floor")) * GROUP + j % GROUP


def _pool_size(workers: int | None, blocks: int, large: bool) -> int:
    if not large or blocks < 2:
        return 1
    want = torch.get_num_threads() if workers is None else workers
    return max(1, min(want, blocks))


def run_blocks(run: Callable[[int], None], starts: list[int], workers: int = 1) -> None:
    """Call ``run(start)`` for every start, without autograd, each with one intra-op thread.

    ``workers`` > 1: that many threads (the caller is one of them) take starts from one shared
    iterator, so a thread the scheduler parks holds up only its own block. The first error is
    re-raised on the caller's thread once all have stopped.
    """
    if workers <= 1:
        with intra_op_threads(1), torch.no_grad():
            for s in starts:
                run(s)
        return
    before = torch.get_num_threads()
    it = iter(starts)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        torch.set_num_threads(1)  # this thread's own count (torch keeps one per thread)
        with torch.no_grad():  # grad mode is per thread too
            while not errors:
                with lock:
                    s = next(it, None)
                if s is None:
                    return
                try:
                    run(s)
                except BaseException as exc:  # re-raised on the caller's thread
                    errors.append(exc)

    with intra_op_threads(1):
        threads = [threading.Thread(target=worker, daemon=True, name=f"siam-block-{i}")
                   for i in range(workers - 1)]
        for t in threads:
            t.start()
        worker()
        for t in threads:
            t.join()
    # Also resets torch's default for threads started later, which the workers changed.
    torch.set_num_threads(before)
    if errors:
        raise errors[0]


def topk_accuracy(pred_idx: Tensor, labels: Tensor) -> tuple[float, float]:
    """(top-1, top-5) share of rows whose label is among the first 1 / 5 predictions."""
    if pred_idx.shape[0] == 0:
        return float("nan"), float("nan")
    hits = pred_idx == labels.to(pred_idx.device).unsqueeze(1)
    top1 = hits[:, :1].any(1).float().mean().item()
    top5 = hits[:, :5].any(1).float().mean().item()
    return top1, top5


def per_class_accuracy(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy per class (NaN where a class has no samples) for the Miners/Runs views."""
    hits = np.bincount(labels, weights=(pred[:, 0] == labels), minlength=num_classes)
    total = np.bincount(labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / total

"""Embedding passes, class centers ("ideal vectors") and nearest-center classification.

Shared by the trainer (epoch end), evaluation, query and the GUI, so accuracy means the same
thing everywhere: the share of images whose nearest class center is their own class.
Everything works in blocks so 900 k reference images or 11,172 centers never need an N×C matrix.
"""

from __future__ import annotations

import contextlib
import threading

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.train.perf import intra_op_threads

SPACES = ("softplus", "raw")


def space_for_loss(kind: str) -> str:
    """The metric loss measures distances after softplus (paper eq. 5–6); the others on raw f(x)."""
    return "softplus" if kind == "metric" else "raw"


def to_space(emb: Tensor, space: str) -> Tensor:
    return F.softplus(emb) if space == "softplus" else emb


def images_to_input(images: Tensor, device: torch.device | str) -> Tensor:
    """uint8 ``[B,H,W]`` (ink 255) → float ``[B,1,H,W]`` in [0,1] on ``device``."""
    return images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


@torch.no_grad()
def embed(
    model: nn.Module,
    images: Tensor,
    device: torch.device | str,
    space: str = "softplus",
    batch: int = 1024,
) -> Tensor:
    """Embed uint8 images in batches (eval mode restored afterwards); returns float32 on CPU."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, images.shape[0], batch):
            x = images_to_input(images[start:start + batch], device)
            out.append(to_space(model(x), space).float().cpu())
    finally:
        model.train(was_training)
    if not out:
        dim = _out_dim(model)
        return torch.zeros(0, dim)
    return torch.cat(out)


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


#: Elements of one [rows, C] block of squared distances: 2**18 float32 = 1 MiB on the CPU, small
#: enough to stay in cache between the matmul that writes it and the selection that reads it
#: (measured: 4× faster than 8192-row blocks at 11,172 classes), and 2**24 on an accelerator.
CPU_BLOCK_ELEMENTS = 1 << 18
CUDA_BLOCK_ELEMENTS = 1 << 24
#: Columns per group of the two-stage selection (see :func:`_select_topk`).
GROUP = 64
#: Below this many distances (N·C) a search runs on the calling thread alone.
PARALLEL_MIN_WORK = 1 << 26


def nearest_centers(
    emb: Tensor, centers: Tensor, k: int = 5, block_elements: int | None = None,
    workers: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Top-k nearest centers per embedding: ``(distances [N,k], class indices [N,k])``.

    Exact L2, nearest first. NaN rows of ``centers`` (classes without samples) are never
    returned. Runs on ``emb``'s device (centers are moved there) and returns there, so a CUDA
    evaluation never visits the host. Memory is O(block_elements + N·k), whatever N and C.

    On the CPU each block runs with one intra-op thread (core.train.perf.intra_op_threads): a
    block is a handful of small ops, and on a loaded machine two OpenMP threads spend more time
    waiting for each other at every op than computing. A large search (N·C ≥
    ``PARALLEL_MIN_WORK``) instead spreads its blocks over ``workers`` Python threads (default:
    the caller's intra-op thread count), each single-threaded, which take blocks from one
    queue: when the scheduler parks one of them, the others carry on.
    """
    valid = ~torch.isnan(centers).any(dim=1)
    ids = torch.nonzero(valid).squeeze(1).to(emb.device)
    # float32 (float64 if given): half-precision embeddings from autocast are upcast first.
    dtype = torch.float64 if emb.dtype == torch.float64 else torch.float32
    c = centers[valid].to(device=emb.device, dtype=dtype)
    emb = emb.to(dtype)
    n, num = int(emb.shape[0]), int(c.shape[0])
    k = min(k, num)
    if n == 0 or k == 0:
        return (torch.zeros(n, k, device=emb.device),
                torch.zeros(n, k, dtype=torch.int64, device=emb.device))
    search = _BlockSearch(c, k)
    if block_elements is None:
        block_elements = CPU_BLOCK_ELEMENTS if emb.device.type == "cpu" else CUDA_BLOCK_ELEMENTS
    rows = max(1, min(n, block_elements // max(1, search.width)))
    starts = list(range(0, n, rows))
    dist = torch.empty(n, k, dtype=c.dtype, device=emb.device)
    idx = torch.empty(n, k, dtype=torch.int64, device=emb.device)

    def run(start: int) -> None:
        d, i = search(emb[start:start + rows])
        dist[start:start + d.shape[0]] = d
        idx[start:start + d.shape[0]] = i

    if emb.device.type != "cpu":
        for s in starts:
            run(s)
    else:
        pool = _pool_size(workers, n * num, len(starts))
        if pool <= 1:
            with intra_op_threads(1):
                for s in starts:
                    run(s)
        else:
            _run_parallel(run, starts, pool)
    return dist, ids[idx]


class _BlockSearch:
    """Squared distances of a row block to all centers, then the k smallest per row.

    ‖e−c‖² = ‖e‖² − 2e·c + ‖c‖²: the ‖c‖² term rides in the matmul (``addmm``), and ‖e‖², the
    same for a whole row, is added only to the k survivors. Columns are padded to a multiple of
    :data:`GROUP` with +inf so the two-stage selection can view them as groups.
    """

    def __init__(self, c: Tensor, k: int) -> None:
        num, dim = c.shape
        self.k = k
        self.grouped = num >= 4 * GROUP * k
        self.width = -(-num // GROUP) * GROUP if self.grouped else num
        self.c_t = torch.zeros(dim, self.width, dtype=c.dtype, device=c.device)
        self.c_t[:, :num] = c.T
        self.c_sq = torch.full((self.width,), float("inf"), dtype=c.dtype, device=c.device)
        self.c_sq[:num] = (c * c).sum(1)

    def __call__(self, e: Tensor) -> tuple[Tensor, Tensor]:
        d2 = torch.addmm(self.c_sq, e, self.c_t, alpha=-2.0)
        v, i = _select_topk(d2, self.k) if self.grouped else torch.topk(d2, self.k, dim=1,
                                                                        largest=False)
        v = v + (e * e).sum(1, keepdim=True)
        return v.clamp_(min=0).sqrt_(), i


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


def _pool_size(workers: int | None, work: int, blocks: int) -> int:
    if work < PARALLEL_MIN_WORK or blocks < 2:
        return 1
    want = torch.get_num_threads() if workers is None else workers
    return max(1, min(want, blocks))


def _run_parallel(run, starts: list[int], pool: int) -> None:
    """Blocks from one shared iterator over ``pool`` threads, each with one intra-op thread."""
    before = torch.get_num_threads()
    it = iter(starts)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        torch.set_num_threads(1)  # this new thread's own count
        while True:
            with lock:
                s = next(it, None)
            if s is None or errors:
                return
            try:
                run(s)
            except BaseException as exc:  # re-raised on the caller's thread
                errors.append(exc)
                return

    with intra_op_threads(1):  # the caller works too, single-threaded
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(pool - 1)]
        for t in threads:
            t.start()
        worker()
        for t in threads:
            t.join()
    torch.set_num_threads(before)  # also resets torch's default for threads started later
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

"""Where the cluster graph writes its class labels so that no two overlap (Qt-free).

The graph labels every node once few enough are in view; crowded clusters put nodes a few
pixels apart, and labels written at each node's corner piled into each other. The placement
is greedy in view pixels: labels are taken by priority (the largest clusters first, then the
most sampled classes), each tries a few spots around its node and takes the first whose box
touches no label placed before it and stays inside the view; a label with no free spot is
dropped. Pure numpy, so a plain test can check that no two placed boxes intersect.
"""

from __future__ import annotations

import numpy as np

GAP = 2.0  # pixels between a node and its label


def label_priority(clusters: np.ndarray | None, probabilities: np.ndarray | None,
                   n: int) -> np.ndarray:
    """Label order for ``n`` nodes: classes of the largest clusters first (a class in no
    cluster counts as size 0), ties broken by sampling probability, then by index."""
    size = np.zeros(n)
    if clusters is not None:
        c = np.asarray(clusters, dtype=np.int64)
        ok = c >= 0
        if ok.any():
            counts = np.bincount(c[ok])
            size[ok] = counts[c[ok]]
    p = np.zeros(n) if probabilities is None else np.nan_to_num(
        np.asarray(probabilities, dtype=np.float64), nan=0.0)
    return np.lexsort((np.arange(n), -p, -size))


def _candidates(ax: float, ay: float, w: float, h: float, gap: float
                ) -> list[tuple[float, float]]:
    """Top-left corners of the spots tried around a node at (ax, ay), y pointing down: the
    upper right first (where a label sat before), then the other corners and sides."""
    return [(ax + gap, ay - gap - h), (ax + gap, ay + gap), (ax - gap - w, ay - gap - h),
            (ax - gap - w, ay + gap), (ax + gap, ay - h / 2), (ax - gap - w, ay - h / 2),
            (ax - w / 2, ay - gap - h), (ax - w / 2, ay + gap)]


def place_labels(anchors: np.ndarray, sizes: np.ndarray, order: np.ndarray | None = None,
                 bounds: tuple[float, float] | None = None, gap: float | np.ndarray = GAP
                 ) -> dict[int, tuple[float, float]]:
    """Non-overlapping label boxes: node index → the top-left corner of its label.

    ``anchors`` [N, 2] node positions and ``sizes`` [N, 2] label widths and heights, both in
    pixels with y down; ``order`` the priority (default: as given); ``bounds`` (width, height)
    of the view a box must stay inside; ``gap`` the distance kept from the node, one for all
    or one per node (a large node's label must clear its disc). Boxes may touch but never
    overlap.
    """
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    n = anchors.shape[0]
    order = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    gaps = np.broadcast_to(np.asarray(gap, dtype=np.float64), (n,))
    boxes = np.zeros((n, 4))  # left, top, right, bottom of the placed ones
    count = 0
    out: dict[int, tuple[float, float]] = {}
    for i in order:
        i = int(i)
        w, h = float(sizes[i, 0]), float(sizes[i, 1])
        if not (np.isfinite(anchors[i]).all() and w > 0 and h > 0):
            continue
        for left, top in _candidates(float(anchors[i, 0]), float(anchors[i, 1]), w, h,
                                     float(gaps[i])):
            right, bottom = left + w, top + h
            if bounds is not None and (left < 0 or top < 0 or right > bounds[0]
                                       or bottom > bounds[1]):
                continue
            b = boxes[:count]
            if count and bool(((b[:, 0] < right) & (left < b[:, 2]) & (b[:, 1] < bottom)
                               & (top < b[:, 3])).any()):
                continue
            boxes[count] = (left, top, right, bottom)
            count += 1
            out[i] = (left, top)
            break
    return out


def boxes_overlap(a: tuple[float, float, float, float],
                  b: tuple[float, float, float, float]) -> bool:
    """Whether two (left, top, right, bottom) boxes share any area (touching is not)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

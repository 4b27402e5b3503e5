"""The baselines every accuracy figure stands beside (DESIGN §7).

A trained embedding that loses to nearest-neighbour search on raw pixels has not learned
anything worth its training time, so the trainer logs this figure for its validation data and
the benchmark, the Train and Runs views show it next to the network's accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.data.glyphs import GlyphSet, load_glyphs


def _flat(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(images.shape[0], -1).float().div_(255.0)


@torch.no_grad()
def pixel_nn(train: GlyphSet, test: GlyphSet, k: int = 5, block: int = 256,
             progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """Top-1 / top-k accuracy of nearest-neighbour search on raw pixels (Euclidean).

    Classes are ranked by their *nearest* training sample, so top-5 means five distinct
    classes. ``test`` is matched to ``train``'s classes by name; samples of other classes are
    left out (and counted in ``unknown``). Blocks of ``block`` test images keep memory at
    ``block × len(train)`` floats.
    """
    test, unknown = test.aligned_to(train.classes)
    n = len(test)
    if n == 0 or len(train) == 0:
        return {"top1": float("nan"), f"top{k}": float("nan"), "n": n, "unknown": unknown}
    ref = _flat(train.images)
    ref_sq = (ref * ref).sum(1)
    labels = train.labels.to(torch.int64)
    c = train.num_classes
    k = min(k, int(torch.unique(labels).numel()))
    hits1 = hitsk = 0
    for s in range(0, n, block):
        q = _flat(test.images[s:s + block])
        d2 = torch.addmm(ref_sq, q, ref.T, beta=1.0, alpha=-2.0)  # ‖r‖² − 2q·r (+‖q‖², constant)
        per_class = torch.full((q.shape[0], c), float("inf"))
        per_class.scatter_reduce_(1, labels.expand(q.shape[0], -1), d2, reduce="amin")
        top = torch.topk(per_class, k, dim=1, largest=False).indices
        truth = test.labels[s:s + block].to(torch.int64).unsqueeze(1)
        hits1 += int((top[:, :1] == truth).sum())
        hitsk += int((top == truth).any(1).sum())
        if progress is not None:
            progress(min(s + block, n), n)
    return {"top1": hits1 / n, f"top{k}": hitsk / n, "n": n, "unknown": unknown}


def _stamp(path: Path) -> list[Any]:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


#: At most this many pixel comparisons (training images × test images × pixels) for the
#: baseline a run reports at its start: about 10–20 s of a 2-core CPU. Larger data sets use a
#: fixed sample of the test file (said in the result) — the benchmark measures them whole.
BASELINE_BUDGET = 4e11


def cached_pixel_nn(train_path: Path, test_path: Path, cache: Path,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """:func:`pixel_nn` of two glyph files, remembered in the JSON file ``cache`` (keyed by
    both files' path, size and modification time) so each start of a run does not pay for
    it again. A missing, stale or unreadable cache is simply recomputed. Above
    :data:`BASELINE_BUDGET` the test file is sampled (``result["sampled"]``)."""
    key = json.dumps([_stamp(train_path), _stamp(test_path)])
    try:
        table = json.loads(cache.read_text(encoding="utf-8"))
        if not isinstance(table, dict):
            table = {}
    except (OSError, ValueError):
        table = {}
    if key in table and isinstance(table[key], dict):
        return table[key]
    train, test = load_glyphs(train_path), load_glyphs(test_path)
    pixels = train.images[0].numel() if len(train) else 0
    cap = max(200, int(BASELINE_BUDGET // max(1, len(train) * pixels)))
    sampled = len(test) > cap
    if sampled:
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:cap]
        test = GlyphSet(images=test.images[pick], labels=test.labels[pick],
                        sources=test.sources[pick], classes=test.classes,
                        source_names=test.source_names, rows=test.rows[pick.numpy()])
    result = {**pixel_nn(train, test, progress=progress), "sampled": sampled}
    pair = [_stamp(train_path)[0], _stamp(test_path)[0]]
    table = {k: v for k, v in table.items() if [s[0] for s in json.loads(k)] != pair}
    table[key] = result
    try:
        write_text_atomic(cache, json.dumps(table, indent=1) + "\n")
    except SiamError:
        pass  # a read-only project still trains; the figure is recomputed next time
    return result

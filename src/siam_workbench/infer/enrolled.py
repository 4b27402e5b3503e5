"""Enrolled classes inside a loaded run: merging the run's class-set file into its centers and
recomputing those centers when the weights changed. Below :mod:`siam_workbench.infer.evaluate`
(whose ``load_run`` merges them) and :mod:`siam_workbench.infer.enrol` (which writes the set),
so neither imports the other in a circle."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.infer.classset import ClassSet, read_class_set

if TYPE_CHECKING:
    from siam_workbench.infer.evaluate import RunModel


def centers_of(run: RunModel, groups: list[list[np.ndarray]]) -> list[np.ndarray]:
    """One mean embedding per group of framed images, in one embedding pass."""
    import torch

    flat = [im for g in groups for im in g]
    if not flat:
        return []
    emb = run.embed(torch.from_numpy(np.stack(flat))).double().numpy()
    out, start = [], 0
    for g in groups:
        out.append(emb[start:start + len(g)].mean(0).astype(np.float32))
        start += len(g)
    return out


def digest(run: RunModel) -> str:
    return str(run.meta.get("digest", ""))


def refresh(cs: ClassSet, run: RunModel) -> bool:
    """Recompute every center with ``run``'s weights when the set was made with others.
    Returns whether it did."""
    dim = int(run.centers.shape[1])
    stale = (cs.checkpoint_digest != digest(run) or cs.space != run.space
             or any(c.center.shape != (dim,) for c in cs.classes))
    if stale and cs.classes:
        centers = centers_of(run, [[s.image for s in c.samples] for c in cs.classes])
        for c, center in zip(cs.classes, centers):
            c.center = center
    cs.checkpoint_digest, cs.space = digest(run), run.space
    return stale


def merge_enrolled(run: RunModel) -> None:
    """Put the run's enrolled classes into ``run.centers`` / ``run.classes`` (in memory only):
    appended after the trained classes, or replacing a trained center for an override.
    Centers made with other weights are recomputed from the kept samples
    (``run.meta["enrolled_centers"]`` says so)."""
    import torch

    cs = read_class_set(run.run_dir)
    if not cs.classes:
        return
    if cs.image_size != run.image_size:
        raise SiamError(f"class set holds {cs.image_size}-pixel samples, the run takes "
                        f"{run.image_size}", cs.path)
    if refresh(cs, run):
        run.meta["enrolled_centers"] = "recomputed for these weights"
    index = {c: i for i, c in enumerate(run.classes)}
    centers = run.centers.clone()
    extra, names = [], list(run.classes)
    for c in cs.classes:
        row = torch.from_numpy(np.asarray(c.center, np.float32))
        if c.name in index:
            centers[index[c.name]] = row
        else:
            extra.append(row)
            names.append(c.name)
    if extra:
        centers = torch.cat([centers, torch.stack(extra)])
    run.meta["trained_classes"] = len(run.classes)
    run.centers, run.classes = centers, names
    run.enrolled = cs.names
    run.meta["enrolled_classes"] = len(cs.classes)

"""The in-place edits the fault-injection tests kill: ``python rel_edits.py KIND dry|go ARGS``.

Each edit is one thing the tool does to a file it created earlier. ``dry`` imports and prepares
everything but skips the edit, so the harness can tell the edit's system calls from start-up's.
The script prints nothing (stdout writes would count as injection points).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _drawing() -> np.ndarray:
    img = np.full((60, 50), 255, np.uint8)
    img[10:50, 20:28] = 0
    img[42:50, 10:40] = 0
    return img


def main() -> None:
    kind, mode, *args = sys.argv[1:]
    dry = mode == "dry"
    target = Path(args[0])
    if kind in ("exclude", "include"):
        from siam_workbench.data.glyphs import set_excluded

        if not dry:
            set_excluded(target, [1, 3, 5, 8] if kind == "exclude" else [3], kind == "exclude")
    elif kind == "mining":
        from siam_workbench.project.runfiles import MiningLog

        classes = [f"c{i}" for i in range(12)]
        log = MiningLog(target, classes, "auto-probabilistic", "auto-clustering")
        if not dry:
            log.append(int(args[1]), np.full(12, 1 / 12), np.arange(12) % 3,
                       np.linspace(0, 1, 12), np.array([[0, 1], [2, 3]]))
    elif kind == "mining-trim":
        from siam_workbench.project.runfiles import MiningLog

        log = MiningLog(target, [f"c{i}" for i in range(12)], "a", "b")
        if not dry:
            log.trim(int(args[1]))
    elif kind == "drawn":
        from siam_workbench.data.drawn import DrawnStore

        store = DrawnStore(target, 37)
        if not dry:
            store.add(_drawing(), "B")
    elif kind == "drawn-delete":
        from siam_workbench.data.drawn import DrawnStore

        store = DrawnStore(target, 37)
        if not dry:
            store.delete(0)
    elif kind == "status":
        from siam_workbench.project.runfiles import write_status

        if not dry:
            write_status(target, status="finished", epoch=3, epochs=3, best_top1=0.5)
    elif kind == "project":
        from siam_workbench.project.project import load_project

        project = load_project(target)
        if not dry:
            project.config = project.config.replace({"project": {"description": "edited"}})
            project.save()
    elif kind == "metrics":
        from siam_workbench.project.runfiles import MetricsLog

        log = MetricsLog(target)
        if not dry:
            log.write("epoch", epoch=int(args[1]), top1=0.5)
        log.close()
    elif kind == "checkpoint":
        import torch

        from siam_workbench.model.checkpoint import save_checkpoint

        if not dry:
            save_checkpoint(target, {"weights": torch.full((64, 64), 2.0), "epoch": 2})
    elif kind == "glyphs":
        from siam_workbench.data.glyphs import GlyphWriter

        if not dry:
            images = np.zeros((40, 37, 37), np.uint8)
            images[:, 10:20, 10:20] = 200
            with GlyphWriter(target, ["X", "Y"], ["s"], 37, force=True) as w:
                w.append(images, np.arange(40) % 2, np.zeros(40, np.int64))
    elif kind == "classset":
        from siam_workbench.base.locks import lock_edit
        from siam_workbench.infer.classset import (
            EnrolledClass,
            Sample,
            classset_path,
            read_class_set,
            write_class_set,
        )

        if not dry:
            with lock_edit(classset_path(target)):
                cs = read_class_set(target)
                if cs.get("b") is None:
                    image = np.zeros((37, 37), np.uint8)
                    image[5:30, 10:14] = 255
                    cs.classes.append(EnrolledClass("b", np.full(25, 0.5, np.float32),
                                                    [Sample(image, "b.png")]))
                write_class_set(cs)
    else:
        raise SystemExit(f"unknown edit {kind}")


if __name__ == "__main__":
    main()

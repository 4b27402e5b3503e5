"""The run folder contract (DESIGN §4): metrics.jsonl, mining.h5, status.json, centers.npy.

Writers here are append-only or atomic so a kill at any moment leaves readable files, and a
resumed run first trims what was logged after its checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from core.atomic import atomic_path, write_text_atomic


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line with an ``"event"`` key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": round(time.time(), 3)}
        record.update({k: _clean(v) for k, v in fields.items()})
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All complete records; a torn last line (kill during a write) is ignored."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def trim_metrics(path: Path, epoch: int, iteration: int) -> None:
    """Keep only records logged before the checkpoint at (epoch, iteration) being resumed."""
    if not path.exists():
        return
    kept = []
    for rec in read_metrics(path):
        e = rec.get("epoch")
        if rec.get("event") == "iteration":
            if (e, rec.get("iteration", 0)) >= (epoch, iteration):
                continue
        elif rec.get("event") == "epoch" and e is not None and e >= epoch:
            continue
        kept.append(json.dumps(rec, ensure_ascii=False))
    write_text_atomic(path, "".join(line + "\n" for line in kept))


class MiningLog:
    """``mining.h5``: per-epoch rows of probabilities, clusters and mean distances ``[E, C]``."""

    def __init__(self, path: Path, classes: list[str], positive: str, negative: str) -> None:
        self.path = path
        self.num_classes = len(classes)
        if not path.exists():
            with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
                c = self.num_classes
                h5.create_dataset("classes", data=np.array(classes, dtype=object),
                                  dtype=h5py.string_dtype("utf-8"))
                for name, dtype in (("probabilities", np.float32), ("clusters", np.int32),
                                    ("mean_distance", np.float32)):
                    h5.create_dataset(name, shape=(0, c), maxshape=(None, c), dtype=dtype,
                                      chunks=(1, c), compression="lzf")
                h5.create_dataset("epoch", shape=(0,), maxshape=(None,), dtype=np.int32)
                h5.create_group("edges")
                h5.attrs["schema"] = "siam-mining/1"
                h5.attrs["positive"] = positive
                h5.attrs["negative"] = negative

    def append(self, epoch: int, probabilities: np.ndarray, clusters: np.ndarray,
               mean_distance: np.ndarray, edges: np.ndarray,
               extra: dict[str, np.ndarray] | None = None) -> None:
        """One epoch's row; ``extra`` holds further per-class series (``/extra/<name>``,
        ``[E, C]``: the miners' own arrays, per-class validation accuracy) for the Miners view."""
        with h5py.File(self.path, "a") as h5:
            e = h5["epoch"].shape[0]
            for name, arr in (("probabilities", probabilities), ("clusters", clusters),
                              ("mean_distance", mean_distance)):
                h5[name].resize(e + 1, axis=0)
                h5[name][e] = arr
            h5["epoch"].resize(e + 1, axis=0)
            h5["epoch"][e] = epoch
            key = str(epoch)
            if key in h5["edges"]:
                del h5["edges"][key]
            h5["edges"].create_dataset(key, data=np.asarray(edges, dtype=np.int32).reshape(-1, 2))
            group = h5.require_group("extra")
            for name, arr in (extra or {}).items():
                if name not in group:
                    # Rows before this series existed (a miner switched on by a resume) are NaN.
                    group.create_dataset(name, shape=(e, self.num_classes),
                                         maxshape=(None, self.num_classes), dtype=np.float32,
                                         chunks=(1, self.num_classes), compression="lzf",
                                         fillvalue=np.nan)
                ds = group[name]
                ds.resize(e + 1, axis=0)
                ds[e] = np.asarray(arr, dtype=np.float32)

    def trim(self, epochs: int) -> None:
        """Drop rows for epochs ≥ ``epochs`` (they are recomputed after a resume)."""
        with h5py.File(self.path, "a") as h5:
            keep = np.flatnonzero(h5["epoch"][()] < epochs)
            n = int(keep.size)
            for name in ("probabilities", "clusters", "mean_distance", "epoch"):
                h5[name].resize(n, axis=0)
            for ds in h5.get("extra", {}).values():
                ds.resize(min(n, ds.shape[0]), axis=0)
            for key in list(h5["edges"].keys()):
                if int(key) >= epochs:
                    del h5["edges"][key]


def write_status(run_dir: Path, **fields: Any) -> None:
    fields = {k: _clean(v) for k, v in fields.items()}
    fields["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_text_atomic(run_dir / "status.json", json.dumps(fields, indent=1) + "\n")


def save_centers(run_dir: Path, centers: np.ndarray) -> None:
    with atomic_path(run_dir / "centers.npy") as tmp:
        with tmp.open("wb") as fh:
            np.save(fh, centers.astype(np.float32))

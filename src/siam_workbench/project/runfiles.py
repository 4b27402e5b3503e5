"""The run folder contract (DESIGN §4): metrics.jsonl, mining.h5, status.json, centers.npy.

How each file survives kill -9 at any instruction and a full disk (docs/ENGINE.md, "File
safety"):

* ``metrics.jsonl`` is append-only: a torn last line is skipped by readers and closed off
  before the next append.
* ``mining.h5`` is replaced whole by copy-and-rename on every change (append an epoch, trim
  after a resume): the new rows go into a copy, which is renamed over the old file.
* ``status.json``, ``centers.npy``, ``config.toml`` and checkpoints are written to a temporary
  file and renamed.

A resumed run first trims what was logged after its checkpoint, so no epoch is counted twice.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from siam_workbench.base.atomic import (
    WRITE_ERRNOS,
    atomic_path,
    sweep_stale,
    write_error,
    write_text_atomic,
)
from siam_workbench.base.errors import SiamError
from siam_workbench.base.h5write import SafeH5
from siam_workbench.base.paths import is_regular_file, require_file
from siam_workbench.project.runfolder import RunFolder


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line with an ``"event"`` key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            torn = _ends_torn(path)
            self._fh = path.open("a", encoding="utf-8")
            if torn:  # a kill cut the last record short: end it so the next one stands alone
                self._fh.write("\n")
                self._fh.flush()
        except OSError as exc:
            raise write_error(exc, path) from None

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": round(time.time(), 3)}
        record.update({k: _clean(v) for k, v in fields.items()})
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise write_error(exc, self.path) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a full disk already reported by write()
            self._fh.close()


def _ends_torn(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except FileNotFoundError:
        return False


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All complete records; a torn last line (kill during a write) is ignored, and so is a line
    that is not a record (``[]``, a number: a file someone else edited). A FIFO or device in
    its place is refused by name, never read (it would block forever)."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    require_file(path, "metrics file")
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


#: Keys of an iteration record that are not loss parts. Records before issue 18 put the parts
#: beside them (``"triplet": 0.05``); newer ones nest them (``"parts": {...}``).
ITERATION_KEYS = frozenset({"event", "time", "epoch", "iteration", "iterations", "step", "loss",
                            "images_per_s", "triplets_per_s", "images", "triplets", "lr",
                            "parts", "spread", "active"})


def iteration_parts(record: dict[str, Any]) -> dict[str, Any]:
    """The loss parts of one iteration record, nested or (older runs) flat."""
    nested = record.get("parts")
    if isinstance(nested, dict):
        return nested
    return {k: v for k, v in record.items() if k not in ITERATION_KEYS}


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
    """``mining.h5``: per-epoch rows of probabilities, clusters and mean distances ``[E, C]``.

    Every change is copy-and-rename (the file is small: 12 bytes per class and epoch), so the
    file on disk is always a complete one, old or new. Rows are keyed by epoch: appending an
    epoch that is already there replaces it, so a resumed run never counts an epoch twice.
    """

    def __init__(self, path: Path, classes: list[str], positive: str, negative: str) -> None:
        self.path = path
        self.num_classes = len(classes)
        self.warning = ""
        sweep_stale(path)  # a copy left by an edit that was killed mid-way
        if path.exists() and not self._readable():
            # Written by an older version that edited the file in place and was killed: keep
            # the damaged file for inspection, start a fresh history.
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            self.warning = (f"{path}: the mining history was unreadable; moved to "
                            f"{aside.name}, a new one is started")
        if not path.exists():
            with atomic_path(path) as tmp, SafeH5(tmp, "w", path) as h5:
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

    def _readable(self) -> bool:
        try:
            with h5py.File(self.path, "r") as h5:
                e = h5["epoch"].shape[0]
                for name in ("probabilities", "clusters", "mean_distance"):
                    ds = h5[name]
                    if ds.shape != (e, self.num_classes):
                        return False
                    if e:
                        ds[e - 1]
                h5["epoch"][()]
                for key in h5["edges"]:
                    h5["edges"][key][()]
        except (OSError, KeyError, ValueError, TypeError):
            return False
        return True

    @contextlib.contextmanager
    def _edit(self):  # noqa: ANN202 - yields the open h5py.File of the copy
        """Copy the file, yield the copy open for writing, rename it over the original."""
        try:
            with atomic_path(self.path) as tmp:
                shutil.copyfile(self.path, tmp)
                with SafeH5(tmp, "r+", self.path) as h5:
                    yield h5
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS or exc.errno is None:
                raise write_error(exc, self.path) from None
            raise

    def append(self, epoch: int, probabilities: np.ndarray, clusters: np.ndarray,
               mean_distance: np.ndarray, edges: np.ndarray,
               extra: dict[str, np.ndarray] | None = None) -> None:
        """One epoch's row; ``extra`` holds further per-class series (``/extra/<name>``,
        ``[E, C]``: the miners' own arrays, per-class validation accuracy) for the Miners view."""
        with self._edit() as h5:
            _drop_epochs(h5, lambda e: e >= epoch)
            e = h5["epoch"].shape[0]
            for name, arr in (("probabilities", probabilities), ("clusters", clusters),
                              ("mean_distance", mean_distance)):
                h5[name].resize(e + 1, axis=0)
                h5[name][e] = arr
            h5["epoch"].resize(e + 1, axis=0)
            h5["epoch"][e] = epoch
            h5["edges"].create_dataset(str(epoch),
                                       data=np.asarray(edges, dtype=np.int32).reshape(-1, 2))
            group = h5.require_group("extra")
            for name, arr in (extra or {}).items():
                if name not in group:
                    # Rows before this series existed (a miner switched on by a resume) are NaN.
                    group.create_dataset(name, data=np.full((e, self.num_classes), np.nan,
                                                            np.float32),
                                         maxshape=(None, self.num_classes),
                                         chunks=(1, self.num_classes), compression="lzf",
                                         fillvalue=np.nan)
                ds = group[name]
                ds.resize(e + 1, axis=0)
                ds[e] = np.asarray(arr, dtype=np.float32)

    def trim(self, epochs: int) -> None:
        """Drop rows for epochs ≥ ``epochs`` (they are recomputed after a resume)."""
        with h5py.File(self.path, "r") as h5:
            if not (h5["epoch"][()] >= epochs).any() and not any(
                    int(k) >= epochs for k in h5["edges"]):
                return
        with self._edit() as h5:
            _drop_epochs(h5, lambda e: e >= epochs)


def _drop_epochs(h5: h5py.File, drop: Any) -> None:
    """Remove the rows (edge sets, extra series rows) of epochs for which ``drop(epoch)``."""
    ep = h5["epoch"][()]
    keep = np.flatnonzero(~np.array([bool(drop(int(e))) for e in ep], dtype=bool)) \
        if ep.size else np.zeros(0, np.int64)
    if keep.size != ep.size:
        series = [h5[name] for name in ("probabilities", "clusters", "mean_distance", "epoch")]
        series += list(h5["extra"].values()) if "extra" in h5 else []
        for ds in series:
            rows = keep[keep < ds.shape[0]]
            data = ds[()][rows]
            ds.resize(rows.size, axis=0)
            if rows.size:
                ds[...] = data
    for key in list(h5["edges"].keys()):
        if drop(int(key)):
            del h5["edges"][key]


#: Statuses that mean "a process is working on this run"; without a live lock they read as
#: "interrupted" (the process died without writing its last status).
LIVE_STATUSES = ("starting", "running", "paused")


def write_status(run_dir: Path, **fields: Any) -> None:
    """Replace ``status.json`` in one step (with the writer's process id, for the run list)."""
    fields = {k: _clean(v) for k, v in fields.items()}
    fields.setdefault("pid", os.getpid())
    fields["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_text_atomic(RunFolder(run_dir).status, json.dumps(fields, indent=1) + "\n")


class RunFolderClaim:
    """A trainer's hold on its run folder (see :func:`claim_run_folder`)."""

    def __init__(self, run_dir: Path, lock: Any, created: bool,
                 previous_status: str | None = None) -> None:
        self.run_dir, self.lock, self.created = run_dir, lock, created
        self.previous_status = previous_status
        self._starts = _count_starts(run_dir)

    def release(self) -> None:
        """Drop the lock. A folder this claim created for a run that never got going (no
        config.toml yet: it failed while loading its data) is removed again; a resume that
        failed before training (a bad checkpoint, changed data) leaves the run's previous
        status as it was: the run did not change."""
        if self.created and not RunFolder(self.run_dir).config.exists():
            with contextlib.suppress(OSError):
                RunFolder(self.run_dir).status.unlink(missing_ok=True)
        elif self.previous_status is not None and _count_starts(self.run_dir) == self._starts:
            with contextlib.suppress(SiamError, OSError):
                write_text_atomic(RunFolder(self.run_dir).status, self.previous_status)
        self.lock.release()
        if self.created and not RunFolder(self.run_dir).config.exists():
            with contextlib.suppress(OSError):
                self.run_dir.rmdir()


def _count_starts(run_dir: Path) -> int:
    """Training sessions logged in the run (a "start" record each)."""
    return sum(1 for r in read_metrics(RunFolder(run_dir).metrics) if r.get("event") == "start")


def claim_run_folder(run_dir: Path, resuming: bool, epochs: int) -> RunFolderClaim:
    """Lock ``run_dir`` for this process's trainer and mark it "starting"; ``release()`` the
    returned claim when training ends.

    A second trainer of the same run (CLI or GUI, this process or another) is refused with one
    line naming the holder's process id. A lock left by a trainer that died is taken over.
    """
    from siam_workbench.base.locks import lock_run

    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SiamError(f"cannot create the run folder ({exc.strerror or exc})", run_dir) from None
    try:
        lock = lock_run(run_dir, what="training")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        raise
    previous = None
    if resuming:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if is_regular_file(RunFolder(run_dir).status):  # a FIFO would block the read
                previous = RunFolder(run_dir).status.read_text(encoding="utf-8")
    claim = RunFolderClaim(run_dir, lock, created, previous)
    try:
        if not resuming and RunFolder(run_dir).config.exists():
            raise SiamError("run folder already holds a run (resume it with --resume)", run_dir)
        old: Any = {}
        with contextlib.suppress(ValueError, TypeError):
            old = json.loads(previous or "{}")
        old = old if isinstance(old, dict) else {}
        write_status(run_dir, status="starting", epoch=old.get("epoch", 0), epochs=epochs,
                     best_top1=old.get("best_top1"),
                     message="resuming" if resuming else "preparing")
    except BaseException:
        claim.release()
        raise
    return claim


def effective_status(run_dir: Path, status: str) -> tuple[str, str]:
    """(status, message) as a run list should show it: a "running" run whose trainer no longer
    holds the run folder's lock died without saying so, and is "interrupted"."""
    from siam_workbench.base.locks import holder, run_lock_path

    if status not in LIVE_STATUSES or holder(run_lock_path(run_dir)) is not None:
        return status, ""
    return "interrupted", ("the training process ended without saving its status (killed or "
                           "crashed); resume it to continue from the last checkpoint")


def save_centers(run_dir: Path, centers: np.ndarray) -> None:
    with atomic_path(RunFolder(run_dir).centers) as tmp:
        with tmp.open("wb") as fh:
            np.save(fh, centers.astype(np.float32))

"""Integrity and recovery, in-process: checksums and digests, the divergence guard, backward
compatibility of older files, the exclusion journal, stale temporary files and locks, and a
full disk inside training (simulated by failing writes, without strace)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import rel_faults as F
import torch

from siam_workbench.base.atomic import atomic_path, sweep_stale
from siam_workbench.base.errors import SiamError
from siam_workbench.base.locks import FileLock, holder, leftover
from siam_workbench.data.glyphs import (
    GlyphFile,
    GlyphWriter,
    journal_path,
    load_glyphs,
    set_excluded,
)
from siam_workbench.model.checkpoint import (
    check_finite,
    load_checkpoint,
    save_checkpoint,
    state_digest,
)
from siam_workbench.project.runfiles import MetricsLog, MiningLog, read_metrics
from siam_workbench.train import events as E
from siam_workbench.train.guard import DivergenceGuard
from siam_workbench.train.trainer import Trainer


def _glyphs(path: Path, n: int = 20) -> Path:
    images = np.zeros((n, 37, 37), np.uint8)
    images[:, 8:28, 15:20] = 255
    with GlyphWriter(path, ["A", "B"], ["s"], 37, force=True) as w:
        w.append(images, np.arange(n) % 2, np.zeros(n, np.int64))
    return path


# -- glyph files ---------------------------------------------------------------------------------


def test_new_glyph_files_are_checksummed_and_editable_in_place(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    with h5py.File(g, "r") as h5:
        assert h5["images"].fletcher32 and h5["labels"].fletcher32
        assert h5["excluded"].chunks is None  # contiguous: flags rewritten in place
    with GlyphFile(g) as gf:
        assert gf.checksummed
    ino = g.stat().st_ino
    assert set_excluded(g, [2, 3]) == 2
    assert g.stat().st_ino == ino  # no copy: the bytes were changed in place
    assert np.flatnonzero(GlyphFile(g).excluded).tolist() == [2, 3]


def test_older_glyph_files_still_load_and_convert_once(tmp_path: Path):
    """Files from before checksums and in-place exclusions (schema siam-glyphs/1 all the
    same) load as before; their first exclusion edit converts them by copy-and-rename."""
    g = tmp_path / "old.h5"
    images = np.zeros((6, 37, 37), np.uint8)
    images[:, 10:20, 10:20] = 200
    with h5py.File(g, "w") as h5:
        h5.attrs["schema"] = "siam-glyphs/1"
        h5.create_dataset("images", data=images, chunks=(4, 37, 37), compression="lzf")
        h5.create_dataset("labels", data=np.array([0, 1, 0, 1, 0, 1], np.int32))
        h5.create_dataset("sources", data=np.zeros(6, np.int32))
        h5.create_dataset("classes", data=np.array(["A", "B"], dtype=object),
                          dtype=h5py.string_dtype())
        h5.create_dataset("source_names", data=np.array(["s"], dtype=object),
                          dtype=h5py.string_dtype())
    data = load_glyphs(g)
    assert len(data) == 6 and data.blank == 0
    assert not GlyphFile(g).checksummed
    ino = g.stat().st_ino
    set_excluded(g, [5])
    assert g.stat().st_ino != ino  # converted once by copy-and-rename
    assert len(load_glyphs(g)) == 5
    ino = g.stat().st_ino
    set_excluded(g, [4])
    assert g.stat().st_ino == ino  # in place from now on
    assert np.flatnonzero(GlyphFile(g).excluded).tolist() == [4, 5]


def test_journal_is_read_as_done_and_completed_by_the_next_edit(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    set_excluded(g, [1])
    # A journal as a kill between "journal written" and "bytes written" leaves it.
    flags = np.zeros(20, np.uint8)
    flags[[1, 7]] = 1
    payload = flags.tobytes()
    import hashlib

    st = g.stat()
    head = {"format": "siam-exclude-journal/1", "ino": st.st_ino, "dev": st.st_dev, "n": 20,
            "sha256": hashlib.sha256(payload).hexdigest()}
    journal_path(g).write_bytes(json.dumps(head).encode() + b"\n" + payload)
    assert np.flatnonzero(GlyphFile(g).excluded).tolist() == [1, 7]  # counts as done
    set_excluded(g, [9])
    assert not journal_path(g).exists()
    assert np.flatnonzero(GlyphFile(g).excluded).tolist() == [1, 7, 9]


def test_journal_of_a_replaced_file_is_ignored(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    payload = np.ones(20, np.uint8).tobytes()
    import hashlib

    st = g.stat()
    head = {"format": "siam-exclude-journal/1", "ino": st.st_ino + 1, "dev": st.st_dev,
            "n": 20, "sha256": hashlib.sha256(payload).hexdigest()}
    journal_path(g).write_bytes(json.dumps(head).encode() + b"\n" + payload)
    assert not GlyphFile(g).excluded.any()
    _glyphs(g)  # a re-render replaces the file and drops the journal with it
    assert not journal_path(g).exists()


def test_blank_images_are_counted(tmp_path: Path):
    g = tmp_path / "g.h5"
    images = np.zeros((5, 37, 37), np.uint8)
    images[:2, 3:9, 3:9] = 255
    with GlyphWriter(g, ["A"], ["s"], 37) as w:
        w.append(images, np.zeros(5, np.int64), np.zeros(5, np.int64))
    assert load_glyphs(g).blank == 3


# -- checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_digest(tmp_path: Path):
    ck = tmp_path / "c.pt"
    save_checkpoint(ck, {"w": torch.arange(10.0), "epoch": 3, "best": None})
    state = load_checkpoint(ck)
    assert state["digest"] == state_digest(state)
    # An older checkpoint without a digest still loads.
    state.pop("digest")
    torch.save(state, ck)
    assert load_checkpoint(ck)["epoch"] == 3
    # The same values under another order or with one element changed give another digest.
    a = state_digest({"x": torch.tensor([1.0, 2.0])})
    assert a != state_digest({"x": torch.tensor([1.0, 2.5])})
    assert a != state_digest({"x": torch.tensor([1.0, 2.0], dtype=torch.float64)})


def test_check_finite():
    ok = {"w": torch.ones(3)}
    centers = torch.tensor([[0.0, 1.0], [float("nan"), float("nan")]])
    check_finite(ok, centers, Path("c.pt"))  # a NaN row is a class without samples
    with pytest.raises(SiamError, match="partly NaN"):
        check_finite(ok, torch.tensor([[0.0, float("nan")]]), Path("c.pt"))
    with pytest.raises(SiamError, match="infinite"):
        check_finite(ok, torch.tensor([[0.0, float("inf")]]), Path("c.pt"))
    with pytest.raises(SiamError, match="weights w"):
        check_finite({"w": torch.tensor([float("inf")])}, None, Path("c.pt"))


# -- divergence ----------------------------------------------------------------------------------


def test_guard_loss_and_weights():
    model = torch.nn.Linear(4, 2)
    g = DivergenceGuard()
    for loss in (2.0, 1.8, 2.2, 1.9, 2.1, 1.5, 30.0):  # a jump of 15×: not divergence
        assert g.check(loss, model) is None
    assert "exploded" in g.check(1e35, model)
    g = DivergenceGuard()
    assert g.check(1.0, model) is None
    with torch.no_grad():
        model.weight.mul_(1e6)
    assert "weights exploded" in g.check(1.0, model)
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    assert "NaN or infinite" in DivergenceGuard().check(1.0, model)
    assert "loss became nan" in DivergenceGuard().check(float("nan"), model)


def test_trainer_stops_on_exploding_weights(make_project):
    project = make_project(epochs=3, iterations=6)
    tr = Trainer(project)

    def boost(ev) -> None:  # weights run off while softsign keeps the loss finite
        if isinstance(ev, E.IterationFinished) and ev.step == 2:
            with torch.no_grad():
                for p in tr.model.parameters():
                    p.mul_(1e5)

    tr.subscribe(boost)
    final = tr.run()
    assert isinstance(final, E.RunFailed), final
    assert "exploded" in final.message or "NaN" in final.message, final.message
    assert "checkpoint is kept" in final.message
    status = json.loads((tr.run_dir / "status.json").read_text())
    assert status["status"] == "failed"
    assert not (tr.run_dir / "checkpoints" / "last.pt").exists()  # nothing diverged was saved


# -- full disk inside training (in-process: failing writes) ------------------------------------


def test_training_on_a_full_disk_fails_with_one_line(make_project, monkeypatch):
    """Every pwrite (HDF5 through SafeH5) and fsync (atomic files) fails after training
    started: the run fails with a message naming a file, no exception escapes."""
    project = make_project(epochs=2, iterations=3)
    tr = Trainer(project)
    real_fsync = os.fsync
    state = {"full": False}

    def fsync(fd: int) -> None:
        if state["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    def pwrite(fd: int, data, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fill(ev) -> None:
        if isinstance(ev, E.IterationFinished) and ev.iteration == 1 and not state["full"]:
            state["full"] = True
            monkeypatch.setattr(os, "pwrite", pwrite)

    monkeypatch.setattr(os, "fsync", fsync)
    tr.subscribe(fill)
    final = tr.run()
    assert isinstance(final, E.RunFailed), final
    assert "No space left on device" in final.message and "\n" not in final.message
    monkeypatch.undo()
    assert holder(tr.run_dir / ".lock") is None  # the lock was released


# -- temporary files, locks, metrics -------------------------------------------------------------


def test_stale_temporary_files_are_swept(tmp_path: Path):
    target = tmp_path / "out.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".out.h5.{dead}.abc.tmp"
    staged = tmp_path / f".out.h5.{dead}.staged"
    live = tmp_path / f".out.h5.{os.getpid()}.xyz.tmp"
    for p in (stale, staged, live):
        p.write_text("x")
    assert sorted(sweep_stale(target)) == sorted([stale, staged])
    assert live.exists()
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path):
    lock_file = tmp_path / ".lock"
    code = ("import sys, time; from siam_workbench.base.locks import FileLock; "
            "FileLock(sys.argv[1], sys.argv[1], 'test').acquire(); print('ok', flush=True); "
            "time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, str(lock_file)], env=F.env(),
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ok"
    assert holder(lock_file).pid == p.pid
    with pytest.raises(SiamError, match=f"in use by process {p.pid}"):
        FileLock(lock_file, tmp_path, "me").acquire(0.1)
    p.kill()
    p.wait(timeout=60)
    assert holder(lock_file) is None and leftover(lock_file).pid == p.pid
    lock = FileLock(lock_file, tmp_path, "me").acquire()
    assert lock.stale is not None and lock.stale.pid == p.pid
    lock.release()
    assert not lock_file.exists()


def test_metrics_after_a_torn_record(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"event": "epoch", "epoch": 0}\n{"event": "iter')
    log = MetricsLog(path)
    log.write("epoch", epoch=1)
    log.close()
    assert [r["epoch"] for r in read_metrics(path)] == [0, 1]


def test_damaged_mining_history_is_set_aside(tmp_path: Path):
    path = tmp_path / "mining.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 200)
    log = MiningLog(path, ["a", "b"], "p", "n")
    assert "unreadable" in log.warning
    assert list(tmp_path.glob("mining.h5.damaged-*"))
    log.append(0, np.array([0.5, 0.5]), np.zeros(2), np.ones(2), np.zeros((0, 2)))
    log.append(0, np.array([0.4, 0.6]), np.zeros(2), np.ones(2), np.zeros((0, 2)))
    with h5py.File(path) as h5:  # an epoch appended twice is kept once (resume safety)
        assert h5["epoch"][()].tolist() == [0]
        assert h5["probabilities"][0].tolist() == pytest.approx([0.4, 0.6])

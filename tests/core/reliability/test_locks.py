"""Locks: a run folder has one trainer; drawn.h5 and glyph-file edits are serialised; a lock
of a dead process is taken over and its run shows as "interrupted"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rel_faults as F
from PIL import Image

from siam_workbench.base.errors import SiamError
from siam_workbench.base.locks import holder, leftover, lock_edit, lock_run, run_lock_path
from siam_workbench.cli import main
from siam_workbench.data.drawn import DrawnStore
from siam_workbench.data.glyphs import GlyphFile, GlyphWriter
from siam_workbench.project.project import read_run_info
from siam_workbench.train import events as E
from siam_workbench.train.trainer import Trainer


def _siam(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _glyphs(path: Path, n: int = 40) -> Path:
    images = np.zeros((n, 37, 37), np.uint8)
    images[:, 8:28, 15:20] = 255
    with GlyphWriter(path, ["A", "B"], ["s"], 37, force=True) as w:
        w.append(images, np.arange(n) % 2, np.zeros(n, np.int64))
    return path


def _stopped_run(project) -> Path:
    tr = Trainer(project)
    tr.subscribe(lambda ev: tr.stop() if isinstance(ev, E.IterationFinished) else None)
    assert isinstance(tr.run(), E.RunStopped)
    return tr.run_dir


def test_second_trainer_is_refused_naming_the_pid(make_project, capsys):
    project = make_project(epochs=2, iterations=3)
    run = _stopped_run(project)
    lock = lock_run(run, what="training")  # a live trainer (this process) holds the run
    try:
        before = (run / "status.json").read_text()
        code, out, err = _siam(capsys, "train", project.root, "--resume", run)
        assert code == 2 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"process {os.getpid()}" in lines[0], err
        assert "being trained" in lines[0] and str(run) in lines[0]
        assert (run / "status.json").read_text() == before  # the holder's status untouched
        # The GUI's path (a Trainer on a worker thread) gets the same refusal as an event.
        final = Trainer(project, resume=run).run()
        assert isinstance(final, E.RunFailed) and f"process {os.getpid()}" in final.message
        assert read_run_info(run).status == "stopped"
    finally:
        lock.release()
    assert holder(run_lock_path(run)) is None


def test_dead_trainer_shows_interrupted_and_resumes(make_project, tmp_path: Path):
    project = make_project(epochs=2, iterations=3)
    run = _stopped_run(project)
    status = json.loads((run / "status.json").read_text())
    status["status"] = "running"  # what a trainer killed mid-epoch leaves
    (run / "status.json").write_text(json.dumps(status))
    # A process that takes the run's lock and is killed with it held.
    code = ("import sys, time; from siam_workbench.base.locks import lock_run; "
            "lock_run(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, str(run)], env=F.env(),
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    assert holder(run_lock_path(run)).pid == p.pid
    assert read_run_info(run).status == "running"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    info = read_run_info(run)
    assert info.status == "interrupted" and "resume" in info.message
    assert leftover(run_lock_path(run)).pid == p.pid
    final = Trainer(project, resume=run).run()  # the stale lock is taken over
    assert isinstance(final, E.RunFinished), getattr(final, "message", "")
    assert read_run_info(run).status == "finished"
    assert not run_lock_path(run).exists()


def test_concurrent_draw_add_keeps_every_drawing(make_project, tmp_path: Path):
    project = make_project()
    images = []
    for i in range(3):
        img = np.full((50, 50), 255, np.uint8)
        img[10:40, 10 + 5 * i:18 + 5 * i] = 0
        path = tmp_path / f"d{i}.png"
        Image.fromarray(img).save(path)
        images.append(path)
    procs = [subprocess.Popen([sys.executable, "-m", "siam_workbench.cli", "draw", "add",
                               str(project.root), str(img), "--label", label],
                              env=F.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for img, label in zip(images, "ABC")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    store = DrawnStore(project.root / "drawn.h5", 37)
    assert sorted(d.label for d in store.drawings) == ["A", "B", "C"]


def test_concurrent_excludes_are_serialised(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    rows = [[0, 1], [10, 11, 12], [20], [30, 39]]
    procs = [subprocess.Popen([sys.executable, "-m", "siam_workbench.cli", "exclude", str(g),
                               *map(str, r)], env=F.env(), stderr=subprocess.PIPE, text=True)
             for r in rows]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with GlyphFile(g) as gf:
        assert np.flatnonzero(gf.excluded).tolist() == sorted(sum(rows, []))


def test_edit_lock_wait_is_bounded_and_names_the_holder(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    with lock_edit(g):
        with pytest.raises(SiamError, match=f"being edited by process {os.getpid()}"):
            lock_edit(g, wait=0.2)


def test_stale_drawing_edit_is_refused_not_misapplied(tmp_path: Path):
    path = tmp_path / "drawn.h5"
    img = np.full((40, 40), 255, np.uint8)
    img[5:35, 15:22] = 0
    a = DrawnStore(path, 37)
    a.add(img, "A")
    a.add(img[::-1].copy(), "B")
    b = DrawnStore(path, 37)  # another window on the same file
    b.delete(0)
    with pytest.raises(SiamError, match="changed on disk"):
        a.relabel(0, "Z")  # row 0 is now "B": relabelling it would hit the wrong drawing
    assert [d.label for d in a.drawings] == ["B"]  # reloaded
    assert [d.label for d in DrawnStore(path, 37).drawings] == ["B"]
    a.add(img, "C")  # appends to what is on disk, not to a stale copy
    assert [d.label for d in DrawnStore(path, 37).drawings] == ["B", "C"]

"""A disk that fills up at any point of a command: exit 2 with one line naming the problem,
never a traceback or a segmentation fault, nothing that existed lost, no temporary file left.

The full disk is simulated with strace: from a chosen write-like call on, every one fails with
ENOSPC (see ``rel_faults.fail_from``); the points are spread over the command's own writes.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import rel_faults as F

from siam_workbench.data.glyphs import GlyphFile, GlyphWriter

pytestmark = pytest.mark.skipif(not F.strace_works(), reason="needs strace (ptrace) to "
                                "simulate a full disk; test_engine_full_disk covers training")


def _siam(*args: object) -> list[str]:
    return [sys.executable, "-m", "siam_workbench.cli", *map(str, args)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_outcome(r, folder: Path, keep: dict[Path, str], needle: str = "") -> None:
    """Exit 2 with one line, files in ``keep`` unchanged, no temporary file; or, for a disk
    that fills only after the new file was renamed in (its folder's fsync), plain success."""
    temps = [p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".staged"))]
    assert not temps, temps
    if r.returncode == 0:
        return
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr and "Segmentation" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert "No space left on device" in last and "error:" in last, r.stderr[-2000:]
    if needle:
        assert needle in last, last
    for path, digest in keep.items():
        assert _digest(path) == digest, f"{path} changed"


def _points(cmd: list[str], limit: int = 5) -> list[dict[str, int]]:
    seq = F.trace_writes(cmd)
    return F.sample(F.disk_full_points(seq, 0), limit)


def _glyphs(path: Path, n: int = 30) -> Path:
    images = np.zeros((n, 37, 37), np.uint8)
    images[:, 8:28, 15:20] = 255
    with GlyphWriter(path, ["A", "B", "C"], ["s"], 37, force=True) as w:
        w.append(images, np.arange(n) % 3, np.zeros(n, np.int64))
    return path


def test_render_full_disk(tmp_path: Path, dejavu_path: Path):
    out = tmp_path / "out.h5"
    cmd = _siam("render", "--alphabet", "latin", "--fonts", dejavu_path, "--out", out,
                "--workers", "1", "--force")
    points = _points(cmd)  # (runs it once: out.h5 exists from here on)
    for point in points:
        keep = {out: _digest(out)}
        r = F.fail_from(cmd, point)
        _check_outcome(r, tmp_path, keep if r.returncode else {}, "out.h5")
    assert len(GlyphFile(out)) > 0


def test_exclude_full_disk(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    cmd = _siam("exclude", g, "1", "2", "7")
    for point in _points(cmd):
        _glyphs(g)
        r = F.fail_from(cmd, point)
        _check_outcome(r, tmp_path, {}, "g.h5")
        with GlyphFile(g) as gf:  # old or new flags, never a broken file
            assert set(np.flatnonzero(gf.excluded).tolist()) in (set(), {1, 2, 7})


def test_exclude_old_layout_full_disk(tmp_path: Path):
    """The one-time conversion of an older file (copy-and-rename) under a full disk."""
    import h5py

    g = tmp_path / "old.h5"
    cmd = _siam("exclude", g, "4")

    def old() -> None:
        _glyphs(g)
        with h5py.File(g, "r+") as h5:
            del h5["excluded"]

    old()
    seq = F.trace_writes(cmd)
    for point in F.sample(F.disk_full_points(seq, 0), 4):
        old()
        r = F.fail_from(cmd, point)
        _check_outcome(r, tmp_path, {})
        with GlyphFile(g) as gf:  # converted or not, the flags are the old or the new ones
            assert np.flatnonzero(gf.excluded).tolist() in ([], [4])


def test_grid_full_disk(tmp_path: Path):
    g = _glyphs(tmp_path / "g.h5")
    png = tmp_path / "sheet.png"
    png.write_bytes(b"old sheet")
    cmd = _siam("inspect", g, "--grid", png, "--force")
    for point in _points(cmd, 3):
        png.write_bytes(b"old sheet")
        r = F.fail_from(cmd, point)
        _check_outcome(r, tmp_path, {png: _digest(png)} if r.returncode else {}, "sheet.png")


def test_train_full_disk(make_project, tmp_path: Path):
    """Training on a full disk: one error line (after the progress lines), exit 2, and the
    checkpoint that existed still loads."""
    from siam_workbench.model.checkpoint import load_checkpoint

    project = make_project(epochs=2, iterations=2)
    run = project.root / "runs" / "r"
    cmd = _siam("train", project.root, "--run-dir", run)
    seq = F.trace_writes(cmd)
    # The disk fills half-way through: in the middle of the epoch-end writes (mining.h5 copy,
    # centers, checkpoint, status).
    for point in F.disk_full_points(seq, len(seq) // 2)[:1]:
        F.shutil.rmtree(run, ignore_errors=True)
        r = F.fail_from(cmd, point)
        assert r.returncode in (0, 2), r.stderr[-3000:]
        if r.returncode == 0:
            continue
        assert "Traceback" not in r.stderr and "Segmentation" not in r.stderr
        assert "No space left on device" in r.stderr.strip().splitlines()[-1], r.stderr[-2000:]
        last = run / "checkpoints" / "last.pt"
        if last.exists():
            load_checkpoint(last)
        assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]

"""Ctrl-C, SIGTERM and kill -9 during a multi-process render.

Ctrl-C (SIGINT to the whole process group, as a terminal sends it) and SIGTERM: exit 130, the
old output untouched, no temporary file, no worker process left. kill -9 of the parent: the
workers notice and exit by themselves, and the temporary file it left is removed by the next
render of the same file.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rel_faults as F


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (the spawn workers)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(cond, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _render_cmd(font_lib: Path, out: Path, variants: int = 300) -> list[str]:
    # Distorted variants push the job over the in-process limit, so two workers are used; 300
    # of them keep it running long enough to be interrupted on a fast machine (it is killed
    # long before the end, so their number costs nothing).
    return [sys.executable, "-m", "siam_workbench.cli", "render", "--alphabet", "latin", "--fonts",
            str(font_lib), "--out", str(out), "--distort", "rotate=4,blur=0.6,noise=0.04",
            "--variants", str(variants), "--workers", "2", "--force"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".staged"))]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupt_render(how: str, tmp_path: Path, font_lib: Path):
    out = tmp_path / "out.h5"
    out.write_bytes(b"the previous output")
    before = _digest(out)
    p = subprocess.Popen(_render_cmd(font_lib, out), env=F.env(), start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: len(_children(p.pid)) >= 2 or p.poll() is not None, what="workers")
        workers = _children(p.pid)
        assert p.poll() is None, "render ended before it could be interrupted"
        if how == "ctrl-c":
            os.killpg(p.pid, signal.SIGINT)
        else:
            p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert _digest(out) == before
    assert not _temps(tmp_path)
    _wait(lambda: not any(_alive(w) for w in workers), what="workers to exit")


def test_kill9_render_leaves_no_workers(tmp_path: Path, font_lib: Path):
    out = tmp_path / "out.h5"
    out.write_bytes(b"the previous output")
    before = _digest(out)
    p = subprocess.Popen(_render_cmd(font_lib, out), env=F.env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _wait(lambda: len(_children(p.pid)) >= 2 or p.poll() is not None, what="workers")
    workers = _children(p.pid)
    assert p.poll() is None and workers
    p.kill()
    p.wait(timeout=60)
    _wait(lambda: not any(_alive(w) for w in workers), what="orphaned workers to exit")
    assert _digest(out) == before  # the rename never happened
    # A temporary file may be left by kill -9; the next render of the same file removes it.
    r = subprocess.run(_render_cmd(font_lib, out, variants=12), env=F.env(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert not _temps(tmp_path)

"""Model-assisted labeling (siam_workbench.infer.labeling, ``siam label``): the queue by doubt,
durable labels, undo, resume, and a session killed at any point keeps every confirmed label."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.cli import main as siam
from siam_workbench.data.glyphs import load_glyphs, read_info
from siam_workbench.infer.labeling import (
    Journal,
    LabelSession,
    journal_path,
    labelled_is_current,
)
from tests.conftest import make_tiny_project, synth_glyphs

CHILD = Path(__file__).with_name("label_child.py")
REPO = Path(__file__).resolve().parents[3]


def write_crops(folder: Path, classes: int = 12, fonts: int = 2, offset: int = 50) -> Path:
    """Dark-on-light PNG crops of the synthetic classes, on canvases larger than the glyphs
    (so framing matters): ``<class>_<n>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    images, labels, _ = synth_glyphs(classes, fonts, font_offset=offset)
    for n, (im, lab) in enumerate(zip(images, labels)):
        canvas = np.full((60, 52), 255, np.uint8)
        canvas[10:47, 6:43] = 255 - im
        Image.fromarray(canvas).save(folder / f"{chr(ord('A') + int(lab))}_{n:02d}.png")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny project with one finished run (a few steps: proposals need not be good)."""
    import torch

    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    root = make_tiny_project(tmp_path_factory.mktemp("label") / "proj", epochs=1, iterations=4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        final = Trainer(load_project(root)).run()
    finally:
        torch.set_num_threads(threads)
    assert type(final).__name__ == "RunFinished", getattr(final, "message", "")
    return root, next((root / "runs").iterdir())


@pytest.fixture
def project(trained, tmp_path) -> tuple[Path, Path]:
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(trained[0], root)
    return root, write_crops(tmp_path / "crops")


def _session(root: Path, folder: Path) -> LabelSession:
    from siam_workbench.cli.labeling_cmds import open_session

    return open_session(root, folder)


def test_queue_is_ordered_by_doubt_with_top5_framed_like_the_run(project):
    root, folder = project
    s = _session(root, folder)
    assert s.run is not None  # the project's best run
    q = s.queue()
    assert len(q) == s.total == s.left == 24
    doubts = [it.doubt for it in q]
    assert doubts == sorted(doubts)
    assert doubts[0] < doubts[-1]  # not all equal: the order means something
    for it in q:
        assert len(it.proposals) == 5
        dist = [d for _, d in it.proposals]
        assert dist == sorted(dist)
        assert it.doubt == pytest.approx(dist[1] - dist[0])
        assert it.image.shape == (s.run.image_size, s.run.image_size)
        assert it.image.dtype == np.uint8 and it.image.max() == 255  # ink = 255
    assert s.framing == {"image_size": 37, "margin": 2, "size_mode": "fit"}


def test_labels_skip_undo_and_resume(project):
    root, folder = project
    s = _session(root, folder)
    first, second, third = s.queue()[:3]
    s.take(first.key, 2)
    s.label(second.key, "Z")  # a class the run does not know: kept, for enrolment
    s.skip(third.key)
    assert s.current().key not in (first.key, second.key, third.key)
    assert s.queue()[-1].key == third.key  # a skipped item comes back at the end
    assert s.done == 2 and s.left == 22
    assert s.undo() == third.key
    assert s.current().key == third.key  # the undone item shows again
    assert s.undo() == second.key
    assert s.current().key == second.key
    s.write_glyphs()

    again = _session(root, folder)  # a new process would see the same
    labels = again.labels()
    assert {k: v.label for k, v in labels.items()} == {first.key: first.proposals[1][0]}
    assert labels[first.key].how == "proposal 2"
    assert again.left == 23 and first.key not in [it.key for it in again.queue()]
    data = load_glyphs(again.out)
    assert data.classes == [first.proposals[1][0]]
    assert data.source_names == [first.key]
    assert first.key.startswith("crops/") and first.key.endswith(".png")
    assert np.array_equal(data.images[0].numpy(), first.image)
    assert read_info(again.out)["attrs"]["schema"] == "siam-glyphs/1"
    # Undo reaches back into the earlier session.
    assert again.undo() == first.key
    assert _session(root, folder).labels() == {}


def test_relabel_then_undo_restores_the_previous_label(project):
    root, folder = project
    s = _session(root, folder)
    key = s.queue()[0].key
    s.label(key, "A")
    s.label(key, "B")
    assert s.labels()[key].label == "B"
    s.undo()
    assert _session(root, folder).labels()[key].label == "A"


def test_a_torn_journal_line_is_ignored_and_fenced_off(project):
    root, folder = project
    s = _session(root, folder)
    key = s.queue()[0].key
    s.label(key, "A")
    with open(journal_path(s.out), "ab") as fh:  # a kill in the middle of the next record
        fh.write(b'{"op":"label","id":"x","key":"crops/B_01.png","cla')
    s2 = _session(root, folder)
    assert s2.journal.torn == 0 and set(s2.labels()) == {key}  # the torn tail is not read
    other = s2.queue()[0].key
    s2.label(other, "C")
    s3 = _session(root, folder)
    assert {k: v.label for k, v in s3.labels().items()} == {key: "A", other: "C"}
    assert s3.journal.torn == 1


def test_glyph_file_is_rebuilt_when_stale(project):
    root, folder = project
    s = _session(root, folder)
    s.label(s.queue()[0].key, "A")  # journal written, glyph file not yet
    assert not s.glyphs_current()
    assert siam(["label", str(root), str(folder), "--json"]) == 0
    assert labelled_is_current(s.out, Journal(journal_path(s.out)).size)
    assert len(load_glyphs(s.out)) == 1


def test_empty_after_undo_is_an_empty_glyph_file(project):
    root, folder = project
    s = _session(root, folder)
    s.label(s.queue()[0].key, "A")
    s.undo()
    s.write_glyphs()
    info = read_info(s.out)
    assert info["samples"] == 0


# -- the CLI ----------------------------------------------------------------------------------

def _json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert siam(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_propose_set_take_skip_undo_accept(project, capsys):
    root, folder = project
    base = ["label", str(root), str(folder), "--json"]
    out = _json(capsys, [*base, "--propose"])
    q = out["queue"]
    assert len(q) == 24 and out["left"] == 24 and out["labelled"] == 0
    assert [e["doubt"] for e in q] == sorted(e["doubt"] for e in q)
    assert all(len(e["proposals"]) == 5 for e in q)
    a, b, c = q[0]["file"], q[1]["file"], q[2]["file"]
    out = _json(capsys, [*base, "--set", f"{a}=Q", "--take", f"{b}=3", "--skip", c])
    assert out["labelled"] == 2 and out["changed"] == 3
    data = load_glyphs(root / "data" / "labelled.h5")
    got = {s: data.classes[int(lab)] for s, lab in zip(
        [data.source_names[i] for i in data.sources.tolist()], data.labels.tolist())}
    assert got == {f"crops/{a}": "Q", f"crops/{b}": q[1]["proposals"][2]["class"]}
    out = _json(capsys, [*base, "--undo", "2"])  # the skip, then b's label
    assert out["labelled"] == 1 and len(load_glyphs(root / "data" / "labelled.h5")) == 1
    # Accept top-1 where the run is sure: every item at or above the margin, none below.
    doubts = sorted(e["doubt"] for e in q)
    margin = (doubts[11] + doubts[12]) / 2  # between two items, clear of JSON rounding
    out = _json(capsys, [*base, "--accept-top1-above", str(margin), "--propose"])
    assert all(e["doubt"] < margin for e in out["queue"])
    assert out["labelled"] == 1 + sum(1 for e in q if e["doubt"] >= margin and e["file"] != a)


def test_cli_bad_file_is_one_line_and_writes_nothing(project, capsys):
    root, folder = project
    capsys.readouterr()
    code = siam(["label", str(root), str(folder), "--set", "A_00.png=A", "--set", "nope.png=B"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nope.png" in err
    assert not journal_path(root / "data" / "labelled.h5").exists()
    assert siam(["label", str(root), str(tmp := folder / "missing")]) == 2
    assert not tmp.exists()


def test_cli_text_summary_without_a_run(tmp_path, capsys):
    root = make_tiny_project(tmp_path / "p")
    folder = write_crops(tmp_path / "crops", classes=3, fonts=1)
    (folder / "broken.png").write_bytes(b"not a png")
    capsys.readouterr()
    assert siam(["label", str(root), str(folder)]) == 0
    text = capsys.readouterr().out
    assert "3 images" in text and "0 labelled, 3 left" in text
    assert "no trained run" in text and "unreadable: broken.png" in text


# -- kill -9 at any point ---------------------------------------------------------------------

def _expected(lines: list[str]) -> tuple[dict[str, str], str | None]:
    """Labels the confirmed lines promise, and the key of the last one if an undo of it
    was the next action (so it may be gone too)."""
    labels: dict[str, str] = {}
    oks = 0
    last_ok: str | None = None
    for line in lines:
        parts = line.split()
        if parts[0] == "ok":
            labels[parts[1]] = parts[2]
            oks += 1
            last_ok = parts[1]
        elif parts[0] == "undo":
            labels.pop(parts[1], None)
            last_ok = None
    pending_undo = last_ok if oks % 4 == 0 and oks else None
    return labels, pending_undo


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 4, 7])
def test_killed_session_keeps_every_confirmed_label(tmp_path, kill_after):
    folder = write_crops(tmp_path / "crops", classes=12, fonts=1)
    out = tmp_path / "labelled.h5"
    proc = subprocess.Popen([sys.executable, str(CHILD), str(folder), str(out), "12"],
                            stdout=subprocess.PIPE, text=True, env=_env())
    lines: list[str] = []
    assert proc.stdout is not None
    while len(lines) < kill_after:
        line = proc.stdout.readline()
        assert line, "the session ended before the kill point"
        lines.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)  # somewhere in the next decision, or between two
    proc.wait(timeout=60)
    rest = proc.stdout.read()  # whole lines already in the pipe were confirmed too
    lines += [x.strip() for x in rest[:rest.rfind("\n") + 1].splitlines() if x.strip()]
    _check_resumed(folder, out, lines)


def _check_resumed(folder: Path, out: Path, lines: list[str]) -> None:
    expected, pending_undo = _expected(lines)
    session = LabelSession(folder, out, None)
    got = {k: v.label for k, v in session.labels().items()}
    for key, label in expected.items():
        if key == pending_undo and key not in got:
            continue  # its undo was durable but not yet confirmed
        assert got.get(key) == label, (key, got, lines)
    extra = set(got) - set(expected)
    assert len(extra) <= 1  # at most the decision the kill interrupted, whole
    for key in extra:
        assert got[key] == key.split("/")[-1].split("_")[0]
    session.write_glyphs()
    data = load_glyphs(out)
    assert len(data) == len(got)
    # The resumed session goes on where it stopped: labelled files are not queued again.
    assert not set(got) & {it.key for it in session.queue()}


@pytest.mark.slow
def test_killed_at_every_syscall_point_keeps_confirmed_labels(tmp_path):
    """strace kills the session at sampled writes / fsyncs / renames of a whole session."""
    import shutil

    from tests.core.reliability import rel_faults as F

    if not F.strace_works():
        pytest.skip("strace cannot inject here; the timed kills above still ran")
    folder = write_crops(tmp_path / "crops", classes=6, fonts=1)
    calls = ("write", "pwrite64", "fsync", "rename", "ftruncate")
    clean = tmp_path / "clean"
    clean.mkdir()
    cmd = [sys.executable, str(CHILD), str(folder), str(clean / "labelled.h5"), "6"]
    trace = F.trace(cmd, calls)
    points = [(name, trace[:i + 1].count(name)) for i, name in enumerate(trace)]
    for n, (name, k) in enumerate(F.sample(points, 4)):
        work = tmp_path / f"k{n}"
        work.mkdir()
        out = work / "labelled.h5"
        cmd = [sys.executable, str(CHILD), str(folder), str(out), "6"]
        r = subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e", f"trace={name}",
                            "-e", f"inject={name}:signal=SIGKILL:when={k}", *cmd],
                           env=_env(), capture_output=True, text=True, timeout=300)
        whole = r.stdout[:r.stdout.rfind("\n") + 1]  # a line cut by the kill confirms nothing
        lines = [x.strip() for x in whole.splitlines() if x.strip()]
        _check_resumed(folder, out, lines)
        shutil.rmtree(work)

"""The Label tab's keys: 1–5 take a proposal, a typed class + Enter saves, Backspace skips,
Ctrl+Z undoes — each durable (a fresh session replaying the journal sees it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from siam_workbench.infer.labeling import LabelSession
from tests.conftest import make_tiny_project, synth_glyphs


def write_crops(folder: Path) -> Path:
    """Dark-on-light PNG crops of the 12 synthetic classes, two "drawers" each."""
    folder.mkdir(parents=True)
    images, labels, _ = synth_glyphs(12, 2, font_offset=50)
    for n, (im, lab) in enumerate(zip(images, labels)):
        canvas = np.full((60, 52), 255, np.uint8)
        canvas[10:47, 6:43] = 255 - im
        Image.fromarray(canvas).save(folder / f"{chr(65 + int(lab))}_{n:02d}.png")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    import torch

    from siam_workbench.project.project import load_project
    from siam_workbench.train.trainer import Trainer

    root = make_tiny_project(tmp_path_factory.mktemp("lv") / "proj", epochs=1, iterations=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        final = Trainer(load_project(root)).run()
    finally:
        torch.set_num_threads(threads)
    assert type(final).__name__ == "RunFinished", getattr(final, "message", "")
    return root


@pytest.fixture
def view(trained, tmp_path, qtbot):
    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.label_view import LabelView
    from siam_workbench.project.project import load_project

    root = tmp_path / "proj"
    shutil.copytree(trained, root)
    folder = write_crops(tmp_path / "crops")
    doc = ProjectDocument()
    doc.set_project(load_project(root))
    v = LabelView(doc)
    qtbot.addWidget(v)
    v.resize(1280, 680)
    v.show()
    v.open_folder(folder)
    qtbot.waitUntil(lambda: v.session is not None, timeout=120_000)
    v._doc_keep = doc  # the document lives as long as the view
    return v


def _replayed(v) -> dict[str, str]:
    """The labels a new session (another process) would read from the journal."""
    s = LabelSession(v.session.folder, v.session.out, None)
    return {k: lab.label for k, lab in s.labels().items()}


def test_keys_label_skip_and_undo_durably(view, qtbot):
    v = view
    assert "Proposals from run" in v.run_label.text()
    q = v.session.queue()
    assert v.item.key == q[0].key  # the most doubtful first
    assert all(b.isEnabled() for b in v.proposals)
    first = v.item
    qtbot.keyClick(v.entry, Qt.Key.Key_2)  # proposal 2
    assert _replayed(v) == {first.key: first.proposals[1][0]}
    assert v.item.key == q[1].key and v.entry.text() == ""

    second = v.item
    qtbot.keyClicks(v.entry, "Zq")  # a class the run does not know
    qtbot.keyClick(v.entry, Qt.Key.Key_Backspace)  # with text: edits, does not skip
    assert v.entry.text() == "Z" and v.item.key == second.key
    qtbot.keyClick(v.entry, Qt.Key.Key_Return)
    assert _replayed(v)[second.key] == "Z"

    third = v.item
    qtbot.keyClick(v.entry, Qt.Key.Key_Backspace)  # empty field: skip
    assert v.item.key != third.key
    assert v.session.queue()[-1].key == third.key
    assert third.key not in _replayed(v)

    qtbot.keyClick(v.entry, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the skip
    assert v.item.key == third.key
    qtbot.keyClick(v.entry, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Z's label
    assert v.item.key == second.key
    assert _replayed(v) == {first.key: first.proposals[1][0]}

    qtbot.keyClick(v.entry, Qt.Key.Key_Return)  # Enter on an empty field: proposal 1
    assert _replayed(v)[second.key] == second.proposals[0][0]
    assert v.progress.value() == 2 and v.left_label.text() == f"{v.session.total - 2} left"
    # The glyph file follows the journal shortly after (a worker thread).
    qtbot.waitUntil(lambda: not v.pending_rebuild(), timeout=60_000)
    from siam_workbench.data.glyphs import load_glyphs

    data = load_glyphs(v.session.out)
    assert sorted(data.source_names) == sorted([first.key, second.key])


def test_digit_keys_type_once_the_field_has_text(view, qtbot):
    v = view
    key = v.item.key
    qtbot.keyClicks(v.entry, "A")
    qtbot.keyClick(v.entry, Qt.Key.Key_3)
    assert v.entry.text() == "A3" and v.item.key == key
    qtbot.keyClick(v.entry, Qt.Key.Key_Enter)
    assert _replayed(v) == {key: "A3"}


def test_reopened_view_resumes_where_it_stopped(view, qtbot, tmp_path):
    from siam_workbench.app.label_view import LabelView

    v = view
    done = []
    for _ in range(3):
        done.append(v.item.key)
        qtbot.keyClick(v.entry, Qt.Key.Key_1)
    again = LabelView(v.doc)
    qtbot.addWidget(again)
    again.open_folder(v.session.folder)
    qtbot.waitUntil(lambda: again.session is not None, timeout=120_000)
    assert again.session.done == 3 and again.item.key not in done
    assert again.progress.value() == 3
    assert again.recent.count() == 3


def test_screenshot_1280x720(view, qtbot):
    v = view
    qtbot.keyClick(v.entry, Qt.Key.Key_1)
    v.resize(1280, 720)
    qtbot.wait(200)
    hint = v.minimumSizeHint()  # fits the 1280×720 window's tab area
    assert hint.width() <= 1240 and hint.height() <= 600, hint
    out = Path("/tmp/label.png")
    assert v.grab().save(str(out))
    assert out.stat().st_size > 0

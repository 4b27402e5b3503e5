"""Train tab: the augmentation preview follows the [augment] settings (debounced, on a worker
thread, stale results dropped), says when augmentation is disabled or there is nothing to show,
and paints pixels as squares (nearest neighbour)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from siam_workbench.app.augment_panel import SAMPLES, VARIANTS, AugmentPreview
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.workers import live_threads
from siam_workbench.project.project import load_project
from siam_workbench.train import augment_preview as ap

SIZE = 37


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the GUI tests share 2 cores
    yield
    torch.set_num_threads(before)


def _glyphs(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    x = np.zeros((n, SIZE, SIZE), np.uint8)
    for i in range(n):
        r0, c0 = rng.integers(6, 14, size=2)
        x[i, r0:SIZE - r0, SIZE // 2 - 2:SIZE // 2 + 2] = 255
        x[i, SIZE // 2 - 1:SIZE // 2 + 2, c0:SIZE - c0] = 255
    return x


def _write_train(path: Path, classes: int = 8) -> None:
    from siam_workbench.data.glyphs import GlyphWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    names = [chr(ord("A") + i) for i in range(classes)]
    with GlyphWriter(path, names, ["f0.ttf#0"], SIZE, alphabet="latin") as w:
        w.append(_glyphs(classes), np.arange(classes), np.zeros(classes, np.int64))


def _project(root: Path, rendered: bool = True) -> Path:
    root.mkdir(parents=True)
    (root / "project.toml").write_text('[project]\nname = "aug"\n\n[data]\nalphabet = "latin"\n',
                                       encoding="utf-8")
    if rendered:
        _write_train(root / "data" / "train.h5")
    return root


def _panel(qtbot, root: Path | None) -> tuple[ProjectDocument, AugmentPreview]:
    doc = ProjectDocument()
    panel = AugmentPreview(doc)
    qtbot.addWidget(panel)
    panel.resize(900, 520)
    panel.show()
    if root is not None:
        doc.set_project(load_project(root))
    return doc, panel


def _settled(qtbot, panel: AugmentPreview) -> None:
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)


def _cells(picture: np.ndarray, rows: int, cols: int, separator: bool) -> np.ndarray:
    """Cut :func:`siam_workbench.train.augment_preview.tile`'s picture back into ``[rows, cols, S,
    S]``."""
    out = np.zeros((rows, cols, SIZE, SIZE), np.uint8)
    extra = ap.SEPARATOR - ap.GAP if separator else 0
    for i in range(rows):
        for j in range(cols):
            y = ap.GAP + i * (SIZE + ap.GAP)
            x = ap.GAP + j * (SIZE + ap.GAP) + (extra if j >= 1 else 0)
            out[i, j] = picture[y:y + SIZE, x:x + SIZE]
    return out


def test_no_project_and_no_training_file_give_a_message(qtbot, tmp_path):
    doc, panel = _panel(qtbot, None)
    _settled(qtbot, panel)
    assert panel.result is None and panel.computations == 0
    assert "Open a project" in panel.status.text()
    assert not panel.mixed_view.isVisible()

    root = _project(tmp_path / "p", rendered=False)
    doc.set_project(load_project(root))
    _settled(qtbot, panel)
    assert panel.result is None and panel.computations == 1
    text = panel.status.text()
    assert "train.h5" in text and "not found" in text and "Render" in text
    assert panel.mixed_view.image is None and not panel.ops_view.isVisible()

    # Rendered later: showing the panel again draws the glyphs.
    _write_train(root / "data" / "train.h5")
    panel.hide()
    panel.show()
    _settled(qtbot, panel)
    assert panel.result is not None and panel.mixed_view.isVisible()
    assert panel.mixed_view.image is not None
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)


def test_a_setting_change_redraws_off_the_gui_thread(qtbot, tmp_path):
    doc, panel = _panel(qtbot, _project(tmp_path / "p"))
    _settled(qtbot, panel)
    first = panel.result
    assert first is not None and first.state == "on"
    assert first.thread != threading.get_ident()  # computed on a worker
    n = len(first.mixed_labels)  # as many rows as the panel's height holds, at least SAMPLES
    assert n >= SAMPLES
    assert first.mixed.shape == ap.grid_shape(n, 1 + VARIANTS, SIZE, 1, separator=True)
    assert first.operations.shape == ap.grid_shape(1 + len(ap.OPERATIONS), VARIANTS, SIZE)
    labels = [label for label, _ in first.mixed_labels]
    assert len(labels) == n == len(set(labels)) and set(labels) <= set("ABCDEFGH")
    count = panel.computations

    # Three edits in a row (as typing does): one computation, with the last values.
    doc.set_values({"augment": {"rotation_deg": 10.0}})
    doc.set_values({"augment": {"rotation_deg": 20.0}})
    doc.set_values({"augment": {"rotation_deg": 30.0, "stroke": False}})
    assert panel.busy()
    _settled(qtbot, panel)
    assert panel.computations == count + 1
    after = panel.result
    assert after.settings["rotation_deg"] == 30.0 and after.settings["stroke"] is False
    assert after.thread != threading.get_ident()
    assert not np.array_equal(after.mixed, first.mixed)
    rows = dict(after.operation_labels)
    labels = [label for label, _ in after.operation_labels]
    assert "Stroke weight (off)" in labels and "Rotation" in labels
    assert "±30°" in " ".join(tip for _, tip in after.operation_labels)
    assert rows["source"]

    # A setting outside [augment] does not recompute.
    count = panel.computations
    doc.set_values({"train": {"epochs": 3}})
    qtbot.wait(500)
    assert panel.computations == count and not panel.busy()

    # New samples: other glyphs or other draws, at once.
    before = panel.result.mixed
    panel.reseed_btn.click()
    _settled(qtbot, panel)
    assert panel.result.seed == 1 and not np.array_equal(panel.result.mixed, before)
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)


def test_disabled_augmentation_shows_identical_rows_and_says_so(qtbot, tmp_path):
    doc, panel = _panel(qtbot, _project(tmp_path / "p"))
    _settled(qtbot, panel)
    doc.set_values({"augment": {"enabled": False}})
    _settled(qtbot, panel)
    res = panel.result
    assert res.state == "disabled" and "disabled" in panel.status.text()
    n = len(res.mixed_labels)
    mixed = _cells(res.mixed, n, 1 + VARIANTS, separator=True)
    for i in range(n):
        assert (mixed[i] != 255).any()  # a glyph is there (dark ink on white paper)
        for j in range(1, 1 + VARIANTS):
            assert np.array_equal(mixed[i, j], mixed[i, 0]), (i, j)
    ops = _cells(res.operations, 1 + len(ap.OPERATIONS), VARIANTS, separator=False)
    for k in range(1, ops.shape[0]):
        assert np.array_equal(ops[k], ops[0]), k
    assert all(label.endswith("(off)") for label, _ in res.operation_labels[1:])

    doc.set_values({"augment": {"enabled": True}})
    _settled(qtbot, panel)
    n = len(panel.result.mixed_labels)
    mixed = _cells(panel.result.mixed, n, 1 + VARIANTS, separator=True)
    assert any(not np.array_equal(mixed[i, j], mixed[i, 0])
               for i in range(n) for j in range(1, 1 + VARIANTS))
    assert "disabled" not in panel.status.text()
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)


def test_pixels_are_painted_as_squares(qtbot, tmp_path):
    from PySide6.QtGui import QImage

    doc, panel = _panel(qtbot, _project(tmp_path / "p"))
    _settled(qtbot, panel)
    view = panel.mixed_view
    picture = panel.result.mixed
    view.resize(view._label_width() + 3 * picture.shape[1] + 5, 3 * picture.shape[0] + 5)
    assert view.scale() == 3.0
    img = view.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    lw = view._label_width()
    h, w = picture.shape
    stride = img.bytesPerLine()
    raw = np.frombuffer(img.constBits(), np.uint8, count=stride * img.height())
    shown = raw.reshape(img.height(), stride)[:3 * h, lw:lw + 3 * w]
    expected = np.repeat(np.repeat(picture, 3, axis=0), 3, axis=1)
    assert np.array_equal(shown, expected)  # no smoothing: every source pixel a 3×3 block
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)


def test_train_tab_brings_the_preview_forward_on_an_augment_edit(make_window, qtbot,
                                                                 rendered_dir):
    w = make_window(rendered_dir)
    tab = w.train_tab
    w.tabs.setCurrentWidget(tab)
    preview = tab.augment_preview
    assert tab.views.currentWidget() is tab.plots
    _settled(qtbot, preview)
    before = preview.result.mixed
    tab.form.editors["augment.rotation_deg"].widget.setValue(25.0)
    assert tab.views.currentWidget() is preview
    qtbot.waitUntil(lambda: preview.result is not None
                    and preview.result.settings["rotation_deg"] == 25.0, timeout=60_000)
    assert not np.array_equal(preview.result.mixed, before)


def test_a_tall_panel_shows_more_glyphs_not_blank_space(qtbot, tmp_path):
    from siam_workbench.app.augment_panel import MAX_SAMPLES

    root = _project(tmp_path / "p", rendered=False)
    _write_train(root / "data" / "train.h5", classes=20)
    doc, panel = _panel(qtbot, root)
    panel.resize(900, 300)
    qtbot.waitUntil(lambda: panel.result is not None and not panel.busy()
                    and panel.wanted_samples() == panel.samples, timeout=60_000)
    short = len(panel.result.mixed_labels)
    panel.resize(900, 1000)
    qtbot.waitUntil(lambda: not panel.busy() and len(panel.result.mixed_labels) > short,
                    timeout=60_000)
    qtbot.waitUntil(lambda: not panel.busy() and panel.wanted_samples() == panel.samples,
                    timeout=60_000)
    view = panel.mixed_view
    rows = len(panel.result.mixed_labels)
    assert SAMPLES <= short < rows <= MAX_SAMPLES
    # The picture fills the view: its painted height is most of the view's (or all rows).
    painted = view.image.height() * view.scale()
    assert painted >= 0.6 * view.height() or rows == MAX_SAMPLES
    assert view.scale() >= 1
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)

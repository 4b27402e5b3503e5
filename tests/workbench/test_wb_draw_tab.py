"""Draw tab: a drawing traced with simulated mouse strokes is recognised by a trained model,
labelled into drawn.h5 (valid, survives reopening), reviewed, evaluated; bad checkpoints and
drawings files are explained inline."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from wb2_helpers import class_strokes, trained_tiny

from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.draw_tab import DrawTab
from siam_workbench.app.workers import live_threads
from siam_workbench.data.drawn import DrawnStore
from siam_workbench.data.glyphs import GlyphFile
from siam_workbench.infer.query import prepare
from siam_workbench.project.project import load_project

SCALE, OFFSET = 9.0, 14  # 37-px synthetic glyph coordinates → 360-px canvas
PEN = 22  # ≈ the synthetic strokes' width once both are normalised to the network's 37 px


def _open(qtbot, root: Path, wait_model: bool = True) -> tuple[ProjectDocument, DrawTab]:
    doc = ProjectDocument()
    doc.set_project(load_project(root))
    tab = DrawTab(doc)
    qtbot.addWidget(tab)
    tab.resize(1080, 760)
    tab.show()
    if wait_model:
        qtbot.waitUntil(lambda: tab.run_model is not None, timeout=60_000)
    return doc, tab


def _idle(qtbot, tab: DrawTab) -> None:
    qtbot.waitUntil(lambda: not tab.busy() and not live_threads(), timeout=60_000)


def _canvas_points(x0: float, y0: float, x1: float, y1: float, steps: int = 8,
                   view: float = 1.0) -> list[QPoint]:
    """Screen points of a segment; ``view`` is the canvas's screen pixels per logical pixel
    (the canvas grows with the window, the drawing's coordinates do not)."""
    t = np.linspace(0.0, 1.0, steps + 1)
    xs, ys = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
    return [QPoint(int(round(view * (OFFSET + SCALE * x))), int(round(view * (OFFSET + SCALE * y))))
            for x, y in zip(xs, ys)]


def trace_class(canvas, label: int) -> None:
    """Draw class ``label``'s three strokes with mouse press / move / release."""
    canvas.set_pen_width(PEN)
    for seg in class_strokes(12)[label]:
        pts = _canvas_points(*seg, view=canvas.view_scale())
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         pts[0])
        for p in pts[1:]:
            QTest.mouseMove(canvas, p)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           pts[-1])


def draw_class(canvas, label: int) -> None:
    """The same strokes added programmatically (faster, for drawings that are not the point)."""
    for x0, y0, x1, y1 in class_strokes(12)[label]:
        canvas.draw_polyline([(OFFSET + SCALE * x0, OFFSET + SCALE * y0),
                              (OFFSET + SCALE * x1, OFFSET + SCALE * y1)], PEN)


def test_traced_glyph_recognised_labelled_and_reopened(qtbot, tmp_path, recorder):
    root = trained_tiny().copy_to(tmp_path / "p")
    doc, tab = _open(qtbot, root)
    assert tab.run_model.run_dir.name == "run-ap-ac"

    # Empty canvas: a hint, no query, nothing to save.
    assert tab.canvas.is_empty() and "Draw a character" in tab.hint.text()
    assert tab.matches == [] and tab.prepared is None and not tab.save_btn.isEnabled()

    target = 3  # class "D"
    trace_class(tab.canvas, target)
    assert len(tab.canvas.ops) == 3 and not tab.canvas.is_empty()
    qtbot.waitUntil(lambda: len(tab.matches) == 5 and tab.prepared is not None, timeout=60_000)
    _idle(qtbot, tab)
    # The preview is exactly what the network sees.
    np.testing.assert_array_equal(tab.prepared, prepare(tab.canvas.image(), 37))
    top5 = [m.label for m in tab.matches]
    assert "D" in top5, top5
    assert all(0 <= m.confidence <= 1 for m in tab.matches)
    assert [r.isVisible() for r in tab.result_rows[:6]] == [True] * 5 + [False]
    assert tab.label() == top5[0]  # the top class is proposed

    tab.k_spin.setValue(8)
    qtbot.waitUntil(lambda: len(tab.matches) == 8, timeout=60_000)
    _idle(qtbot, tab)

    # Pick "D" among the results (it may not be first), then save.
    row = next(r for r in tab.result_rows if r.isVisible() and r.label == "D")
    row.button.click()
    assert tab.label() == "D" and tab.save_btn.isEnabled()
    tab.save_btn.click()
    path = root / "drawn.h5"
    with GlyphFile(path) as gf:  # a valid glyph file
        assert gf.classes == ["D"] and len(gf) == 1 and gf.image_size == 37
        assert gf.source_names == ["drawn"]
        assert gf.images().max() == 255
    assert tab.canvas.is_empty() and tab.drawings_list.count() == 1
    assert "Saved as “D” (1 drawing)" in tab.store_message.text()

    # Reopening the project finds it again, with the full-size original.
    doc.set_project(load_project(root))
    assert tab.store is not None and len(tab.store) == 1
    assert tab.store.drawings[0].label == "D"
    assert tab.store.drawings[0].original.shape == (360, 360)
    assert tab.drawings_list.count() == 1 and not tab.store.warning
    _idle(qtbot, tab)

    # Canvas editing: undo / redo / clear (clear is undoable).
    qtbot.waitUntil(lambda: tab.run_model is not None, timeout=60_000)
    draw_class(tab.canvas, 0)
    assert tab.undo_btn.isEnabled() and not tab.redo_btn.isEnabled()
    tab.undo_btn.click()
    assert len(tab.canvas._visible_ops()) == 2 and tab.redo_btn.isEnabled()
    tab.redo_btn.click()
    tab.clear_btn.click()
    assert tab.canvas.is_empty()
    tab.undo_btn.click()
    assert not tab.canvas.is_empty()
    tab.eraser_btn.click()
    assert tab.canvas.eraser
    _idle(qtbot, tab)


def test_review_relabel_delete_evaluate_and_include(qtbot, tmp_path, recorder):
    root = trained_tiny().copy_to(tmp_path / "p")
    doc, tab = _open(qtbot, root)
    for label, text in ((3, "D"), (4, "E")):
        draw_class(tab.canvas, label)
        qtbot.waitUntil(lambda: bool(tab.matches), timeout=60_000)
        tab.set_label(text)
        assert tab.save_drawing()
    assert [d.label for d in tab.store.drawings] == ["D", "E"]

    # Relabel the first as "F" (searchable: typed as U+0046).
    tab.drawings_list.item(0).setSelected(True)
    tab.label_combo.setEditText("U+0046")
    assert tab.label() == "F"
    tab.relabel_btn.click()
    assert [d.label for d in DrawnStore(root / "drawn.h5").drawings] == ["F", "E"]

    # Evaluate: accuracy over the drawings and the misrecognised one (drawn D, labelled F).
    tab.eval_btn.click()
    qtbot.waitUntil(lambda: "top-1" in tab.eval_label.text(), timeout=60_000)
    assert "of 2 drawing(s)" in tab.eval_label.text()
    missed = [tab.missed_list.item(i).text() for i in range(tab.missed_list.count())]
    assert any("drawn “F”" in m for m in missed), missed

    # Delete (confirmed by the recorded dialog).
    tab.drawings_list.clearSelection()
    tab.drawings_list.item(0).setSelected(True)
    tab.delete_btn.click()
    assert recorder.shown[-1].kind == "ask"
    assert [d.label for d in DrawnStore(root / "drawn.h5").drawings] == ["E"]

    # "Add drawings to the training data" is data.include_drawn, undoable.
    assert not doc.config.data.include_drawn
    tab.include_check.click()
    assert doc.config.data.include_drawn and doc.modified
    doc.undo_stack.undo()
    assert not doc.config.data.include_drawn and not tab.include_check.isChecked()
    _idle(qtbot, tab)


def test_bad_checkpoint_and_files_edited_outside(qtbot, tmp_path, recorder):
    root = trained_tiny().copy_to(tmp_path / "p")
    run = root / "runs" / "run-ap-ac" / "checkpoints"
    (run / "best.pt").write_bytes(b"not a checkpoint")
    # A drawings file edited outside the app: /originals removed.
    store = DrawnStore(root / "drawn.h5")
    store.add(np.pad(np.full((40, 40), 255, np.uint8), 20), "A")
    with h5py.File(root / "drawn.h5", "a") as h5:
        del h5["originals"]

    doc, tab = _open(qtbot, root, wait_model=False)
    qtbot.waitUntil(lambda: tab.model_status.property("role") == "error", timeout=60_000)
    assert "Cannot load run-ap-ac" in tab.model_status.text() and tab.run_model is None
    assert "best.pt" in tab.model_status.toolTip()  # the SiamError names the file
    assert "no /originals" in tab.store_message.text()  # DrawnStore.warning, shown
    assert tab.drawings_list.count() == 1  # nothing lost
    # Drawing still shows what the network would see, without a model.
    draw_class(tab.canvas, 1)
    qtbot.waitUntil(lambda: tab.prepared is not None, timeout=60_000)
    assert tab.matches == [] and "No model" in tab.results_message.text()
    _idle(qtbot, tab)

    # A drawings file that is not HDF5: reported, saving off, the file left as it was.
    garbage = b"this is not hdf5"
    (root / "drawn.h5").write_bytes(garbage)
    tab.load_store()
    assert tab.store is None and "Cannot read the drawings" in tab.store_message.text()
    tab.set_label("B")
    assert not tab.save_btn.isEnabled() and not tab.save_drawing()
    assert (root / "drawn.h5").read_bytes() == garbage
    _idle(qtbot, tab)


def _type_label(qtbot, tab: DrawTab, text: str) -> None:
    """Type into the label field as a user does (the completer popup may open)."""
    edit = tab.label_combo.lineEdit()
    edit.setFocus()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, text)
    completer = tab.label_combo.completer()
    if completer is not None and completer.completionCount() and \
            completer.completionMode() != completer.CompletionMode.InlineCompletion:
        completer.complete()  # as a real keyboard focus would: the popup is up when clicking


def test_typed_label_saved_on_first_click_on_enter_and_by_key(qtbot, tmp_path, recorder):
    """Issue 21 #1: a typed label must survive the completer — one click, Enter, or the key."""
    root = trained_tiny().copy_to(tmp_path / "p")
    _doc, tab = _open(qtbot, root)

    def drawn() -> int:
        return len(DrawnStore(root / "drawn.h5").drawings) if (root / "drawn.h5").exists() else 0

    # Typed, then one click on the button.
    draw_class(tab.canvas, 1)
    qtbot.waitUntil(lambda: bool(tab.matches), timeout=60_000)
    _type_label(qtbot, tab, "T")
    assert QApplication.activePopupWidget() is None  # nothing to swallow the click
    QTest.mouseClick(tab.save_btn, Qt.MouseButton.LeftButton)
    assert drawn() == 1 and tab.store.drawings[-1].label == "T"
    assert "Saved as “T” (1 drawing)" in tab.store_message.text(), tab.store_message.text()
    assert tab.canvas.is_empty()

    # Typed, then Enter in the label field.
    draw_class(tab.canvas, 2)
    _type_label(qtbot, tab, "x")
    QTest.keyClick(tab.label_combo.lineEdit(), Qt.Key.Key_Return)
    assert drawn() == 2 and tab.store.drawings[-1].label == "x"
    assert "Saved as “x” (2 drawings)" in tab.store_message.text()

    # The key, from anywhere in the tab.
    draw_class(tab.canvas, 3)
    _type_label(qtbot, tab, "D")
    tab.canvas.setFocus()
    QTest.keyClick(tab.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert drawn() == 3

    # Twelve scripted saves (type, click) → twelve drawings, none lost.
    for i in range(9):
        draw_class(tab.canvas, i % 10)
        qtbot.waitUntil(lambda: not tab.busy(), timeout=60_000)
        _type_label(qtbot, tab, "ABCDEFGHIJ"[i])
        QTest.mouseClick(tab.save_btn, Qt.MouseButton.LeftButton)
    assert drawn() == 12, drawn()
    assert "(12 drawings)" in tab.store_message.text()
    assert tab.drawings_list.count() == 12
    _idle(qtbot, tab)

"""Data tab: font table (coverage, roles, samples), role edits, rendering, glyph browser."""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import Qt
from tests_workbench_helpers import wait_fonts, wait_idle

from siam_workbench.app.project_panel import DETAIL_ROLE
from siam_workbench.base.errors import Cancelled
from siam_workbench.data.glyphs import GlyphFile


def _row(tab, file_name):
    return next(r for r in tab.model.rows if not r.missing and r.face.path.name == file_name)


def test_font_table_shows_coverage_roles_and_samples(make_window, qtbot, project_dir):
    w = make_window(project_dir)
    tab = w.data_tab
    wait_fonts(qtbot, w)
    assert tab.classes == list("0123456789")
    sans = _row(tab, "DejaVuSans.ttf")
    assert sans.coverage == 1.0 and sans.role == "train" and not sans.auto
    assert sans.sample is not None and not sans.sample.isNull()
    assert _row(tab, "DejaVuSerif.ttf").role == "val"
    assert _row(tab, "DejaVuSansMono.ttf").role == "test"
    others = [r for r in tab.model.rows if r.face.path.name not in
              ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf",
               "DejaVuSansMono.ttf")]
    assert all(r.role == "unused" for r in others)
    assert "train 2, val 1, test 1" in tab.font_status.text()
    total = tab.proxy.rowCount()
    tab.filter.setText("dejavu serif")
    assert 0 < tab.proxy.rowCount() < total
    tab.filter.clear()
    tab.role_filter.setCurrentIndex(tab.role_filter.findData("train"))
    assert tab.proxy.rowCount() == 2


def test_assign_role_is_an_undoable_project_edit(make_window, qtbot, project_dir):
    w = make_window(project_dir)
    tab = w.data_tab
    wait_fonts(qtbot, w)
    assert tab.select_faces(lambda r: not r.missing and r.face.path.name ==
                            "DejaVuSerif-Bold.ttf") == 1
    assert tab.role_buttons["test"].isEnabled()
    tab.role_buttons["test"].click()
    assert w.project.config.data.test_fonts == ["DejaVuSansMono.ttf", "DejaVuSerif-Bold.ttf"]
    assert w.isWindowModified()
    wait_fonts(qtbot, w)
    assert _row(tab, "DejaVuSerif-Bold.ttf").role == "test"
    w.undo_act.trigger()
    assert w.project.config.data.test_fonts == ["DejaVuSansMono.ttf"]
    wait_fonts(qtbot, w)
    assert _row(tab, "DejaVuSerif-Bold.ttf").role == "unused"


def test_assigning_from_an_automatic_split_writes_it_out(make_window, qtbot, tmp_path):
    from conftest import write_project

    root = write_project(tmp_path / "auto")
    toml = root / "project.toml"
    text = toml.read_text()
    for role in ("train", "val", "test"):
        start = text.index(f"{role}_fonts = [")
        text = text[:start] + f"{role}_fonts = []" + text[text.index("]", start) + 1:]
    toml.write_text(text)
    w = make_window(root)
    tab = w.data_tab
    wait_fonts(qtbot, w)
    auto = [r for r in tab.model.rows if r.role in ("train", "val", "test")]
    assert auto and all(r.auto for r in auto)
    victim = next(r for r in auto if r.role == "train")
    assert tab.assign_role("unused", [victim])
    d = w.project.config.data
    assert d.train_fonts and d.val_fonts and d.test_fonts  # now explicit
    assert victim.token not in d.train_fonts
    wait_fonts(qtbot, w)
    assert _row(tab, victim.face.path.name).role == "unused"


def test_render_from_the_data_tab_then_browse_and_exclude(make_window, qtbot, recorder,
                                                          project_dir):
    w = make_window(project_dir)
    tab = w.data_tab
    wait_fonts(qtbot, w)
    tab.render_btn.click()
    assert tab.busy and w.state_label.text() == "rendering"
    wait_idle(qtbot, w)
    assert set(tab.last_render) == {"train", "val", "test"}
    assert "Rendered" in tab.render_info.text()
    info = {w.panel.datasets.child(i).text(0).split()[0]:
            w.panel.datasets.child(i).data(0, DETAIL_ROLE) for i in range(3)}
    assert info["train"] == "20 samples · 10 classes", info
    assert info["test"].startswith("20 samples")  # one face × 10 classes × 2 variants

    b = tab.browser
    qtbot.waitUntil(lambda: b.model.page is not None and not b.busy(), timeout=60_000)
    assert b.model.rowCount() == 10 and b.model.columnCount() == 2
    idx = b.model.index(3, 1)
    row = b.model.file_row(idx)
    assert idx.data(Qt.ItemDataRole.DecorationRole) is not None
    rect = b.view.visualRect(idx)
    qtbot.mouseClick(b.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with GlyphFile(project_dir / "data" / "train.h5") as gf:
        assert gf.excluded[row] and gf.excluded.sum() == 1
    assert "1 excluded" in w.panel.datasets.child(0).data(0, DETAIL_ROLE)
    qtbot.mouseClick(b.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with GlyphFile(project_dir / "data" / "train.h5") as gf:
        assert not gf.excluded.any()

    assert b.find_class("7") == 7 and b.find_class("U+0037") == 7
    assert b.find_class("x") is None

    # Rendering again asks before replacing the files (answer: no).
    recorder.ask_answer = False
    w.data_tab.render()
    assert recorder.shown[-1].title == "Replace datasets?"
    assert w.data_tab.render_runner is None


def test_render_cancel_leaves_no_file(make_window, qtbot, recorder, project_dir, monkeypatch):
    import siam_workbench.data.render_splits

    started = threading.Event()

    def slow_render(project, *, progress=None, cancel=None, force=False, workers=None):
        for i in range(10_000):
            started.set()
            progress(i, 10_000)
            if cancel.is_set():
                raise Cancelled()
            time.sleep(0.005)
        raise AssertionError("not cancelled")

    monkeypatch.setattr(siam_workbench.data.render_splits, "render_splits", slow_render)
    w = make_window(project_dir)
    tab = w.data_tab
    assert tab.render()
    qtbot.waitUntil(lambda: "glyphs/s" in tab.render_info.text(), timeout=60_000)
    assert tab.cancel_btn.isEnabled()
    tab.cancel_btn.click()
    wait_idle(qtbot, w, timeout=60_000)
    assert "Render cancelled, nothing written" in tab.render_info.text()
    assert not recorder.errors()
    assert not (project_dir / "data" / "train.h5").exists()


def test_render_into_an_unwritable_folder_is_a_dialog(make_window, qtbot, recorder,
                                                      project_dir):
    (project_dir / "blocker").write_text("a file where the data folder should be")
    toml = project_dir / "project.toml"
    toml.write_text(toml.read_text().replace('[data]\n', '[data]\ntrain = "blocker/train.h5"\n'))
    w = make_window(project_dir)
    wait_fonts(qtbot, w)
    assert w.data_tab.render()
    wait_idle(qtbot, w)
    errors = recorder.errors()
    assert errors and "blocker" in errors[-1].text and "left unchanged" in errors[-1].text
    assert w.isVisible() and w.data_tab.render_btn.isEnabled()
    assert (project_dir / "blocker").read_text().startswith("a file")


def test_custom_alphabet_from_text(make_window, qtbot, project_dir):
    w = make_window(project_dir)
    tab = w.data_tab
    assert tab.use_custom_text("ABC\n")
    assert w.project.config.data.alphabet == "alphabet.txt"
    assert (project_dir / "alphabet.txt").read_text() == "A\nB\nC\n"
    assert tab.classes == ["A", "B", "C"]
    wait_fonts(qtbot, w)
    assert _row(tab, "DejaVuSans.ttf").coverage == 1.0
    w.undo_act.trigger()
    assert tab.classes == list("0123456789")


def test_glyph_page_index_groups_variants(rendered_dir):
    from siam_workbench.app.glyph_browser import build_index, load_page

    ix = build_index(rendered_dir / "data" / "test.h5")
    assert ix.variants == 2 and len(ix.columns()) == 2
    page = load_page(ix, 0)
    assert len(page.cells) == 20
    rows = sorted(page.cells.values())
    assert rows == list(range(20))
    assert all(isinstance(img, np.ndarray) for img in page.images.values())

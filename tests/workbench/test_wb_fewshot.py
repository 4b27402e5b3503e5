"""Few-shot in the GUI: the Evaluate page's episode mode (same numbers as siam eval --episodes,
on a worker thread with progress) and the Draw tab's enrolment of drawings outside the
alphabet, whose classes the nearest-classes list marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from wb2_helpers import trained_tiny

from siam_workbench.app.workers import live_threads


class Glyphs:
    def pixmap(self, text: str, px: int = 32) -> QPixmap:
        pm = QPixmap(px, px)
        pm.fill(Qt.GlobalColor.white)
        return pm


@pytest.fixture(scope="module", autouse=True)
def _trained_before_the_hang_guard():
    """Train the shared tiny run outside any one test's time limit (a loaded machine)."""
    trained_tiny()


def test_few_shot_mode_shows_episodes_beside_pixel_nn(qtbot, tmp_path):
    from siam_workbench.app.evaluate_panel import EvaluatePanel
    from siam_workbench.infer.episodes import evaluate_episodes
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.project.project import load_project

    root = trained_tiny().copy_to(tmp_path / "p")
    project = load_project(root)
    panel = EvaluatePanel(Glyphs())
    qtbot.addWidget(panel)
    panel.resize(1100, 600)
    panel.show()
    panel.set_runs(project, project.runs())
    panel.select_split("val")
    box = panel.fewshot
    assert not box.way.isEnabled()
    box.enabled_box.setChecked(True)
    assert box.way.isEnabled()
    box.way.setValue(4)
    box.shot.setValue(1)
    box.episodes.setValue(25)
    box.seed.setValue(3)
    progress: list[tuple[int, int]] = []
    assert panel.start()
    panel.job.progress.connect(lambda d, t: progress.append((d, t)))
    qtbot.waitUntil(lambda: panel.last is not None and not panel.busy(), timeout=120_000)
    r = panel.last["episodes"]
    text = panel.summary.text()
    assert "4-way 1-shot" in text and "pixel 1-NN" in text and "±" in text
    # The per-class tables are filled from the episodes' queries (issue 21): every class an
    # episode drew has a row, its counts add up to the queries, and they are the engine's.
    assert panel.tables.isVisible() and panel.fewshot_note.isVisible()
    assert "among its episode's 4 classes" in panel.fewshot_note.text()
    rows = panel.model.rows
    assert rows and sum(row.n for row in rows) == r["queries_total"]
    assert panel.model.rowCount() == len(rows)
    assert panel.table.model().index(0, 0).data() == rows[0].name
    assert panel.pairs.count() >= 1
    wrong = sum(round(row.n * (1 - row.top1)) for row in rows)
    assert wrong == round(r["queries_total"] * (1 - r["top1"]))
    if wrong:  # the confusions are listed as glyph pairs, the worst class read as another
        assert "↔" in panel.pairs.item(0).text()
        assert any(row.confused_with for row in rows)
    ref = evaluate_episodes(load_run(panel.run_combo.currentData()), root / "data" / "val.h5",
                            episodes=25, way=4, shot=1, seed=3, keep_predictions=True)
    assert (r["top1"], r["pixel_top1"]) == (ref["top1"], ref["pixel_top1"])
    from siam_workbench.infer.evaluate import per_class_table

    engine = per_class_table(ref, ref["class_names"])
    assert sorted((x.name, x.n, x.top1, x.confused_with) for x in engine) == \
        sorted((x.name, x.n, x.top1, x.confused_with) for x in rows)
    assert f"{ref['top1']:.1%}" in text
    if progress:
        assert progress[-1][0] <= 25
    # impossible options: one line in the summary, nothing hangs
    box.way.setValue(50)
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=120_000)
    assert "fewer than 50" in panel.summary.text()
    box.enabled_box.setChecked(False)  # back to nearest trained center: no few-shot note
    assert panel.tables.isVisible() and not panel.fewshot_note.isVisible()
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)


def test_draw_tab_enrols_drawings_and_marks_enrolled(qtbot, tmp_path):
    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.draw.enrol_box import ENROLLED_MARK
    from siam_workbench.app.draw_tab import DrawTab
    from siam_workbench.data.drawn import DrawnStore
    from siam_workbench.infer.classset import read_class_set
    from siam_workbench.project.project import load_project
    from tests.core.infer.fewshot_helpers import shape_image

    root = trained_tiny().copy_to(tmp_path / "p")
    store = DrawnStore(root / "drawn.h5", 37)
    for v in range(3):
        store.add(shape_image("ring", v), "ring")
    store.add(shape_image("box", 0), "B")  # a class of the alphabet
    doc = ProjectDocument()
    doc.set_project(load_project(root))
    tab = DrawTab(doc)
    qtbot.addWidget(tab)
    tab.resize(1200, 700)
    tab.show()
    qtbot.waitUntil(lambda: tab.run_model is not None, timeout=60_000)
    enrol = tab.enrol_box
    tab.set_label("B")
    assert not enrol.button.isEnabled() and "already a class" in enrol.button.toolTip()
    tab.set_label("ring")
    assert enrol.button.isEnabled() and "3 drawing(s)" in enrol.button.toolTip()
    enrol.button.click()
    qtbot.waitUntil(lambda: enrol.runner is None and "enrolled" in enrol.status.text(),
                    timeout=60_000)
    run_dir = Path(tab.run_combo.currentData())
    assert [s.origin for s in read_class_set(run_dir).get("ring").samples] == \
        ["drawn.h5#0", "drawn.h5#1", "drawn.h5#2"]
    qtbot.waitUntil(lambda: tab.run_model is not None and "ring" in tab.run_model.enrolled,
                    timeout=60_000)
    # the nearest classes of a ring drawing: the enrolled class, marked
    from siam_workbench.infer.query import query

    (matches,) = query(tab.run_model, [shape_image("ring", 1)])
    tab._show_matches(matches)
    texts = [r.button.text() for r in tab.result_rows if not r.isHidden()]
    assert any("ring" in t and ENROLLED_MARK in t for t in texts)
    assert all(ENROLLED_MARK not in t for t in texts if "ring" not in t)
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)

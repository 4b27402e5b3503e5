"""Data tab: imported sources listed with their roles beside (or instead of) the font table."""

from __future__ import annotations

from pathlib import Path

from tests_workbench_helpers import wait_fonts

from siam_workbench.data.glyphs import GlyphWriter
from tests.conftest import synth_glyphs


def _samples(path: Path, sources: int = 5, classes: tuple[str, ...] = ("0", "1", "2")) -> Path:
    images, labels, src = synth_glyphs(len(classes), sources)
    with GlyphWriter(path, list(classes), [f"drawer{i + 1:02d}" for i in range(sources)], 37,
                     render={"importer": "omniglot", "size": 37, "margin": 2}) as w:
        w.append(images, labels, src)
    return path


def test_samples_project_lists_sources_with_roles_and_no_fonts(make_window, qtbot,
                                                               tmp_path: Path):
    from siam_workbench.project.config import Config
    from siam_workbench.project.sample_projects import create_samples_project

    project, record = create_samples_project(tmp_path / "real", [_samples(tmp_path / "s.h5")],
                                             Config(), split="60/20/20", seed=1)
    w = make_window(project.root)
    tab = w.data_tab
    wait_fonts(qtbot, w)
    panel = tab.samples_panel
    assert tab.samples_only and panel.isVisible() and not tab.font_box.isVisible()
    assert panel.table.rowCount() == 5
    shown = {panel.table.item(i, 0).text(): panel.table.item(i, 2).text()
             for i in range(panel.table.rowCount())}
    assert shown == {s["name"]: s["role"] for s in record["sources"]}
    assert panel.role_counts() == {"train": (3, 9), "val": (1, 3), "test": (1, 3)}
    text = panel.summary.text()
    assert "train 3 sources, 9 samples" in text and "seed 1" in text
    assert "train 0" not in text and not panel.error.isVisible()
    # Fonts are never rendered into it: the button is off and says why.
    assert not tab.render_btn.isEnabled()
    assert "imported samples" in tab.render_info.text()
    assert not tab.render(force=True)
    labels = [w.panel.datasets.child(i).text(0)
              for i in range(w.panel.datasets.childCount())]
    assert any(t.startswith("train · 3 sources") for t in labels), labels


def test_font_project_shows_added_samples_beside_the_fonts(make_window, qtbot, project_dir,
                                                           tmp_path: Path):
    w = make_window(project_dir)
    tab = w.data_tab
    wait_fonts(qtbot, w)
    assert not tab.samples_panel.isVisible() and tab.add_samples_btn.isEnabled()
    assert tab.add_samples([_samples(tmp_path / "s.h5")])  # the button's work, no dialog
    qtbot.waitUntil(lambda: not tab.busy, timeout=120_000)
    cfg = w.project.config.data
    assert cfg.extra_train == ["data/real-train.h5"] and cfg.samples == ["data/real-split.json"]
    assert w.isWindowModified()  # an undoable edit of project.toml, saved with the project
    wait_fonts(qtbot, w)
    assert not tab.samples_only and tab.font_box.isVisible()
    assert tab.samples_panel.isVisible() and tab.samples_panel.table.rowCount() == 5
    files = {tab.samples_panel.table.item(i, 4).text()
             for i in range(tab.samples_panel.table.rowCount())}
    assert files == {"data/real-train.h5", "data/real-val.h5", "data/real-test.h5"}
    assert "real-train.h5" in tab.split_note.text()
    assert tab.render_btn.isEnabled()
    assert "train 2, val 1, test 1" in tab.font_status.text()  # the fonts keep their roles
    w.undo_act.trigger()
    assert w.project.config.data.extra_train == []
    assert not tab.samples_panel.isVisible()

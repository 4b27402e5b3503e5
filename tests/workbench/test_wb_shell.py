"""Main window: opening projects (good and bad), tabs, panel, undo/save, settings isolation."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from PySide6.QtWidgets import QLabel

from siam_workbench.app import settings
from siam_workbench.app.main_window import TAB_NAMES, default_project
from siam_workbench.app.project_panel import DETAIL_ROLE


def test_opens_project_with_tabs_and_panel(make_window, project_dir, qtbot):
    w = make_window(project_dir)
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == list(TAB_NAMES)
    assert "tiny digits" in w.windowTitle()
    assert not w.isWindowModified()
    datasets = [w.panel.datasets.child(i) for i in range(w.panel.datasets.childCount())]
    assert [d.text(0).split()[0] for d in datasets] == ["train", "val", "test"]
    assert all(d.data(0, DETAIL_ROLE) == "not rendered" for d in datasets)
    # With no runs yet, the run-based tabs explain what is missing instead of a blank pane.
    for tab in (w.miners_tab, w.draw_tab, w.runs_tab):
        texts = " ".join(lab.text() for lab in tab.findChildren(QLabel) if not lab.isHidden())
        assert "run" in texts.lower(), (type(tab).__name__, texts)
    assert w.device_label.text()  # "CPU" or the CUDA device name
    # "loading…" while the parts load (fonts, glyph browser), then idle.
    assert w.state_label.text() in ("loading…", "idle")
    qtbot.waitUntil(lambda: w.tracker.done, timeout=120_000)
    assert w.state_label.text() == "idle"


def test_default_project_is_the_repositorys_quickstart():
    assert default_project().name == "quickstart"
    assert default_project().parent.name == "projects"


def test_settings_are_private_and_remember_projects(make_window, project_dir):
    make_window(project_dir)
    s = settings.settings()
    assert s.fileName().startswith(os.environ["SIAM_WORKBENCH_SETTINGS_DIR"])
    assert settings.last_project() == project_dir.resolve()
    assert settings.recent_projects()[0] == project_dir.resolve()


def test_folder_that_is_not_a_project_is_explained(make_window, recorder, tmp_path):
    w = make_window()
    empty = tmp_path / "empty"
    empty.mkdir()
    recorder.ask_answer = False
    assert not w.open_project(empty)
    assert recorder.shown[-1].kind == "ask" and "not a Siam Workbench project" in \
        recorder.shown[-1].text
    assert w.project is None and w.isVisible()
    recorder.ask_answer = True  # "create a project here?" → yes
    assert w.open_project(empty)
    assert (empty / "project.toml").exists() and w.project is not None


def test_invalid_value_names_the_key_and_can_be_reset(make_window, recorder, project_dir):
    toml = project_dir / "project.toml"
    toml.write_text(toml.read_text().replace("triplets = 8", "triplets = -5"))
    w = make_window()
    recorder.choose_answer = -1  # cancel: nothing opens, app stays up
    assert not w.open_project(project_dir)
    shown = recorder.shown[-1]
    assert shown.kind == "choose" and "train.triplets" in shown.text
    recorder.choose_answer = 1  # "Reset train.triplets to its default"
    assert w.open_project(project_dir)
    assert w.project.config.train.triplets == 512
    assert (project_dir / "project.toml.bak").read_text().count("triplets = -5") == 1
    assert tomllib.loads(toml.read_text())["data"]["alphabet"] == "digits"  # rest kept


def test_unknown_key_can_be_reset(make_window, recorder, project_dir):
    toml = project_dir / "project.toml"
    toml.write_text(toml.read_text() + "\n[loss]\nbogus = 1\n")
    w = make_window()
    recorder.choose_answer = 1
    assert w.open_project(project_dir)
    assert "bogus" not in toml.read_text()


def test_typo_key_is_renamed_keeping_its_value_and_comments(make_window, recorder,
                                                              project_dir):
    toml = project_dir / "project.toml"
    text = toml.read_text().replace("epochs = 2", "# how long\nepoch = 3  # typo")
    toml.write_text("# my notes on this project\n" + text)
    w = make_window()
    recorder.choose_answer = -1
    assert not w.open_project(project_dir)
    shown = recorder.shown[-1]
    assert "did you mean `epochs`" in shown.text
    recorder.choose_answer = 1  # "Rename train.epoch to train.epochs (keep its value)"
    assert w.open_project(project_dir)
    assert w.project.config.train.epochs == 3
    after = toml.read_text()
    assert "# my notes on this project" in after and "# how long" in after
    assert "epochs = 3  # typo" in after
    # Saving an edit keeps the comments too (tomlkit), and writes only what changed.
    w.train_tab.form.editors["train.lr"].widget.setValue(0.01)
    assert w.save_project()
    saved = toml.read_text()
    assert "# my notes on this project" in saved and "lr = 0.01" in saved
    assert "theta" not in saved  # defaults are not spelled out


def test_broken_toml_offers_editing_only(make_window, recorder, project_dir, monkeypatch):
    (project_dir / "project.toml").write_text("[train\nepochs = ")
    w = make_window()
    opened = []
    monkeypatch.setattr("siam_workbench.app.main_window.QDesktopServices.openUrl",
                        lambda url: opened.append(url.toLocalFile()))
    recorder.choose_answer = 0  # "Open project.toml for editing"
    assert not w.open_project(project_dir)
    assert "invalid TOML" in recorder.shown[-1].text
    assert opened == [str(project_dir / "project.toml")]
    assert w.isVisible()


def test_edits_are_undoable_title_shows_star_and_save_is_atomic(make_window, recorder,
                                                                 project_dir):
    w = make_window(project_dir)
    spin = w.train_tab.form.editors["train.epochs"].widget
    spin.setValue(7)
    assert w.project.config.train.epochs == 7
    assert w.isWindowModified() and w.undo_act.isEnabled()
    w.undo_act.trigger()
    assert w.project.config.train.epochs == 2 and spin.value() == 2
    assert not w.isWindowModified()
    w.redo_act.trigger()
    assert spin.value() == 7
    assert w.save_project()
    assert not w.isWindowModified()
    saved = tomllib.loads((project_dir / "project.toml").read_text())
    assert saved["train"]["epochs"] == 7
    assert not list(project_dir.glob(".project.toml.*"))  # no temp file left behind


def test_closing_with_unsaved_changes_asks(make_window, recorder, project_dir):
    w = make_window(project_dir)
    w.train_tab.form.editors["train.epochs"].widget.setValue(9)
    recorder.choose_answer = -1  # Cancel
    w.close()
    assert w.isVisible() and recorder.shown[-1].title == "Unsaved changes"
    recorder.choose_answer = 1  # Discard
    w.close()
    assert not w.isVisible()
    assert "epochs = 2" in (project_dir / "project.toml").read_text()


def test_save_failure_keeps_edits(make_window, recorder, project_dir, monkeypatch):
    w = make_window(project_dir)
    w.train_tab.form.editors["train.epochs"].widget.setValue(4)

    def refuse(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("siam_workbench.project.tomledit.save_project_file", refuse)
    assert not w.save_project()
    assert "No space left" in recorder.errors()[-1].text
    assert w.isWindowModified() and w.project.config.train.epochs == 4


def test_missing_font_named_in_roles_is_shown_not_fatal(make_window, qtbot, tmp_path):
    from tests_workbench_helpers import wait_fonts

    root = tmp_path / "p"
    from conftest import write_project

    write_project(root)
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace('"DejaVuSerif.ttf"]', '"GoneFont-Regular.ttf"]'))
    w = make_window(root)
    wait_fonts(qtbot, w)
    missing = [r for r in w.data_tab.model.rows if r.missing]
    assert [r.token for r in missing] == ["GoneFont-Regular.ttf"]
    assert missing[0].missing_role == "val"
    assert "matches no font face" in w.data_tab.roles_message.text()
    # Marking it unused removes the dead entry (undoable).
    assert w.data_tab.assign_role("unused", missing)
    assert "GoneFont-Regular.ttf" not in w.project.config.data.val_fonts
    wait_fonts(qtbot, w)
    assert not [r for r in w.data_tab.model.rows if r.missing]


def test_recent_menu_lists_projects(make_window, project_dir, tmp_path):
    from conftest import write_project

    other = write_project(tmp_path / "other")
    w = make_window(project_dir)
    assert w.open_project(other)
    w._fill_recent()
    texts = [a.text() for a in w.recent_menu.actions()]
    assert texts[:2] == [str(Path(other).resolve()), str(project_dir.resolve())]


def test_geometry_is_remembered(make_window, recorder, project_dir, monkeypatch):
    from siam_workbench.app.main_window import MainWindow

    w = make_window(project_dir)
    w.close()
    saved = settings.load_geometry("main")
    assert saved is not None
    # The offscreen screen clamps sizes, so check what is handed to Qt rather than pixels.
    restored = []
    monkeypatch.setattr(MainWindow, "restoreGeometry", lambda self, g: restored.append(g) or True)
    make_window()
    assert restored == [saved]

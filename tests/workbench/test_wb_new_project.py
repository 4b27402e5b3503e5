"""File › New project: the dialog sizes the project to its alphabet before creating it, as
``siam new`` does."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from siam_workbench.app.new_project_dialog import NewProjectDialog
from siam_workbench.project.project import load_project


def _ok(dialog: NewProjectDialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_the_dialog_previews_the_sized_recipe_and_refuses_a_bad_alphabet(qtbot, tmp_path):
    dialog = NewProjectDialog(tmp_path)
    qtbot.addWidget(dialog)
    dialog.alphabet.setCurrentIndex(dialog.alphabet.findData("digits"))
    assert "10 classes" in dialog.preview.text() and "triplet" in dialog.preview.text()
    assert "10 classes × 26 samples" in dialog.preview.text() and _ok(dialog).isEnabled()
    dialog.preset.setCurrentIndex(dialog.preset.findData("paper"))
    assert "metric" in dialog.preview.text() and "independent triplets" in dialog.preview.text()
    dialog.alphabet.setEditText(str(tmp_path / "missing.txt"))
    assert "missing.txt" in dialog.preview.text() and not _ok(dialog).isEnabled()
    letters = tmp_path / "mine.txt"
    letters.write_text("a\nb\nc\n", encoding="utf-8")
    dialog.alphabet.setEditText(str(letters))
    assert "3 classes" in dialog.preview.text() and _ok(dialog).isEnabled()
    folder, alphabet, preset = dialog.choice()
    assert alphabet == str(letters) and preset == "paper" and folder.parent == tmp_path


def test_new_project_from_the_window_is_sized_and_opened(make_window, tmp_path):
    win = make_window()
    letters = tmp_path / "greek-ish.txt"
    letters.write_text("\n".join("αβγδεζηθ") + "\n", encoding="utf-8")
    assert win.create_and_open(tmp_path / "p", str(letters), "recipe")
    assert win.doc.project is not None and win.doc.project.root == (tmp_path / "p").resolve()
    cfg = load_project(tmp_path / "p").config
    assert cfg.data.alphabet == "greek-ish.txt" and cfg.train.classes_per_batch == 8
    assert cfg.loss.kind == "triplet" and cfg.train.samples_per_class == 32


def test_recipe_defaults_undo_the_paper_preset_in_one_step(make_window, tmp_path):
    win = make_window()
    assert win.create_and_open(tmp_path / "p", "greek", "recipe")
    form = win.train_tab.form
    sized = win.doc.project.config
    win.train_tab.paper_btn.click()
    assert win.doc.project.config.loss.kind == "metric"
    win.train_tab.recipe_btn.click()
    cfg = win.doc.project.config
    assert cfg.loss.kind == "triplet" and cfg.mining.batch == "semihard"
    assert cfg.train.classes_per_batch == sized.train.classes_per_batch == 49
    assert cfg.train.iterations == sized.train.iterations
    assert form.values()["train"]["batch_mode"] == "pk"

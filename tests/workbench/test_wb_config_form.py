"""The Train-tab form is generated from siam_workbench.project.config.SCHEMA and validates as you
type."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from siam_workbench.app.config_form import TRAINING_SECTIONS
from siam_workbench.project.config import SCHEMA, paper_defaults


def _form(make_window, project_dir):
    w = make_window(project_dir)
    return w, w.train_tab.form


def test_one_editor_per_schema_field_with_matching_kind(make_window, project_dir):
    _, form = _form(make_window, project_dir)
    expected = {f"{s}.{k}": f for s in TRAINING_SECTIONS for k, f in SCHEMA[s].items()}
    assert set(form.editors) == set(expected)
    for name, f in expected.items():
        w = form.editors[name].widget
        assert f.help in w.toolTip(), name
        if f.choices:
            assert isinstance(w, QComboBox)
            assert [w.itemText(i) for i in range(w.count())] == list(f.choices)
        elif f.kind is bool:
            assert isinstance(w, QCheckBox)
        elif f.kind is int:
            assert isinstance(w, QSpinBox)
            if f.min is not None:
                assert w.minimum() == f.min
        elif f.kind is float:
            assert isinstance(w, QDoubleSpinBox)
            if f.max is not None:
                assert w.maximum() == f.max


def test_form_shows_project_values(make_window, project_dir):
    w, form = _form(make_window, project_dir)
    assert form.editors["train.triplets"].widget.value() == 8
    assert form.editors["mining.eta"].widget.value() == 5
    assert form.editors["loss.kind"].widget.currentText() == "triplet"  # the default recipe
    assert form.editors["train.lr"].widget.text() == "0.003"


def test_invalid_value_marks_key_and_disables_start(make_window, project_dir):
    w, form = _form(make_window, project_dir)
    start = w.train_tab.start_btn
    assert start.isEnabled()
    lr = form.editors["train.lr"].widget
    lr.lineEdit().setText("0")  # below min 1e-8
    assert not form.is_valid() and not start.isEnabled()
    assert "train.lr" in form.errors()["train.lr"]
    assert lr.property("invalid") == "true"  # red frame from style.qss
    assert form.message.isVisibleTo(form) and "train.lr" in form.message.text()
    assert w.project.config.train.lr == 0.003  # the invalid value never reached the project
    lr.lineEdit().setText("3e-4")
    assert form.is_valid() and start.isEnabled()
    assert not lr.property("invalid")
    assert w.project.config.train.lr == 3e-4


def test_relation_error_names_both_keys(make_window, project_dir):
    _, form = _form(make_window, project_dir)
    form.editors["augment.scale_min"].widget.lineEdit().setText("0.95")
    assert not form.is_valid()
    assert "augment.scale_min" in form.errors() and "augment.scale_max" in form.errors()
    form.editors["augment.scale_max"].widget.lineEdit().setText("0.99")
    assert form.is_valid()


def test_paper_defaults_in_one_undoable_step(make_window, project_dir):
    w, form = _form(make_window, project_dir)
    w.train_tab.paper_btn.click()
    paper = paper_defaults()
    assert w.project.config.train.triplets == paper["train"]["triplets"] == 10240
    assert form.editors["train.triplets"].widget.value() == 10240
    assert w.isWindowModified()
    w.undo_act.trigger()
    assert w.project.config.train.triplets == 8
    assert form.editors["train.triplets"].widget.value() == 8


def test_typing_merges_into_one_undo_step(make_window, project_dir):
    w, form = _form(make_window, project_dir)
    edit = form.editors["train.iterations"].widget.lineEdit()
    for text in ("1", "12", "123"):
        edit.setText(text)
    assert w.project.config.train.iterations == 123
    assert w.doc.undo_stack.count() == 1
    w.undo_act.trigger()
    assert w.project.config.train.iterations == 5

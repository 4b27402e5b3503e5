"""A plug-in is first-class in the GUI (issue 18): one file with a miner (its own parameter), a
loss (its own ``alpha``) and a backbone, written from the docs, shows its labels, greying,
parameters and help in the form and the Miners tab of a trusted project."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from wb2_helpers import write_synthetic_run

from siam_workbench.parts.losses import LOSSES
from siam_workbench.project import trust
from siam_workbench.project.config import SCHEMA
from siam_workbench.project.project import load_project
from siam_workbench.project.trust import plugin_paths
from tests.workbench.conftest import write_project

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugins" / "own_parts.py"


def _trusted_project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "own", extra="")
    (root / "plugins").mkdir()
    shutil.copy(PLUGIN, root / "plugins" / "own_parts.py")
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace(
        "[project]\n", '[project]\nplugins = ["plugins/own_parts.py"]\n').replace(
        "[mining]\n", '[mining]\npositive = "loose-first"\nloose_power = 1.5\n')
        + '\n[loss]\nkind = "triplet"\n\n[loss.soft-margin]\nalpha = 0.25\n')
    trust.trust(root, plugin_paths(root, ["plugins/own_parts.py"], toml))
    return root


def test_plugin_parts_show_labels_greying_parameters_and_help(make_window, qtbot, tmp_path):
    root = _trusted_project(tmp_path)
    w = make_window()
    assert w.open_project(root)
    assert w.doc.project.restricted is None
    # Its own α has a key of its own; the built-in margin is untouched.
    assert "soft-margin.alpha" in SCHEMA["loss"] and "soft-margin" in LOSSES
    assert w.doc.config.get("loss", "soft-margin.alpha") == 0.25
    assert w.doc.config.loss.alpha == 0.1

    form = w.train_tab.form
    own_alpha = form.editors["loss.soft-margin.alpha"]
    assert "α — soft margin on the sphere" in own_alpha.label.text()  # changed: marked
    assert not own_alpha.widget.isEnabled()  # the triplet loss is chosen
    assert "not used while loss.kind is triplet" in form.disabled_reasons[
        "loss.soft-margin.alpha"]
    power = form.editors["mining.loose_power"]
    assert "Spread exponent" in power.label.text() and power.widget.isEnabled()
    assert not form.editors["mining.gamma"].widget.isEnabled()  # AP is not the positive miner
    assert power.widget.value() == 1.5

    # The part choices carry each part's label and help, plug-ins included.
    kinds = form.editors["loss.kind"].widget
    i = kinds.findText("soft-margin")
    assert i >= 0 and "never saturates" in kinds.itemData(i, Qt.ItemDataRole.ToolTipRole)
    backbones = form.editors["model.backbone"].widget
    j = backbones.findText("tiny37")
    assert j >= 0 and "two convolutions" in backbones.itemData(j, Qt.ItemDataRole.ToolTipRole)
    assert "loose classes first" in form.editors["mining.positive"].widget.toolTip().lower()

    w.doc.set_values({"loss": {"kind": "soft-margin"}, "mining": {"positive": "random"}})
    assert own_alpha.widget.isEnabled() and not form.editors["loss.alpha"].widget.isEnabled()
    assert not power.widget.isEnabled()
    assert "mining.positive is random" in form.disabled_reasons["mining.loose_power"]
    w.doc.undo_stack.undo()

    # Written back under its own table, read back the same.
    assert w.save_project()
    text = (root / "project.toml").read_text()
    assert "[loss.soft-margin]" in text and load_project(root).config.get(
        "loss", "soft-margin.alpha") == 0.25

    # The Miners tab: the plug-in miner's parameters and its description.
    classes = [str(d) for d in range(10)]
    run = root / "runs" / "run-loose"
    write_synthetic_run(run, classes, positive="loose-first")
    cfg = run / "config.toml"
    assert "loose_power = 1.0" in cfg.read_text()
    cfg.write_text(cfg.read_text().replace("loose_power = 1.0", "loose_power = 1.5"))
    tab = w.miners_tab
    tab.refresh()
    with qtbot.waitSignal(tab.loaded, timeout=60_000):
        tab.show_run(root / "runs" / "run-loose")
    header = tab.miner_label.text()
    assert "loose-first" in header and "Spread exponent 1.5" in header
    assert "loose classes first" in tab.miner_label.toolTip().lower()
    w.show()
    w.tabs.setCurrentWidget(tab)
    tab.views.setCurrentWidget(tab.why)  # the Why view: the miners' own descriptions
    qtbot.waitUntil(lambda: "Loose" in tab.why.formula.text(), timeout=30_000)
    formula = tab.why.formula.text()
    assert "Loose classes first" in formula and "power = 1.5" in formula


def test_an_error_of_a_plugin_parts_own_setting_marks_its_editor(make_window, tmp_path):
    """A value the editor's range lets by but the config refuses (NaN) is reported on the
    editor of the namespaced key ``loss.soft-margin.alpha``, not only in the message."""
    root = _trusted_project(tmp_path)
    w = make_window()
    assert w.open_project(root)
    form = w.train_tab.form
    own = form.editors["loss.soft-margin.alpha"]
    own.widget.lineEdit().setText("nan")
    assert not form.is_valid()
    assert "loss.soft-margin.alpha must be finite" in form.errors()["loss.soft-margin.alpha"]
    assert own.widget.property("invalid") == "true"
    assert set(form.errors()) == {"loss.soft-margin.alpha"}  # not the built-in loss.alpha
    assert w.doc.config.get("loss", "soft-margin.alpha") == 0.25  # never reached the project
    own.widget.lineEdit().setText("0.5")
    assert form.is_valid() and not own.widget.property("invalid")
    assert w.doc.config.get("loss", "soft-margin.alpha") == 0.5


def test_error_settings_finds_flat_and_namespaced_keys():
    from siam_workbench.app.config_form import error_settings
    from siam_workbench.base.errors import SiamError

    known = {"augment.scale_min", "augment.scale_max", "loss.alpha", "loss.soft-margin.alpha",
             "mining.loose-first.gamma"}
    relation = SiamError("augment.scale_min must be ≤ augment.scale_max", section="augment",
                         key="scale_min")
    assert error_settings(relation, known) == ["augment.scale_min", "augment.scale_max"]
    assert error_settings(SiamError("loss.soft-margin.alpha must be finite, got nan"),
                          known) == ["loss.soft-margin.alpha"]
    assert error_settings(SiamError("mining.loose-first.gamma must be ≤ 8."), known) == \
        ["mining.loose-first.gamma"]
    assert error_settings(SiamError("loss.alpha must be a number."), known) == ["loss.alpha"]
    assert error_settings(SiamError("x", section="loss", key="soft-margin.alpha"), known) == \
        ["loss.soft-margin.alpha"]

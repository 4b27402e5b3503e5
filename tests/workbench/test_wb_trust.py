"""Opening a project in the workbench runs none of its plug-in code until the user trusts it
(issue 19): the dialog names each file and what it declares; restricted mode opens the
project with nothing run; trusting runs the plug-in; another project drops its parts."""

from __future__ import annotations

from pathlib import Path

from siam_workbench.parts.miners import MINERS
from siam_workbench.project import trust
from tests.workbench.conftest import write_project

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = (ROOT / "examples" / "plugins" / "error_miner.py").read_text() + """
from pathlib import Path as _P
_P(__file__).with_name("MARKER").write_text("plug-in code ran")
"""


def _sent(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "sent", extra="")
    (root / "plugins").mkdir()
    (root / "plugins" / "error_miner.py").write_text(PLUGIN)
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace('[project]\n',
                                             '[project]\nplugins = ["plugins/error_miner.py"]\n')
                    .replace("[mining]\n", '[mining]\npositive = "val-error"\n'))
    return root


def test_open_asks_and_restricted_mode_runs_nothing(make_window, recorder, tmp_path):
    root = _sent(tmp_path)
    marker = root / "plugins" / "MARKER"
    w = make_window()
    recorder.choose_answer = -1  # cancel: the project is not opened
    assert not w.open_project(root)
    assert w.doc.project is None and not marker.exists()
    asked = recorder.shown[-1]
    assert asked.kind == "choose" and "plugins/error_miner.py" in asked.text
    assert "miner 'val-error' (ValidationErrorMiner)" in asked.text
    assert "never trusted" in asked.text and "siam trust" in asked.text

    recorder.choose_answer = 1  # restricted mode
    assert w.open_project(root, ask_save=False)
    assert not marker.exists() and "val-error" not in MINERS["positive"]
    project = w.doc.project
    assert project is not None and project.restricted is not None
    assert "mining.positive" in project.restricted_keys
    assert f"siam trust {root.resolve()}" in w.statusBar().currentMessage()
    before = (root / "project.toml").read_text()
    assert not w.save_project()  # would lose mining.positive = "val-error"
    assert "saving the settings needs" in recorder.errors()[-1].text
    assert (root / "project.toml").read_text() == before
    assert not w.train_tab.start()  # says what trusting would enable
    assert recorder.errors()[-1].title == "Training needs trust"
    assert "siam trust" in recorder.errors()[-1].text and not (root / "runs").exists()


def test_trusting_in_the_dialog_runs_the_plugin_and_another_project_drops_it(
        make_window, recorder, tmp_path):
    root = _sent(tmp_path)
    other = write_project(tmp_path / "other")
    w = make_window()
    recorder.choose_answer = 0  # trust and open
    assert w.open_project(root)
    assert (root / "plugins" / "MARKER").exists()
    assert w.doc.project.restricted is None and w.doc.config.mining.positive == "val-error"
    assert str(root.resolve()) in trust.read_record()
    n = len(recorder.shown)
    assert w.open_project(other, ask_save=False)
    assert len(recorder.shown) == n  # a project without plug-ins asks nothing
    assert "val-error" not in MINERS["positive"]

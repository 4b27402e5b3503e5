"""Trust (issue 19): a project someone sent you runs no code until you say so.

The plug-in under test writes a marker file when it is imported; every command that opens a
project must leave no marker until ``siam trust`` and write it after.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.cli import main
from siam_workbench.model.backbones import MODELS
from siam_workbench.parts.losses import LOSSES
from siam_workbench.parts.miners import MINERS
from siam_workbench.project import plugins, trust
from siam_workbench.project.config import SCHEMA
from siam_workbench.project.project import load_project
from tests.conftest import make_tiny_project, trust_project

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "plugins" / "error_miner.py"

MARKER_PLUGIN = """
from pathlib import Path
Path(__file__).with_name("MARKER").write_text("plug-in code ran")
"""


def _with_plugins(root: Path, files: dict[str, str], listed: list[str] | None = None) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    entries = ", ".join(f'"{n}"' for n in (listed if listed is not None else files))
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace("[project]\n", f"[project]\nplugins = [{entries}]\n",
                                             1))
    return root


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny project with one finished run (made with built-in parts), then given a plug-in
    that writes ``MARKER``; the run folder."""
    from siam_workbench.train.trainer import Trainer

    root = make_tiny_project(tmp_path_factory.mktemp("trust") / "proj", positive="random",
                             negative="random", epochs=1, iterations=2)
    final = Trainer(load_project(root)).run()
    assert type(final).__name__ == "RunFinished", getattr(final, "message", "")
    (root / "chars.txt").write_text("A\nB\n")
    _with_plugins(root, {"plugins/marker.py": MARKER_PLUGIN})
    return root, final.run_dir


def _commands(root: Path, run: Path, tmp: Path) -> dict[str, list[str]]:
    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    return {
        "runs": ["runs", str(root)],
        "draw list": ["draw", "list", str(root)],
        "parts": ["parts", "--project", str(root)],
        "augment": ["augment", str(root), "--samples", "2", "--variants", "1",
                    "--out", str(root / "aug.png"), "--force"],
        "render": ["render", "--project", str(root), "--chars", str(root / "chars.txt"),
                   "--fonts", font, "--out", str(root / "r.h5"), "--workers", "1", "--force"],
        "eval": ["eval", str(run), "--no-record"],
        "train": ["train", str(root), "--epochs", "1", "--iterations", "1"],
    }


def test_no_command_runs_plugin_code_until_the_project_is_trusted(marked, tmp_path, capsys):
    root, run = marked
    marker = root / "plugins" / "MARKER"
    commands = _commands(root, run, tmp_path)
    for name, argv in commands.items():
        plugins.unload_project_plugins()
        code = main(argv)
        err = capsys.readouterr().err
        assert not marker.exists(), f"siam {name} ran the untrusted plug-in"
        assert "Traceback" not in err
        if name == "train":  # needs the plug-ins: refused, saying what trusting enables
            assert code == 2 and f"siam trust {root}" in err, err
            assert err.count("\n") == 1
        else:
            assert code == 0, (name, err)
    assert main(["trust", "--show", str(root)]) == 0
    out = capsys.readouterr().out
    assert "plugins/marker.py" in out and "not trusted (never trusted)" in out
    assert main(["trust", str(root)]) == 0 and not marker.exists()  # trusting runs nothing
    capsys.readouterr()
    for name, argv in commands.items():
        plugins.unload_project_plugins()  # as a fresh process would
        main(argv)
        err = capsys.readouterr().err
        assert marker.exists(), f"siam {name} did not load the trusted plug-in: {err}"
        assert "Traceback" not in err
        marker.unlink()


def test_a_changed_plugin_asks_again_and_revoke_forgets(tmp_path, capsys):
    root = _with_plugins(make_tiny_project(tmp_path / "p", positive="random"),
                         {"marker.py": MARKER_PLUGIN})
    trust_project(root)
    assert load_project(root).restricted is None and (root / "MARKER").exists()
    (root / "MARKER").unlink()
    plugins.unload_project_plugins()
    (root / "marker.py").write_text(MARKER_PLUGIN + "\n# one more line\n")
    project = load_project(root)
    assert not (root / "MARKER").exists()
    assert project.restricted is not None and "changed since you trusted it" in \
        project.restricted_line()
    assert main(["trust", "--list"]) == 0 and "[changed]" in capsys.readouterr().out
    assert main(["trust", "--revoke", str(root)]) == 0
    assert str(root.resolve()) not in trust.read_record()
    assert main(["trust", "--list"]) == 0 and "no trusted projects" in capsys.readouterr().out


def test_the_trust_record_lives_where_the_env_var_says(tmp_path, monkeypatch):
    monkeypatch.setenv(trust.ENV_VAR, str(tmp_path / "sub" / "t.json"))
    root = _with_plugins(make_tiny_project(tmp_path / "p", positive="random"),
                         {"marker.py": MARKER_PLUGIN})
    trust_project(root)
    assert (tmp_path / "sub" / "t.json").is_file()
    monkeypatch.delenv(trust.ENV_VAR)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert trust.trust_file() == tmp_path / "xdg" / "siam-workbench" / "trust.json"
    assert load_project(root).restricted is not None  # another record: not trusted there


@pytest.mark.parametrize("entry", ["/ABS/outside.py", "../outside.py", "link/outside.py"])
def test_plugin_paths_must_lie_inside_the_project(tmp_path, entry, capsys):
    (tmp_path / "outside.py").write_text(MARKER_PLUGIN)
    root = make_tiny_project(tmp_path / "p", positive="random")
    (root / "link").symlink_to(tmp_path)
    entry = entry.replace("/ABS", str(tmp_path))
    _with_plugins(root, {}, listed=[entry])
    with pytest.raises(SiamError, match="project.plugins: .* lies outside the project folder"):
        load_project(root)
    assert main(["trust", str(root)]) == 2
    assert "lies outside the project folder" in capsys.readouterr().err
    assert not (tmp_path / "MARKER").exists()


def test_a_sent_run_folders_plugin_never_loads(marked, tmp_path, capsys):
    root, run = marked
    project = tmp_path / "mine"
    make_tiny_project(project, positive="random", negative="random", epochs=2, iterations=2)
    sent = project / "runs" / "sent"
    shutil.copytree(run, sent, ignore=shutil.ignore_patterns("*.lock", "lock"))
    outside = tmp_path / "mail" / "run"
    shutil.copytree(run, outside)
    for folder in (sent, outside):
        (folder / "evil.py").write_text(MARKER_PLUGIN)
        (folder.parent / "evil.py").write_text(MARKER_PLUGIN)
        cfg = folder / "config.toml"
        cfg.write_text(cfg.read_text().replace("plugins = []", 'plugins = ["evil.py"]'))
        assert 'plugins = ["evil.py"]' in cfg.read_text()
    trust_project(project)  # trusting *my* project trusts nothing the run brings
    assert main(["train", str(project), "--resume", str(sent), "--epochs", "2"]) == 2
    assert "cannot change project.plugins when resuming" in capsys.readouterr().err
    main(["train", str(project), "--resume", str(outside), "--epochs", "2"])
    main(["eval", str(outside), "--data", str(project / "data" / "test.h5"), "--no-record"])
    assert main(["eval", str(sent), "--no-record"]) == 0
    capsys.readouterr()
    for folder in (sent, outside):
        assert not (folder / "MARKER").exists() and not (folder.parent / "MARKER").exists()


def test_a_run_config_naming_unloaded_plugin_parts_is_one_line(tmp_path):
    root = make_tiny_project(tmp_path / "p", positive="random")
    run = root / "runs" / "r"
    run.mkdir(parents=True)
    text = (root / "project.toml").read_text().replace('positive = "random"',
                                                        'positive = "val-error"')
    (run / "config.toml").write_text(text.replace("[project]\n",
                                                  '[project]\nplugins = ["x.py"]\n'))
    with pytest.raises(SiamError, match="never loads plug-ins"):
        load_project(run / "config.toml")


CLASH_NAME = """
from siam_workbench.parts.miners import register_miner
from siam_workbench.parts.miners.random_positive import RandomPositive as Base

@register_miner
class Evil(Base):
    name = "random"
"""

CLASH_CLASS = """
from siam_workbench.parts.miners import register_miner
from siam_workbench.parts.miners.random_positive import RandomPositive as Base

@register_miner
class RandomPositive(Base):
    name = "random-too"
"""

CLASH_BACKBONE = """
from siam_workbench.model.backbones import register_model, lenet37

@register_model("mokin37", input_size=37)
def evil(embedding_dim=25):
    return lenet37(embedding_dim)
"""


@pytest.mark.parametrize("source, needle", [
    (CLASH_NAME, "a positive miner named 'random' already exists"),
    (CLASH_CLASS, "RandomPositive is the class name of the built-in part"),
    (CLASH_BACKBONE, "a backbone named 'mokin37' already exists"),
])
def test_a_plugin_cannot_replace_a_builtin_part(tmp_path, source, needle, capsys):
    builtins = (dict(MINERS["positive"]), dict(MODELS))
    root = _with_plugins(make_tiny_project(tmp_path / "p", positive="random"),
                         {"clash.py": source})
    trust_project(root)
    assert main(["runs", str(root)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "clash.py" in err and err.count("\n") == 1
    assert (dict(MINERS["positive"]), dict(MODELS)) == builtins


HALF = """
from siam_workbench.base.fields import Field
from siam_workbench.parts.losses import register_loss
from siam_workbench.parts.losses.triplet import TripletLoss
from siam_workbench.parts.miners import register_miner
from siam_workbench.parts.miners.random_positive import RandomPositive

@register_miner
class FirstMiner(RandomPositive):
    name = "first-ok"
    params = {"first_param": Field(float, 1.0, "first")}

@register_loss
class FirstLoss(TripletLoss):
    name = "first-loss"

raise RuntimeError("second half broken")
"""


def test_a_refused_plugin_leaves_nothing_registered(tmp_path, capsys):
    before = (SCHEMA["mining"]["positive"], SCHEMA["loss"]["kind"], dict(SCHEMA["mining"]),
              dict(LOSSES))
    root = _with_plugins(make_tiny_project(tmp_path / "p", positive="random"),
                         {"good.py": MARKER_PLUGIN, "half.py": HALF})
    trust_project(root)
    assert main(["parts", "--project", str(root)]) == 2
    err = capsys.readouterr().err
    assert "half.py: plug-in failed to load: RuntimeError: second half broken" in err
    assert "first-ok" not in MINERS["positive"] and "first_param" not in SCHEMA["mining"]
    assert "first-loss" not in LOSSES
    assert (SCHEMA["mining"]["positive"], SCHEMA["loss"]["kind"], dict(SCHEMA["mining"]),
            dict(LOSSES)) == before


def test_one_projects_plugins_are_gone_when_another_opens(tmp_path):
    a = _with_plugins(make_tiny_project(tmp_path / "a", positive="random"),
                      {"error_miner.py": EXAMPLE.read_text()})
    b = make_tiny_project(tmp_path / "b", positive="random")
    trust_project(a)
    load_project(a)
    assert "val-error" in MINERS["positive"] and "error_power" in SCHEMA["mining"]
    assert "val-error" in SCHEMA["mining"]["positive"].choices
    load_project(b)
    assert "val-error" not in MINERS["positive"] and "error_power" not in SCHEMA["mining"]
    assert "val-error" not in SCHEMA["mining"]["positive"].choices
    with pytest.raises(SiamError, match="mining.positive must be one of"):
        load_project(b).config.replace({"mining": {"positive": "val-error"}})
    assert load_project(a).config  # and back again: the same file loads anew
    assert "val-error" in MINERS["positive"]


def test_restricted_mode_opens_with_defaults_and_refuses_what_needs_plugins(tmp_path):
    from siam_workbench.train.trainer import Trainer

    root = _with_plugins(make_tiny_project(tmp_path / "p", positive="random"),
                         {"error_miner.py": EXAMPLE.read_text()})
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace('positive = "random"',
                                             'positive = "val-error"\nerror_power = 2.0'))
    before = toml.read_text()
    project = load_project(root)
    assert project.restricted is not None
    assert project.config.mining.positive == SCHEMA["mining"]["positive"].default
    assert project.restricted_keys == ["mining.positive", "mining.error_power"]
    line = project.restricted_line()
    assert "error_miner.py" in line and f"siam trust {root.resolve()}" in line
    with pytest.raises(SiamError, match="training needs this project's plug-ins"):
        Trainer(project)
    with pytest.raises(SiamError, match="saving the settings needs"):
        project.save()
    assert toml.read_text() == before  # nothing the user wrote is lost


@pytest.mark.parametrize("body, needle", [
    ("import sys\nsys.exit(0)\n", "it called sys.exit(0)"),
    ("raise SystemExit('bye')\n", "it called sys.exit('bye')"),
])
def test_sys_exit_at_import_is_a_refused_plugin(tmp_path, body, needle, capsys):
    root = _with_plugins(make_tiny_project(tmp_path / "p", positive="random"),
                         {"bye.py": body})
    trust_project(root)
    assert main(["train", str(root), "--epochs", "1", "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert "bye.py: plug-in failed to load" in err and needle in err
    assert not (root / "runs").exists()


def test_declarations_are_read_without_running_the_file(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(EXAMPLE.read_text() + "\n" + MARKER_PLUGIN)
    said = trust.declarations(path)
    assert said[0] == "miner 'val-error' (ValidationErrorMiner)"
    assert "numpy" in said[-1] and not (tmp_path / "MARKER").exists()

"""The framing contract from the command line: every file-writing command takes the project's
framing (or --size-mode), every reader refuses a mismatch in one line naming a command that
exists and fixes it, and `siam eval --json` carries the mismatch and the checkpoint used."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siam_workbench.cli import main
from siam_workbench.data.framing import Framing, recorded_framing
from siam_workbench.data.glyphs import GlyphFile


def siam(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def framing_of(path: Path) -> Framing | None:
    with GlyphFile(path) as gf:
        return recorded_framing(gf.attrs)


@pytest.fixture
def em_project(font_lib: Path, tmp_path: Path):
    from siam_workbench.project.config import Config
    from siam_workbench.project.project import create_project

    return create_project(tmp_path / "p", Config({"data": {
        "alphabet": "digits", "font_dirs": [str(font_lib)], "size_mode": "em",
        "train_fonts": ["Test Alpha", "Test Bravo"], "val_fonts": ["Test Charlie"],
        "test_fonts": ["Test Delta"]}, "train": {"device": "cpu"}}))


def test_render_and_import_take_the_projects_framing(em_project, capsys, tmp_path: Path):
    root = em_project.root
    code, _, err = siam(capsys, "render", "--project", root, "--font-role", "val",
                        "--out", tmp_path / "x.h5")
    assert code == 0, err
    assert framing_of(tmp_path / "x.h5") == Framing("em", 2, 37)
    code, _, err = siam(capsys, "render", "--project", root, "--font-role", "val",
                        "--out", tmp_path / "f.h5", "--size-mode", "fit", "--margin", "3")
    assert code == 0, err
    assert framing_of(tmp_path / "f.h5") == Framing("fit", 3, 37)
    src = tmp_path / "scans"
    for cls in "01":
        (src / cls).mkdir(parents=True)
        img = np.full((60, 60), 255, np.uint8)
        img[20:50, 25:35 + 10 * int(cls)] = 0
        Image.fromarray(img).save(src / cls / "a.png")
    code, _, err = siam(capsys, "import", "folder", src, "--project", root,
                        "--out", tmp_path / "i.h5")
    assert code == 0, err
    assert framing_of(tmp_path / "i.h5") == Framing("em", 2, 37)
    code, _, err = siam(capsys, "import", "folder", src, "--out", tmp_path / "j.h5")
    assert code == 0, err
    assert framing_of(tmp_path / "j.h5") == Framing("fit", 2, 37)
    # rendering a project's splits takes the framing from project.toml, never a flag
    code, _, err = siam(capsys, "render", "--project", root, "--size-mode", "fit")
    assert code == 2 and "--size-mode" in one_line(err)


def test_readers_refuse_a_mismatch_with_a_command_that_fixes_it(em_project, capsys,
                                                                tmp_path: Path):
    root = em_project.root
    assert siam(capsys, "render", "--project", root)[0] == 0
    val = em_project.dataset_paths()["val"]
    code, _, err = siam(capsys, "render", "--project", root, "--font-role", "val",
                        "--size-mode", "fit", "--out", val, "--force")
    assert code == 0, err
    code, _, err = siam(capsys, "train", root, "--epochs", "1", "--iterations", "2")
    assert code == 2
    line = one_line(err)
    assert str(val) in line and "'fit'" in line and "'em'" in line
    fix = line.split("re-make it: ", 1)[1]
    argv = shlex.split(fix)
    assert argv[0] == "siam"
    assert siam(capsys, *argv[1:])[0] == 0  # the named command exists and works
    assert framing_of(val) == Framing("em", 2, 37)
    code, out, err = siam(capsys, "train", root, "--epochs", "1", "--iterations", "2",
                          "--json")
    assert code == 0, err
    run = Path(json.loads(out.strip().splitlines()[-1])["run"])

    # eval: a fit file is refused, in JSON too, and its fix works
    fit = tmp_path / "fit.h5"
    assert siam(capsys, "render", "--project", root, "--font-role", "test", "--size-mode",
                "fit", "--out", fit)[0] == 0
    code, out, err = siam(capsys, "eval", run, "--data", fit, "--json")
    assert code == 2 and "re-make it" in one_line(err)
    refused = json.loads(out)
    assert refused["framing"]["match"] is False and refused["fix"].startswith("siam render")
    code, out, err = siam(capsys, "eval", run, "--data", fit, "--json", "--ignore-framing")
    assert code == 0, err
    scored = json.loads(out)
    assert scored["framing"]["match"] is False and scored["framing"]["data"]["size_mode"] \
        == "fit"
    assert "re-make it" in scored["warning"] and scored["checkpoint"] == "last"
    assert siam(capsys, *shlex.split(refused["fix"])[1:] + ["--force"])[0] == 0
    code, out, err = siam(capsys, "eval", run, "--data", fit, "--json")
    assert code == 0, err
    fixed = json.loads(out)
    assert fixed["framing"]["match"] is True and "warning" not in fixed

    # text output says which checkpoint; best is said to be chosen on val
    code, out, _ = siam(capsys, "eval", run)
    assert code == 0 and "checkpoint last" in out
    code, out, _ = siam(capsys, "eval", run, "--checkpoint", "best", "--split", "val")
    assert code == 0 and "checkpoint best" in out and "chosen on val" in out

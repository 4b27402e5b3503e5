"""The package installs under one name and works from a wheel, away from the checkout.

The wheel test installs the built wheel into a fresh venv whose only other path is the test
environment's site-packages (for torch, PySide6, … — downloading them again would need the
network); the checkout's ``src`` and the editable install are *not* visible, so a module, data
file or example project missing from the wheel fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_list_names_every_package_of_the_tree():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    # followlinks: src/siam_workbench/resources is the top-level resources/ folder (DESIGN.md)
    tree = {".".join(Path(d).relative_to(ROOT / "src").parts)
            for d, _, names in os.walk(ROOT / "src", followlinks=True) if "__init__.py" in names}
    mapped = set(tool["package-dir"]) - {""}
    assert tree | mapped == listed, (sorted(tree - listed), sorted(listed - tree - mapped))
    assert all((ROOT / d).is_dir() for d in tool["package-dir"].values())
    top = {p.split(".")[0] for p in listed}
    assert top == {"siam_workbench"}, "one top-level name, nothing that collides"


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_trains_and_draws_from_another_directory(tmp_path):
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(wheels), str(ROOT)], tmp_path, dict(os.environ))
    (wheel,) = wheels.glob("siam_workbench-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, dict(os.environ))
    site = next((venv / "lib").glob("python3*/site-packages"))
    # Dependencies from the test environment; a plain path line, so its .pth files (the
    # editable install's finder) are not processed.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1",
               XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
          "--target", str(site), str(wheel)], tmp_path, env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import siam_workbench; print(siam_workbench.__file__)"],
                 work, env)
    assert str(site) in where and str(ROOT) not in where
    siam = [str(py), "-m", "siam_workbench.cli"]
    listed = _run([*siam, "examples"], work, env)
    assert "quickstart" in listed and "error_miner.py" in listed
    _run([*siam, "examples", "quickstart", "--to", "qs"], work, env)
    assert (work / "qs" / "project.toml").is_file()
    _run([*siam, "train", "qs", "--epochs", "1", "--iterations", "3", "--triplets", "16"],
         work, env)
    assert list((work / "qs" / "runs").glob("*/config.toml"))
    _run([*siam, "new", "fresh", "--alphabet", "digits"], work, env)
    assert (work / "fresh" / "project.toml").is_file()
    shots = work / "shots"
    _run([str(py), "-m", "siam_workbench.app", "--screenshot", str(shots), str(work / "qs"),
          "--timeout", "300", "--size", "1280x720"], work, env)
    assert (shots / "train-1280x720.png").is_file()

"""Start-up time of the workbench: launch → window shown → settled, with data and four runs
(issue 21, item 13; goal under 3 s on an idle machine).

Each repeat launches the real entry point in a fresh interpreter, offscreen, as a user's
launch does::

    python -m siam_workbench.app PROJECT --quit-when-settled

and reads the window's own readiness signal (``--timing`` JSON lines, see
``src/siam_workbench/app/startup.py``):

* ``shown_s`` — the window's first paint (it paints before the project opens);
* ``opened_s`` — the project opened (config read, every tab told);
* ``settled_s`` — every part that loads on opening has loaded: fonts scanned with their
  coverage and roles, the glyph browser's page and its outlier scores, the latest run
  plotted, the runs listed and compared, the class thumbnails' fonts found (no loader
  thread left).

Every stage is given as wall time from process start (the parent's clock just before it
spawns the child) and as the child's CPU time (``*_cpu_s``: all its threads plus its child
processes); ``exit_cpu_s`` is the whole process's CPU from the kernel (``getrusage``),
closing included. On a loaded machine wall time stretches with the load, CPU time is what the
start-up itself costs.

Repeats alternate, so that load drifts hit every variant alike:

* ``floor`` — a bare launch: Python, torch, PySide6 and pyqtgraph imported and an empty main
  window shown (what no start-up can go below); ``--no-floor`` leaves it out;
* one ``app`` variant per ``--tree`` (a checkout whose ``src/`` is used; default this one):
  ``--tree /path/before --tree .`` measures a change against its base.

Run from the repository root::

    python benchmarks/startup.py PROJECT --repeats 4
    python benchmarks/startup.py --build /tmp/startup-project   # make one first, then time it

PROJECT is copied into a temporary folder; if it holds fewer than ``--runs`` runs, its newest
run is copied until it does (the start-up work per run is reading its files). ``--build DIR``
makes such a project from ``projects/quickstart`` (render, then four short training runs with
different miners and losses, a few CPU-minutes) when DIR holds none yet. ``--smoke``: a fresh
tiny project (digits, no data, no runs), one repeat, the same JSON, in seconds.

Output: one JSON object with the median of each variant, every repeat, the run count, the
load average before and after, and the CPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("shown", "opened", "settled")

#: The bare launch: the libraries every start-up imports, an empty window painted, exit.
FLOOR = r"""
import json, os, sys, time
import torch, numpy, h5py
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QLabel
import pyqtgraph
app = QApplication([])
w = QMainWindow()
w.setCentralWidget(QLabel("floor"))
w.resize(1280, 720)
class Paint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            t = os.times()
            cpu = time.process_time() + t.children_user + t.children_system
            for name in ("shown", "opened", "settled"):
                print(json.dumps({"event": name, "time": time.time(), "cpu": cpu}))
            QTimer.singleShot(0, app.quit)
            w.removeEventFilter(self)
        return False
f = Paint()
w.installEventFilter(f)
w.show()
app.exec()
"""


def _prepare(project: Path, runs: int, dest: Path) -> Path:
    root = dest / project.name
    shutil.copytree(project, root, ignore=shutil.ignore_patterns("*.tmp", "*.lock"))
    run_dirs = sorted(p for p in (root / "runs").glob("*") if (p / "config.toml").exists()) \
        if (root / "runs").is_dir() else []
    i = 0
    while run_dirs and len(run_dirs) < runs:
        copy = root / "runs" / f"{run_dirs[-1].name}-copy{i}"
        shutil.copytree(run_dirs[-1], copy)
        run_dirs.append(copy)
        i += 1
    return root


def _siam(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "siam_workbench.cli", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def build_project(folder: Path, env: dict[str, str]) -> Path:
    """projects/quickstart with its data rendered and four short runs (different miners and
    losses, so the runs differ as a user's do)."""
    if (folder / "project.toml").exists() and len(list((folder / "runs").glob("*"))) >= 4:
        return folder
    if not (folder / "project.toml").exists():
        shutil.copytree(REPO / "projects" / "quickstart", folder, dirs_exist_ok=True)
    _siam(["render", "--project", str(folder)], env)
    short = ["--epochs", "2", "--iterations", "10"]
    for extra in ([], ["--set", "mining.positive=random", "--set", "mining.negative=random"],
                  ["--set", "mining.negative=hard"], ["--set", "loss.kind=contrastive"]):
        _siam(["train", str(folder), *short, *extra], env)
    return folder


def _launch(command: list[str], env: dict[str, str], timeout: float) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    events: dict[str, dict[str, float]] = {}
    for line in out.stdout.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("event") in STAGES:
            events.setdefault(rec["event"], rec)
    missing = [s for s in STAGES if s not in events]
    if out.returncode != 0 or missing:
        raise RuntimeError(f"{command[1:3]} exit {out.returncode}, no {missing}: "
                           f"{out.stderr.strip()[-800:]}")
    result = {}
    for stage in STAGES:
        result[f"{stage}_s"] = events[stage]["time"] - t0
        result[f"{stage}_cpu_s"] = events[stage]["cpu"]
    result["exit_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["runs"] = events["settled"].get("runs", 0)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("project", type=Path, nargs="?")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds: a fresh tiny project with no runs, one repeat")
    ap.add_argument("--build", type=Path, metavar="DIR",
                    help="make (if needed) and time a quickstart project with data and 4 runs")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tree", type=Path, action="append",
                    help="a checkout to time (its src/); repeatable, alternated (default: this)")
    ap.add_argument("--no-floor", action="store_true", help="leave out the bare launch")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    if args.project is None and not (args.smoke or args.build):
        ap.error("give a PROJECT (or --build DIR, or --smoke)")
    trees = [t.resolve() for t in (args.tree or [REPO])]
    base_env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    base_env.pop("PYTHONPATH", None)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="siam-startup-") as tmp:
        env = dict(base_env, PYTHONPATH=str(REPO / "src"))
        if args.smoke:
            sys.path.insert(0, str(REPO / "src"))
            from siam_workbench.project.project import create_project

            root = Path(tmp) / "smoke"
            create_project(root, name="smoke", alphabet="digits")
            args.repeats, args.project = 1, root
        else:
            if args.build is not None:
                args.project = build_project(args.build.resolve(), env)
            root = _prepare(args.project.resolve(), args.runs, Path(tmp))
        variants: list[tuple[str, list[str], dict[str, str]]] = []
        if not args.no_floor:
            variants.append(("floor", [sys.executable, "-c", FLOOR], env))
        for i, tree in enumerate(trees):
            name = "app" if len(trees) == 1 else f"app:{i}:{tree.name}"
            variants.append((name, [sys.executable, "-m", "siam_workbench.app", str(root),
                                    "--quit-when-settled"],
                             dict(base_env, PYTHONPATH=str(tree / "src"))))
        repeats: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in variants}
        for r in range(args.repeats):
            order = variants if r % 2 == 0 else variants[::-1]  # alternated
            for name, command, venv in order:
                venv = dict(venv, SIAM_WORKBENCH_SETTINGS_DIR=str(Path(tmp) / f"settings-{r}"))
                try:
                    repeats[name].append(_launch(command, venv, args.timeout))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    print(json.dumps({"benchmark": "startup", "error": str(exc)}))
                    return 1
    keys = [k for k in next(iter(repeats.values()))[0] if k != "runs"]
    median = {name: {k: round(statistics.median(x[k] for x in rows), 3) for k in keys}
              for name, rows in repeats.items()}
    app_rows = [rows for name, rows in repeats.items() if name != "floor"]
    print(json.dumps({"benchmark": "startup", "project": str(args.project),
                      "runs": app_rows[0][0]["runs"], "trees": [str(t) for t in trees],
                      "median": median, "repeats": repeats, "goal_settled_s": 3.0,
                      "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                      "cpus": os.cpu_count(), "smoke": args.smoke}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start-up time of the workbench: launch → window shown → settled with data and four runs
(issue 21, item 13; goal under 3 s on an idle machine).

Run from the repository root (offscreen)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/startup.py PROJECT
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/startup.py projects/quickstart --runs 4

``--smoke`` checks the script in seconds: a fresh tiny project (digits, no runs) made in a
temporary folder, one repeat, the same JSON.

PROJECT is copied into a temporary folder; if it holds fewer than ``--runs`` runs, its newest
run is copied until it does (the start-up work per run is reading its files, not training).
Each repeat is a fresh interpreter, so imports count as a user's launch does:

* ``imports_s`` — Python, Qt, pyqtgraph and the workbench modules imported;
* ``shown_s`` — the main window painted with the project open;
* ``settled_s`` — every tab idle: fonts scanned and their coverage known (Data), the glyph
  browser page loaded, the runs listed and compared (Runs), class thumbnails' fonts resolved.

Each stage also carries the child's CPU time (``*_cpu_s``, all its threads): on a loaded
machine wall time stretches with the load while CPU time is what the start-up itself costs.

Output: one JSON object with the median and every repeat, the run count, the machine's load
average and CPU count (figures from a loaded machine are not the idle goal's figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time
t0 = float(sys.argv[2])
cpu = time.process_time
from PySide6.QtWidgets import QApplication
from siam_workbench.app import dialogs, settings
settings.configure()
dialogs.handler = dialogs.RecordingHandler()
from siam_workbench.app.main_window import MainWindow
from siam_workbench.app.workers import live_threads
t_imp, c_imp = time.perf_counter(), cpu()
app = QApplication.instance() or QApplication([])
w = MainWindow()
w.resize(1280, 720)
w.show()
w.open_project(sys.argv[1])
app.processEvents()
t_shown, c_shown = time.perf_counter(), cpu()

def settled():
    if w.busy() or live_threads():
        return False
    runs = w.runs_tab
    return bool(runs.summaries) or not runs.checked_ids()

deadline = t_shown + 300
while time.perf_counter() < deadline:
    app.processEvents()
    if settled():
        # settled for 300 ms running, not between two jobs
        t_set = time.perf_counter()
        end = t_set + 0.3
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.01)
        if settled():
            break
    time.sleep(0.01)
ok = settled()
t_settled = t_set if ok else float("nan")
c_settled = cpu() if ok else float("nan")
print(json.dumps({"imports_s": t_imp - t0, "shown_s": t_shown - t0,
                  "settled_s": t_settled - t0, "imports_cpu_s": c_imp,
                  "shown_cpu_s": c_shown, "settled_cpu_s": c_settled,
                  "runs": len(w.runs_tab._runs)}))
w.close()
"""


def _prepare(project: Path, runs: int, dest: Path) -> Path:
    root = dest / project.name
    shutil.copytree(project, root, ignore=shutil.ignore_patterns("*.tmp"))
    run_dirs = sorted(p for p in (root / "runs").glob("*") if (p / "config.toml").exists()) \
        if (root / "runs").is_dir() else []
    i = 0
    while run_dirs and len(run_dirs) < runs:
        copy = root / "runs" / f"{run_dirs[-1].name}-copy{i}"
        shutil.copytree(run_dirs[-1], copy)
        run_dirs.append(copy)
        i += 1
    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("project", type=Path, nargs="?")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds: a fresh tiny project with no runs, one repeat")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if args.project is None and not args.smoke:
        ap.error("give a PROJECT (or --smoke)")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    repo = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(repo / "src") + os.pathsep + env.get("PYTHONPATH", "")
    results = []
    with tempfile.TemporaryDirectory(prefix="siam-startup-") as tmp:
        if args.smoke:
            sys.path.insert(0, str(repo))
            from siam_workbench.project.project import create_project

            root = Path(tmp) / "smoke"
            create_project(root, name="smoke", alphabet="digits")
            args.repeats, args.project = 1, root
        else:
            root = _prepare(args.project.resolve(), args.runs, Path(tmp))
        env["SIAM_WORKBENCH_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, str(root), repr(t0)],
                                 env=env, capture_output=True, text=True, timeout=600)
            line = out.stdout.strip().splitlines()[-1:] or [""]
            try:
                results.append(json.loads(line[0]))
            except json.JSONDecodeError:
                print(json.dumps({"error": out.stderr.strip()[-500:]}))
                return 1
    med = {k: statistics.median(r[k] for r in results)
           for k in ("imports_s", "shown_s", "settled_s", "imports_cpu_s", "shown_cpu_s",
                     "settled_cpu_s")}
    print(json.dumps({"benchmark": "startup", "project": str(args.project),
                      "runs": results[0]["runs"], "median": med, "repeats": results,
                      "goal_settled_s": 3.0, "load_avg": os.getloadavg(),
                      "cpus": os.cpu_count(), "smoke": args.smoke}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Miners tab's view model imports no Qt and tells events apart by their type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_miners_model_imports_without_qt():
    # Loaded from their files: the app package's __init__ starts Qt, the modules must not.
    code = ("import sys, importlib.util as u\n"
            "for name in ('miners_model', 'miners_labels'):\n"
            "    s = u.spec_from_file_location(name, f'src/siam_workbench/app/{name}.py')\n"
            "    m = u.module_from_spec(s); sys.modules[name] = m; s.loader.exec_module(m)\n"
            "assert sys.modules['miners_model'].live_event_kind(object()) is None\n"
            "assert sys.modules['miners_model'].MinersModel().history is None\n"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert out.returncode == 0, out.stderr


def test_events_are_told_apart_by_type_not_by_name():
    from siam_workbench.app.miners_model import live_event_kind, miner_help
    from siam_workbench.train.events import IterationFinished, RunStopped

    class RunStopped2(RunStopped):  # a subclass is still a stop
        pass

    class IterationFinishedLookalike:  # a class-name match is no event
        pass

    stop = RunStopped2.__new__(RunStopped2)
    assert live_event_kind(stop) == "stopped"
    assert live_event_kind(IterationFinishedLookalike()) is None
    assert live_event_kind(IterationFinished.__new__(IterationFinished)) is None
    lines = miner_help("auto-probabilistic", "auto-clustering")
    assert len(lines) == 2 and "paper §3.2" in lines[0] and "(negative)" in lines[1]
    assert miner_help("not-loaded", "random")[0].startswith("<b>random</b> (negative)")


def test_scatter_labels_all_when_few_else_the_outliers():
    import numpy as np

    from siam_workbench.app.miners_model import scatter_labels

    assert scatter_labels([0.2, 0.3, np.nan, 0.5], [0.1, 0.0, 0.4, 0.9]) == [0, 1, 3]
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.02, 62)
    e = rng.uniform(0.0, 0.3, 62)
    p[7], e[40], p[12] = 0.5, 0.99, 0.001  # most sampled, most wrong, least sampled
    chosen = scatter_labels(p, e, limit=14)
    assert len(chosen) == 14 and len(set(chosen)) == 14
    assert {7, 40, 12} <= set(chosen)

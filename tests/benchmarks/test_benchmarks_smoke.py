"""Every benchmark script runs (benchmarks/README.md): ``python benchmarks/NAME.py --smoke``
starts, prints its JSON object and exits 0, at a tiny size, so that none rots unnoticed.

Scripts are discovered (every ``benchmarks/*.py`` but the private ``_*.py`` helpers), so a new
script is covered the day it lands. A script that does not offer ``--smoke`` yet must be listed
in :data:`NO_SMOKE_YET` with the reason; the list may only shrink (a listed script that gained
``--smoke`` or no longer exists fails the test, so the list cannot go stale). A file that is a
module of another script, not a command, is listed in :data:`MODULES` instead: the test checks
that it really has no ``__main__`` block and that the named script imports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))

#: Scripts still without a smoke mode, name → why. Empty since issue 22 (item 3) gave every
#: script one; the list may only shrink, so it stays empty.
NO_SMOKE_YET: dict[str, str] = {}

#: Benchmark files that are modules of another script (no command line of their own): name →
#: the script that imports them.
MODULES = {"pml_loop.py": "quality.py"}


def _has_main(script: Path) -> bool:
    return "__main__" in script.read_text(encoding="utf-8")


def _has_smoke(script: Path) -> bool:
    return "--smoke" in script.read_text(encoding="utf-8")


def _env(tmp: Path) -> dict[str, str]:
    """A smoke run needs only the repository: the shared Omniglot copy a full handwriting run
    reads (``SIAM_OMNIGLOT``) points nowhere, as on a machine that has only the checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), QT_QPA_PLATFORM="offscreen",
               OMP_NUM_THREADS="1", MPLBACKEND="Agg", SIAM_OMNIGLOT=str(tmp / "no-omniglot"))
    return env


def test_scripts_are_discovered_and_the_pending_list_is_current():
    names = {p.name for p in SCRIPTS}
    assert "mining.py" in names
    stale = {n for n in NO_SMOKE_YET if n not in names or _has_smoke(ROOT / "benchmarks" / n)}
    assert not stale, f"drop these from NO_SMOKE_YET: {sorted(stale)}"
    missing = ({n for n in names if not _has_smoke(ROOT / "benchmarks" / n)}
               - set(NO_SMOKE_YET) - set(MODULES))
    assert not missing, f"give these a --smoke mode (benchmarks/README.md): {sorted(missing)}"


def test_listed_modules_are_modules_that_a_script_imports():
    for name, user in MODULES.items():
        assert not _has_main(ROOT / "benchmarks" / name), f"{name} is a command: give it --smoke"
        text = (ROOT / "benchmarks" / user).read_text(encoding="utf-8")
        assert f"import {name[:-3]}" in text or f"from {name[:-3]} import" in text, (name, user)


@pytest.mark.parametrize("script", [p for p in SCRIPTS
                                    if p.name not in NO_SMOKE_YET and p.name not in MODULES],
                         ids=lambda p: p.name)
def test_benchmark_smoke_run(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--smoke"], cwd=tmp_path,
                          env=_env(tmp_path),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert isinstance(out, dict) and out

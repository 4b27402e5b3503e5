import subprocess
import sys


def test_core_imports_no_qt():
    code = ("import sys, core.train.trainer, core.cli, core.infer.evaluate, core.infer.query, "
            "core.infer.export, core.infer.analysis, core.infer.runs, core.train.advice, "
            "core.train.tomledit; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'PyQt'))]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

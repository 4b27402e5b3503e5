import subprocess
import sys


def test_core_imports_no_qt():
    code = ("import sys, siam_workbench.train.trainer, siam_workbench.cli, "
            "siam_workbench.infer.evaluate, siam_workbench.infer.query, "
            "siam_workbench.infer.export, siam_workbench.infer.mining_log, "
            "siam_workbench.infer.runs, "
            "siam_workbench.infer.advice, "
            "siam_workbench.project.tomledit; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'PyQt'))]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

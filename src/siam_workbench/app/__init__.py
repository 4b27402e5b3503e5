"""Siam Workbench desktop app (PySide6 + pyqtgraph).

The GUI is a thin shell over :mod:`core`: every long job (coverage, rendering, training) runs the
same engine code the ``siam`` CLI runs, on a worker ``QThread``, and reports back through Qt
signals. Nothing in :mod:`core` imports from here.

Importing the package first guards against a PySide6 reference-count bug that would otherwise
abort the process after a few thousand signal emissions (see :mod:`siam_workbench.app.qtcompat`).

The engine is imported *before* PySide6: PySide6 wraps ``__import__`` and, for every module
imported after it, reads that module's source to see whether it uses PySide (its
``__feature__`` check). torch's ~1,100 modules imported after Qt cost 0.4 s more CPU at
start-up than the same modules imported first (benchmarks/startup.py). Every tab needs the
engine anyway, so this only changes the order.
"""

import sys

if "PySide6" not in sys.modules:
    import siam_workbench.project.project  # noqa: F401 - the order matters, see above

from siam_workbench.app.qtcompat import guard_bool_refcounts  # noqa: E402

guard_bool_refcounts()

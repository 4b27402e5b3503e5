"""Siam Workbench desktop app (PySide6 + pyqtgraph).

The GUI is a thin shell over :mod:`core`: every long job (coverage, rendering, training) runs the
same engine code the ``siam`` CLI runs, on a worker ``QThread``, and reports back through Qt
signals. Nothing in :mod:`core` imports from here.

Importing the package first guards against a PySide6 reference-count bug that would otherwise
abort the process after a few thousand signal emissions (see :mod:`siam_workbench.app.qtcompat`).
"""

from siam_workbench.app.qtcompat import guard_bool_refcounts

guard_bool_refcounts()

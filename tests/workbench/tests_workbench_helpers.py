"""Small helpers shared by the GUI tests: waiting, and one tab on a project document."""

from __future__ import annotations

from pathlib import Path


def wait_fonts(qtbot, window, timeout: int = 60_000) -> None:
    """Until the Data tab knows every face's coverage and role."""
    qtbot.waitUntil(lambda: window.data_tab.wait_idle(), timeout=timeout)


def wait_idle(qtbot, window, timeout: int = 120_000) -> None:
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def wait_no_threads(qtbot, timeout: int = 60_000) -> None:
    """Until no worker thread of the app is alive."""
    from siam_workbench.app.workers import live_threads

    qtbot.waitUntil(lambda: not live_threads(), timeout=timeout)


def document(root: Path | None):
    """A project document holding ``root``'s project (or none)."""
    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.project.project import load_project

    doc = ProjectDocument()
    if root is not None:
        doc.set_project(load_project(root))
    return doc


def shown_tab(qtbot, cls, doc, size=(1280, 700)):
    """``cls(doc)`` shown at ``size``, closed with the test."""
    tab = cls(doc)
    qtbot.addWidget(tab)
    tab.resize(*size)
    tab.show()
    return tab


def flat_history(n: int = 80, parts: bool = True, active: bool = True):
    """A Train-tab history whose loss is flat from the start, as semi-hard's is: the loss
    parts and the active-triplet share optional, for plots that must show or hide rows."""
    import numpy as np

    from siam_workbench.app.history import History

    h = History()
    rng = np.random.default_rng(0)
    for i in range(n):
        loss = 0.5 + 0.02 * rng.standard_normal()
        h.add_iteration(i + 1, loss, {"g1": loss / 2, "g2": loss / 2} if parts else {},
                        100.0, epoch=i // 40, active=0.9 - 0.5 * i / n if active else None,
                        images=96 * (i + 1), seconds=0.1 * i)
    return h

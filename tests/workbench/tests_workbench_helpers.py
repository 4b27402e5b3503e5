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

"""Small waiting helpers shared by the GUI tests."""

from __future__ import annotations


def wait_fonts(qtbot, window, timeout: int = 60_000) -> None:
    """Until the Data tab knows every face's coverage and role."""
    qtbot.waitUntil(lambda: window.data_tab.wait_idle(), timeout=timeout)


def wait_idle(qtbot, window, timeout: int = 120_000) -> None:
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)

"""Persistent GUI settings (last project, recent projects, window geometry).

All access goes through :func:`settings`, which returns an INI-format ``QSettings``. Setting
``SIAM_WORKBENCH_SETTINGS_DIR`` redirects the file into that folder, so tests and screenshot runs
never read or overwrite the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings

ORGANIZATION = "SiamWorkbench"
APPLICATION = "siam-workbench"
ENV_DIR = "SIAM_WORKBENCH_SETTINGS_DIR"
MAX_RECENT = 10

_configured = False


def configure() -> None:
    """Set organisation/app names and, if requested by the environment, a private settings path.

    Idempotent; call before the first :func:`settings` (``app.main`` and the test conftest do).
    """
    global _configured
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    folder = os.environ.get(ENV_DIR)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(QSettings.Format.IniFormat, scope, folder)
    _configured = True


def settings() -> QSettings:
    if not _configured:
        configure()
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                     ORGANIZATION, APPLICATION)


def last_project() -> Path | None:
    value = settings().value("project/last", "", type=str)
    return Path(value) if value else None


def recent_projects() -> list[Path]:
    value = settings().value("project/recent", [], type=list) or []
    return [Path(v) for v in value if v]


def remember_project(path: Path) -> list[Path]:
    """Make ``path`` the last project and move it to the front of the recent list."""
    path = Path(path).resolve()
    recent = [p for p in recent_projects() if p != path]
    recent.insert(0, path)
    recent = recent[:MAX_RECENT]
    s = settings()
    s.setValue("project/last", str(path))
    s.setValue("project/recent", [str(p) for p in recent])
    s.sync()
    return recent


def forget_project(path: Path) -> None:
    path = Path(path).resolve()
    s = settings()
    s.setValue("project/recent", [str(p) for p in recent_projects() if p != path])
    if last_project() == path:
        s.setValue("project/last", "")
    s.sync()


def save_geometry(name: str, data: QByteArray) -> None:
    s = settings()
    s.setValue(f"window/{name}", data)
    s.sync()


def load_geometry(name: str) -> QByteArray | None:
    value = settings().value(f"window/{name}")
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None

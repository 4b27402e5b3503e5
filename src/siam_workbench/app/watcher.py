"""Watch a project's folders and glyph files so views never show stale state: a deleted or
re-rendered data file, a run folder added or removed by ``siam`` in a terminal. Changes are
debounced (a render or a training epoch touches many files) into one ``changed`` signal."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

DEBOUNCE_MS = 400


class ProjectWatcher(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._poke)
        self._watcher.fileChanged.connect(self._poke)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._fire)
        self.project: Any = None

    def watch(self, project: Any) -> None:
        self.project = project
        self._rewatch()

    def _paths(self) -> list[str]:
        p = self.project
        if p is None:
            return []
        paths = [p.root, p.root / "data", p.runs_dir, p.file]
        paths += list(p.dataset_paths().values())
        paths.append(p.resolve(p.config.data.drawn))
        return [str(x) for x in {*paths} if x.exists()]

    def _rewatch(self) -> None:
        old = self._watcher.files() + self._watcher.directories()
        if old:
            self._watcher.removePaths(old)
        want = self._paths()
        if want:
            self._watcher.addPaths(want)

    def watched(self) -> list[str]:
        return sorted(self._watcher.files() + self._watcher.directories())

    def _poke(self, _path: str) -> None:
        self._timer.start()

    def _fire(self) -> None:
        self._rewatch()  # a replaced file is a new inode: watch it again
        self.changed.emit()

"""The open project as an undoable document.

Every edit the GUI makes to ``project.toml`` (form values, alphabet, font roles) goes through
:meth:`ProjectDocument.set_values`, which validates the whole resulting :class:`Config` first
(so the in-memory project is never invalid) and pushes a command on a ``QUndoStack``. The stack's
clean state is "same as on disk": the window title's ``*`` and the close prompt read it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from siam_workbench.project.config import Config
from siam_workbench.project.project import Project

_MERGE_ID = 0x51A


class SetConfigCommand(QUndoCommand):
    """Swap the project's config; consecutive edits of the same single key merge (typing)."""

    def __init__(self, doc: ProjectDocument, old: Config, new: Config, text: str,
                 keys: frozenset[str]) -> None:
        super().__init__(text)
        self.doc, self.old, self.new, self.keys = doc, old, new, keys

    def redo(self) -> None:
        self.doc._apply(self.new, self.keys)

    def undo(self) -> None:
        self.doc._apply(self.old, self.keys)

    def id(self) -> int:
        return _MERGE_ID if len(self.keys) == 1 else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetConfigCommand) or other.keys != self.keys:
            return False
        self.new = other.new
        return True


class ProjectDocument(QObject):
    """Holds the open :class:`Project` (or none) and its undo history."""

    projectChanged = Signal()  # another project was opened (or closed)
    configChanged = Signal(object)  # frozenset of "section.key" that changed
    modifiedChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)

    def _clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(not clean)

    # -- state ---------------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self.project.config if self.project else Config()

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.undo_stack.clear()
        self.projectChanged.emit()
        self.modifiedChanged.emit(False)

    # -- edits ---------------------------------------------------------------------------------
    def set_values(self, updates: dict[str, dict[str, Any]], text: str = "") -> bool:
        """Validate and apply ``{section: {key: value}}`` as one undoable step.

        Raises :class:`siam_workbench.base.errors.SiamError` (naming the key) if the result is
        invalid; returns False when nothing would change.
        """
        if self.project is None:
            return False
        old = self.project.config
        new = old.replace(updates)
        if new == old:
            return False
        keys = frozenset(name for name, _, _ in old.differences(new))
        if not text:
            text = "Change " + ", ".join(sorted(keys)) if len(keys) <= 2 else \
                f"Change {len(keys)} settings"
        self.undo_stack.push(SetConfigCommand(self, old, new, text, keys))
        return True

    def _apply(self, config: Config, keys: frozenset[str]) -> None:
        assert self.project is not None
        self.project.config = config
        self.configChanged.emit(keys)

    def save(self) -> None:
        """Write ``project.toml`` atomically, keeping the user's comments and layout
        (:func:`siam_workbench.project.tomledit.save_project_file`), and mark clean."""
        if self.project is None:
            return
        from siam_workbench.project.tomledit import save_project_file

        self.project.check_config_writable()  # restricted mode: plug-in settings not loaded
        save_project_file(self.project.file, self.project.config)
        self.undo_stack.setClean()

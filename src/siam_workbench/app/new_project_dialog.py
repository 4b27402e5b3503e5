"""File › New project: a folder, an alphabet and a preset, with what the project will train.

The dialog exists so that a new project is sized to its alphabet before it is made, exactly as
``siam new FOLDER --alphabet A --preset P`` does (siam_workbench.project.recipe): the preview line
says how many classes, the P×K batch, epochs × iterations, the idle-CPU minutes and the framing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import NAMED
from siam_workbench.project.config import new_project_config
from siam_workbench.project.recipe import PRESETS, estimate_minutes

_PRESET_LABELS = {"recipe": "Recipe — measured default, sized to the alphabet",
                  "paper": "Paper's settings (metric loss α = 10, independent triplets; slow)"}
_FILE_ITEM = "Class-list file…"


class NewProjectDialog(QDialog):
    """Asks for folder, alphabet and preset; :meth:`choice` gives them back."""

    def __init__(self, start: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(560)
        form = QFormLayout(self)
        self.folder = QLineEdit(str(start / "new-project"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.alphabet = QComboBox()
        self.alphabet.setEditable(True)
        for name, title in NAMED.items():
            self.alphabet.addItem(f"{name} — {title}" if title and title != name else name, name)
        self.alphabet.addItem(_FILE_ITEM, "")
        index = self.alphabet.findData("latin-digits")
        self.alphabet.setCurrentIndex(max(index, 0))
        self.alphabet.activated.connect(self._alphabet_chosen)
        self.alphabet.editTextChanged.connect(lambda _t: self._update_preview())
        form.addRow("Alphabet", self.alphabet)
        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(_PRESET_LABELS.get(name, name), name)
        self.preset.currentIndexChanged.connect(lambda _i: self._update_preview())
        form.addRow("Settings", self.preset)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._update_preview()

    def alphabet_spec(self) -> str:
        """The named alphabet or class-list path the combo shows."""
        data = self.alphabet.currentData()
        text = self.alphabet.currentText().strip()
        index = self.alphabet.currentIndex()
        if data and self.alphabet.itemText(index) == text:
            return str(data)
        return text.split(" — ", 1)[0].strip()

    def choice(self) -> tuple[Path, str, str]:
        """``(folder, alphabet, preset)`` as chosen."""
        return (Path(self.folder.text().strip()).expanduser(), self.alphabet_spec(),
                str(self.preset.currentData()))

    def _browse_folder(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(self, "New project folder", self.folder.text(),
                                                "Project folder (*)")
        if folder:
            self.folder.setText(folder)

    def _alphabet_chosen(self, index: int) -> None:
        if self.alphabet.itemText(index) != _FILE_ITEM:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Class list (UTF-8, one class a line)",
                                              str(Path.home()), "Text files (*.txt);;All (*)")
        self.alphabet.setEditText(path or "latin-digits")

    def _update_preview(self) -> None:
        """One line of what the project will train, or why it cannot be made (OK disabled)."""
        ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            config = new_project_config(self.alphabet_spec(), preset=str(self.preset.currentData()))
            from siam_workbench.data.alphabets import resolve_alphabet

            n = len(resolve_alphabet(config.data.alphabet).classes)
        except SiamError as exc:
            self.preview.setText(f"<span style='color:#b00020'>{exc}</span>")
            ok_button.setEnabled(False)
            return
        t = config.train
        shape = (f"{min(t.classes_per_batch, n)} classes × {t.samples_per_class} samples a step"
                 if t.batch_mode == "pk" else f"{t.triplets:,} independent triplets a step")
        self.preview.setText(
            f"{n:,} classes: {config.loss.kind} loss, {config.mining.positive} + "
            f"{config.mining.negative}, {t.epochs} epochs × {t.iterations} iterations × "
            f"{shape} — about {estimate_minutes(config):.0f} min on an idle 2-core CPU; "
            f"framing <b>{config.data.size_mode}</b>. The Train tab changes any of it; "
            "CLI: <code>siam new FOLDER --alphabet … --preset …</code>.")
        ok_button.setEnabled(True)

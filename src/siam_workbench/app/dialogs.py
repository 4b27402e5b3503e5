"""Every modal question and error the workbench shows goes through this module.

Keeping them in one place means a test (or ``--screenshot``) can swap :data:`handler` for a
non-blocking one that records what would have been shown and answers questions itself; nothing
else in the app calls ``QMessageBox`` directly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtWidgets import QMessageBox, QWidget


@dataclass
class Shown:
    """One dialog that a :class:`RecordingHandler` captured instead of showing."""

    kind: str  # "error" | "info" | "ask" | "choose"
    title: str
    text: str
    answer: object = None


class InteractiveHandler:
    """The real thing: ``QMessageBox`` modals."""

    def error(self, parent: QWidget | None, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok,
                          parent)
        if details:
            box.setDetailedText(details)
        box.exec()

    def info(self, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    def ask(self, parent: QWidget | None, title: str, text: str, default: bool = False) -> bool:
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(
            parent, title, text, buttons,
            QMessageBox.StandardButton.Yes if default else QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def choose(self, parent: QWidget | None, title: str, text: str,
               options: Sequence[str], default: int = -1) -> int:
        """Buttons named by ``options``; returns the index clicked, or -1 for Cancel/close."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.NoButton, parent)
        buttons = [box.addButton(o, QMessageBox.ButtonRole.AcceptRole) for o in options]
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        if 0 <= default < len(buttons):
            box.setDefaultButton(buttons[default])
        box.exec()
        clicked = box.clickedButton()
        if clicked is cancel or clicked is None:
            return -1
        return buttons.index(clicked) if clicked in buttons else -1


@dataclass
class RecordingHandler:
    """Non-blocking stand-in: records every dialog and answers from presets.

    ``ask_answer`` answers yes/no questions; ``choose_answer`` is the option index picked (-1 =
    cancel). With ``echo`` errors are also printed to stderr (screenshot mode).
    """

    ask_answer: bool = True
    choose_answer: int = -1
    echo: bool = False
    shown: list[Shown] = field(default_factory=list)

    def _record(self, item: Shown) -> None:
        self.shown.append(item)
        if self.echo:
            print(f"[{item.kind}] {item.title}: {item.text}", file=sys.stderr)

    def error(self, parent: QWidget | None, title: str, text: str, details: str = "") -> None:
        self._record(Shown("error", title, text))

    def info(self, parent: QWidget | None, title: str, text: str) -> None:
        self._record(Shown("info", title, text))

    def ask(self, parent: QWidget | None, title: str, text: str, default: bool = False) -> bool:
        self._record(Shown("ask", title, text, self.ask_answer))
        return self.ask_answer

    def choose(self, parent: QWidget | None, title: str, text: str,
               options: Sequence[str], default: int = -1) -> int:
        self._record(Shown("choose", title, text, self.choose_answer))
        return self.choose_answer

    def errors(self) -> list[Shown]:
        return [s for s in self.shown if s.kind == "error"]


handler: InteractiveHandler | RecordingHandler = InteractiveHandler()


def error(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    handler.error(parent, title, text, details)


def info(parent: QWidget | None, title: str, text: str) -> None:
    handler.info(parent, title, text)


def ask(parent: QWidget | None, title: str, text: str, default: bool = False) -> bool:
    return handler.ask(parent, title, text, default)


def choose(parent: QWidget | None, title: str, text: str, options: Sequence[str],
           default: int = -1) -> int:
    return handler.choose(parent, title, text, options, default)

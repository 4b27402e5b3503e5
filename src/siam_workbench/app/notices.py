"""The Train tab's guided-training panel: the notices of :mod:`siam_workbench.infer.advice` for the
run on screen, each with what was seen and a button that applies its suggestion to the project's
settings for the next run (one undoable edit)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.infer.advice import Notice


class NoticeCard(QFrame):
    applied = Signal(object)  # the Notice

    def __init__(self, notice: Notice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = notice
        self.setObjectName("notice")
        self.setProperty("severity", notice.severity)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = title = QLabel(f"<b>{notice.title}</b>")
        title.setWordWrap(True)
        self.detail = detail = QLabel(notice.detail)
        detail.setWordWrap(True)
        self.change = QLabel(f"Next run: <code>{notice.suggestion_text()}</code>"
                             if notice.suggestion else "")
        self.change.setWordWrap(True)
        self.button = QPushButton("Apply to next run" if notice.suggestion else "Noted")
        self.button.setToolTip("Set these values in the Train settings (undo with Ctrl+Z); "
                               "they take effect when you start the next run")
        self.button.setEnabled(bool(notice.suggestion))
        self.button.clicked.connect(lambda: self.applied.emit(self.notice))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(2)
        lay.addWidget(title)
        lay.addWidget(detail)
        row = QHBoxLayout()
        row.addWidget(self.change, 1)
        row.addWidget(self.button)
        lay.addLayout(row)

    def set_notice(self, notice: Notice) -> None:
        """The same advice with fresh figures (a card must not keep "81.7 % after 2 epochs"
        once the run ended at 86.3 % after 4); an applied card stays applied."""
        self.notice = notice
        self.title.setText(f"<b>{notice.title}</b>")
        self.detail.setText(notice.detail)
        self.change.setText(f"Next run: <code>{notice.suggestion_text()}</code>"
                            if notice.suggestion else "")

    def mark_applied(self) -> None:
        self.button.setText("Applied")
        self.button.setToolTip("In the Train settings now; start a new run to use it")
        self.button.setEnabled(False)


class NoticesPanel(QWidget):
    """A scrollable column of :class:`NoticeCard`; hidden while there is nothing to say."""

    applyRequested = Signal(object)  # Notice

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: dict[str, NoticeCard] = {}
        self.header = QLabel("<b>Guided training</b> — what this run suggests for the next one")
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.header)
        lay.addWidget(scroll, 1)
        self.setVisible(False)

    def clear(self) -> None:
        for card in self.cards.values():
            self.column.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards = {}
        self.setVisible(False)

    def set_notices(self, notices: list[Notice]) -> None:
        """Show ``notices``: new codes get a card, cards of codes no longer raised go, a card
        that was applied keeps its state."""
        codes = {n.code for n in notices}
        for code in [c for c in self.cards if c not in codes]:
            card = self.cards.pop(code)
            self.column.removeWidget(card)
            card.hide()
            card.deleteLater()
        for n in notices:
            if n.code in self.cards:
                self.cards[n.code].set_notice(n)
            else:
                card = NoticeCard(n)
                card.applied.connect(self.applyRequested.emit)
                self.cards[n.code] = card
                self.column.insertWidget(self.column.count() - 1, card)
        self.setVisible(bool(self.cards))

    def mark_applied(self, notice: Any) -> None:
        card = self.cards.get(notice.code)
        if card is not None:
            card.mark_applied()

    def codes(self) -> list[str]:
        return list(self.cards)

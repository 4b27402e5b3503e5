"""The Label tab: a folder of unlabeled crops, the best run's top-5 for each, a queue ordered
by doubt, and keys that make a label a keystroke (siam_workbench.infer.labeling; CLI: ``siam
label``).

Keys (in the class field, which keeps the focus): **1–5** take a proposal (while the field is
empty), typing a class and **Enter** saves it (Enter on an empty field takes proposal 1),
**Backspace** on an empty field skips, **Ctrl+Z** undoes the last label or skip. Each save is
appended to the journal and fsynced on the GUI thread before the next image shows (a few
milliseconds); the labelled glyph file is rebuilt from the journal on a worker thread shortly
after, and at the latest by the next session.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.style import set_role
from siam_workbench.app.workers import run_in_thread
from siam_workbench.base.errors import SiamError

PREVIEW_PX = 230
PROPOSAL_PX = 40
REBUILD_DELAY_MS = 800
_PROPOSAL_KEYS = {Qt.Key.Key_1: 1, Qt.Key.Key_2: 2, Qt.Key.Key_3: 3, Qt.Key.Key_4: 4,
                  Qt.Key.Key_5: 5}


def ink_pixmap(img: np.ndarray, px: int, smooth: bool = False) -> QPixmap:
    """A network-view image (ink 255) as ink on paper, scaled to ``px``."""
    arr = np.ascontiguousarray(255 - np.asarray(img, dtype=np.uint8))
    h, w = arr.shape
    qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    mode = (Qt.TransformationMode.SmoothTransformation if smooth
            else Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(qimg).scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio, mode)


class ProposalButton(QPushButton):
    """Proposal N: its key, the class large enough to read at a glance, and the distance;
    clicking it takes it like the key."""

    def __init__(self, rank: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rank = rank
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the class field keeps the keys
        self.setMinimumHeight(PROPOSAL_PX + 8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.key_label = QLabel(str(rank))
        self.key_label.setFixedWidth(24)
        self.class_label = QLabel()
        font = self.class_label.font()
        font.setPixelSize(26)
        self.class_label.setFont(font)
        self.distance_label = QLabel()
        set_role(self.distance_label, "hint")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 2, 12, 2)
        lay.addWidget(self.key_label)
        lay.addWidget(self.class_label, 1)
        lay.addWidget(self.distance_label)
        for w in (self.key_label, self.class_label, self.distance_label):
            w.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.set_proposal(None)

    def set_proposal(self, proposal: tuple[str, float] | None) -> None:
        self.setEnabled(proposal is not None)
        if proposal is None:
            self.class_label.setText("—")
            self.distance_label.setText("")
            return
        label, dist = proposal
        self.class_label.setText(label)
        self.distance_label.setText(f"distance {dist:.3f}")

    def text(self) -> str:  # noqa: D102 - what a screen reader / test reads
        return f"{self.rank} {self.class_label.text()} {self.distance_label.text()}".strip()


class LabelView(QWidget):
    """Public: ``open_folder(path)``, ``session`` (a
    :class:`siam_workbench.infer.labeling.LabelSession`
    or None), ``entry`` (the class field), :meth:`refresh`. Signals: ``opened`` when a
    session is ready, ``saved(str)`` after every durable decision (its key), ``rebuilt``
    after the glyph file was rewritten, ``failed(str)``."""

    opened = Signal()
    saved = Signal(str)
    rebuilt = Signal()
    failed = Signal(str)

    def __init__(self, doc: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.session: Any = None
        self.item: Any = None
        self._opening = False
        self._rebuilding = False
        self._dirty = False
        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(REBUILD_DELAY_MS)
        self._rebuild_timer.timeout.connect(self._rebuild)
        self._build()
        doc.projectChanged.connect(self._project_changed)
        self._project_changed()

    # -- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of character images (PNG, JPEG, …)")
        self.folder_edit.returnPressed.connect(lambda: self.open_folder(self.folder_edit.text()))
        choose = QPushButton("Choose folder…")
        choose.clicked.connect(self._choose)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(lambda: self.open_folder(self.folder_edit.text()))
        top = QHBoxLayout()
        top.addWidget(QLabel("Folder"))
        top.addWidget(self.folder_edit, 1)
        top.addWidget(choose)
        top.addWidget(self.open_button)
        self.run_label = QLabel()
        set_role(self.run_label, "hint")
        self.run_label.setWordWrap(True)

        # Left: the image as drawn and as the network sees it.
        self.original = QLabel()
        self.original.setFixedSize(PREVIEW_PX, PREVIEW_PX)
        self.original.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.original.setFrameShape(QFrame.Shape.StyledPanel)
        self.framed = QLabel()
        self.framed.setFixedSize(PREVIEW_PX // 2, PREVIEW_PX // 2)
        self.framed.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.framed.setFrameShape(QFrame.Shape.StyledPanel)
        self.framed.setToolTip("What the network sees: framed like the run's training data")
        self.file_label = QLabel()
        self.file_label.setWordWrap(True)
        set_role(self.file_label, "title")
        self.doubt_label = QLabel()
        set_role(self.doubt_label, "hint")
        self.doubt_label.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.file_label)
        left.addWidget(self.original)
        row = QHBoxLayout()
        row.addWidget(self.framed)
        seen = QLabel("network input\n(the run's framing)")
        set_role(seen, "hint")
        row.addWidget(seen)
        row.addStretch(1)
        left.addLayout(row)
        left.addWidget(self.doubt_label)
        left.addStretch(1)

        # Middle: proposals, the class field, skip / undo.
        self.proposals = [ProposalButton(i + 1) for i in range(5)]
        for b in self.proposals:
            b.clicked.connect(lambda _=False, r=b.rank: self.take(r))
        self.entry = QLineEdit()
        self.entry.setPlaceholderText("type a class, Enter saves")
        self.entry.installEventFilter(self)
        self.skip_button = QPushButton("Skip  (Backspace)")
        self.skip_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.skip_button.clicked.connect(self.skip)
        self.undo_button = QPushButton("Undo  (Ctrl+Z)")
        self.undo_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.undo_button.clicked.connect(self.undo)
        keys = QLabel("1–5 take a proposal · type a class + Enter saves (Enter alone: "
                      "proposal 1) · Backspace skips · Ctrl+Z undoes")
        keys.setWordWrap(True)
        set_role(keys, "hint")
        mid = QVBoxLayout()
        title = QLabel("Proposals of the run (nearest first)")
        set_role(title, "title")
        mid.addWidget(title)
        for b in self.proposals:
            mid.addWidget(b)
        mid.addSpacing(6)
        mid.addWidget(self.entry)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.undo_button)
        mid.addLayout(buttons)
        mid.addWidget(keys)
        mid.addStretch(1)

        # Right: progress and the latest labels.
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m labelled")
        self.left_label = QLabel()
        set_role(self.left_label, "title")
        self.out_label = QLabel()
        self.out_label.setWordWrap(True)
        set_role(self.out_label, "hint")
        self.recent = QListWidget()
        self.recent.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        font = self.recent.font()
        font.setPixelSize(16)  # the classes are read here too (kana, Hangul)
        self.recent.setFont(font)
        self.status = QLabel()
        self.status.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.progress)
        right.addWidget(self.left_label)
        recent_title = QLabel("Latest labels")
        set_role(recent_title, "title")
        right.addWidget(recent_title)
        right.addWidget(self.recent, 1)
        right.addWidget(self.out_label)

        grid = QGridLayout()
        grid.addLayout(left, 0, 0)
        grid.addLayout(mid, 0, 1)
        grid.addLayout(right, 0, 2)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(2, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.run_label)
        lay.addLayout(grid, 1)
        lay.addWidget(self.status)
        # Ctrl+Z anywhere in the tab (the class field's own undo is replaced: see eventFilter).
        undo = QShortcut(QKeySequence.StandardKey.Undo, self)
        undo.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        undo.activated.connect(self.undo)
        self._show_item(None)

    # -- project / folder ---------------------------------------------------------------------
    def _project_changed(self) -> None:
        self.session = None
        self.item = None
        self._show_item(None)
        self.refresh()

    def refresh(self) -> None:
        """Say which run proposes (the project's best) and where labels go."""
        p = self.doc.project
        if p is None:
            self.run_label.setText("Open a project: its best run proposes the classes.")
            return
        from siam_workbench.infer.labeling import DEFAULT_OUT, journal_path
        from siam_workbench.infer.runs import best_run

        try:
            best = best_run(p)
        except (SiamError, OSError):
            best = None
        out = p.resolve(DEFAULT_OUT)
        who = (f"Proposals from run {best.id} (the project's best)" if best is not None
               else "No trained run yet: label by typing classes (no proposals)")
        self.run_label.setText(f"{who}. Labels go to {out} (journal "
                               f"{journal_path(out).name}); train on them with "
                               f"siam train --finetune RUN --with {DEFAULT_OUT}, or enrol "
                               "new classes.")

    def _choose(self) -> None:
        start = self.folder_edit.text() or (str(self.doc.project.root)
                                            if self.doc.project else str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to label", start)
        if folder:
            self.folder_edit.setText(folder)
            self.open_folder(folder)

    def open_folder(self, folder: str | Path) -> None:
        """Frame the folder's images and ask the best run for proposals, on a worker thread."""
        p = self.doc.project
        folder = str(folder).strip()
        if p is None or not folder or self._opening:
            if p is None:
                self._say("Open a project first.", "error")
            return
        self.folder_edit.setText(folder)
        self._opening = True
        self.open_button.setEnabled(False)
        self._say(f"Framing the images of {folder} and asking the run…", "hint")
        root = p.root

        def work() -> Any:
            from siam_workbench.cli.labeling_cmds import open_session

            session = open_session(root, Path(folder))
            if not session.glyphs_current() and session.labels():
                session.write_glyphs()
            return session

        run_in_thread(work, self, "siam-label-open", self._opened, self._open_failed)

    def _opened(self, session: Any) -> None:
        self._opening = False
        self.open_button.setEnabled(True)
        self.session = session
        self.recent.clear()
        for lab in list(session.labels().values())[-50:]:
            self.recent.insertItem(0, f"{lab.label}   ←  {lab.key.split('/', 1)[-1]}")
        bad = len(session.unreadable)
        self._say(f"{session.total} images, {session.done} labelled already"
                  + (f"; {bad} unreadable (left out)" if bad else ""), "ok")
        self._next()
        self.entry.setFocus()
        self.opened.emit()

    def _open_failed(self, message: str, details: str = "") -> None:
        self._opening = False
        self.open_button.setEnabled(True)
        self._say(message, "error")
        self.failed.emit(message)

    # -- decisions ----------------------------------------------------------------------------
    def _decide(self, action: Any, text: str) -> None:
        if self.session is None or self.item is None:
            return
        key = self.item.key
        try:
            action()
        except SiamError as exc:
            self._say(str(exc), "error")
            self.failed.emit(str(exc))
            return
        self.recent.insertItem(0, text)
        self.entry.clear()
        self._say(f"saved: {text}", "ok")
        self._schedule_rebuild()
        self._next()
        self.saved.emit(key)

    def take(self, rank: int) -> None:
        it = self.item
        if it is None or not 1 <= rank <= len(it.proposals):
            return
        name = it.key.split("/", 1)[-1]
        self._decide(lambda: self.session.take(it.key, rank),
                     f"{it.proposals[rank - 1][0]}   ←  {name}")

    def save_typed(self) -> None:
        it = self.item
        if it is None:
            return
        text = self.entry.text().strip()
        if not text:
            self.take(1)
            return
        name = it.key.split("/", 1)[-1]
        self._decide(lambda: self.session.label(it.key, text), f"{text}   ←  {name}")

    def skip(self) -> None:
        it = self.item
        if it is None:
            return
        self._decide(lambda: self.session.skip(it.key),
                     f"(skipped)   {it.key.split('/', 1)[-1]}")

    def undo(self) -> None:
        if self.session is None:
            return
        try:
            key = self.session.undo()
        except SiamError as exc:
            self._say(str(exc), "error")
            return
        if key is None:
            self._say("nothing to undo", "hint")
            return
        if self.recent.count():
            self.recent.takeItem(0)
        self._say(f"undone: {key.split('/', 1)[-1]}", "ok")
        self._schedule_rebuild()
        self._next()
        self.saved.emit(key)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is self.entry and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            return self._key(event)
        return super().eventFilter(obj, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if not self._key(event):
            super().keyPressEvent(event)

    def _key(self, event: QKeyEvent) -> bool:
        """The tab's keys; True when handled (the class field then does not see them)."""
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            return True
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        empty = not self.entry.text()
        if event.key() in _PROPOSAL_KEYS and empty and mods == Qt.KeyboardModifier.NoModifier:
            self.take(_PROPOSAL_KEYS[Qt.Key(event.key())])
            return True
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.save_typed()
            return True
        if event.key() == Qt.Key.Key_Backspace and empty:
            self.skip()
            return True
        return False

    # -- display ------------------------------------------------------------------------------
    def _next(self) -> None:
        s = self.session
        self.item = s.current() if s is not None else None
        self._show_item(self.item)
        if s is not None:
            self.progress.setFormat("%v of %m labelled")
            self.progress.setRange(0, max(1, s.total))
            self.progress.setValue(s.done)
            self.left_label.setText(f"{s.left} left" if s.left else "All labelled")
            n = len(s.labels())
            self.out_label.setText(f"{n} sample{'s' if n != 1 else ''} in {s.out.name}; "
                                   f"journal {s.journal.path.name}")

    def _show_item(self, it: Any) -> None:
        enabled = it is not None
        for w in (self.entry, self.skip_button):
            w.setEnabled(enabled)
        self.undo_button.setEnabled(self.session is not None)
        if it is None:
            self.original.setPixmap(QPixmap())
            self.framed.setPixmap(QPixmap())
            self.original.setText("—" if self.session is None else "Nothing left to label")
            self.file_label.setText("" if self.session is None else "Done")
            self.doubt_label.setText("")
            for b in self.proposals:
                b.set_proposal(None)
            if self.session is None:
                self.progress.setRange(0, 1)
                self.progress.setValue(0)
                self.progress.setFormat("no folder open")
                self.left_label.setText("")
            return
        orig = QPixmap(str(it.path))
        if orig.isNull():
            self.original.setPixmap(ink_pixmap(it.image, PREVIEW_PX - 10))
        else:
            self.original.setPixmap(orig.scaled(
                PREVIEW_PX - 10, PREVIEW_PX - 10, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        self.framed.setPixmap(ink_pixmap(it.image, PREVIEW_PX // 2 - 6))
        self.file_label.setText(it.key.split("/", 1)[-1])
        doubt = it.doubt
        self.doubt_label.setText(
            "no proposals" if not it.proposals else
            ("doubt: only one class" if math.isinf(doubt) else
             f"doubt {doubt:.3f} (distance of the 2nd class minus the 1st's; the queue shows "
             "the smallest first)"))
        for i, b in enumerate(self.proposals):
            b.set_proposal(it.proposals[i] if i < len(it.proposals) else None)

    def _say(self, text: str, role: str) -> None:
        self.status.setText(text)
        set_role(self.status, role)

    # -- the glyph file -----------------------------------------------------------------------
    def _schedule_rebuild(self) -> None:
        self._dirty = True
        self._rebuild_timer.start()

    def _rebuild(self) -> None:
        if self.session is None or not self._dirty:
            return
        if self._rebuilding:  # once the running rebuild ends, another follows
            self._rebuild_timer.start()
            return
        from siam_workbench.infer.labeling import replay, write_labelled

        s = self.session
        records, size, out = list(s.journal.records), s.journal.size, s.out
        self._dirty = False
        self._rebuilding = True

        def work() -> Path:
            return write_labelled(out, replay(records), size)

        def done(_: Any) -> None:
            self._rebuilding = False
            self.rebuilt.emit()

        def failed(message: str, details: str = "") -> None:
            self._rebuilding = False
            self._dirty = True
            self._say(f"labels are safe in the journal; rebuilding {out.name} failed: "
                      f"{message}", "warning")

        run_in_thread(work, self, "siam-label-rebuild", done, failed)

    def pending_rebuild(self) -> bool:
        return self._dirty or self._rebuilding

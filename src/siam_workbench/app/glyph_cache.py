"""Glyph thumbnails of class labels for the Miners, Draw and Runs tabs.

A class is text (``가``, ``A``); the tabs show it as a small image rendered with one of the
project's *training* fonts, so a thumbnail looks like what the network learned — and Hangul shows
as Hangul, not as a box. Finding those fonts (font discovery plus
:func:`siam_workbench.data.font_roles.resolve_font_roles`, which may compute coverage of a big
alphabet)
takes seconds, so it runs on a worker thread; until it is done, and for text no face covers, the
thumbnail is drawn with Qt's own font fallback. Rendered pixmaps are cached per (text, size).

One cache serves all tabs of a window: :meth:`GlyphCache.for_document`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap

from siam_workbench.app.font_model import glyph_pixmap
from siam_workbench.app.workers import run_in_thread
from siam_workbench.project.project import Project

MAX_PIXMAPS = 20_000
_FALLBACK_TRIES = 24  # faces tried for a class the training fonts do not cover


AUTO_ROLES_MAX_CLASSES = 3000  # larger alphabets: no automatic split just for thumbnails


def _train_file_faces(project: Project, faces: list[Any]) -> list[Any]:
    """Faces the project's training file was rendered from (its ``/source_names``)."""
    from siam_workbench.base.errors import SiamError
    from siam_workbench.data.glyphs import GlyphFile

    path = project.dataset_paths()["train"]
    if not path.exists():
        return []
    try:
        with GlyphFile(path) as gf:
            names = list(gf.source_names)
    except (SiamError, OSError):
        return []
    by_id = {f.id: f for f in faces}
    return [by_id[n] for n in names if n in by_id]


def resolve_faces(project: Project) -> tuple[list[Any], str]:
    """Faces to render class thumbnails with, best first, and a one-line note for the user.

    The project's training faces come first, then every other installed face (the fallback for
    classes they lack). Training faces are, cheapest first: the faces the training file was
    rendered from; the faces ``data.train_fonts`` names; the automatic split of
    :func:`siam_workbench.data.font_roles.resolve_font_roles`. The automatic split computes every
    face's
    coverage of the alphabet — seconds of Python work that would compete with the GUI thread for
    the GIL —
    so it is skipped for alphabets above :data:`AUTO_ROLES_MAX_CLASSES` classes. Qt-free; call
    it off the GUI thread.
    """
    from siam_workbench.base.errors import SiamError
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.data.font_roles import resolve_font_roles
    from siam_workbench.data.fonts import discover_fonts, match_faces

    d = project.config.data
    try:
        faces = list(discover_fonts(extra=[project.resolve(x) for x in d.font_dirs]))
    except SiamError:
        faces = list(discover_fonts())
    train = _train_file_faces(project, faces)
    how = "the training file's font"
    if not train and d.train_fonts:
        train = list(dict.fromkeys(f for spec in d.train_fonts for f in match_faces(spec, faces)))
        how = "the training font"
    if not train:
        try:
            classes = list(resolve_alphabet(d.alphabet, base=project.root).classes)
            if len(classes) <= AUTO_ROLES_MAX_CLASSES:
                train = list(resolve_font_roles(d, faces, classes)["train"])
                how = "the training font"
        except SiamError:
            train = []
    if not train:
        return faces, "glyphs rendered with the first installed font that covers each class"
    seen = set(train)
    return train + [f for f in faces if f not in seen], \
        f"glyphs rendered with {how} {train[0].full_name}"


class GlyphCache(QObject):
    """Class text → QPixmap thumbnail (training font when known, Qt fallback otherwise)."""

    ready = Signal()  # the training fonts are known: views should repaint their thumbnails

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.faces: list[Any] = []
        self.note = "finding the training fonts…"
        self.resolved = False
        self._project_root: Any = None
        self._tag = 0
        self._runner: Any = None
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._face_of: dict[str, Any] = {}  # text → face that covers it (None: none does)
        self.mode = "fit"  # the project's data.size_mode: how a glyph fills its square

    @classmethod
    def for_document(cls, doc: Any) -> GlyphCache:
        """The cache shared by every tab of ``doc`` (created on first use, follows the project)."""
        cache = doc.findChild(GlyphCache, "siam-glyph-cache")
        if cache is None:
            cache = cls(doc)
            cache.setObjectName("siam-glyph-cache")
            doc.projectChanged.connect(lambda: cache.set_project(doc.project))
            cache.set_project(doc.project)
        return cache

    # -- fonts -------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        root = None if project is None else project.root
        if root == self._project_root and (self.resolved or self._runner is not None):
            return
        self._project_root = root
        # Framed as the project's runs frame them: in em mode x/X and o/O/0 keep their sizes
        # (a fit thumbnail drew every lowercase class at capital size).
        self.mode = str(getattr(project.config.data, "size_mode", "fit") or "fit") \
            if project is not None else "fit"
        self._tag += 1
        self.resolved = False
        self.faces = []
        self._pixmaps.clear()
        self._face_of.clear()
        if project is None:
            self.note = ""
            return
        self.note = "finding the training fonts…"
        tag = self._tag
        runner = run_in_thread(lambda: (tag, *resolve_faces(project)), self, "siam-glyph-fonts",
                               self._resolved, self._failed)
        runner.finished.connect(lambda: self._runner_done(tag))
        self._runner = runner
        self._runner_tag = tag

    def set_mode(self, mode: str) -> None:
        """Frame thumbnails as a loaded run does when it differs from the project."""
        if mode in ("em", "fit") and mode != self.mode:
            self.mode = mode
            self._pixmaps.clear()
            if self.resolved:
                self.ready.emit()

    def _runner_done(self, tag: int) -> None:
        if getattr(self, "_runner_tag", None) == tag:
            self._runner = None

    def _resolved(self, result: tuple[int, list[Any], str]) -> None:
        tag, faces, note = result
        if tag != self._tag:
            return
        self.faces, self.note, self.resolved = faces, note, True
        self._pixmaps.clear()
        self._face_of.clear()
        self.ready.emit()

    def _failed(self, message: str, _details: str) -> None:
        self.note = f"no fonts ({message}); glyphs drawn with the system font"
        self.resolved = True
        self.ready.emit()

    def busy(self) -> bool:
        return self._runner is not None

    # -- rendering ---------------------------------------------------------------------------
    def image(self, text: str, size: int = 37, margin: int = 2) -> np.ndarray | None:
        """uint8 ``[size, size]`` (ink 255) of ``text`` in the first face that covers it."""
        if not self.resolved or not self.faces or not text:
            return None
        from siam_workbench.base.errors import SiamError
        from siam_workbench.data.render import render_glyph

        face = self._face_of.get(text, False)
        candidates = [face] if face not in (False, None) else (
            [] if face is None else self.faces[:_FALLBACK_TRIES])
        for f in candidates:
            try:
                img = render_glyph(f, text, size=size, margin=margin, mode=self.mode)
            except (SiamError, OSError, RuntimeError):
                img = None
            if img is not None:
                self._face_of[text] = f
                return img
        self._face_of[text] = None
        return None

    def pixmap(self, text: str, px: int = 32) -> QPixmap:
        """Thumbnail of ``text``, ``px`` × ``px``; cached once the fonts are known."""
        key = (text, px)
        pm = self._pixmaps.get(key)
        if pm is not None:
            self._pixmaps.move_to_end(key)
            return pm
        img = self.image(text, size=max(8, px), margin=max(1, px // 16))
        pm = glyph_pixmap(img, px) if img is not None else text_pixmap(text, px)
        # Cached either way (the Qt-drawn stand-ins too, until the fonts are known: a table
        # repaint must not redraw them with font fallback each time).
        self._pixmaps[key] = pm
        while len(self._pixmaps) > MAX_PIXMAPS:
            self._pixmaps.popitem(last=False)
        return pm


def text_pixmap(text: str, px: int) -> QPixmap:
    """``text`` drawn with Qt's font fallback on paper, for classes no face covers."""
    pm = QPixmap(px, px)
    pm.fill(QColor("white"))
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    font = QFont()
    font.setPixelSize(max(6, int(px * (0.8 if len(text) <= 1 else 0.45))))
    p.setFont(font)
    p.setPen(QColor("black"))
    p.drawText(QRect(0, 0, px, px), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pm

"""The Data tab: alphabet, fonts (coverage, roles, samples), rendering and the glyph browser.

Three kinds of background work keep the GUI responsive here, all on worker threads:
font discovery + coverage + sample glyphs (:class:`siam_workbench.app.workers.CoverageJob`, results
fill
the table as they arrive), role resolution
(:func:`siam_workbench.data.font_roles.resolve_font_roles`, which may
need coverage of every face) and rendering (:class:`siam_workbench.app.workers.RenderJob`, with
progress, glyphs/s, ETA and Cancel). Role and alphabet changes are undoable project edits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app import dialogs
from siam_workbench.app.data.render_panel import RenderPanel, missing_names  # noqa: F401
from siam_workbench.app.data.samples_panel import SamplesPanel
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.font_model import (
    COL_COVERAGE,
    COL_FAMILY,
    COL_FILE,
    COL_ROLE,
    COL_SAMPLE,
    COL_STYLE,
    ROW_ROLE,
    SAMPLE_PX,
    CoverageDelegate,
    FontFilterProxy,
    FontRow,
    FontTableModel,
)
from siam_workbench.app.glyph_browser import GlyphBrowser
from siam_workbench.app.style import set_role
from siam_workbench.app.workers import CoverageJob, JobRunner, run_in_thread
from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.data import alphabets as alphabet_defs
from siam_workbench.data import fonts as font_defs
from siam_workbench.data.font_roles import resolve_font_roles
from siam_workbench.data.fonts import face_token
from siam_workbench.data.fonts import missing_script_hint as fonts_hint

ROLES = ("train", "val", "test")
CUSTOM_TEXT = "__custom_text__"
CUSTOM_FILE = "__custom_file__"
_SELECT_ROW = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows


class DataTab(QWidget):
    """Alphabet chooser, font table with roles, Render, and the glyph browser."""

    datasetsChanged = Signal()  # a glyph file was written or edited
    stateChanged = Signal(str)  # idle | rendering
    throughputChanged = Signal(float)  # glyphs/s while rendering

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.classes: list[str] = []
        self.alphabet_error = ""
        self.faces: list[Any] | None = None
        self._faces_key: tuple[str, ...] | None = None
        self._tag = 0
        self._coverage_runners: list[JobRunner] = []
        self.coverage_done = False
        self.roles_done = False
        self._roles_runner: JobRunner | None = None
        self._roles_tag = 0
        self.resolved: dict[str, list[Any]] | None = None

        # -- alphabet ----------------------------------------------------------------------
        self.alphabet = QComboBox()
        self.alphabet.setMinimumContentsLength(28)
        self.alphabet.activated.connect(self._alphabet_chosen)
        self.alphabet_info = QLabel()
        self.alphabet_info.setWordWrap(True)
        self.alphabet_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        alpha_box = QGroupBox("Alphabet")
        al = QVBoxLayout(alpha_box)
        al.addWidget(self.alphabet)
        al.addWidget(self.alphabet_info)

        # -- fonts -------------------------------------------------------------------------
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter fonts (family, style, file)")
        self.filter.setClearButtonEnabled(True)
        self.role_filter = QComboBox()
        self.role_filter.addItem("All roles", "")
        for r in (*ROLES, "unused", "missing"):
            self.role_filter.addItem(r, r)
        self.sample_text = QLineEdit()
        self.sample_text.setPlaceholderText("sample")
        self.sample_text.setMaximumWidth(70)
        self.sample_text.setToolTip("Character drawn in the Sample column")
        self.sample_text.editingFinished.connect(self._sample_changed)
        self.add_fonts_btn = QPushButton("Add font folder…")
        self.add_fonts_btn.setToolTip("Search another folder for fonts (data.font_dirs)")
        self.add_fonts_btn.clicked.connect(self._add_font_dir)

        self.model = FontTableModel(self)
        self.proxy = FontFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter.textChanged.connect(self.proxy.set_text)
        self.role_filter.currentIndexChanged.connect(
            lambda _i: self.proxy.set_role(self.role_filter.currentData()))
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_FAMILY, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setItemDelegateForColumn(COL_COVERAGE, CoverageDelegate(self.table))
        self.table.verticalHeader().setDefaultSectionSize(SAMPLE_PX + 4)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setIconSize(QSize(SAMPLE_PX, SAMPLE_PX))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(COL_FAMILY, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_STYLE, 90), (COL_FILE, 170), (COL_COVERAGE, 110),
                           (COL_ROLE, 95), (COL_SAMPLE, SAMPLE_PX + 22)):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            hh.resizeSection(col, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.role_buttons: dict[str, QPushButton] = {}
        roles_row = QHBoxLayout()
        roles_row.addWidget(QLabel("Selected →"))
        for role, tip in (("train", "Render these faces into the training file"),
                          ("val", "Validation: families never seen in training"),
                          ("test", "Test: held-out families, distorted"),
                          ("unused", "Render nothing from these faces")):
            b = QPushButton(role.capitalize())
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, r=role: self.assign_role(r))
            self.role_buttons[role] = b
            roles_row.addWidget(b)
        self.auto_btn = QPushButton("Automatic split")
        self.auto_btn.setToolTip("Clear data.train_fonts / val_fonts / test_fonts: faces are "
                                 "split by family automatically")
        self.auto_btn.clicked.connect(self.automatic_split)
        roles_row.addStretch(1)
        roles_row.addWidget(self.auto_btn)
        self.add_samples_btn = QPushButton("Add samples…")
        self.add_samples_btn.setToolTip(
            "Imported real samples (a glyph .h5 from siam import) split by source into "
            "data/real-train|val|test.h5; training appends real-train to the fonts by class "
            "name (siam data add-samples)")
        self.add_samples_btn.clicked.connect(self._ask_samples)
        roles_row.addWidget(self.add_samples_btn)
        self._samples_runner: JobRunner | None = None
        self.font_status = QLabel()
        self.font_status.setWordWrap(True)
        # Scanning, coverage and the automatic split run in the background; until they are
        # known the tab says so and shows this busy bar rather than zeros (issue 21, item 7).
        self.fonts_busy = QProgressBar()
        self.fonts_busy.setRange(0, 0)
        self.fonts_busy.setTextVisible(False)
        self.fonts_busy.setMaximumHeight(8)
        self.fonts_busy.setToolTip("Scanning fonts and working out their roles…")
        self.fonts_busy.hide()
        self.roles_message = QLabel()
        self.roles_message.setWordWrap(True)
        self.roles_message.setProperty("role", "error")
        self.roles_message.hide()
        self.split_note = QLabel()
        self.split_note.setWordWrap(True)
        self.split_note.setProperty("role", "hint")
        self.split_note.hide()

        font_box = QGroupBox("Fonts")
        self.font_box = font_box
        fl = QVBoxLayout(font_box)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.role_filter)
        top.addWidget(QLabel("Sample"))
        top.addWidget(self.sample_text)
        top.addWidget(self.add_fonts_btn)
        fl.addLayout(top)
        fl.addWidget(self.table, 1)
        fl.addLayout(roles_row)
        fl.addWidget(self.roles_message)
        fl.addWidget(self.split_note)
        fl.addWidget(self.fonts_busy)
        fl.addWidget(self.font_status)

        # -- imported samples (siam new --samples, siam data add-samples) -------------------
        self.samples_panel = SamplesPanel()
        self.samples_only = False  # the project's data are imported samples: no fonts at all

        # -- render ------------------------------------------------------------------------
        self.render_panel = RenderPanel(doc)
        self.render_panel.stateChanged.connect(self.stateChanged.emit)
        self.render_panel.throughputChanged.connect(self.throughputChanged.emit)
        self.render_panel.finished.connect(self._render_finished)
        render_box = self.render_panel
        # The panel's widgets, as tests and the window know them.
        self.render_btn, self.cancel_btn = self.render_panel.render_btn, \
            self.render_panel.cancel_btn
        self.render_progress = self.render_panel.render_progress
        self.render_info = self.render_panel.render_info

        # -- glyph browser -----------------------------------------------------------------
        self.browser = GlyphBrowser()
        self.browser.exclusionChanged.connect(lambda _p: self.datasetsChanged.emit())
        self.browser.undo_stack = doc.undo_stack  # exclusions are undoable (Edit → Undo)
        self.browser.outliersReady.connect(self.model.set_outliers)
        browse_box = QGroupBox("Glyph browser")
        bl = QVBoxLayout(browse_box)
        bl.addWidget(self.browser)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(alpha_box)
        ll.addWidget(font_box, 1)
        ll.addWidget(self.samples_panel, 1)
        ll.addWidget(render_box)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(browse_box)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        split.setCollapsible(0, False)
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.addWidget(split)

        doc.projectChanged.connect(self._project_changed)
        doc.configChanged.connect(self._config_changed)
        self._fill_alphabets()
        self._update_samples()
        self._update_buttons()

    # -- project & config --------------------------------------------------------------------
    def _update_samples(self) -> None:
        """Imported sources beside the fonts; a samples project shows them instead."""
        from siam_workbench.data.samples import samples_record_of

        project = self.doc.project
        record = samples_record_of(project) if project is not None else None
        self.samples_only = record is not None
        self.samples_panel.set_project(project)
        self.font_box.setVisible(not self.samples_only)
        self.render_panel.blocked = (
            f"This project's data are imported samples ({record.name}); fonts are never "
            "rendered into it (siam data resplit makes missing files again)."
            if record is not None else "")
        self.render_panel.describe_existing()

    def _project_changed(self) -> None:
        self._update_samples()
        self.split_note.hide()
        self.faces = None
        self._faces_key = None
        self.model.set_rows([])
        self._fill_alphabets()
        self._reload_alphabet()
        self.browser.set_project(self.doc.project)
        self.render_panel.last_render = None
        self.render_panel.describe_existing()
        self._update_buttons()

    def files_changed(self) -> None:
        """Data files changed on disk (deleted, re-rendered elsewhere): say what is there now
        and re-read the glyph browser, unless we are the ones rendering."""
        if self.render_panel.runner is None:
            self._update_samples()
            self.browser.reload()

    def _config_changed(self, keys: frozenset[str]) -> None:
        if any(k in keys for k in ("data.samples", "data.extra_train", "data.train")):
            self._update_samples()
            self._update_buttons()
        if any(k in keys for k in ("data.alphabet", "data.font_dirs")):
            self._fill_alphabets()
            self._reload_alphabet()
        elif any(k.startswith("data.") and (k.endswith("_fonts") or k == "data.min_coverage")
                 for k in keys):
            self._start_roles()
        elif any(k in keys for k in ("data.image_size", "data.margin")):
            self._start_coverage()

    def _fill_alphabets(self) -> None:
        combo = self.alphabet
        combo.blockSignals(True)
        combo.clear()
        named = alphabet_defs.NAMED
        for name, desc in named.items():
            combo.addItem(f"{name} — {desc}", name)
        combo.insertSeparator(combo.count())
        combo.addItem("Custom text…", CUSTOM_TEXT)
        combo.addItem("Class list file…", CUSTOM_FILE)
        spec = self.doc.config.data.alphabet if self.doc.project else ""
        i = combo.findData(spec)
        if i < 0 and spec:
            combo.insertItem(0, f"file: {spec}", spec)
            i = 0
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def _reload_alphabet(self) -> None:
        """Resolve ``data.alphabet`` (cheap even for 11,172 classes) and restart coverage."""
        project = self.doc.project
        self.classes = []
        self.alphabet_error = ""
        if project is None:
            self.alphabet_info.setText("")
            return
        try:
            alpha = alphabet_defs.resolve_alphabet(project.config.data.alphabet, base=project.root)
            self.classes = list(alpha.classes)
        except SiamError as exc:
            self.alphabet_error = str(exc)
            set_role(self.alphabet_info, "error")
            self.alphabet_info.setText(str(exc))
        else:
            set_role(self.alphabet_info)
            preview = " ".join(self.classes[:40]) + (" …" if len(self.classes) > 40 else "")
            self.alphabet_info.setText(f"<b>{len(self.classes):,} classes</b>: {preview}")
            if not self.sample_text.text() or self.sample_text.text() not in self.classes:
                self.sample_text.setText(self.classes[0] if self.classes else "")
        self._start_coverage()

    # -- coverage ----------------------------------------------------------------------------
    def _start_coverage(self) -> None:
        for r in self._coverage_runners:
            r.job.cancel()
        project = self.doc.project
        self.coverage_done = False
        self.roles_done = False
        self._tag += 1
        if project is None:
            self._update_busy()
            return
        if self.samples_only:  # no font is ever rendered here: no coverage to compute
            self.coverage_done = self.roles_done = True
            self.font_status.setText("")
            self._update_busy()
            return
        d = project.config.data
        key = tuple(str(project.resolve(x)) for x in d.font_dirs)
        faces = self.faces if self._faces_key == key else None
        if faces is None:
            self.faces = None
            self._faces_key = key
            self.model.set_rows([])
            self.font_status.setText("Scanning fonts…")
        else:
            self.model.clear_coverage()
        self._update_busy()
        extra = [project.resolve(x) for x in d.font_dirs]
        job = CoverageJob(self._tag, self.classes, self.sample_text.text(), extra, faces,
                          d.image_size, d.margin)
        runner = JobRunner(job, "siam-coverage", self)
        job.faces_found.connect(self._faces_found)
        job.face_done.connect(self._face_done)
        job.progress.connect(self._coverage_progress)
        runner.failed.connect(self._coverage_failed)
        runner.finished.connect(self._coverage_finished)
        runner.finished.connect(runner.deleteLater)
        self._coverage_runners.append(runner)
        runner.start()

    def _faces_found(self, tag: int, faces: list[Any]) -> None:
        if tag != self._tag:
            return
        self.faces = faces
        rows = [FontRow(face=f, token=face_token(f)) for f in faces]
        self.model.set_rows(rows)
        self.table.sortByColumn(self.proxy.sortColumn() if self.proxy.sortColumn() >= 0
                                else COL_FAMILY, self.proxy.sortOrder())
        self._start_roles()

    def _face_done(self, tag: int, face_id: str, frac: float | None, sample: Any) -> None:
        if tag != self._tag:
            return
        self.model.set_coverage(face_id, frac)
        self.model.set_sample(face_id, sample)

    def _coverage_progress(self, tag: int, done: int, total: int) -> None:
        if tag == self._tag:
            self.font_status.setText(f"Coverage of {len(self.classes):,} classes: "
                                     f"{done}/{total} faces…")

    def _coverage_failed(self, message: str, details: str) -> None:
        self.font_status.setText(f"<b>Fonts could not be listed:</b> {message}")
        self.coverage_done = self.roles_done = True  # nothing more is coming
        self._update_busy()

    def _update_busy(self) -> None:
        self.fonts_busy.setVisible(self.doc.project is not None and not self.wait_idle())

    def _coverage_finished(self) -> None:
        self._coverage_runners = [r for r in self._coverage_runners
                                  if not r.thread.isFinished()]
        if not self._coverage_runners:
            self.coverage_done = True
            self.proxy.invalidate()
            self.proxy.sort(self.proxy.sortColumn(), self.proxy.sortOrder())
            self._update_font_status()
            if self.faces is not None and not self.roles_done and self._roles_runner is None:
                self._start_roles()
            self._update_busy()

    def _sample_changed(self) -> None:
        if self.faces is not None:
            self._start_coverage()

    # -- roles -------------------------------------------------------------------------------
    def role_lists(self) -> dict[str, list[str]]:
        d = self.doc.config.data
        return {r: list(getattr(d, f"{r}_fonts")) for r in ROLES}

    def _start_roles(self) -> None:
        project = self.doc.project
        if project is None or self.faces is None:
            return
        self.roles_done = False
        self._roles_tag += 1
        tag = self._roles_tag
        faces, classes = list(self.faces), list(self.classes)
        data_cfg = project.config.data
        lists = self.role_lists()

        def work() -> tuple[int, Any, str, list[tuple[str, str]], dict[str, str]]:
            fonts = font_defs
            missing = [(t, r) for r in ROLES for t in lists[r] if not fonts.match_faces(t, faces)]
            explicit = {f.id: r for r in ROLES for t in lists[r]
                        for f in fonts.match_faces(t, faces)}
            try:
                resolved = resolve_font_roles(data_cfg, faces, classes) if classes \
                    else None
                error = "" if classes else "no alphabet"
            except SiamError as exc:
                resolved, error = None, str(exc)
            return tag, resolved, error, missing, explicit

        if self._roles_runner is not None:
            self._roles_runner.job.cancel()
        self._update_font_status()
        self._update_busy()
        runner = run_in_thread(work, self, "siam-roles", self._roles_result,
                               self._coverage_failed)
        runner.finished.connect(self._roles_finished)
        self._roles_runner = runner

    def _roles_result(self, result: tuple[int, Any, str, list[tuple[str, str]], dict[str, str]]
                      ) -> None:
        tag, resolved, error, missing, explicit = result
        if tag != self._roles_tag:
            return
        lists = self.role_lists()
        self.resolved = resolved
        if resolved is not None:
            mapping = {f.id: (r, not lists[r]) for r, faces in resolved.items() for f in faces}
        else:
            mapping = {fid: (r, False) for fid, r in explicit.items()}
        self._keep_selection(lambda: self.model.set_roles(mapping, missing))
        if error and error != "no alphabet":
            self.roles_message.setText(f"Font roles: {error}")
            self.roles_message.show()
        else:
            self.roles_message.hide()
        self.roles_done = True
        self._update_font_status()
        self._update_buttons()
        self._update_busy()

    def _roles_finished(self) -> None:
        if self._roles_runner is not None and self._roles_runner.thread.isFinished():
            self._roles_runner = None

    def _keep_selection(self, change: Any) -> None:
        ids = {r.id for r in self.selected_rows()}
        change()
        sel = self.table.selectionModel()
        for i in range(self.proxy.rowCount()):
            row: FontRow = self.proxy.index(i, 0).data(ROW_ROLE)
            if row.id in ids:
                sel.select(self.proxy.index(i, 0), _SELECT_ROW)

    def selected_rows(self) -> list[FontRow]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return [i.data(ROW_ROLE) for i in rows]

    def select_faces(self, predicate: Any) -> int:
        """Select the rows whose :class:`FontRow` satisfies ``predicate`` (tests, scripts)."""
        sel = self.table.selectionModel()
        sel.clearSelection()
        n = 0
        for i in range(self.proxy.rowCount()):
            row: FontRow = self.proxy.index(i, 0).data(ROW_ROLE)
            if predicate(row):
                sel.select(self.proxy.index(i, 0), _SELECT_ROW)
                n += 1
        return n

    def assign_role(self, role: str, rows: list[FontRow] | None = None) -> bool:
        """Give the selected faces ``role`` (train / val / test / unused) as one undoable edit.

        An automatic split is first written out explicitly, so what the table showed is what the
        file keeps; missing entries marked unused are removed from the lists.
        """
        rows = self.selected_rows() if rows is None else rows
        if not rows or self.doc.project is None:
            return False
        fonts = font_defs
        lists = self.role_lists()
        faces = self.faces or []
        switched = []
        if self.resolved is not None and any(not lists[r] for r in ROLES):
            for r in ROLES:
                if not lists[r]:
                    lists[r] = [face_token(f) for f in self.resolved[r]]
                    switched.append(f"{r} {len(lists[r])}")
        for row in rows:
            for r in ROLES:
                kept: list[str] = []
                for t in lists[r]:
                    if row.missing:
                        if t != row.token:
                            kept.append(t)
                        continue
                    hits = fonts.match_faces(t, faces)
                    if row.face not in hits:
                        kept.append(t)
                    elif fonts.is_glob(t) or len(hits) > 1:
                        # A pattern naming several faces: keep the others by name.
                        kept += [face_token(f) for f in hits if f != row.face]
                lists[r] = list(dict.fromkeys(kept))
            if role in ROLES and not row.missing:
                lists[role].append(face_token(row.face))
        n = len(rows)
        try:
            changed = self.doc.set_values({"data": {f"{r}_fonts": lists[r] for r in ROLES}},
                                          f"Set {n} font{'s' * (n != 1)} to {role}")
        except SiamError as exc:
            dialogs.error(self, "Cannot assign role", str(exc))
            return False
        if switched and changed:
            self.split_note.setText(
                "The roles are now <b>explicit</b>: the automatic split was written into "
                f"project.toml ({', '.join(switched)} faces) so every face you did not touch "
                f"keeps its role, and the {n} selected now {'are' if n != 1 else 'is'} "
                f"<b>{role}</b>. <i>Automatic split</i> goes back (or Undo).")
            self.split_note.show()
        return changed

    def automatic_split(self) -> None:
        if self.doc.project is not None:
            self.doc.set_values({"data": {f"{r}_fonts": [] for r in ROLES}},
                                "Automatic font split")
            self.split_note.hide()

    def _selection_changed(self, *_: object) -> None:
        self._update_buttons()

    def _update_font_status(self) -> None:
        if self.faces is None:
            return
        counts = {r: 0 for r in (*ROLES, "unused", "missing")}
        for row in self.model.rows:
            counts[row.role] = counts.get(row.role, 0) + 1
        known = [r.coverage for r in self.model.rows if r.coverage is not None]
        full = sum(1 for c in known if c >= self.doc.config.data.min_coverage)
        lists = self.role_lists()
        auto = not any(lists.values())
        text = (f"{len(self.faces)} faces, {full} cover ≥ "
                f"{self.doc.config.data.min_coverage:.0%} of the alphabet · ")
        if not self.roles_done:
            # Not "train 0": the roles are not known yet, they are being worked out.
            text += ("working out the automatic split by family…" if auto
                     else "reading the font roles…")
        else:
            text += (f"train {counts['train']}, val {counts['val']}, test {counts['test']}, "
                     f"unused {counts['unused']}")
            if auto and self.resolved is not None:
                text += " (automatic split by family)"
            elif self.resolved is None and not any(counts[r] for r in ROLES):
                text += " · <b>no split set</b>: press <i>Automatic split</i> or give faces roles"
        if counts["missing"]:
            text += f" · <b>{counts['missing']} missing</b>"
        if not self.coverage_done:
            text += " · computing coverage…"
        else:
            hint = fonts_hint(self.classes, sum(1 for c in known if c > 0))
            if hint:
                text += f"<br><b>{hint}</b>"
        self.font_status.setText(text)

    # -- alphabet choices --------------------------------------------------------------------
    def _alphabet_chosen(self, index: int) -> None:
        data = self.alphabet.itemData(index)
        if data == CUSTOM_TEXT:
            self._fill_alphabets()
            self._ask_custom_text()
        elif data == CUSTOM_FILE:
            self._fill_alphabets()
            self._ask_custom_file()
        elif data:
            self.set_alphabet(str(data))

    def set_alphabet(self, spec: str) -> bool:
        try:
            return self.doc.set_values({"data": {"alphabet": spec}}, f"Alphabet {spec}")
        except SiamError as exc:
            dialogs.error(self, "Alphabet", str(exc))
            self._fill_alphabets()
            return False

    def _ask_custom_text(self) -> None:
        project = self.doc.project
        if project is None:
            return
        current = ""
        spec = project.config.data.alphabet
        path = project.resolve(spec)
        if path.is_file():
            try:
                current = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                current = ""
        text, ok = QInputDialog.getMultiLineText(
            self, "Custom alphabet",
            "Classes: one per character, or one per line for multi-character classes:", current)
        if ok:
            self.use_custom_text(text)

    def use_custom_text(self, text: str) -> bool:
        """Save ``text`` as the project's class list and make it the alphabet (undoable)."""
        project = self.doc.project
        if project is None:
            return False
        try:
            alphabet = alphabet_defs.alphabet_from_text(text)
        except SiamError as exc:
            dialogs.error(self, "Custom alphabet", str(exc))
            return False
        spec = project.config.data.alphabet
        target = project.resolve(spec)
        if not (target.is_file() and target.parent == project.root
                and target.name.startswith("alphabet")):
            target = project.root / "alphabet.txt"
            n = 2
            while target.exists():
                target = project.root / f"alphabet-{n}.txt"
                n += 1
        body = "\n".join(alphabet.classes) + "\n"
        try:
            write_text_atomic(target, body)
        except (SiamError, OSError) as exc:
            dialogs.error(self, "Custom alphabet", f"Cannot save the class list: {exc}")
            return False
        if target.name == spec:
            self._reload_alphabet()  # same file, new content: config unchanged
            return True
        return self.set_alphabet(target.name)

    def _ask_custom_file(self) -> None:
        project = self.doc.project
        if project is None:
            return
        name, _ = QFileDialog.getOpenFileName(self, "Class list (UTF-8 text)", str(project.root),
                                              "Text files (*.txt);;All files (*)")
        if name:
            path = Path(name)
            try:
                spec = str(path.relative_to(project.root))
            except ValueError:
                spec = str(path)
            self.set_alphabet(spec)

    def _add_font_dir(self) -> None:
        project = self.doc.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder with fonts", str(Path.home()))
        if folder:
            dirs = list(project.config.data.font_dirs) + [folder]
            self.doc.set_values({"data": {"font_dirs": list(dict.fromkeys(dirs))}},
                                "Add font folder")

    # -- imported samples --------------------------------------------------------------------
    def _ask_samples(self) -> None:
        project = self.doc.project
        if project is None:
            return
        names, _ = QFileDialog.getOpenFileNames(self, "Imported samples (siam import)",
                                                str(project.root),
                                                "Glyph files (*.h5 *.hdf5);;All files (*)")
        if names:
            self.add_samples([Path(n) for n in names])

    def add_samples(self, paths: list[Path], split: str = "60/20/20", seed: int = 0,
                    group_by: str = "source") -> bool:
        """Split glyph files by source into the project on a worker thread; the config change
        (data.extra_train, data.samples) is then one undoable edit."""
        project = self.doc.project
        if project is None or self._samples_runner is not None or self.samples_only:
            return False
        from siam_workbench.project.sample_projects import add_samples, free_name

        name = free_name(project)

        def work() -> tuple[dict[str, Any], list[str], dict[str, Any]]:
            return add_samples(project, paths, name=name, split=split, seed=seed,
                               group_by=group_by, save=False)

        def done(result: tuple[dict[str, Any], list[str], dict[str, Any]]) -> None:
            record, notes, updates = result
            try:
                self.doc.set_values(updates, f"Add samples ({name})")
            except SiamError as exc:
                dialogs.error(self, "Add samples", str(exc))
                return
            c = record["counts"]
            self.split_note.setText(
                f"Samples split {record['split']} by {record['group_by']} into "
                f"data/{name}-*.h5: train {c['train']['sources']} sources, val "
                f"{c['val']['sources']}, test {c['test']['sources']}. Training appends "
                f"data/{name}-train.h5 to the fonts." + "".join(f"<br>{n}" for n in notes))
            self.split_note.show()

        def failed(message: str, details: str) -> None:
            dialogs.error(self, "Add samples", message)

        runner = run_in_thread(work, self, "siam-add-samples", done, failed)
        runner.finished.connect(self._samples_finished)
        self._samples_runner = runner
        self._update_buttons()
        return True

    def _samples_finished(self) -> None:
        self._samples_runner = None
        self.datasetsChanged.emit()
        self._update_buttons()

    # -- rendering ---------------------------------------------------------------------------
    def render(self, force: bool | None = None) -> bool:
        """Render the project's splits (:meth:`RenderPanel.render`)."""
        started = self.render_panel.render(force)
        self._update_buttons()
        return started

    def cancel_render(self) -> None:
        self.render_panel.cancel()

    @property
    def render_runner(self) -> JobRunner | None:
        return self.render_panel.runner

    @property
    def last_render(self) -> dict[str, Any] | None:
        return self.render_panel.last_render

    def _render_finished(self) -> None:
        self.browser.reload()
        self.datasetsChanged.emit()
        self._update_buttons()

    @property
    def busy(self) -> bool:
        return self.render_panel.runner is not None or self._samples_runner is not None

    def wait(self, ms: int) -> bool:
        return self.render_panel.runner is None or self.render_panel.runner.wait(ms)

    def shutdown(self, ms: int = 5000) -> None:
        """Cancel background work and wait for it (closing the window)."""
        self.cancel_render()
        runners = list(self._coverage_runners)
        if self._roles_runner is not None:
            runners.append(self._roles_runner)
        if self.browser._runner is not None:
            runners.append(self.browser._runner)
        if self.render_runner is not None:
            runners.append(self.render_runner)
        if self._samples_runner is not None:
            runners.append(self._samples_runner)
        for r in runners:
            r.job.cancel()
        deadline = time.monotonic() + ms / 1000
        for r in runners:
            r.wait(max(0, int((deadline - time.monotonic()) * 1000)))

    def _update_buttons(self) -> None:
        has = self.doc.project is not None
        rendering = self.render_panel.runner is not None
        self.render_panel.update_buttons()
        self.alphabet.setEnabled(has and not rendering)
        selected = bool(self.selected_rows())
        for b in self.role_buttons.values():
            b.setEnabled(has and selected and not rendering and self.faces is not None)
        self.auto_btn.setEnabled(has and not rendering)
        self.add_fonts_btn.setEnabled(has and not rendering)
        self.add_samples_btn.setEnabled(has and not rendering and self._samples_runner is None
                                        and not self.samples_only)

    def wait_idle(self) -> bool:
        """True when coverage and roles are known (screenshots, tests)."""
        return self.coverage_done and self.roles_done

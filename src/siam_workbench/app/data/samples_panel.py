"""Data › Imported samples: the sources of the project's split records (``data.samples``) with
their sample counts and roles, beside the font table.

A project made from samples (``siam new --samples``) has no font roles at all; this list is its
roles. A font project with samples added (``siam data add-samples``) shows both. Records are small
JSON files, read in the GUI thread; their consistency check (roles follow from the seed, no
source in two roles) is shown as an error line.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.style import set_role
from siam_workbench.data.samples import ROLES, SourceRow, project_records, source_rows

COLUMNS = ("Source", "Samples", "Role", "Group", "File")
_ROLE_ORDER = {r: i for i, r in enumerate(ROLES)}


class SamplesPanel(QGroupBox):
    """Imported sources and their roles; hidden while the project has none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Imported samples", parent)
        self.rows: list[SourceRow] = []
        self.problems: list[str] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel()
        self.error.setWordWrap(True)
        set_role(self.error, "error")
        self.error.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.summary)
        lay.addWidget(self.error)
        self.hide()

    def set_project(self, project: Any) -> None:
        self.rows, self.problems = ([], []) if project is None else source_rows(project)
        self.rows.sort(key=lambda r: (r.record, _ROLE_ORDER.get(r.role, 9), r.name))
        table = self.table
        table.setSortingEnabled(False)
        table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            count = QTableWidgetItem()
            count.setData(Qt.ItemDataRole.DisplayRole, r.samples)
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items = [QTableWidgetItem(r.name), count, QTableWidgetItem(r.role),
                     QTableWidgetItem(r.group), QTableWidgetItem(r.file)]
            items[0].setToolTip(f"split record {r.record}")
            for col, item in enumerate(items):
                table.setItem(i, col, item)
        table.setSortingEnabled(True)
        self.summary.setText(self._summary(project) if project is not None else "")
        self.error.setText("<br>".join(self.problems))
        self.error.setVisible(bool(self.problems))
        self.setVisible(bool(self.rows or self.problems))

    def role_counts(self) -> dict[str, tuple[int, int]]:
        """Role → (sources, samples), over every record."""
        out = {r: (0, 0) for r in ROLES}
        for row in self.rows:
            n, k = out.get(row.role, (0, 0))
            out[row.role] = (n + 1, k + row.samples)
        return out

    def _summary(self, project: Any) -> str:
        counts = self.role_counts()
        roles = " · ".join(f"{r} {n} source{'s' * (n != 1)}, {k:,} samples"
                           for r, (n, k) in counts.items() if n)
        how = []
        for path, record, _ in project_records(project):
            if record is not None:
                rel = path.name
                how.append(f"{record.get('split', '?')} by {record.get('group_by', '?')}, "
                           f"seed {record.get('seed', '?')} ({rel})")
        return f"<b>{roles}</b>" + (f"<br>Split {'; '.join(how)}." if how else "")

"""The Train tab's settings form, generated from :data:`siam_workbench.project.config.SCHEMA`.

Nothing here lists a setting or a part by name: each :class:`siam_workbench.project.config.Field`
picks its
editor (choices → combo box, bool → check box, int → spin box, float → a spin box that accepts
1e-4 notation, str → line edit), its range (min/max), its label (``Field.label`` and unit), its
tooltip (help) and when it is greyed out (``used_when``, and a part's parameters while another
part is chosen: :func:`siam_workbench.project.partinfo.unused`). A part choice (miner, loss,
backbone) lists
each part with its label and help, from the part's own declaration — a plug-in's included.
Every keystroke is validated; an invalid value gets a red frame and a message naming
``section.key`` and is not written to the project; valid values become undoable project edits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.style import set_invalid, set_role
from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import SCHEMA, Config, Field, paper_defaults
from siam_workbench.project.partinfo import choice_labels, part_help, title, unused

TRAINING_SECTIONS = ("loss", "mining", "augment", "train", "model")
# ``section.key`` or a part's own ``section.<part>.key`` (part names may hold hyphens:
# ``loss.soft-margin.alpha``) named in an error's text.
_KEY_RE = re.compile(r"\b([a-z]+)\.([a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_]+)?)")


def error_settings(exc: SiamError, known: Iterable[str]) -> list[str]:
    """The settings of ``known`` an error is about: the one its fields name, then each one its
    text names (a relation names two), namespaced part settings included."""
    known = set(known)
    names = [exc.setting] if exc.setting else []
    names += [f"{section}.{key}" for section, key in _KEY_RE.findall(exc.message)]
    return [n for n in dict.fromkeys(names) if n in known]


SECTION_TITLES = {"loss": "Loss", "mining": "Mining", "augment": "Augmentation",
                  "train": "Training", "model": "Model"}


def label_for(name: str) -> str:
    """The form's label of ``section.key``: what its Field declares
    (siam_workbench.project.partinfo)."""
    section, key = name.split(".", 1)
    return title(section, key)


def irrelevant(values: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``section.key`` → why it has no effect with these values (e.g. θ with random negatives),
    from the parts' and fields' declarations (:func:`siam_workbench.project.partinfo.unused`)."""
    return unused(values)


def _dynamic_choices() -> dict[tuple[str, str], Callable[[], list[str]]]:
    """Free-text fields whose valid values come from a registry rather than the schema."""

    def backbones() -> list[str]:
        from siam_workbench.model.backbones import MODELS

        return list(MODELS)

    return {("model", "backbone"): backbones}


def _fmt(value: float) -> str:
    return f"{value:.6g}"


MAX_LABEL_WIDTH = 230  # px; longer labels wrap onto a second line
CHANGED_MARK = " ●"  # after a label whose value differs from the default or the last run
DEFAULT_COLOR = "#0072B2"  # differs from the default only
LAST_COLOR = "#D55E00"  # differs from the last run


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def describe_changes(changes: dict[str, tuple[Any, Any, Any]], against_last: bool) -> list[str]:
    """One line per changed setting: "Learning rate (train.lr): 0.001 → 0.003"."""
    lines = []
    for name, (value, default, last) in changes.items():
        was = last if against_last else default
        lines.append(f"{label_for(name)} ({name}): {_show(was)} → {_show(value)}")
    return lines


# Settings whose 0 means "choose when the run starts"; a run records the value it chose
# (train.threads: the measured thread count), which is no change the user made.
_RESOLVED_AUTO = {"train.threads"}

class SciSpinBox(QDoubleSpinBox):
    """A float spin box that shows and accepts ``1e-05`` as well as ``0.7``; steps are ×/÷ 10
    for values spanning decades (learning rates), +/- 0.1·magnitude otherwise."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setKeyboardTracking(True)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return _fmt(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        t = text.strip()
        if not t:
            return QValidator.State.Intermediate, text, pos
        if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d*)?([eE][-+]?\d*)?", t):
            return QValidator.State.Invalid, text, pos
        try:
            v = float(t)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        if not math.isfinite(v) or v < self.minimum() or v > self.maximum():
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        v = self.value()
        if self.minimum() > 0 and self.maximum() / self.minimum() >= 1e4 and v > 0:
            self.setValue(v * (10.0 ** steps))  # log steps for lr-like ranges
        else:
            step = 0.1 * 10 ** math.floor(math.log10(abs(v))) if v else 0.01
            self.setValue(v + steps * step)


class FieldEditor:
    """One SCHEMA field's widget plus parsing to a typed value or an error message."""

    def __init__(self, section: str, key: str, field: Field,
                 choices: list[str] | None, on_change: Callable[[], None]) -> None:
        self.section, self.key, self.field = section, key, field
        self.name = f"{section}.{key}"
        self.label: QLabel | None = None  # the form's label, which marks a changed value
        choices = list(field.choices) if field.choices else choices
        w: QWidget
        if choices is not None:
            w = QComboBox()
            w.addItems(choices)
            for value, label in choice_labels(self.name).items():
                j = w.findText(value)
                if j >= 0:
                    w.setItemData(j, f"<b>{label}</b><br>{self.part_tip(value)}",
                                  Qt.ItemDataRole.ToolTipRole)
            w.currentIndexChanged.connect(on_change)
        elif field.kind is bool:
            w = QCheckBox()
            w.toggled.connect(on_change)
        elif field.kind is int:
            w = QSpinBox()
            w.setRange(int(field.min) if field.min is not None else -(2**31),
                       int(min(field.max, 2**31 - 1)) if field.max is not None else 2**31 - 1)
            w.setGroupSeparatorShown(True)
            w.lineEdit().textChanged.connect(on_change)  # typing (also invalid text)
            w.valueChanged.connect(on_change)  # arrows, wheel, setValue
        elif field.kind is float:
            w = SciSpinBox()
            w.setRange(field.min if field.min is not None else -1e12,
                       field.max if field.max is not None else 1e12)
            w.lineEdit().textChanged.connect(on_change)
            w.valueChanged.connect(on_change)
        else:
            w = QLineEdit()
            w.textChanged.connect(on_change)
        w.setObjectName(self.name)
        w.setAccessibleName(self.name)
        self.widget = w
        w.setToolTip(self.tip())
        self.error: str | None = None

    def part_tip(self, value: Any) -> str:
        """What the part ``value`` of this choice does (its describe()), or ""."""
        try:
            return part_help(self.section, self.key, value)
        except Exception:  # noqa: BLE001 - a plug-in's describe() must not break the form
            return ""

    def tip(self, extra: str = "") -> str:
        """Tooltip: the key, its help, the chosen part's description, then ``extra``."""
        text = f"<b>{self.name}</b><br>{self.field.help}"
        if isinstance(self.widget, QComboBox):
            about = self.part_tip(self.widget.currentText())
            if about:
                text += f"<br>{about}"
        return text + (f"<br>{extra}" if extra else "")

    def set_value(self, value: Any) -> None:
        w = self.widget
        w.blockSignals(True)
        try:
            if isinstance(w, QComboBox):
                i = w.findText(str(value))
                if i < 0:
                    w.addItem(str(value))
                    i = w.count() - 1
                w.setCurrentIndex(i)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                w.lineEdit().blockSignals(True)
                w.setValue(value)
                w.lineEdit().setText(w.textFromValue(w.value()))
                w.lineEdit().blockSignals(False)
            elif isinstance(w, QLineEdit):
                w.setText(", ".join(value) if isinstance(value, list) else str(value))
        finally:
            w.blockSignals(False)

    def parse(self) -> Any:
        """The typed value in the widget; raises SiamError naming the key if it is not valid."""
        w, f = self.widget, self.field
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            text = w.lineEdit().text().strip().replace(",", "").replace("\u202f", "")
            try:
                value: Any = int(text) if f.kind is int else float(text)
            except ValueError:
                kind = "an integer" if f.kind is int else "a number"
                raise SiamError(f"{self.name} must be {kind}, got {text!r}") from None
            if f.min is not None and value < f.min:
                raise SiamError(f"{self.name} must be ≥ {f.min:g}, got {text}")
            if f.max is not None and value > f.max:
                raise SiamError(f"{self.name} must be ≤ {f.max:g}, got {text}")
            return value
        text = w.text()
        if f.kind is list:
            return [t.strip() for t in text.split(",") if t.strip()]
        return text

    def mark(self, error: str | None) -> None:
        self.error = error
        set_invalid(self.widget, bool(error))
        self.widget.setToolTip(self.tip(f"<b>{error}</b>" if error else ""))


class ConfigForm(QWidget):
    """Editors for every training setting, kept in sync with the document both ways."""

    validityChanged = Signal(bool)

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.editors: dict[str, FieldEditor] = {}
        self._valid = True
        self._loading = False
        self._editable = True
        self.disabled_reasons: dict[str, str] = {}
        self.defaults = Config()
        self.reference: Config | None = None  # the last run's settings (set_reference)
        self.reference_name = ""
        self.changed: dict[str, tuple[Any, Any, Any]] = {}  # name → (value, default, last)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.message = QLabel()
        self.message.setWordWrap(True)
        set_role(self.message, "error")
        self.message.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.message)
        self._build()

        doc.projectChanged.connect(self._rebuild_if_parts_changed)
        doc.configChanged.connect(lambda _keys: self.load(doc.config))
        doc.projectChanged.connect(lambda: self.load(doc.config))
        self.load(doc.config)

    def _signature(self) -> tuple[Any, ...]:
        """What the editors were built from: every training field and every part choice."""
        return tuple((sec, key, field, tuple(choice_labels(f"{sec}.{key}")))
                     for sec in TRAINING_SECTIONS for key, field in SCHEMA[sec].items())

    def _rebuild_if_parts_changed(self) -> None:
        """A project's plug-ins add (or, when another project opens, remove) parts and their
        settings: build the editors again so they are shown like the built-in ones."""
        if self._signature() != self._built:
            self._build()

    def _build(self) -> None:
        self._built = self._signature()
        self.editors = {}
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(4, 4, 4, 4)
        dynamic = _dynamic_choices()
        for section in TRAINING_SECTIONS:
            box = QGroupBox(SECTION_TITLES.get(section, section))
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            for key, field in SCHEMA[section].items():
                maker = dynamic.get((section, key))
                ed = FieldEditor(section, key, field, maker() if maker else None, self._edited)
                self.editors[ed.name] = ed
                label = QLabel(label_for(ed.name) + CHANGED_MARK)  # measured with the mark
                label.setToolTip(f"<b>{ed.name}</b><br>{field.help}")
                label.setBuddy(ed.widget)
                ed.label = label
                form.addRow(label, ed.widget)
            col.addWidget(box)
        col.addStretch(1)
        # One label column width for all groups, so the editors line up across sections.
        labels = inner.findChildren(QLabel)
        # The declared labels can be long ("γ (gamma) — amplification of far-spread classes"):
        # past MAX_LABEL_WIDTH they wrap, so the form keeps its width at 1280×720.
        width = min(max((lab.sizeHint().width() for lab in labels), default=0),
                    MAX_LABEL_WIDTH)
        for lab in labels:
            lab.setWordWrap(True)
            lab.setMinimumWidth(width)
            lab.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for ed in self.editors.values():
            ed.label.setText(label_for(ed.name))

        self.scroll.setWidget(inner)  # the previous editors go with the old widget
        # Wide enough for the labels and a short editor; not more, so the plots keep room at
        # 1280×720 (longer values scroll inside their editors).
        width = min(inner.sizeHint().width(), width + 150)
        inner.setMinimumWidth(width)
        bar = self.scroll.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(width + bar + 8)
        if self._editable is not True:
            self._apply_relevance()

    # -- sync --------------------------------------------------------------------------------
    def load(self, config: Config) -> None:
        """Show ``config``; editors whose text already means the same value are left alone so
        the cursor does not jump while typing."""
        self._loading = True
        try:
            for ed in self.editors.values():
                want = config.get(ed.section, ed.key)
                try:
                    same = ed.parse() == want
                except SiamError:
                    same = False
                if not same:
                    ed.set_value(want)
        finally:
            self._loading = False
        self._validate()

    def values(self) -> dict[str, dict[str, Any]]:
        """The parsed form values; raises SiamError for the first invalid one."""
        out: dict[str, dict[str, Any]] = {}
        for ed in self.editors.values():
            out.setdefault(ed.section, {})[ed.key] = ed.parse()
        return out

    def config(self) -> Config:
        """The document's config with the form's values applied (raises if invalid)."""
        return self.doc.config.replace(self.values())

    def is_valid(self) -> bool:
        return self._valid

    def errors(self) -> dict[str, str]:
        return {name: ed.error for name, ed in self.editors.items() if ed.error}

    def _edited(self, *_: object) -> None:
        if self._loading:
            return
        if self._validate() and self.doc.project is not None:
            try:
                self.doc.set_values(self.values())
            except SiamError as exc:  # cannot happen after _validate; keep the form honest
                self._show_errors({}, str(exc))

    def _validate(self) -> bool:
        errors: dict[str, str] = {}
        values: dict[str, dict[str, Any]] = {}
        for ed in self.editors.values():
            try:
                values.setdefault(ed.section, {})[ed.key] = ed.parse()
            except SiamError as exc:
                errors[ed.name] = str(exc)
        general = ""
        if not errors:
            try:
                self.doc.config.replace(values)
            except SiamError as exc:
                general = str(exc)
                for name in error_settings(exc, self.editors):
                    errors[name] = general
        self._show_errors(errors, general)
        if hasattr(self, "_editable"):
            self._apply_relevance()
        self._update_marks(values if not errors else None)
        valid = not errors and not general
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        return valid

    def _show_errors(self, errors: dict[str, str], general: str) -> None:
        for name, ed in self.editors.items():
            ed.mark(errors.get(name))
        lines = list(dict.fromkeys(list(errors.values()) + ([general] if general else [])))
        self.message.setText("\n".join(lines))
        self.message.setVisible(bool(lines))

    # -- what differs ------------------------------------------------------------------------
    def set_reference(self, config: Config | None, name: str = "") -> None:
        """Mark values that differ from ``config`` (the last run's settings) as well as from
        the defaults: a changed setting must not slip into the next run unseen."""
        self.reference, self.reference_name = config, name
        self._validate()

    def differences(self, against: str = "any") -> dict[str, tuple[Any, Any, Any]]:
        """``name → (value, default, last run's value)`` of the values that differ from the
        defaults or the last run (``against`` = "default" | "last" | "any")."""
        out = {}
        for name, (value, default, last) in self.changed.items():
            d = not _same(value, default)
            r = self.reference is not None and not _same(value, last)
            if (against == "any" and (d or r)) or (against == "default" and d) or \
                    (against == "last" and r):
                out[name] = (value, default, last)
        return out

    def _update_marks(self, values: dict[str, dict[str, Any]] | None) -> None:
        self.changed = {}
        for name, ed in self.editors.items():
            value = values.get(ed.section, {}).get(ed.key) if values is not None else None
            default = self.defaults.get(ed.section, ed.key)
            last = self.reference.get(ed.section, ed.key) if self.reference is not None \
                else None
            if name in _RESOLVED_AUTO and value == 0:
                last = 0  # "automatic" in the form; the run recorded what it resolved to
            off_default = values is not None and not _same(value, default)
            off_last = values is not None and self.reference is not None and \
                not _same(value, last)
            if off_default or off_last:
                self.changed[name] = (value, default, last)
            text = label_for(name)
            tips = []
            if off_last:
                text = f"<b>{text}</b><span style='color:{LAST_COLOR}'>{CHANGED_MARK}</span>"
                tips.append(f"differs from the last run {self.reference_name} "
                            f"({_show(last)})".replace("  ", " "))
            elif off_default:
                text = f"<b>{text}</b><span style='color:{DEFAULT_COLOR}'>{CHANGED_MARK}</span>"
            if off_default:
                tips.append(f"default {_show(default)}")
            ed.label.setText(text)
            ed.label.setToolTip(f"<b>{name}</b><br>{ed.field.help}"
                                + (f"<br><i>{'; '.join(tips)}</i>" if tips else ""))

    # -- actions -----------------------------------------------------------------------------
    def apply_paper_defaults(self) -> None:
        """One undoable step setting every training section to the paper's values."""
        self.doc.set_values(paper_defaults(), "Paper defaults")
        self.load(self.doc.config)

    def apply_recipe_defaults(self) -> None:
        """One undoable step back to the default recipe, P×K and epochs sized to the
        project's alphabet as ``siam new`` sizes them (the framing is left: it needs a
        re-render)."""
        from siam_workbench.data.alphabets import resolve_alphabet
        from siam_workbench.project.recipe import preset_sections, sized

        values = preset_sections("recipe")
        project = self.doc.project
        if project is not None:
            try:
                classes = resolve_alphabet(project.config.data.alphabet, base=project.root)
                values["train"].update(sized(classes.classes)["train"])
            except SiamError:
                pass  # an alphabet that does not resolve is reported by the Data tab
        self.doc.set_values(values, "Recipe defaults")
        self.load(self.doc.config)

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        self._apply_relevance()

    def _apply_relevance(self) -> None:
        """Grey out the settings the chosen miner / loss / optimiser does not use."""
        try:
            values = self.values()
        except SiamError:
            values = {}
        self.disabled_reasons = irrelevant(values) if values else {}
        for name, ed in self.editors.items():
            reason = self.disabled_reasons.get(name, "")
            ed.widget.setEnabled(self._editable and not reason)
            if not ed.error:
                ed.widget.setToolTip(ed.tip(f"<i>{reason}</i>" if reason else ""))

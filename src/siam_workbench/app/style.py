"""Colours live in ``resources/style.qss``; code only says what a widget *is*
(an error, a hint, a banner) through the ``role`` and ``invalid`` dynamic properties the style sheet
matches. Changing a property needs a re-polish for the sheet to apply it."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def _repolish(widget: QWidget) -> None:
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


def set_role(widget: QWidget, role: str = "") -> None:
    """``error`` | ``hint`` | ``warning`` | ``ok`` | ``banner`` | ``banner-error`` | "" (plain)."""
    if (widget.property("role") or "") != role:
        widget.setProperty("role", role or None)
        _repolish(widget)


def role(widget: QWidget) -> str:
    return str(widget.property("role") or "")


def set_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) != invalid:
        widget.setProperty("invalid", "true" if invalid else None)
        _repolish(widget)

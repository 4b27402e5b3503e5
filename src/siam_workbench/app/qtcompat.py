"""Work-arounds for bugs in the Qt binding, applied once when :mod:`workbench` is imported.

PySide6 6.12.0 on Python 3.11: every Python-side ``Signal.emit()`` drops one reference to
``True`` that it never took (measured: 1000 emits lower ``sys.getrefcount(True)`` by 1000, with
or without receivers, from any thread). ``True`` starts with a few hundred to a few thousand
references, so after that many emits — a few seconds of live training, or of pyqtgraph's own
signals — CPython deallocates ``True`` and aborts with "Fatal Python error: bool_dealloc".
Python ≥ 3.12 makes ``True``/``False`` immortal, so there the bug is harmless.

:func:`guard_bool_refcounts` detects the leak with a few probe emits and, only if it is
present, gives ``True`` and ``False`` a reference-count offset of 2**40 — in effect the
immortality that Python 3.12 grants them — so the process can never reach the fatal zero.
"""

from __future__ import annotations

import ctypes
import sys

PIN = 1 << 40
_guarded = False


def emit_leaks_true() -> bool:
    """True if a plain ``Signal.emit()`` releases a reference to ``True`` (the PySide bug)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        sig = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.sig.emit()
    return sys.getrefcount(True) <= before - 8


def _add_refs(obj: object, n: int) -> bool:
    """Add ``n`` to ``obj``'s reference count, if its layout is the one we expect."""
    cell = ctypes.c_ssize_t.from_address(id(obj))
    if cell.value != sys.getrefcount(obj) - 1:  # -1: getrefcount's own argument
        return False  # not a standard CPython object header; leave it alone
    cell.value += n
    return True


def guard_bool_refcounts() -> bool:
    """Apply the work-around if needed; returns True if it was applied (now or before)."""
    global _guarded
    if _guarded:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not emit_leaks_true():
        return False
    _guarded = all(_add_refs(b, PIN) for b in (True, False))
    return _guarded

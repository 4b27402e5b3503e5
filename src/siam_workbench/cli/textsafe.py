"""Text from files someone else made, made safe for a terminal.

A run folder named ``"\\x1b]0;owned\\x07"`` or ``"\\x1b[2J"`` would retitle or clear the
terminal of whoever lists the runs; a right-to-left override would make a name read as
another. Such characters are shown as escapes (``\\x1b``), the rest of the text unchanged.
"""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates, line/paragraph separators: invisible, yet they reorder
# or break what follows.
_FORMAT = {0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def terminal_safe(text: object) -> str:
    """``str(text)`` with control and direction-changing characters escaped."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code in _FORMAT or unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)

"""User-facing errors.

Anything a user can cause (a bad file, a bad key, a missing device) raises :class:`SiamError`
with one line naming the file or key and the problem. The CLI prints that line and exits 2; the
GUI shows it in a dialog. Programming errors stay ordinary exceptions so they keep a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SiamError(Exception):
    """A problem with user input; ``str(err)`` is the whole message a user sees."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        text = f"{self.path}: {message}" if self.path else message
        super().__init__(text)


class Cancelled(Exception):
    """Raised inside long jobs when the caller asked them to stop; never an error for the user."""

"""User-facing errors.

Anything a user can cause (a bad file, a bad key, a missing device) raises :class:`SiamError`
with one line naming the file or key and the problem. The CLI prints that line and exits 2; the
GUI shows it in a dialog and reads the structured fields (``path``, ``section``, ``key``,
``line``, ``hint``, ``unknown``) to offer a fix — it never parses the text.
Programming errors stay ordinary exceptions so they keep a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SiamError(Exception):
    """A problem with user input; ``str(err)`` is the whole message a user sees.

    ``message`` is that line without the ``path: `` prefix. For a setting, ``section`` and
    ``key`` name it (``key`` None: the whole section), ``unknown`` says the name itself is
    wrong (not its value) and ``hint`` is the name it probably meant; ``line`` is the 1-based
    line of ``path`` at fault where one is known.
    """

    def __init__(self, message: str, path: str | Path | None = None, *,
                 section: str | None = None, key: str | None = None, line: int | None = None,
                 hint: str | None = None, unknown: bool = False) -> None:
        self.path = str(path) if path is not None else None
        self.message = message
        self.section, self.key, self.line = section, key, line
        self.hint, self.unknown = hint, unknown
        text = f"{self.path}: {message}" if self.path else message
        super().__init__(text)

    @property
    def setting(self) -> str | None:
        """``section.key`` (or ``[section]``) the error is about, if it is about one."""
        if self.section is None:
            return None
        return f"{self.section}.{self.key}" if self.key else f"[{self.section}]"

    def at(self, path: str | Path | None, prefix: str = "", suffix: str = "") -> SiamError:
        """The same error told about ``path`` (``prefix``/``suffix`` around the whole line so
        far), its fields kept: for re-raising an error of a value as one of the file."""
        return SiamError(f"{prefix}{self}{suffix}", path, section=self.section, key=self.key,
                         line=self.line, hint=self.hint, unknown=self.unknown)


class Cancelled(Exception):
    """Raised inside long jobs when the caller asked them to stop; never an error for the user."""

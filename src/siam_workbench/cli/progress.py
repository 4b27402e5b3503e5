"""A dependency-free progress line for long CLI jobs, drawn on stderr only when it is a TTY
(logs and CI get one line per epoch instead of thousands of carriage returns)."""

from __future__ import annotations

import sys
import time


def fmt_seconds(s: float) -> str:
    if s != s or s < 0 or s == float("inf"):
        return "--:--"
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class ProgressBar:
    def __init__(self, total: int, label: str = "", width: int = 28, stream=None) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done: int, suffix: str = "", force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        frac = min(max(done / self.total, 0.0), 1.0)
        elapsed = now - self.start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("inf")
        fill = int(round(frac * self.width))
        bar = "#" * fill + "." * (self.width - fill)
        line = f"{self.label} [{bar}] {100 * frac:5.1f}% ETA {fmt_seconds(eta)} {suffix}"
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100))
            self.stream.flush()

    def message(self, text: str) -> None:
        """A permanent line (epoch summaries) that does not get overwritten by the bar."""
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

"""The folder for derived, re-computable data (coverage tables, decompressed web fonts, face
samples): one definition that the font modules share without importing each other."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where derived, re-computable data lives ($SIAM_CACHE_DIR or ~/.cache/siam-workbench)."""
    env = os.environ.get("SIAM_CACHE_DIR")
    return Path(env).expanduser() if env else Path("~/.cache/siam-workbench").expanduser()

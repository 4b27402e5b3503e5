"""A finished or running run's own settings, read back from its folder: the config it trained
with and the miners it named (old runs without a config still name their miners in metrics).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import is_regular_file
from siam_workbench.project.config import Config
from siam_workbench.project.runfolder import RunFolder


def read_run_config(run_dir: str | Path) -> Config | None:
    """The run's resolved ``config.toml`` (None when missing or unreadable)."""
    file = RunFolder(run_dir).config
    if not is_regular_file(file):  # a FIFO in its place would block the read
        return None
    try:
        return Config(tomllib.loads(file.read_text(encoding="utf-8")))
    except (SiamError, tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None

def run_miners(run_dir: str | Path) -> tuple[str, str]:
    """(positive, negative) miner names of a run, from its config ("unknown" if unreadable)."""
    file = RunFolder(run_dir).config
    try:
        if not is_regular_file(file):
            return "unknown", "unknown"
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return "unknown", "unknown"
    mining = raw.get("mining", {}) if isinstance(raw.get("mining"), dict) else {}
    return str(mining.get("positive", "unknown")), str(mining.get("negative", "unknown"))

"""A labeling session driven from a test: ``python label_child.py FOLDER OUT N``.

Labels the first N queued images one by one (class = the file's stem before ``_``), undoing
every fourth save, and prints ``ok KEY CLASS`` or ``undo KEY`` after each decision has
returned (so it is durable). The test kills this process at arbitrary points and checks that
every confirmed decision is in the journal and the glyph file the next session builds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from siam_workbench.infer.labeling import LabelSession


def _say(line: str) -> None:
    """One write per line: a kill can cut it, and the test reads only whole lines."""
    os.write(1, (line + "\n").encode("utf-8"))


def main() -> None:
    folder, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    session = LabelSession(folder, out, None)
    for i in range(n):
        item = session.current()
        if item is None:
            break
        label = item.path.stem.split("_")[0]
        session.label(item.key, label)
        _say(f"ok {item.key} {label}")
        if i % 4 == 3:
            key = session.undo()
            _say(f"undo {key}")
        if i % 3 == 2:
            session.write_glyphs()


if __name__ == "__main__":
    main()

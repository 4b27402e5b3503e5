"""The Miners tab's Qt-free side: what a trainer event means for the tab, and the text about
the miners shown, from the parts' own declarations (core.train.partinfo).

It imports no Qt (a test checks), so it can be tested and reused without a display; the tab
(:mod:`workbench.miners_tab`) and its views (:mod:`workbench.miners`) draw what it says.
Events are told apart by their type, never by a class-name string.
"""

from __future__ import annotations

from typing import Any

from core.train.events import (
    EpochFinished,
    IterationFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)

#: Event type → what it means for the Miners tab (IterationFinished: nothing).
_EVENT_KINDS: dict[type, str | None] = {
    IterationFinished: None, RunStarted: "started", EpochFinished: "epoch",
    RunFinished: "finished", RunStopped: "stopped", RunFailed: "failed",
}


def live_event_kind(event: Any) -> str | None:
    """"started", "epoch", "finished", "stopped", "failed" — or None for an event the tab
    ignores (an iteration, or a type it does not know)."""
    for cls in type(event).__mro__:
        if cls in _EVENT_KINDS:
            return _EVENT_KINDS[cls]
    return None


def miner_help(positive: str, negative: str) -> list[str]:
    """One line per miner shown: its label and the help it declares (a plug-in's included)."""
    from core.train.partinfo import miner

    lines = []
    for role, name in (("positive", positive), ("negative", negative)):
        cls = miner(role, name)
        if cls is not None:
            lines.append(f"<b>{cls.label or cls.name}</b> ({role}): {cls.help}")
    return lines

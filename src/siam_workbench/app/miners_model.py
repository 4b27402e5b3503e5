"""The Miners tab's Qt-free side: what a trainer event means for the tab, and the text about
the miners shown, from the parts' own declarations (siam_workbench.project.partinfo).

It imports no Qt (a test checks), so it can be tested and reused without a display; the tab
(:mod:`siam_workbench.app.miners_tab`) and its views (:mod:`siam_workbench.app.miners`) draw what
it says. Events are told apart by their type, never by a class-name string.
"""

from __future__ import annotations

from typing import Any

from siam_workbench.train.events import (
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
    from siam_workbench.project.partinfo import miner

    lines = []
    for role, name in (("positive", positive), ("negative", negative)):
        cls = miner(role, name)
        if cls is not None:
            lines.append(f"<b>{cls.label or cls.name}</b> ({role}): {cls.help}")
    return lines


def scatter_labels(probabilities: Any, error: Any, limit: int = 14) -> list[int]:
    """Which points of the Why scatter (sampling probability × validation error) get their
    class written beside them: all of them when few, else the outliers — the most and least
    sampled classes and those the network gets most wrong — at most ``limit``."""
    import numpy as np

    p = np.asarray(probabilities, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(p) & np.isfinite(e) & (p > 0))
    if ok.size <= limit:
        return [int(i) for i in ok]
    third = max(1, limit // 3)
    by_p = ok[np.argsort(-p[ok], kind="stable")]
    by_e = ok[np.argsort(-e[ok], kind="stable")]
    out: list[int] = []
    for i in [*by_e[:limit - 2 * third], *by_p[:third], *by_p[::-1][:third], *by_e]:
        if int(i) not in out:
            out.append(int(i))
        if len(out) >= limit:
            break
    return out

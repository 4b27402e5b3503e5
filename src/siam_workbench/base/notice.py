"""What guided training says, and what a part is shown to say it.

A :class:`Notice` names what was seen and the setting to change. The run-wide checks
(:mod:`siam_workbench.infer.advice`) and the parts themselves write them: a part's
:meth:`~siam_workbench.base.part.Part.advise` looks at a :class:`Seen` — what the run has recorded
so far, as plain values (numpy arrays, dicts) — so parts, which sit below the layers that read
run folders and configs, need import nothing to advise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Notice:
    code: str  # stable id, e.g. "clusters-collapsed"
    title: str  # one line
    detail: str  # what was seen and why it matters
    suggestion: dict[str, dict[str, Any]] = field(default_factory=dict)  # for the next run
    severity: str = "warning"  # warning | info

    def suggestion_text(self) -> str:
        return ", ".join(f"{s}.{k} = {toml_literal(v)}" for s, t in self.suggestion.items()
                         for k, v in t.items())

    def set_args(self) -> str:
        """The suggestion as ``siam train`` options (``--set mining.eta=250``)."""
        return " ".join(f"--set {s}.{k}={toml_literal(v)}" for s, t in self.suggestion.items()
                        for k, v in t.items())


def toml_literal(value: Any) -> str:
    """A value as TOML writes it (what ``--set`` parses back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)


@dataclass(frozen=True)
class Seen:
    """What a run has recorded up to now, for a part's advice: the latest epoch's per-class
    arrays (``[C]``; None where the run has none) and every epoch's metrics record."""

    epochs: tuple[Mapping[str, Any], ...] = ()  # "epoch" records: top1, val_top1, loss, …
    probabilities: np.ndarray | None = None  # the positive miner's distribution
    clusters: np.ndarray | None = None  # cluster label per class (-1: none)
    mean_distance: np.ndarray | None = None  # spread per class (NaN: class without samples)
    #: each miner's own per-class series, ``"role.name"`` → ``[C]`` (what mining.h5 /extra holds)
    series: Mapping[str, np.ndarray] = field(default_factory=dict)

    def present(self, n: int) -> np.ndarray:
        """Which of ``n`` classes have samples (a finite spread); all when that is unknown."""
        import numpy as np

        if self.mean_distance is not None and len(self.mean_distance) == n:
            return np.isfinite(np.asarray(self.mean_distance, dtype=np.float64))
        return np.ones(n, dtype=bool)

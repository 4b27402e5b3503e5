"""Learning-rate schedules as pure functions of the step, so a resumed run (or one whose epochs
were extended) needs no scheduler state: the rate at step ``s`` is recomputed from the config."""

from __future__ import annotations

import math


def lr_at(step: int, total_steps: int, lr: float, schedule: str, warmup: float,
          lr_min: float) -> float:
    """``constant``: ``lr`` throughout (the paper). ``cosine``: a linear warm-up over the first
    ``warmup`` share of the steps (from lr/warm-up-steps, never 0), then a cosine from ``lr``
    down to ``lr_min·lr`` at the last step."""
    if schedule == "constant" or total_steps <= 1:
        return lr
    if schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    warm = int(round(warmup * total_steps))
    if step < warm:
        return lr * (step + 1) / warm
    span = max(1, total_steps - warm - 1)
    progress = min(1.0, (step - warm) / span)
    floor = lr * lr_min
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

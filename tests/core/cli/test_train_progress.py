"""Progress within an epoch for `siam train` when stderr is a log, not a terminal."""

from __future__ import annotations

import re
from types import SimpleNamespace

from siam_workbench.cli import main
from siam_workbench.cli.train_progress import EpochProgress


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def it(epoch: int, i: int, iterations: int = 100):
    return SimpleNamespace(epoch=epoch, iteration=i, iterations=iterations, loss=0.5,
                           images_per_s=250.0)


def test_log_lines_are_spaced_by_time_and_by_share_of_the_epoch():
    clock = Clock()
    pace = EpochProgress(epochs=3, start_epoch=0, iterations=100, clock=clock)
    due = []
    for i in range(100):
        clock.t += 1.0  # one second per iteration: 10 % of the epoch takes 10 s
        pace.iteration(it(0, i))
        if pace.due(it(0, i)):
            due.append(i + 1)
    # every 30 s (30 % of this epoch); never on the last iteration (the epoch line follows)
    assert due == [30, 60, 90]
    clock.t += 20.0  # the epoch-end pass
    pace.epoch_finished()
    fast = []
    for i in range(100):
        clock.t += 0.01  # a 1-second epoch: no line at all, the epoch line is enough
        pace.iteration(it(1, i))
        fast.append(pace.due(it(1, i)))
    assert not any(fast)


def test_estimates_count_the_epoch_and_the_rest_of_the_run():
    clock = Clock()
    pace = EpochProgress(epochs=3, start_epoch=0, iterations=100, clock=clock)
    for i in range(100):
        clock.t += 2.0
        pace.iteration(it(0, i))
    clock.t += 40.0
    pace.epoch_finished()
    for i in range(25):
        clock.t += 2.0
        pace.iteration(it(1, i))
    epoch_left, run_left = pace.etas(it(1, 24))
    assert epoch_left == 75 * 2.0 + 40.0  # iterations left at this pace + the end pass
    assert run_left == epoch_left + 100 * 2.0 + 40.0
    text = pace.text(it(1, 24))
    assert text.startswith("epoch 2/3: it 25/100 (25%), 250 img/s")
    assert "epoch ETA 03:10" in text and "run ETA 07:10" in text


def test_siam_train_writes_progress_lines_to_a_log(make_project, capsys, monkeypatch):
    monkeypatch.setattr(EpochProgress, "log_interval_s", 0.0)
    monkeypatch.setattr(EpochProgress, "log_fraction", 0.25)
    project = make_project(epochs=2, iterations=8)
    code = main(["train", str(project.root)])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if re.match(r"epoch \d/2: it \d/8 ", ln)]
    # 25 % of 8 iterations = every 2nd; the 8th is the epoch's own summary line
    assert [ln.split(" (")[0] for ln in lines] == [
        f"epoch {e}/2: it {i}/8" for e in (1, 2) for i in (2, 4, 6)]
    assert all("img/s" in ln and "epoch ETA" in ln and "run ETA" in ln for ln in lines)
    assert "\r" not in err  # not a terminal: no carriage-return bar

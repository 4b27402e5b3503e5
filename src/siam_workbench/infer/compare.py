"""Runs side by side (the Runs tab's table, ``siam runs --csv``): one summary per run, the
settings in which they differ, the table and its CSV.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siam_workbench.base.errors import SiamError
from siam_workbench.infer.run_config import read_run_config
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.project import is_run_dir, read_run_info
from siam_workbench.project.runfiles import read_metrics
from siam_workbench.project.runfolder import RunFolder


@dataclass
class RunSummary:
    path: Path
    id: str
    status: str
    config: Config | None
    epochs_done: int
    final_top1: float | None
    final_top5: float | None
    best_top1: float | None
    best_top5: float | None
    wall_seconds: float
    iterations: list[dict[str, Any]]
    epochs: list[dict[str, Any]]
    test_top1: float | None = None  # from evaluations.json (siam eval, the Runs tab)
    test_top5: float | None = None
    pixel_nn_val: float | None = None  # the pixel 1-NN baseline the run logged
    notes: str = ""

    @property
    def accuracy_set(self) -> str:
        """Which set the epoch accuracies are measured on: val where the run has one."""
        return "val" if any(r.get("val_top1") is not None for r in self.epochs) else "train"

    @property
    def label(self) -> str:
        if self.config is None:
            return self.id
        m, loss = self.config.mining, self.config.loss.kind
        return f"{self.id} ({m.positive}+{m.negative}, {loss})"

def _score(rec: dict[str, Any], key: str) -> float | None:
    val = rec.get(f"val_{key}")
    return val if val is not None else rec.get(key)

def summarize_run(run_dir: str | Path) -> RunSummary:
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    config = read_run_config(run_dir)
    recs = read_metrics(RunFolder(run_dir).metrics)
    iters = [r for r in recs if r.get("event") == "iteration"]
    epochs = [r for r in recs if r.get("event") == "epoch"]
    tops = [(_score(r, "top1"), _score(r, "top5")) for r in epochs]
    final = tops[-1] if tops else (None, None)
    best = max((t for t in tops if t[0] is not None), default=(None, None),
               key=lambda t: t[0] if t[0] is not None else -1.0)
    wall = sum(float(r.get("seconds") or 0) for r in epochs)
    info = read_run_info(run_dir)
    from siam_workbench.infer.runs import read_evaluations, read_notes

    test = read_evaluations(run_dir).get("test", {})
    base = next((r.get("top1") for r in recs if r.get("event") == "baseline"
                 and r.get("method") == "pixel-1nn"), None)
    return RunSummary(path=run_dir, id=run_dir.name, status=info.status, config=config,
                      epochs_done=len(epochs), final_top1=final[0], final_top5=final[1],
                      best_top1=best[0], best_top5=best[1], wall_seconds=wall,
                      iterations=iters, epochs=epochs, test_top1=test.get("top1"),
                      test_top5=test.get("top5"), pixel_nn_val=base,
                      notes=read_notes(run_dir))

def differing_settings(summaries: list[RunSummary]) -> list[str]:
    """``section.key`` names whose values differ between the runs (the table's extra columns)."""
    configs = [s.config for s in summaries if s.config is not None]
    keys = []
    for section, fields in SCHEMA.items():
        if section == "project":
            continue
        for key in fields:
            values = {json.dumps(c.get(section, key)) for c in configs}
            if len(values) > 1:
                keys.append(f"{section}.{key}")
    return keys

def comparison_table(summaries: list[RunSummary]) -> tuple[list[str], list[list[Any]]]:
    diff = differing_settings(summaries)
    header = ["run", "status", "epochs", "final_top1", "final_top5", "best_top1", "best_top5",
              "test_top1", "test_top5", "wall_s", *diff]
    rows = []
    for s in summaries:
        row: list[Any] = [s.id, s.status, s.epochs_done, s.final_top1, s.final_top5,
                          s.best_top1, s.best_top5, s.test_top1, s.test_top5,
                          round(s.wall_seconds, 1)]
        for k in diff:
            sec, key = k.split(".", 1)
            row.append(s.config.get(sec, key) if s.config else None)
        rows.append(row)
    return header, rows

def table_csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()

"""``siam label``: the Label view's twin — a folder of unlabeled crops, proposals from the best
run, a queue by doubt, and labels that are durable one by one (siam_workbench.infer.labeling)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from siam_workbench.base.errors import SiamError
from siam_workbench.data.framing import Preprocess


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "label", help="label a folder of images with the best run's proposals",
        description="Model-assisted labeling. Every image of FOLDER is framed like the run's "
        "training data and gets the run's top-5 classes; the queue lists the most doubtful "
        "first (doubt = distance of the 2nd class minus the 1st's). Each decision is appended "
        "to a journal (OUT's stem + .journal.jsonl) and made durable before the next; OUT, a "
        "glyph file of the labelled samples (for training or siam enrol), is rebuilt from it. "
        "Without an action: a summary and the next items.")
    p.add_argument("project", type=Path, help="project folder (or its project.toml)")
    p.add_argument("folder", type=Path, help="folder of images (searched recursively)")
    p.add_argument("--run", type=Path, help="run that proposes (default: the project's best)")
    p.add_argument("--out", type=Path,
                   help="labelled glyph file (default data/labelled.h5 in the project)")
    p.add_argument("--k", type=int, default=5, help="proposals per image (default 5)")
    p.add_argument("--propose", action="store_true", help="print the whole queue")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--set", action="append", default=[], metavar="FILE=CLASS",
                   help="label FILE (relative to FOLDER) with CLASS; repeatable")
    p.add_argument("--take", action="append", default=[], metavar="FILE=N",
                   help="label FILE with its N-th proposal (the keys 1–5); repeatable")
    p.add_argument("--skip", action="append", default=[], metavar="FILE",
                   help="move FILE to the end of the queue (Backspace); repeatable")
    p.add_argument("--undo", type=int, default=0, metavar="N",
                   help="cancel the last N labels / skips (Ctrl+Z), before the other actions")
    p.add_argument("--accept-top1-above", type=float, metavar="MARGIN", dest="accept",
                   help="label every queued image whose doubt is at least MARGIN (the run is "
                   "sure) with its top-1")
    p.set_defaults(handler=cmd_label)


def _split(spec: str, what: str) -> tuple[str, str]:
    name, sep, value = spec.rpartition("=")
    if not sep or not name or not value.strip():
        raise SiamError(f"{what} {spec!r}: expected FILE=VALUE")
    return name, value


def open_session(project_dir: Path, folder: Path, run_dir: Path | None = None,
                 out: Path | None = None, k: int = 5, progress=None, cancel=None):
    """The session the CLI and the Label view share: the project's best run unless ``run_dir``
    is given (no run: no proposals), output ``data/labelled.h5`` unless ``out``."""
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.infer.labeling import DEFAULT_OUT, LabelSession
    from siam_workbench.infer.runs import best_run
    from siam_workbench.project.project import load_project

    project = load_project(project_dir)
    if run_dir is None:
        best = best_run(project)
        run_dir = best.path if best is not None else None
    run = load_run(run_dir) if run_dir is not None else None
    d = project.config.data
    framing = Preprocess.of_data(d).to_dict()
    target = out if out is not None else project.resolve(DEFAULT_OUT)
    if not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    return LabelSession(folder, target, run, k=k, framing=framing, progress=progress,
                        cancel=cancel)


def cmd_label(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise SiamError(f"--k must be at least 1, got {args.k}")
    if args.accept is not None and not math.isfinite(args.accept):
        raise SiamError("--accept-top1-above must be a number")
    sets = [_split(s, "--set") for s in args.set]
    takes = []
    for spec in args.take:
        name, value = _split(spec, "--take")
        if not value.strip().isdigit():
            raise SiamError(f"--take {spec!r}: N must be a proposal number (1–5)")
        takes.append((name, int(value)))
    session = open_session(args.project, args.folder, args.run, args.out, args.k)
    # Check every file before the first write: a typo must not leave half the actions done.
    for name, _ in sets + takes:
        session.item(name)
    for name in args.skip:
        session.item(name)
    changed = 0
    for _ in range(max(0, args.undo)):
        if session.undo() is None:
            break
        changed += 1
    for name, label in sets:
        session.label(name, label)
        changed += 1
    for name, rank in takes:
        session.take(name, rank)
        changed += 1
    for name in args.skip:
        session.skip(name)
        changed += 1
    if args.accept is not None:
        changed += len(session.accept_confident(args.accept))
    if changed or not session.glyphs_current():
        session.write_glyphs()
    summary = session.summary()
    queue = session.queue()
    shown = queue if args.propose else queue[:5]
    if args.json:
        summary["queue"] = [it.as_json() for it in shown]
        summary["changed"] = changed
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"{summary['total']} images in {session.folder}: {summary['labelled']} labelled, "
          f"{summary['left']} left; {summary['labelled_in_file']} samples in {session.out}")
    if session.run is None:
        print("no trained run: no proposals (train one, or give --run)")
    for it in session.unreadable:
        print(f"unreadable: {it.key.split('/', 1)[-1]}: {it.error}")
    if shown:
        print("next:" if not args.propose else "queue (most doubtful first):")
    for it in shown:
        props = "  ".join(f"{i + 1}:{c} {d:.3f}" for i, (c, d) in enumerate(it.proposals))
        doubt = "" if math.isinf(it.doubt) else f"doubt {it.doubt:.3f}  "
        print(f"  {it.key.split('/', 1)[-1]}  {doubt}{props}")
    return 0

"""``siam draw | exclude | outliers | compare | mining``: CLI twins of the Draw, glyph-browser,
Runs and Miners views, so every GUI action can be scripted on a server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.data.framing import size_mode_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("draw", help="manage a project's labelled drawings (drawn.h5)",
                       description="Add, list, relabel, delete and evaluate hand drawings.")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    a = dsub.add_parser("add", help="add drawing images under a label")
    a.add_argument("project", type=Path)
    a.add_argument("images", nargs="+", type=Path)
    a.add_argument("--label", required=True, help="the class, e.g. 가")
    a.set_defaults(handler=cmd_draw_add)
    a = dsub.add_parser("list", help="list the drawings")
    a.add_argument("project", type=Path)
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_draw_list)
    a = dsub.add_parser("relabel", help="change a drawing's label")
    a.add_argument("project", type=Path)
    a.add_argument("row", type=int)
    a.add_argument("label")
    a.set_defaults(handler=cmd_draw_relabel)
    a = dsub.add_parser("delete", help="delete a drawing")
    a.add_argument("project", type=Path)
    a.add_argument("row", type=int)
    a.set_defaults(handler=cmd_draw_delete)
    a = dsub.add_parser("eval", help="accuracy of a run on all drawings, with the misses")
    a.add_argument("project", type=Path)
    a.add_argument("run", type=Path)
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_draw_eval)

    p = sub.add_parser("exclude", help="exclude (or re-include) samples of a glyph file",
                       description="Mark rows of a glyph .h5 as excluded from training "
                       "(the glyph browser's labeling workflow).")
    p.add_argument("file", type=Path)
    p.add_argument("rows", nargs="*", type=int)
    p.add_argument("--source", action="append", default=[], metavar="NAME",
                   help="every row of this source (a whole face, e.g. Bandal.ttf#0); repeatable")
    p.add_argument("--include", action="store_true", help="re-include instead of exclude")
    p.set_defaults(handler=cmd_exclude)

    p = sub.add_parser("outliers", help="faces whose glyphs do not look like the others'",
                       description="Score every glyph against its class's median render over "
                       "all faces (1 − IoU of the ink) and list each face's share of outlier "
                       "glyphs; flagged faces are candidates for siam exclude --source.")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_outliers)

    p = sub.add_parser("compare", help="compare runs: final / best accuracy and differences",
                       description="Table of runs with final and best top-1/top-5, epochs, "
                       "wall time and the settings that differ.")
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--csv", type=Path, help="also write the table as CSV")
    p.add_argument("--force", action="store_true", help="replace an existing CSV file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("mining", help="what a run's miners prioritised",
                       description="Top classes by positive-sampling probability at an epoch, "
                       "with mean distance, cluster and rank change (the Miners tab).")
    p.add_argument("run", type=Path)
    p.add_argument("--epoch", type=int, default=-1, help="epoch (1-based; default: last)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_mining)


def _store(project_dir: Path):
    from siam_workbench.data.drawn import DrawnStore
    from siam_workbench.project.project import load_project

    project = load_project(project_dir)
    d = project.config.data
    store = DrawnStore(project.resolve(d.drawn), d.image_size, d.margin,
                       size_mode_of(d), root=project.root)
    return project, store


def cmd_draw_add(args: argparse.Namespace) -> int:
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.infer.query import read_image

    project, store = _store(args.project)
    arrays = [read_image(p) for p in args.images]  # all readable before anything is saved
    for arr in arrays:
        store.add(arr, args.label, save=False)
    store.save()
    print(f"added {len(arrays)} drawing(s) as {args.label!r}; {len(store)} in {store.path}")
    alphabet = resolve_alphabet(project.config.data.alphabet, base=project.root)
    if args.label not in set(alphabet.classes):
        print(f"siam draw: warning: {args.label!r} is not a class of the project's alphabet "
              f"{alphabet.name!r}; the drawing is kept, but training and evaluation skip it",
              file=sys.stderr)
    return 0


def cmd_draw_list(args: argparse.Namespace) -> int:
    _, store = _store(args.project)
    rows = [{"row": i, "label": d.label, "excluded": d.excluded,
             "original": list(d.original.shape) if d.original is not None else None}
            for i, d in enumerate(store.drawings)]
    if args.json:
        print(json.dumps({"drawings": rows, "warning": store.warning}, ensure_ascii=False))
    else:
        if store.warning:
            print(f"siam draw: warning: {store.warning}", file=sys.stderr)
        for r in rows:
            print(f"{r['row']:5d}  {r['label']}{'  (excluded)' if r['excluded'] else ''}")
        print(f"{len(rows)} drawing(s) in {store.path}")
    return 0


def cmd_draw_relabel(args: argparse.Namespace) -> int:
    _, store = _store(args.project)
    store.relabel(args.row, args.label)
    print(f"drawing {args.row} is now {args.label!r}")
    return 0


def cmd_draw_delete(args: argparse.Namespace) -> int:
    _, store = _store(args.project)
    store.delete(args.row)
    print(f"deleted drawing {args.row}; {len(store)} left")
    return 0


def cmd_draw_eval(args: argparse.Namespace) -> int:
    from siam_workbench.infer.evaluate import evaluate, load_run

    _, store = _store(args.project)
    if not len(store):
        raise SiamError("no drawings yet", store.path)
    run = load_run(args.run)
    res = evaluate(run, store.path, keep_predictions=True)
    misses = [{"row": int(r), "label": run.classes[int(lab)], "predicted": run.classes[int(p[0])]}
              for r, lab, p in zip(res["rows"], res["labels"], res["pred"]) if p[0] != lab]
    if args.json:
        print(json.dumps({"top1": res["top1"], "top5": res["top5"], "n": res["n"],
                          "unknown_classes": res["unknown_classes"], "misses": misses,
                          "checkpoint": res.get("checkpoint"), "framing": res.get("framing")},
                         ensure_ascii=False))
    else:
        print(f"top-1 {100 * res['top1']:.1f}%, top-5 {100 * res['top5']:.1f}% on {res['n']} "
              f"drawings (checkpoint {res.get('checkpoint')}, the one the Draw tab loads)")
        for m in misses:
            print(f"  drawing {m['row']}: {m['label']} read as {m['predicted']}")
    return 0


def cmd_exclude(args: argparse.Namespace) -> int:
    import numpy as np

    from siam_workbench.base.errors import SiamError
    from siam_workbench.data.glyphs import set_excluded
    from siam_workbench.data.outliers import source_rows

    rows = list(args.rows)
    for name in args.source:
        rows += source_rows(args.file, name).tolist()
    if not rows:
        raise SiamError("name rows or --source NAME to exclude", args.file)
    rows = np.unique(np.asarray(rows, dtype=np.int64)).tolist()
    total = set_excluded(args.file, rows, not args.include)
    verb = "re-included" if args.include else "excluded"
    print(f"{verb} {len(rows)} sample(s); {total} excluded in {args.file}")
    return 0


def cmd_outliers(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from siam_workbench.data.outliers import FACE_FLAG, file_outliers

    rep = file_outliers(args.file)
    rows: list[dict[str, Any]] = [
        {"source": n, "outlier_share": None if not np.isfinite(s) else round(float(s), 4),
         "scored": int(c), "flagged": bool(np.isfinite(s) and s > FACE_FLAG)}
        for n, s, c in zip(rep.source_names, rep.source_score, rep.source_scored)]
    rows.sort(key=lambda r: -(r["outlier_share"] or 0.0))
    if args.json:
        print(json.dumps({"file": str(args.file), "faces": rows}, ensure_ascii=False))
        return 0
    for r in rows:
        share = "–" if r["outlier_share"] is None else f"{r['outlier_share']:.0%}"
        print(f"{share:>5}  {r['source']}{'  FLAGGED' if r['flagged'] else ''}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from siam_workbench.infer.compare import comparison_table, summarize_run, table_csv

    summaries = [summarize_run(r) for r in args.runs]
    header, rows = comparison_table(summaries)
    if args.csv:
        from siam_workbench.base.atomic import write_text_atomic

        write_text_atomic(args.csv, table_csv(header, rows), force=args.force)
    if args.json:
        print(json.dumps([dict(zip(header, r)) for r in rows]))
    else:
        def fmt(v):
            return f"{100 * v:.2f}" if isinstance(v, float) and v <= 1 else str(v)

        widths = [max(len(h), *(len(fmt(r[i])) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for r in rows:
            print("  ".join(fmt(v).ljust(w) for v, w in zip(r, widths)))
    return 0


def cmd_mining(args: argparse.Namespace) -> int:
    from siam_workbench.infer.mining_log import read_mining
    from siam_workbench.project.runfolder import RunFolder

    hist = read_mining(RunFolder(args.run).mining)
    if hist.probabilities is None or hist.num_epochs == 0:
        raise SiamError("no per-class probabilities recorded", RunFolder(args.run).mining)
    e = hist.num_epochs - 1 if args.epoch == -1 else args.epoch - 1
    if not 0 <= e < hist.num_epochs:
        raise SiamError(f"--epoch must be in 1..{hist.num_epochs}")
    p = hist.probabilities[e]
    order = np.argsort(-p, kind="stable")[: args.top]
    change = hist.rank_change(e)
    rows = [{"class": hist.classes[i], "probability": float(p[i]),
             "mean_distance": (float(hist.mean_distance[e, i])
                               if hist.mean_distance is not None else None),
             "cluster": int(hist.clusters[e, i]) if hist.clusters is not None else -1,
             "rank_change": int(change[i])} for i in order]
    uniform = bool(np.allclose(p[p > 0], p[p > 0].mean()))
    if args.json:
        print(json.dumps({"epoch": e + 1, "positive": hist.positive, "negative": hist.negative,
                          "uniform": uniform, "top": rows}, ensure_ascii=False))
        return 0
    print(f"epoch {e + 1}: positive miner {hist.positive}, negative miner {hist.negative}"
          + (" — the distribution is uniform" if uniform else ""))
    for r in rows:
        md = "" if r["mean_distance"] is None else f"  dist {r['mean_distance']:.3f}"
        print(f"  {r['class']:>6}  p {r['probability']:.5f}{md}  cluster {r['cluster']:>4}  "
              f"rank {r['rank_change']:+d}")
    return 0

"""``siam enrol``: add classes to a trained run from a few samples (no retraining).

``siam eval RUN --episodes N`` (few-shot episodes) lives with ``siam eval`` in train_cmds and
calls :func:`cmd_episodes` here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from siam_workbench.base.errors import SiamError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enrol", help="add classes to a run from a few samples (no retraining)",
        description="Add or update class centers of a trained run without touching its "
        "weights: each enrolled class is the mean embedding of its samples, kept in "
        "runs/<id>/enrolled.json. Query, eval, the Draw tab and exports see enrolled classes "
        "at once. Sources: image files (--class NAME IMAGE…), a glyph file (--from FILE.h5: "
        "every class not in the run's alphabet, or --classes), or the project's labelled "
        "drawings (--from-drawings: every label outside the alphabet).")
    p.add_argument("run", type=Path, help="run folder (runs/<id>)")
    p.add_argument("images", nargs="*", type=Path, help="image files (PNG/JPEG, any size)")
    p.add_argument("--class", dest="name", nargs="+", metavar=("NAME", "IMAGE"),
                   help="the class the images show, then its image files: --class NAME "
                   "IMAGE… (images may also come before --class)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--from", dest="from_file", type=Path, metavar="FILE.h5",
                     help="enrol classes of a glyph file (default: those not in the alphabet)")
    src.add_argument("--from-drawings", action="store_true",
                     help="enrol every labelled drawing whose label is not in the alphabet")
    src.add_argument("--remove", metavar="NAME", help="remove an enrolled class")
    src.add_argument("--list", action="store_true", help="list the enrolled classes")
    p.add_argument("--classes", nargs="+", metavar="NAME",
                   help="with --from / --from-drawings: only these classes")
    p.add_argument("--force", action="store_true",
                   help="allow a name of the run's alphabet: its enrolled center replaces the "
                   "trained one")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_enrol)


def _listing(cs) -> list[dict]:
    return [{"class": c.name, "samples": len(c.samples), "added": c.added,
             "updated": c.updated, "override": c.override,
             "origins": sorted({s.origin.rsplit("#", 1)[0] for s in c.samples})[:5]}
            for c in cs.classes]


def cmd_enrol(args: argparse.Namespace) -> int:
    from siam_workbench.infer import enrol as E

    E._require_run(args.run)
    if args.name:
        args.name, extra = args.name[0], args.name[1:]
        args.images = [*args.images, *map(Path, extra)]
    if args.images and (args.from_file or args.from_drawings or args.remove or args.list):
        raise SiamError("image files go with --class only, not with --from / "
                        "--from-drawings / --remove / --list")
    if args.classes and not (args.from_file or args.from_drawings):
        raise SiamError("--classes goes with --from or --from-drawings")
    if args.list:
        cs = E.load_class_set(args.run)
        rows = _listing(cs)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False))
        elif not rows:
            print(f"no enrolled classes in {args.run}")
        for r in ([] if args.json else rows):
            print(f"{r['class']}\t{r['samples']} samples\t{r['updated']}"
                  + ("\t(replaces the trained center)" if r["override"] else ""))
        return 0
    if args.remove is not None:
        cs = E.remove(args.run, args.remove)
        print(f"removed {args.remove!r}; {len(cs)} enrolled classes left")
        return 0
    if args.from_file is not None:
        cs, batches = E.enrol_from_glyphs(args.run, args.from_file, args.classes,
                                          force=args.force, which=args.checkpoint)
        enrolled = {b.name for b in batches}
    elif args.from_drawings:
        if args.force:
            raise SiamError("--force does not go with --from-drawings (only labels outside "
                            "the alphabet are enrolled)")
        cs, batches = E.enrol_from_drawings(args.run, args.classes, which=args.checkpoint)
        enrolled = {b.name for b in batches}
    else:
        if not args.name:
            raise SiamError("say what to enrol: --class NAME IMAGE…, --from FILE.h5, "
                            "--from-drawings, --remove NAME or --list")
        if not args.images:
            raise SiamError("--class needs at least one image file")
        name = E.check_name(args.name)
        cs = E.enrol(args.run, name, list(args.images), force=args.force,
                     which=args.checkpoint)
        enrolled = {name}
    rows = [r for r in _listing(cs) if r["class"] in enrolled]
    if args.json:
        print(json.dumps({"run": str(args.run), "enrolled": rows, "total": len(cs)},
                         ensure_ascii=False))
    else:
        for r in rows:
            print(f"enrolled {r['class']!r}: {r['samples']} samples")
        print(f"{len(cs)} enrolled classes in {cs.path}", file=sys.stderr)
    return 0


def add_episode_args(p: argparse.ArgumentParser) -> None:
    """``siam eval``'s few-shot options (docs/FEWSHOT.md)."""
    g = p.add_argument_group(
        "few-shot episodes", "--episodes N switches siam eval to W-way K-shot episodes: "
        "supports and queries from different sources, nearest support center in the run's "
        "space, beside pixel 1-NN on the same episodes; mean top-1 ± 95% interval")
    g.add_argument("--episodes", type=int, metavar="N", help="number of episodes")
    g.add_argument("--way", type=int, default=5, metavar="W", help="classes per episode (5)")
    g.add_argument("--shot", type=int, default=1, metavar="K",
                   help="support samples per class (1)")
    g.add_argument("--queries", type=int, default=1, metavar="Q",
                   help="query samples per class and episode (1)")
    g.add_argument("--within-source-group", "--within-group", dest="within_group",
                   action="store_true",
                   help="all W classes of an episode from one group (an alphabet)")
    g.add_argument("--group", choices=("prefix", "attr", "none"), default="prefix",
                   help="a class's group: prefix = its name up to the last '/' (Omniglot's "
                   "Alphabet/characterNN; default), attr = the file's class_groups attribute")
    g.add_argument("--seed", type=int, default=0, help="episode seed (0)")
    g.add_argument("--unseen", action="store_true",
                   help="only classes the run did not train on")
    g.add_argument("--no-pixel", action="store_true", help="skip the pixel 1-NN baseline")


def cmd_episodes(args: argparse.Namespace) -> int:
    from siam_workbench.cli.progress import ProgressBar
    from siam_workbench.infer.episodes import evaluate_episodes, json_fields, summary_line
    from siam_workbench.infer.evaluate import confused_pairs, load_run, per_class_table
    from siam_workbench.infer.runs import split_path

    if args.confused < 0:
        raise SiamError(f"--confused must be ≥ 0, got {args.confused}")
    detail = bool(args.per_class or args.confused)
    run = load_run(args.run, which=args.checkpoint, device=args.device)
    data = args.data
    if data is None:
        from siam_workbench.infer.enrol import project_of_run

        project = project_of_run(Path(args.run))
        if project is None:
            raise SiamError("--data is required: the run is not inside a project", args.run)
        data = split_path(project, args.split)
    bar = ProgressBar(max(1, args.episodes), "episodes")
    try:
        result = evaluate_episodes(run, data, episodes=args.episodes, way=args.way,
                                   shot=args.shot, queries=args.queries,
                                   within_group=args.within_group, group=args.group,
                                   seed=args.seed, unseen=args.unseen,
                                   pixel=not args.no_pixel,
                                   progress=lambda d, t: bar.update(d),
                                   keep_predictions=detail)
    finally:
        bar.close()
    # Per class over every episode's queries, each read among its episode's W classes (the
    # Evaluate page's few-shot tables): top-5 is among min(5, W) of them.
    names = result.get("class_names", [])
    pairs = confused_pairs(result, names, args.confused) if args.confused else []
    if args.per_class:
        from siam_workbench.base.atomic import write_text_atomic
        from siam_workbench.infer.compare import table_csv

        rows = per_class_table(result, names)
        write_text_atomic(args.per_class, table_csv(
            ["index", "class", "n", "top1", "top5", "confused_with", "confused_count"],
            [[r.index, r.name, r.n, round(r.top1, 4), round(r.top5, 4), r.confused_with,
              r.confused_count] for r in rows]))
    if args.json:
        out = json_fields(result)
        if args.confused:
            out["confused"] = [{"a": p.a_name, "b": p.b_name, "a_as_b": p.a_as_b,
                                "b_as_a": p.b_as_a} for p in pairs]
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"{data}: {summary_line(result)}")
        for p in pairs:
            print(f"  {p.a_name} ↔ {p.b_name}: {p.count} ({p.a_name}→{p.b_name} {p.a_as_b}, "
                  f"{p.b_name}→{p.a_name} {p.b_as_a})")
        if args.per_class:
            print(f"per-class table: {args.per_class} (queries of all episodes, each among "
                  f"its episode's {result['way']} classes)")
    return 0

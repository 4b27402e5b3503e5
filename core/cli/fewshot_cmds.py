"""``siam enrol``: add classes to a trained run from a few samples (no retraining).

``siam eval RUN --episodes N`` (few-shot episodes) lives with ``siam eval`` in train_cmds and
calls :func:`cmd_episodes` here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import SiamError


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
    p.add_argument("--class", dest="name", metavar="NAME", help="the class the images show")
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
    from core.infer import enrol as E

    E._require_run(args.run)
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
    elif args.from_drawings:
        if args.force:
            raise SiamError("--force does not go with --from-drawings (only labels outside "
                            "the alphabet are enrolled)")
        cs, batches = E.enrol_from_drawings(args.run, args.classes, which=args.checkpoint)
    else:
        if not args.name:
            raise SiamError("say what to enrol: --class NAME IMAGE…, --from FILE.h5, "
                            "--from-drawings, --remove NAME or --list")
        if not args.images:
            raise SiamError("--class needs at least one image file")
        name = E.check_name(args.name)
        cs = E.enrol(args.run, name, list(args.images), force=args.force,
                     which=args.checkpoint)
        batches = [E.Batch(name, None, [str(p) for p in args.images], [])]  # type: ignore
    enrolled = {b.name for b in batches}
    rows = [r for r in _listing(cs) if r["class"] in enrolled]
    if args.json:
        print(json.dumps({"run": str(args.run), "enrolled": rows, "total": len(cs)},
                         ensure_ascii=False))
    else:
        for r in rows:
            print(f"enrolled {r['class']!r}: {r['samples']} samples")
        print(f"{len(cs)} enrolled classes in {cs.path}", file=sys.stderr)
    return 0

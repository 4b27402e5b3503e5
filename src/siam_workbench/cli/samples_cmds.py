"""``siam new --samples`` and ``siam data add-samples | resplit | split``: imported samples as
project data, split by source (src/siam_workbench/data/samples.py,
src/siam_workbench/project/sample_projects.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from siam_workbench.base.errors import SiamError

_SPLIT_HELP = ("train/val/test shares in percent, adding up to 100 (default 60/20/20, the "
               "paper's Omniglot protocol); a 0 leaves that file out")
_GROUP_HELP = ("what is held out together: source = each source name as imported (a scan "
               "folder, a font face, an Omniglot drawerNN); drawer = the drawer number, joined "
               "across alphabets and files (the paper's Omniglot protocol). Default source")


def add_split_arguments(p: argparse.ArgumentParser, *, new: bool) -> None:
    p.add_argument("--split", default=None, metavar="TR/VA/TE", help=_SPLIT_HELP)
    p.add_argument("--seed", type=int, default=None, help="seed of the split (default 0)")
    p.add_argument("--group-by", choices=("source", "drawer"), default=None, help=_GROUP_HELP)
    p.add_argument("--import", dest="import_kind", choices=("omniglot", "folder", "phd08"),
                   help="how to read a folder given as samples (default: recognised from "
                   "its layout)")
    if new:
        p.add_argument("--samples", action="append", type=Path, default=[], metavar="SRC",
                       help="make the project from imported samples: a glyph .h5 (siam import) "
                       "or a folder to import (Omniglot root, ROOT/<class>/<image> folder — one "
                       "source per folder —, PHD08 .txt files); repeatable. The samples are "
                       "split by source into data/train|val|test.h5 (recorded in "
                       "data/split.json) and the imported classes become the alphabet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="imported samples in a project: add, re-split, show",
                       description="Imported real samples (scans, drawings, Omniglot) as project "
                       "data, split by source so no drawer, scan batch or face serves two roles.")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("add-samples", help="split samples by source into a font project",
                        description="Split imported samples by source into "
                        "data/NAME-train|val|test.h5 of a project, add NAME-train.h5 to "
                        "data.extra_train (training appends it to the fonts by class name) and "
                        "record the split in data/NAME-split.json. Evaluate on the real test "
                        "file with: siam eval RUN --data PROJECT/data/NAME-test.h5")
    q.add_argument("project", type=Path)
    q.add_argument("samples", nargs="+", type=Path, help="glyph .h5 files or folders to import")
    q.add_argument("--name", default="real", help="file name prefix (default real)")
    add_split_arguments(q, new=False)
    q.add_argument("--force", action="store_true", help="replace existing NAME-* files")
    q.add_argument("--json", action="store_true", help="print the split record")
    q.set_defaults(handler=cmd_add_samples)

    q = dsub.add_parser("resplit", help="write a project's split files again from their record",
                        description="Re-create the files of a split record from its inputs: "
                        "with the recorded seed the same files come back (a deleted data/test.h5, "
                        "say); --seed / --split / --group-by make and record a new split.")
    q.add_argument("project", type=Path)
    q.add_argument("--record", help="the split record (default: the one that wrote data.train, "
                   "or the project's only one)")
    q.add_argument("--split", default=None, metavar="TR/VA/TE", help=_SPLIT_HELP)
    q.add_argument("--seed", type=int, default=None, help="a new seed (default: the recorded)")
    q.add_argument("--group-by", choices=("source", "drawer"), default=None, help=_GROUP_HELP)
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_resplit)

    q = dsub.add_parser("split", help="show which source serves which role",
                        description="List the imported sources of a project's split records "
                        "with their sample counts and roles, and check each record (its roles "
                        "must follow from its seed; no source in two roles).")
    q.add_argument("project", type=Path)
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_split)


def _summary(record: dict[str, Any]) -> str:
    c = record["counts"]
    parts = [f"{r} {c[r]['samples']} samples / {c[r]['sources']} sources" for r in
             ("train", "val", "test") if c[r]["samples"]]
    return (f"split {record['split']} by {record['group_by']} (seed {record['seed']}): "
            + ", ".join(parts))


def _new_config(args: argparse.Namespace) -> Any:
    """The new project's config as a function of the imported classes: the default recipe
    sized to them (src/siam_workbench/project/recipe.py), then ``--preset``, then ``--set``."""
    from siam_workbench.project import recipe
    from siam_workbench.project.config import Config

    def make(classes: list[str]) -> Any:
        config = Config().replace(recipe.sized(classes))
        preset = getattr(args, "preset", None) or "recipe"
        if preset != "recipe":
            config = config.replace(recipe.preset_sections(preset))
        return config.with_overrides(args.set)

    make(["a", "b"])  # a bad --set fails here, before anything is imported or written
    return make


def new_from_samples(args: argparse.Namespace) -> int:
    """The ``siam new … --samples`` branch of ``cmd_new``."""
    from siam_workbench.cli import cancel_on_signals
    from siam_workbench.cli.data_cmds import _progress
    from siam_workbench.data.samples import DEFAULT_SPLIT
    from siam_workbench.project.sample_projects import create_samples_project

    if getattr(args, "alphabet", None):
        raise SiamError("--alphabet: a project made from samples takes the imported classes "
                        "as its alphabet")
    update, bar = _progress("samples", False)
    try:
        with cancel_on_signals() as cancel:
            project, record = create_samples_project(
                args.folder, args.samples, _new_config(args), split=args.split or DEFAULT_SPLIT,
                seed=0 if args.seed is None else args.seed, group_by=args.group_by or "source",
                import_kind=args.import_kind, name=args.name or Path(args.folder).name,
                progress=update, cancel=cancel)
    finally:
        bar.close()
    print(f"created {project.file}: {record['classes']} classes, {_summary(record)}; "
          f"recorded in {project.root / 'data' / 'split.json'}")
    return 0


def check_new_only(args: argparse.Namespace) -> None:
    """Split options without --samples mean nothing for a font project: say so."""
    given = [f for f, v in (("--split", args.split), ("--seed", args.seed),
                            ("--group-by", args.group_by), ("--import", args.import_kind))
             if v is not None]
    if given:
        raise SiamError(f"{', '.join(given)} apply only with --samples")


def cmd_add_samples(args: argparse.Namespace) -> int:
    from siam_workbench.cli import cancel_on_signals
    from siam_workbench.cli.data_cmds import _progress
    from siam_workbench.data.samples import DEFAULT_SPLIT
    from siam_workbench.project.project import load_project
    from siam_workbench.project.sample_projects import add_samples

    project = load_project(args.project)
    update, bar = _progress("samples", args.json)
    try:
        with cancel_on_signals() as cancel:
            record, notes, _ = add_samples(
                project, args.samples, name=args.name, split=args.split or DEFAULT_SPLIT,
                seed=0 if args.seed is None else args.seed, group_by=args.group_by or "source",
                import_kind=args.import_kind, force=args.force, progress=update,
                cancel=cancel)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
        return 0
    print(f"{project.root / 'data'}: {_summary(record)}")
    for note in notes:
        print(f"  note: {note}")
    files = record["files"]
    if "train" in files:
        print(f"  training appends {files['train']} to the fonts (data.extra_train)")
    if "test" in files:
        print(f"  evaluate on the real test file: siam eval RUN --data "
              f"{project.root / files['test']}")
    return 0


def cmd_resplit(args: argparse.Namespace) -> int:
    from siam_workbench.cli import cancel_on_signals
    from siam_workbench.cli.data_cmds import _progress
    from siam_workbench.project.project import load_project
    from siam_workbench.project.sample_projects import resplit

    project = load_project(args.project)
    update, bar = _progress("resplit", args.json)
    try:
        with cancel_on_signals() as cancel:
            record = resplit(project, args.record, seed=args.seed, split=args.split,
                             group_by=args.group_by, progress=update, cancel=cancel)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(f"{project.root / 'data'}: {_summary(record)}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from siam_workbench.data.samples import source_rows
    from siam_workbench.project.project import load_project

    project = load_project(args.project)
    rows, problems = source_rows(project)
    if args.json:
        print(json.dumps({"sources": [r.__dict__ for r in rows], "problems": problems},
                         ensure_ascii=False))
        return 0 if not problems else 1
    if not rows and not problems:
        print(f"no imported samples in {project.root} (data.samples is empty)")
    for r in rows:
        print(f"{r.name:30s} {r.samples:>7} {r.role:5s} group {r.group:12s} {r.file}")
    for p in problems:
        print(f"problem: {p}")
    return 0 if not problems else 1

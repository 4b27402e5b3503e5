"""``siam examples``: list the shipped example projects and plug-ins, or copy one out.

An installed package keeps them in site-packages; a project writes data and runs beside its
``project.toml``, so ``siam examples quickstart --to DIR`` is how a user gets a copy to train
(the workbench does the same on first start, into the XDG data folder)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("examples", help="list or copy the shipped example projects and plug-ins",
                       description="Without NAME, list the shipped example projects and "
                       "plug-ins. With a project NAME, copy it into --to (default ./NAME); "
                       "with a plug-in file name (error_miner.py), copy it into --to (default .).")
    p.add_argument("name", nargs="?", help="example project or plug-in file to copy")
    p.add_argument("--to", type=Path, help="destination folder")
    p.set_defaults(handler=cmd_examples)


def cmd_examples(args: argparse.Namespace) -> int:
    from siam_workbench.project.examples import (
        copy_example,
        copy_plugin,
        shipped_plugins,
        shipped_projects,
    )

    if not args.name:
        print("projects:")
        for name in shipped_projects():
            print(f"  {name}")
        print("plug-ins:")
        for name in shipped_plugins():
            print(f"  {name}")
        return 0
    if args.name.endswith(".py"):
        target = copy_plugin(args.name, args.to or Path("."))
        print(f"copied {args.name} to {target}; name it in a project's [project] plugins list")
        return 0
    dest = copy_example(args.name, args.to or Path(args.name))
    print(f"copied {args.name} to {dest}; train it with: siam train {dest}")
    return 0

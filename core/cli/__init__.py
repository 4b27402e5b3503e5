"""``siam``: the headless face of the workbench. Every GUI action has a subcommand here.

Subcommands live in sibling modules, each exposing ``register(subparsers)``; a handler returns an
exit code. :class:`core.errors.SiamError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core import __version__
from core.errors import SiamError

# Modules that register subcommands, in the order they appear in --help.
_MODULES = ("core.cli.data_cmds", "core.cli.train_cmds", "core.cli.label_cmds",
            "core.cli.parts_cmds")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="siam",
        description="Siam Workbench command line: render glyphs, train Siamese networks with "
        "auto-probabilistic / auto-clustering mining, evaluate, query and export.",
    )
    parser.add_argument("--version", action="version", version=f"siam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except SiamError as exc:
        print(f"siam {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"siam {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())

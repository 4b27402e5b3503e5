"""``siam parts``: the miners, losses and backbones this installation knows, with the settings
each reads — built-in ones, installed plug-ins and, with ``--project``, the project's own."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parts", help="list miners, losses and backbones (with plug-ins)",
                       description="List every registered miner (by role), loss and backbone "
                       "with its settings. --project also loads that project's plug-ins.")
    p.add_argument("--project", help="project folder whose plug-ins to load as well")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_parts)


def _field(key: str, f: Any) -> dict[str, Any]:
    return {"key": key, "default": f.default, "help": f.help}


def collect() -> dict[str, Any]:
    from siam_workbench.model.backbones import INPUT_SIZES, MODELS
    from siam_workbench.parts.losses import LOSSES
    from siam_workbench.parts.miners import MINERS

    return {
        "miners": {role: [{"name": name, "label": cls.label, "help": cls.help,
                           "module": cls.__module__,
                           "settings": [_field(f"mining.{k}", f) for k, f in cls.params.items()]}
                          for name, cls in by_name.items()]
                   for role, by_name in MINERS.items()},
        "losses": [{"name": name, "label": cls.label, "help": cls.help, "space": cls.space,
                    "module": cls.__module__,
                    "settings": [_field(f"loss.{k}", f) for k, f in cls.params.items()]}
                   for name, cls in LOSSES.items()],
        "backbones": [{"name": name, "input_size": INPUT_SIZES[name]} for name in MODELS],
    }


def cmd_parts(args: argparse.Namespace) -> int:
    from siam_workbench.project.plugins import load_entry_points

    if args.project:
        from siam_workbench.project.project import load_project

        project = load_project(args.project)
        if project.restricted is not None:  # its own parts are not listed: say why
            print(f"siam parts: note: {project.restricted_line()}", file=sys.stderr)
    else:
        load_entry_points()
    parts = collect()
    if args.json:
        print(json.dumps(parts, ensure_ascii=False, indent=1, default=str))
        return 0
    for role, miners in parts["miners"].items():
        print(f"{role} miners (mining.{role}):")
        for m in miners:
            _print_part(m)
    print("losses (loss.kind):")
    for loss in parts["losses"]:
        _print_part(loss, extra=f" [{loss['space']} space]")
    print("backbones (model.backbone):")
    for b in parts["backbones"]:
        print(f"  {b['name']:<20} {b['input_size']}×{b['input_size']} input")
    return 0


def _print_part(part: dict[str, Any], extra: str = "") -> None:
    origin = "" if part["module"].startswith("siam_workbench.") else f" (plug-in: {part['module']})"
    print(f"  {part['name']:<20} {part['help']}{extra}{origin}")
    for s in part["settings"]:
        print(f"      {s['key']:<26} = {s['default']!r:<10} {s['help']}")

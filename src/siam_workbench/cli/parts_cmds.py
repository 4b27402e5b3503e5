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
    out = {"key": key, "label": f.title(key.split(".", 1)[1]), "default": f.default,
           "help": f.help}
    if f.unit:
        out["unit"] = f.unit
    if f.used_when is not None:
        out["used_when"] = {"setting": f.used_when[0], "values": list(f.used_when[1])}
    return out


def _part(name: str, part: Any, section: str) -> dict[str, Any]:
    """What a part declares about itself (src/siam_workbench/base/part.py), as the listing shows
    it."""
    params = part.schema_params() if hasattr(part, "schema_params") else {}
    return {"name": name, "label": part.label, "short": part.short_name(), "help": part.help,
            "module": part.__module__,
            "settings": [_field(f"{section}.{k}", f) for k, f in params.items()]}


def collect(loss_settings: Any = None) -> dict[str, Any]:
    """The listing. A loss's space is the one it trains in with ``loss_settings`` (the
    project's ``[loss]``; defaults without one): the triplet loss's class says ``raw`` but its
    default ``normalize = true`` puts it on the unit sphere."""
    from siam_workbench.model.backbones import INPUT_SIZES, MODELS
    from siam_workbench.parts.losses import LOSSES
    from siam_workbench.parts.losses.registry import space_for_loss
    from siam_workbench.parts.miners import MINERS

    return {
        "miners": {role: [_part(name, cls, "mining") for name, cls in by_name.items()]
                   for role, by_name in MINERS.items()},
        "losses": [{**_part(name, cls, "loss"), "space": space_for_loss(name, loss_settings)}
                   for name, cls in LOSSES.items()],
        "backbones": [{"name": name, "input_size": INPUT_SIZES[name],
                       "label": getattr(f, "label", name), "help": getattr(f, "help", ""),
                       "module": f.__module__}
                      for name, f in MODELS.items()],
    }


def cmd_parts(args: argparse.Namespace) -> int:
    from siam_workbench.project.plugins import load_entry_points

    loss_settings = None
    if args.project:
        from siam_workbench.project.project import load_project

        project = load_project(args.project)
        if project.restricted is not None:  # its own parts are not listed: say why
            print(f"siam parts: note: {project.restricted_line()}", file=sys.stderr)
        loss_settings = project.config.loss
    else:
        load_entry_points()
    parts = collect(loss_settings)
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
        origin = "" if b["module"].startswith("siam_workbench.") else f" (plug-in: {b['module']})"
        print(f"  {b['name']:<20} {b['input_size']}×{b['input_size']} input. "
              f"{b['help']}{origin}")
    return 0


def _print_part(part: dict[str, Any], extra: str = "") -> None:
    origin = "" if part["module"].startswith("siam_workbench.") else f" (plug-in: {part['module']})"
    print(f"  {part['name']:<20} {part['label']} — {part['help']}{extra}{origin}")
    for s in part["settings"]:
        value = repr(s["default"]) + (f" {s['unit']}" if s.get("unit") else "")
        print(f"      {s['key']:<26} = {value:<10} {s['label']}: {s['help']}")

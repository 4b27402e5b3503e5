"""``siam trust``: say which projects may run their plug-in code (siam_workbench.project.trust).

``siam trust PROJECT`` names each plug-in file and what it declares, then records the project
with a fingerprint of those files; ``--show`` only names them; ``--revoke`` forgets the
project; ``--list`` shows every trusted project and whether its plug-ins still match.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from siam_workbench.base.errors import SiamError
from siam_workbench.cli.textsafe import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trust", help="let a project's plug-ins run (or revoke, list)",
                       description="Projects run their plug-in files only once trusted; until "
                       "then they open in restricted mode. Trust is recorded per user with a "
                       "fingerprint of the plug-in files: a changed file needs trusting again.")
    p.add_argument("project", nargs="?", type=Path, help="project folder")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--revoke", action="store_true", help="forget this project's trust")
    what.add_argument("--list", action="store_true", help="list the trusted projects")
    what.add_argument("--show", action="store_true",
                      help="name the plug-in files and what they declare; trust nothing")
    p.set_defaults(handler=cmd_trust)


def cmd_trust(args: argparse.Namespace) -> int:
    from siam_workbench.project import trust

    if args.list:
        return _list()
    if args.project is None:
        raise SiamError("name a project folder (or use --list)")
    if args.revoke:
        root = Path(args.project).expanduser().resolve()
        if trust.revoke(root):
            print(f"revoked: {terminal_safe(root)} (its plug-ins no longer run)")
        else:
            print(f"{terminal_safe(root)} was not trusted")
        return 0
    from siam_workbench.project.project import project_plugins

    root, paths = project_plugins(args.project)
    if not paths:
        print(f"{terminal_safe(root)} has no plug-ins: nothing to trust")
        return 0
    for path in paths:
        declared = "; ".join(trust.declarations(path))
        print(f"  {terminal_safe(path.relative_to(root).as_posix())}: {terminal_safe(declared)}")
    if args.show:
        state = trust.check(root, paths)
        print("trusted" if state.trusted else f"not trusted ({state.reason})")
        return 0
    trust.trust(root, paths)
    print(f"trusted: {terminal_safe(root)} ({len(paths)} plug-in file"
          f"{'s' if len(paths) != 1 else ''}; a change to any of them asks again)")
    return 0


def _list() -> int:
    from siam_workbench.project import trust
    from siam_workbench.project.project import project_plugins

    record = trust.read_record()
    if not record:
        print(f"no trusted projects ({terminal_safe(trust.trust_file())})")
        return 0
    for root, entry in sorted(record.items()):
        try:
            _, paths = project_plugins(root)
            state = "current" if trust.check(Path(root), paths).trusted else "changed"
        except SiamError:
            state = "missing"
        files = ", ".join(str(f) for f in entry.get("files", []))
        print(f"{terminal_safe(root)}  [{state}]  {terminal_safe(files)}")
    return 0

"""The question a project with untrusted plug-ins asks when it opens.

Opening a project someone sent you must not run its code. :func:`ask_trust` names each
plug-in file and what it declares (read without running it:
siam_workbench.project.trust.declarations)
and offers: trust and open (the plug-ins run), open in restricted mode (nothing runs; data,
runs and curves work; training and saving settings say what trust would enable), or cancel.
The answer goes through :mod:`siam_workbench.app.dialogs`, so tests answer it. ``siam trust
PROJECT`` is the same act on the command line.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from siam_workbench.app import dialogs
from siam_workbench.project import trust
from siam_workbench.project.project import Project

TRUST, RESTRICTED, CANCEL = "trust", "restricted", "cancel"
OPTIONS = ("Trust and open (run its plug-ins)", "Open in restricted mode")


def describe(project: Project) -> str:
    """The dialog's text: why it asks, each file with what it declares, what each choice does."""
    state = project.restricted
    assert state is not None
    lines = [f"{project.root}\nlists plug-in code that runs when the project opens "
             f"({state.reason}):", ""]
    for path in state.paths:
        lines.append(f"• {path.relative_to(state.root).as_posix()}")
        lines.extend(f"    {item}" for item in trust.declarations(path))
    lines += ["", "What a file declares is read without running it; the file can do anything "
              "your user account can. Trust it only if you trust whoever made the project.",
              "", "Restricted mode runs none of it: data, runs, curves and evaluation of runs "
              "made with built-in parts work; training and saving settings need trust "
              f"(siam trust {state.root})."]
    if project.restricted_keys:
        lines.append("Shown as defaults until trusted: " + ", ".join(project.restricted_keys))
    return "\n".join(lines)


def ask_trust(parent: QWidget | None, project: Project) -> str:
    """TRUST (recorded: the caller reopens the project), RESTRICTED or CANCEL."""
    choice = dialogs.choose(parent, "Trust this project's plug-ins?", describe(project),
                            list(OPTIONS), default=1)
    if choice == 0:
        state = project.restricted
        assert state is not None
        trust.trust(state.root, state.paths)
        return TRUST
    return RESTRICTED if choice == 1 else CANCEL
